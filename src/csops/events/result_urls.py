from django.urls import path

from csops.events import result_views

app_name = "event_results"
urlpatterns = [
    path("<int:pk>/results/", result_views.event_results, name="event"),
    path("series/<str:name>/results/", result_views.series_results, name="series"),
]
