from django.urls import path

from csops.cockpit import views
from csops.programs import assist_views

app_name = "cockpit"

urlpatterns = [
    path("", views.my_ctas, name="my_ctas"),
    path("ctas/", views.CtaListView.as_view(), name="cta_list"),
    path("ctas/bulk/", views.cta_bulk, name="cta_bulk"),
    path("ctas/<int:pk>/", views.cta_detail, name="cta_detail"),
    path("ctas/<int:pk>/work/", views.work_cta, name="work_cta"),
    path("ctas/<int:pk>/assist/", assist_views.assist_email, name="assist_email"),
    path("accounts/<int:pk>/success-plans/", views.add_success_plan, name="add_success_plan"),
    path("success-plans/<int:pk>/status/", views.set_plan_status, name="set_plan_status"),
    path("success-plans/<int:pk>/objectives/", views.add_objective, name="add_objective"),
]
