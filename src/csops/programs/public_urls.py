"""Pages customers' contacts reach from an email, without logging in."""

from django.urls import path

from csops.programs import public, survey_views

app_name = "public"

urlpatterns = [
    path("t/<str:token>/", public.follow_link, name="track_click"),
    path("o/<str:token>/", public.opened, name="track_open"),
    path("u/<str:token>/", public.unsubscribe, name="unsubscribe"),
    path("s/<str:token>/", survey_views.survey_page, name="survey"),
]
