from django.urls import path

from csops.sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("", views.report, name="report"),
    path("runs/<int:pk>/", views.run, name="run"),
]
