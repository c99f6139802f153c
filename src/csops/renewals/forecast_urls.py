from django.urls import path

from csops.renewals import forecast_views

app_name = "renewal_forecast"

urlpatterns = [
    path("", forecast_views.forecast, name="forecast"),
]
