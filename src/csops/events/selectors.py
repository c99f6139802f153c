"""Reads for the event pages, feeds and tasks: the calendar by month, one event with everything
its page shows, a CSE's own DRI slots, the public calendar, DRI slots still open."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from itertools import groupby

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from csops.core.models import User
from csops.events.models import DriSlot, Event, InvitationCode, Registration, RegistrationStatus

# The public feed keeps recent events a while, so a subscriber's calendar does not lose them at once.
FEED_PAST_DAYS = 30


@dataclass(frozen=True)
class Month:
    label: str
    events: list[Event]


def local_start(event: Event) -> dt.datetime:
    """The start in the event's own time zone (UTC if the zone is unknown)."""
    try:
        zone = zoneinfo.ZoneInfo(event.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return event.starts_at.astimezone(zone)


def ends_at(event: Event) -> dt.datetime:
    return event.starts_at + dt.timedelta(minutes=event.duration_minutes)


def calendar(*, kind: str = "", region: str = "", series: str = "", past: bool = False,
             cse: User | None = None, now: dt.datetime | None = None) -> QuerySet[Event]:
    """Events with their counts of registrations, waitlisted people and open DRI slots; upcoming
    (or, with `past`, earlier ones, latest first)."""
    now = now or timezone.now()
    events = Event.objects.annotate(
        registered=Count("registrations", filter=Q(registrations__status=RegistrationStatus.REGISTERED),
                         distinct=True),
        waitlisted=Count("registrations", filter=Q(registrations__status=RegistrationStatus.WAITLISTED),
                         distinct=True),
        open_slots=Count("slots", filter=Q(slots__cse__isnull=True), distinct=True),
    )
    events = events.filter(starts_at__lt=now).order_by("-starts_at") if past else events.filter(
        starts_at__gte=now
    )
    if kind:
        events = events.filter(kind=kind)
    if region:
        events = events.filter(region=region)
    if series:
        events = events.filter(series=series)
    if cse is not None:
        events = events.filter(slots__cse=cse).distinct()
    return events


def by_month(events) -> list[Month]:
    return [
        Month(label, list(group))
        for label, group in groupby(events, key=lambda e: local_start(e).strftime("%B %Y"))
    ]


def choices(field: str) -> list[str]:
    """The regions or series in use, for the filters."""
    return list(Event.objects.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct())


def event(pk: int) -> Event:
    """One event with its slots, registrations (and their lab spaces), codes and lab request."""
    return Event.objects.prefetch_related(
        Prefetch("slots", queryset=DriSlot.objects.select_related("cse")),
        Prefetch(
            "registrations",
            queryset=Registration.objects.select_related("account", "lab_space").order_by(
                "registered_at", "pk"
            ),
        ),
        Prefetch("codes", queryset=InvitationCode.objects.order_by("kind")),
    ).get(pk=pk)


def lab_request_of(event: Event):
    try:
        return event.lab_request
    except Event.lab_request.RelatedObjectDoesNotExist:
        return None


def my_slots(user: User, *, now: dt.datetime | None = None) -> QuerySet[DriSlot]:
    now = now or timezone.now()
    return (
        DriSlot.objects.filter(cse=user, event__starts_at__gte=now, event__cancelled=False)
        .select_related("event")
        .order_by("event__starts_at", "role", "seat")
    )


def public_calendar(*, now: dt.datetime | None = None) -> QuerySet[Event]:
    now = now or timezone.now()
    return Event.objects.filter(cancelled=False, starts_at__gte=now)


def feed_events(*, now: dt.datetime | None = None) -> QuerySet[Event]:
    now = now or timezone.now()
    return Event.objects.filter(cancelled=False, starts_at__gte=now - dt.timedelta(days=FEED_PAST_DAYS))


def unfilled_slots(today: dt.date, days: int) -> QuerySet[DriSlot]:
    """DRI slots still open for events starting within `days` days (and not yet started)."""
    until = dt.datetime.combine(today + dt.timedelta(days=days + 1), dt.time.min, tzinfo=dt.UTC)
    return (
        DriSlot.objects.filter(
            cse__isnull=True, event__cancelled=False, event__starts_at__gte=timezone.now(),
            event__starts_at__lt=until,
        )
        .select_related("event")
        .order_by("event__starts_at", "role", "seat")
    )
