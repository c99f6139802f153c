"""The demo's calendar: two months of webinars and labs, the CSEs signed up as DRIs, customers'
contacts registered (a full lab with a waitlist), a lab request with its codes and redeemed spaces,
and last month's events over, ready for attendance and follow-up."""

from __future__ import annotations

import datetime as dt
import itertools
from unittest import mock

from django.utils import timezone

from csops.core.models import Role, User
from csops.customers.models import Contact
from csops.events import actions
from csops.events.attendance import Attendee, import_attendance
from csops.events.messages import send_due
from csops.events.models import CodeKind, DriRole, Event, EventKind

# (days from today, kind, title, series, region, capacity, lab access days, related measure)
CALENDAR = [
    (-24, EventKind.WEBINAR, "Getting started with GitLab CI", "CI webinar", "AMER", None, None, "ci"),
    (-17, EventKind.LAB, "CI/CD hands-on lab", "CI lab", "AMER", 40, 2, "ci"),
    (
        -10,
        EventKind.WEBINAR,
        "Securing your software supply chain",
        "Security webinar",
        "EMEA",
        None,
        None,
        "devsecops",
    ),
    (4, EventKind.WEBINAR, "Advanced CI pipelines", "CI webinar", "AMER", None, None, "ci"),
    (12, EventKind.LAB, "Security and compliance hands-on lab", "Security lab", "AMER", 6, 4, "devsecops"),
    (15, EventKind.LAB, "CI/CD hands-on lab", "CI lab", "EMEA", 40, 2, "ci"),
    (26, EventKind.WEBINAR, "Deploying with GitLab CD", "CD webinar", "APJ", None, None, "cd"),
    (33, EventKind.LAB, "CI/CD hands-on lab", "CI lab", "AMER", 40, 2, "ci"),
]


def seed_events(admin_name: str = "admin") -> int:
    """The calendar (once); returns the events made."""
    admin = User.objects.filter(username=admin_name).first()
    if admin is None or Event.objects.exists():
        return 0
    cses = list(User.objects.filter(function="cse", role=Role.CSM, is_active=True).order_by("username")[:6])
    contacts = list(Contact.objects.exclude(email="").select_related("account").order_by("pk")[:60])
    people = itertools.cycle(contacts or [None])
    now = timezone.now()
    for index, (days, kind, title, series, region, capacity, access, measure) in enumerate(CALENDAR):
        starts = (now + dt.timedelta(days=days)).replace(
            hour=16 + index % 3, minute=0, second=0, microsecond=0
        )
        filed_on = starts - dt.timedelta(days=20)
        with mock.patch("django.utils.timezone.now", return_value=min(filed_on, now)):
            event = actions.create_event(
                actor=admin,
                kind=kind,
                title=title,
                starts_at=starts,
                region=region,
                capacity=capacity,
                lab_access_days=access,
                series=series,
                related_measure=measure,
                source="demo",
                join_url="https://example.com/join",
                recording_url="https://example.com/recording" if days < 0 else "",
                deck_url="https://example.com/deck" if days < 0 else "",
            )
            slots = list(event.slots.order_by("role", "seat"))
            for slot, cse in zip(slots, cses[index % 3 :] if index != 3 else [], strict=False):
                actions.sign_up(slot, cse=cse, actor=cse)  # event 4 keeps its slots open: flagged
            if kind == EventKind.LAB:
                host = event.slots.get(role=DriRole.HOST).cse or admin
                actions.file_lab_request(event, actor=host, today=filed_on.date())
            for _ in range(8 if capacity is None or capacity > 8 else capacity + 2):
                contact = next(people)
                if contact is not None:
                    actions.register(
                        event,
                        name=f"{contact.first_name} {contact.last_name}".strip() or contact.email,
                        email=contact.email,
                        account=contact.account,
                    )
        if kind == EventKind.LAB and days < 0:
            code = event.codes.get(kind=CodeKind.PRODUCTION).code
            for registration in event.registrations.filter(status="registered")[:5]:
                actions.redeem(code, email=registration.email, now=starts + dt.timedelta(minutes=10))
    _attend_past_events(admin)
    send_due()  # confirmations, and the post-event emails of the past events
    return len(CALENDAR)


def _attend_past_events(admin: User) -> None:
    """Last month's events as their webinar tool reported them: about two in three came."""
    for event in Event.objects.filter(starts_at__lt=timezone.now()).order_by("starts_at"):
        came = list(event.registrations.filter(status="registered").order_by("pk"))
        attendees = [Attendee(r.email, r.name, 25 + 7 * i) for i, r in enumerate(came) if i % 3 != 2]
        import_attendance(event, attendees, actor=admin)
