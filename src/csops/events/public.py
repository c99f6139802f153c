"""The public pages of the calendar, without logging in and without JavaScript: the upcoming
events, the iCalendar feed, registering for an event and redeeming a lab's invitation code."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from csops.core.views import add_action_errors
from csops.events import actions, ical, selectors
from csops.events.forms import RedeemForm, RegistrationForm
from csops.events.models import Event, RegistrationStatus


def _register_url(request: HttpRequest, event: Event) -> str:
    return request.build_absolute_uri(reverse("events_public:register", args=[event.pk]))


def calendar(request: HttpRequest) -> HttpResponse:
    events = selectors.public_calendar()
    return render(
        request,
        "events/public_calendar.html",
        {"title": "Webinars and labs", "months": selectors.by_month(events)},
    )


def _ics(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def feed(request: HttpRequest) -> HttpResponse:
    events = selectors.feed_events()
    return _ics(ical.calendar(events, url_for=lambda e: _register_url(request, e)), "calendar.ics")


def event_ics(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    return _ics(ical.calendar([event], url_for=lambda e: _register_url(request, e)), f"event-{pk}.ics")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def register(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk, cancelled=False)
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registration = actions.register(event, **form.cleaned_data)
        except ValidationError as exc:
            add_action_errors(form, exc)
        else:
            return render(
                request,
                "events/registered.html",
                {
                    "title": "You are on the waitlist" if registration.status == RegistrationStatus.WAITLISTED
                    else "You are registered",
                    "event": event,
                    "registration": registration,
                    "local_start": selectors.local_start(event),
                },
            )
    return render(
        request,
        "events/register.html",
        {
            "title": f"Register: {event.title}",
            "event": event,
            "form": form,
            "local_start": selectors.local_start(event),
            "ends_at": selectors.ends_at(event),
        },
        status=400 if request.method == "POST" else 200,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def redeem(request: HttpRequest) -> HttpResponse:
    form = RedeemForm(request.POST or None)
    space = None
    if request.method == "POST" and form.is_valid():
        try:
            space = actions.redeem(form.cleaned_data["code"], email=form.cleaned_data["email"])
        except ValidationError as exc:
            add_action_errors(form, exc)
    status = 400 if request.method == "POST" and space is None else 200
    return render(request, "events/redeem.html", {"title": "Your lab space", "form": form, "space": space},
                  status=status)
