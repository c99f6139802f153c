from django.urls import path

from csops.timeline import views

app_name = "timeline"

urlpatterns = [
    path("accounts/<int:pk>/activities/", views.add_activity, name="add_activity"),
    path("ctas/<int:pk>/activities/", views.add_cta_activity, name="add_cta_activity"),
]
