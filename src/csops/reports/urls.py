from django.urls import path

from csops.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path("subscriptions/<int:pk>/delete/", views.unsubscribe, name="unsubscribe"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/subscribe/", views.subscribe, name="subscribe"),
]
