"""The emails of a webinar or lab, through the programs' outbox: the registration confirmation,
the reminders (policy.reminder_minutes before the start) and the post-event email with the
recording and deck. Each has a key per registration, so each goes at most once, whoever queues it
and however often the periodic task runs.

The outbox carries no attachments: the confirmation and the reminders link to the event's own
iCalendar file (`/e/events/<id>.ics`), which any calendar adds with one click.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from csops.customers.models import Contact
from csops.events.actions import policy
from csops.events.models import Event, Registration, RegistrationStatus
from csops.programs.models import EmailTemplate, OutboxMessage
from csops.programs.outbox import Draft, base_url, queue

KIND = "event"  # transactional: what the registrant asked for, no List-Unsubscribe
TEMPLATES = {
    "confirmation": "Event registration confirmed",
    "reminder": "Event reminder",
    "follow-up": "Event follow-up",
}
FOLLOW_UP_LOOKBACK = dt.timedelta(days=7)  # an event over longer ago than this gets no follow-up any more


def message_key(registration_id: int, event_id: int, what: str) -> str:
    return f"event:{event_id}:registration:{registration_id}:{what}"


def calendar_url(event: Event) -> str:
    return f"{base_url()}/e/events/{event.pk}.ics"


def _starts(event: Event) -> str:
    local = event.starts_at.astimezone(zoneinfo.ZoneInfo(event.time_zone))
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()} ({event.time_zone})"


def event_fields(event: Event) -> dict[str, str]:
    return {
        "title": event.title,
        "kind": event.get_kind_display().lower(),
        "starts": _starts(event),
        "duration": f"{event.duration_minutes} minutes",
        "region": event.region,
    }


def _contacts(registrations: list[Registration]) -> dict[tuple[int, str], Contact]:
    """The registrants who are contacts of their account, by (account, email): one query."""
    emails = {r.email.lower() for r in registrations if r.account_id}
    if not emails:
        return {}
    found = Contact.objects.annotate(address=Lower("email")).filter(address__in=emails)
    return {(c.account_id, c.address): c for c in found}


def _draft(
    registration: Registration, what: str, template: EmailTemplate, contact: Contact | None
) -> Draft:
    event = registration.event
    first, _, last = registration.name.partition(" ")
    organisation = settings.CSOPS_ORGANISATION["name"]
    context: dict[str, Any] = {
        "contact": {
            "first_name": first,
            "last_name": last,
            "name": registration.name,
            "email": registration.email,
            "title": "",
        },
        "account": {"name": registration.account.name if registration.account else registration.company},
        "organisation": {"name": organisation},
        "sender": {"name": organisation, "email": ""},
        "csm": {"name": "", "email": ""},
        "cse": {"name": "", "email": ""},
        "event": event_fields(event),
    }
    return Draft(
        key=message_key(registration.pk, event.pk, what),
        kind=KIND,
        to=registration.email,
        template=template,
        context=context,
        links={
            "join": event.join_url,
            "calendar": calendar_url(event),
            "recording": event.recording_url,
            "deck": event.deck_url,
            "events": f"{base_url()}/e/",
        },
        unsubscribe=False,
        refs={
            "account_id": registration.account_id,
            **({"contact_id": contact.pk} if contact else {}),
        },
    )


def _queue(pairs: Iterable[tuple[Registration, str]], kind: str) -> int:
    """Queue one email per (registration, what) whose key is not in the outbox yet."""
    pairs = list(pairs)
    if not pairs:
        return 0
    keys = {message_key(r.pk, r.event_id, what) for r, what in pairs}
    known = set(OutboxMessage.objects.filter(key__in=keys).values_list("key", flat=True))
    todo = [(r, what) for r, what in pairs if message_key(r.pk, r.event_id, what) not in known]
    if not todo:
        return 0
    template = EmailTemplate.objects.get(name=TEMPLATES[kind])
    contacts = _contacts([r for r, _ in todo])
    drafts = [_draft(r, what, template, contacts.get((r.account_id, r.email.lower()))) for r, what in todo]
    return len(queue(drafts))


def _registered():
    return Registration.objects.select_related("event", "account").filter(
        status=RegistrationStatus.REGISTERED, event__cancelled=False
    )


def queue_confirmation(registration: Registration) -> int:
    """The confirmation of one registration, at once (the periodic task catches any missed)."""
    if registration.status != RegistrationStatus.REGISTERED:
        return 0
    registration = _registered().filter(pk=registration.pk).first()
    return _queue([(registration, "confirmation")], "confirmation") if registration else 0


def queue_confirmations(now: dt.datetime) -> int:
    """Every registration of an event still ahead that has had no confirmation (a waitlisted one
    gets its confirmation when it moves up)."""
    found = _registered().filter(event__starts_at__gt=now)
    return _queue(((r, "confirmation") for r in found), "confirmation")


def queue_reminders(now: dt.datetime) -> int:
    """The reminders due now. A reminder is due from `minutes` before the start until the next,
    shorter one is (so a late run sends only the nearest), and not to someone who registered after
    its time (their confirmation has just told them)."""
    minutes = sorted({int(m) for m in policy().reminder_minutes if int(m) > 0}, reverse=True)
    queued = 0
    for position, ahead in enumerate(minutes):
        later = minutes[position + 1] if position + 1 < len(minutes) else 0
        window = Q(event__starts_at__gt=now + dt.timedelta(minutes=later)) & Q(
            event__starts_at__lte=now + dt.timedelta(minutes=ahead)
        )
        found = _registered().filter(
            window, registered_at__lt=F("event__starts_at") - dt.timedelta(minutes=ahead)
        )
        queued += _queue(((r, f"reminder:{ahead}") for r in found), "reminder")
    return queued


def follow_up_due(event: Event, now: dt.datetime, hours: int) -> bool:
    ends = event.starts_at + dt.timedelta(minutes=event.duration_minutes)
    if now < ends or event.follow_up_sent_at or event.cancelled:
        return False
    # The recording and deck usually follow within hours; without them it still goes by the deadline.
    return bool(event.recording_url or event.deck_url) or now >= ends + dt.timedelta(hours=hours)


def queue_follow_ups(now: dt.datetime) -> int:
    """The post-event email (recording, deck) to every registrant, once per event: within
    policy.follow_up_hours of the end."""
    hours = policy().follow_up_hours
    # The few events that ended lately; the duration is per event, so the end is checked here.
    recent = Event.objects.filter(
        cancelled=False,
        follow_up_sent_at__isnull=True,
        starts_at__lte=now,
        starts_at__gte=now - FOLLOW_UP_LOOKBACK,
    )
    due = [e for e in recent if follow_up_due(e, now, hours)]
    if not due:
        return 0
    found = _registered().filter(event__in=due)
    queued = _queue(((r, "follow-up") for r in found), "follow-up")
    Event.objects.filter(pk__in=[e.pk for e in due], follow_up_sent_at__isnull=True).update(
        follow_up_sent_at=now
    )
    return queued


@dataclass
class EmailReport:
    confirmations: int = 0
    reminders: int = 0
    follow_ups: int = 0

    def __str__(self) -> str:
        return (
            f"{self.confirmations} confirmation(s), {self.reminders} reminder(s), "
            f"{self.follow_ups} post-event email(s) queued"
        )


def send_due(now: dt.datetime | None = None) -> EmailReport:
    """What the periodic task does: queue every event email due now (the worker delivers them)."""
    now = now or timezone.now()
    return EmailReport(
        confirmations=queue_confirmations(now),
        reminders=queue_reminders(now),
        follow_ups=queue_follow_ups(now),
    )
