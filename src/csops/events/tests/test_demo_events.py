"""The demo's calendar: events with DRIs, registrations (a waitlist), lab codes and spaces."""

from __future__ import annotations

from csops.events.models import Event, LabSpace, Registration, RegistrationStatus
from csops.events.synthetic import CALENDAR, seed_events
from csops.programs.models import OutboxMessage


def test_the_demo_calendar(seeded, users):
    assert seed_events("admin-user") == len(CALENDAR) == Event.objects.count()
    assert Event.objects.filter(slots__cse__isnull=False).distinct().count() >= 1
    assert Event.objects.filter(codes__isnull=False).distinct().count() == 4  # every lab
    assert LabSpace.objects.exists()
    statuses = set(Event.objects.get(capacity=6).registrations.values_list("status", flat=True))
    assert statuses == {RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED}
    past = Event.objects.filter(recording_url__startswith="https://")
    assert past.count() == 3 and not Registration.objects.filter(event__in=past, attended=None).exists()
    assert Registration.objects.filter(event__in=past, attended=True).count() >= 6
    assert OutboxMessage.objects.filter(kind="event").exists()  # confirmations, post-event emails
    assert seed_events("admin-user") == 0
