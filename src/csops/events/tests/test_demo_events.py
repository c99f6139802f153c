"""The demo's calendar: events with DRIs, registrations (a waitlist), lab codes and spaces."""

from __future__ import annotations

from csops.events.models import Event, LabSpace, RegistrationStatus
from csops.events.synthetic import CALENDAR, seed_events


def test_the_demo_calendar(seeded, users):
    assert seed_events("admin-user") == len(CALENDAR) == Event.objects.count()
    assert Event.objects.filter(slots__cse__isnull=False).distinct().count() >= 1
    assert Event.objects.filter(codes__isnull=False).distinct().count() == 4  # every lab
    assert LabSpace.objects.exists()
    statuses = set(Event.objects.get(capacity=6).registrations.values_list("status", flat=True))
    assert statuses == {RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED}
    assert seed_events("admin-user") == 0
