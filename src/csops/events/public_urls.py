"""The calendar's public pages (no login): upcoming events, the iCalendar feed, registration and
redeeming a lab's invitation code."""

from django.urls import path

from csops.events import public

app_name = "events_public"

urlpatterns = [
    path("", public.calendar, name="calendar"),
    path("calendar.ics", public.feed, name="feed"),
    path("events/<int:pk>.ics", public.event_ics, name="event_ics"),
    path("<int:pk>/register/", public.register, name="register"),
    path("lab/", public.redeem, name="redeem"),
]
