from django.urls import path

from csops.renewals import views

app_name = "renewals"

urlpatterns = [
    path("", views.PipelineView.as_view(), name="pipeline"),
    path("<int:pk>/", views.renewal, name="renewal"),
    path("retention/", views.retention, name="retention"),
    path("retention/customers/", views.customers, name="retention_customers"),
]
