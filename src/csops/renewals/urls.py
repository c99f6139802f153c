from django.urls import path

from csops.renewals import views

app_name = "renewals"

urlpatterns = [
    path("retention/", views.retention, name="retention"),
    path("retention/customers/", views.customers, name="retention_customers"),
]
