from django.urls import path

from csops.events import views

app_name = "events"

urlpatterns = [
    path("", views.calendar, name="calendar"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.event, name="event"),
    path("<int:pk>/lab-request/", views.lab_request, name="lab_request"),
    path("slots/<int:pk>/sign-up/", views.sign_up, name="sign_up"),
    path("slots/<int:pk>/leave/", views.leave, name="leave"),
    path("registrations/<int:pk>/attendance/", views.attendance, name="attendance"),
]
