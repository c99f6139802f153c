from django.urls import path

from csops.health import views

app_name = "health"

urlpatterns = [
    path("accounts/<int:pk>/updates/", views.add_health_update, name="add_update"),
]
