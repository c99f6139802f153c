from django.contrib import admin
from django.urls import include, path

from csops.api import api
from csops.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", core_views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", core_views.LogoutView.as_view(), name="logout"),
    path("audit/", core_views.audit_log, name="audit_log"),
    path("customers/", include("csops.customers.urls")),
    path("health/", include("csops.health.urls")),
    path("timeline/", include("csops.timeline.urls")),
    path("cockpit/", include("csops.cockpit.urls")),
    path("rules/", include("csops.rules.urls")),
    path("programs/", include("csops.programs.urls")),
    path("engagements/", include("csops.engagements.urls")),
    path("escalations/", include("csops.engagements.escalation_urls")),
    path("renewals/handoffs/", include("csops.renewals.handoff_urls")),
    path("requests/", include("csops.requests.urls")),
    path("governance/responsibilities/", include("csops.governance.responsibility_urls")),
    path("governance/", include("csops.governance.urls")),
    path("renewals/forecast/", include("csops.renewals.forecast_urls")),
    path("renewals/", include("csops.renewals.urls")),
    path("events/", include("csops.events.urls")),
    path("reports/", include("csops.reports.urls")),
    path("sandbox/", include("csops.sandbox.urls")),
    path("events/", include("csops.events.result_urls")),
    path("e/", include("csops.events.public_urls")),
    path("", include("csops.programs.public_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
