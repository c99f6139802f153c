"""Attendance: imported from the webinar tool's CSV or marked by hand, and what follows from it —
a "Webinar" activity on each attending account's timeline, the "Webinar Attended by Customer"
Lifecycle CTA (once per account and event) and the feedback poll to each attendee who is a contact
of their account."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import CtaType
from csops.core.models import User
from csops.customers.models import Account, Contact
from csops.events.actions import account_for_email
from csops.events.models import Event, Registration, RegistrationStatus
from csops.programs.models import EmailTemplate, Survey
from csops.programs.surveys import invite_contacts
from csops.timeline.actions import log_activity
from csops.timeline.models import Activity, ActivityType

ACTIVITY_TYPE = "Webinar"
CTA_TYPE, CTA_REASON = "Lifecycle", "Webinar Attended by Customer"
POLL, POLL_TEMPLATE = "Webinar and lab feedback", "Event feedback poll"
# Headers as webinar tools export them (Zoom, Webex, GoTo…), lower-cased.
COLUMNS = {
    "email": ("email", "user email", "attendee email", "email address"),
    "name": ("name", "name (original name)", "attendee name", "user name", "full name"),
    "minutes": (
        "minutes attended",
        "total duration (minutes)",
        "duration (minutes)",
        "time in session (minutes)",
        "minutes",
    ),
}


@dataclass
class Attendee:
    email: str
    name: str
    minutes: int


@dataclass
class AttendanceReport:
    attended: int = 0
    absent: int = 0
    walk_ins: int = 0
    activities: int = 0
    ctas: int = 0
    polls: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.attended} attended ({self.walk_ins} without a registration), {self.absent} absent; "
            f"{self.activities} activities, {self.ctas} CTAs, {self.polls} poll invitations"
        )


def read_csv(text: str) -> list[Attendee]:
    """The attendees in a webinar tool's export; one person's several joins add up. Every bad row
    is named by its line; any error refuses the whole file."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    found = {}
    for column, names in COLUMNS.items():
        found[column] = next((headers[n] for n in names if n in headers), None)
    missing = [c for c in ("email", "minutes") if found[c] is None]
    if missing:
        raise ValidationError(
            f"Missing column(s): {', '.join(missing)} (e.g. {', '.join(COLUMNS[m][0] for m in missing)})."
        )
    errors: list[str] = []
    people: dict[str, Attendee] = {}
    for row in reader:
        line = reader.line_num
        address = (row.get(found["email"]) or "").strip().lower()
        name = (row.get(found["name"]) or "").strip() if found["name"] else ""
        raw = (row.get(found["minutes"]) or "").strip()
        try:
            validate_email(address)
        except ValidationError:
            errors.append(f"line {line}: {address or 'no email'} is not an email address")
            continue
        try:
            minutes = round(float(raw))
            if minutes < 0:
                raise ValueError
        except ValueError:
            errors.append(f"line {line}: minutes attended {raw!r} is not a number of minutes")
            continue
        if address in people:
            people[address].minutes += minutes
        else:
            people[address] = Attendee(address, name or address.split("@")[0], minutes)
    if errors:
        raise ValidationError(errors)
    return list(people.values())


@transaction.atomic
def import_attendance(
    event: Event, attendees: list[Attendee], *, actor: User | None, raise_ctas: bool = True
) -> AttendanceReport:
    """The webinar tool's list is the whole attendance: listed registrants attended, the others did
    not; someone who attended without registering here gets a registration."""
    report = AttendanceReport()
    by_email = {a.email: a for a in attendees if a.minutes > 0}
    registrations = {
        r.email.lower(): r for r in event.registrations.exclude(status=RegistrationStatus.CANCELLED)
    }
    walk_ins = [
        Registration(
            event=event,
            name=a.name,
            email=a.email,
            account=account_for_email(a.email),
            attended=True,
            attended_minutes=a.minutes,
        )
        for address, a in by_email.items()
        if address not in registrations
    ]
    Registration.objects.bulk_create(walk_ins)
    report.walk_ins = len(walk_ins)
    changed = []
    for address, registration in registrations.items():
        seen = by_email.get(address)
        registration.attended = seen is not None
        registration.attended_minutes = seen.minutes if seen else 0
        changed.append(registration)
    Registration.objects.bulk_update(changed, ["attended", "attended_minutes"])
    report.attended = len(by_email)
    report.absent = sum(1 for r in changed if not r.attended)
    _follow_attendance(event, actor=actor, raise_ctas=raise_ctas, report=report)
    return report


@transaction.atomic
def mark_attendance(
    registration: Registration,
    *,
    attended: bool,
    minutes: int | None = None,
    actor: User | None,
    raise_ctas: bool = True,
) -> AttendanceReport:
    """Mark one registrant as attended (or not) by hand."""
    registration.attended = attended
    registration.attended_minutes = (
        (minutes if minutes is not None else registration.event.duration_minutes) if (attended) else 0
    )
    registration.save(update_fields=["attended", "attended_minutes"])
    report = AttendanceReport(attended=int(attended), absent=int(not attended))
    if attended:
        _follow_attendance(registration.event, actor=actor, raise_ctas=raise_ctas, report=report)
    return report


def _follow_attendance(
    event: Event, *, actor: User | None, raise_ctas: bool, report: AttendanceReport
) -> None:
    """For each account with attendees: one activity (its external id makes a repeat a no-op), the
    CTA once (a dedupe key per account and event), and the poll to each attendee contact once."""
    attendees = list(
        event.registrations.filter(attended=True, account__isnull=False).select_related("account")
    )
    if not attendees:
        return
    emails = {r.email.lower() for r in attendees}
    contacts = {
        (c.account_id, c.address): c
        for c in Contact.objects.annotate(address=Lower("email")).filter(address__in=emails)
    }
    by_account: dict[int, list[Registration]] = {}
    for registration in attendees:
        by_account.setdefault(registration.account_id, []).append(registration)
    activity_type = ActivityType.objects.get(name=ACTIVITY_TYPE)
    cta_type = CtaType.objects.get(name=CTA_TYPE)
    reason = cta_type.reasons.get(name=CTA_REASON)
    day = timezone.localdate(event.starts_at)
    kind = event.get_kind_display().lower()
    for account_id, people in by_account.items():
        account: Account = people[0].account
        known = [
            contacts[(account_id, r.email.lower())]
            for r in people
            if (account_id, r.email.lower()) in contacts
        ]
        external_id = f"event:{event.pk}:account:{account_id}"
        if not Activity.objects.filter(external_id=external_id).exists():
            log_activity(
                account,
                author=actor,
                type=activity_type,
                subject=f"Attended the {kind} {event.title!r}"[:255],
                date=day,
                notes="\n".join(f"{r.name} <{r.email}>: {r.attended_minutes or 0} min" for r in people),
                external_attendees=known,
                external_id=external_id,
                source="event",
            )
            report.activities += 1
        if raise_ctas:
            _, created = create_cta(
                account,
                actor=actor,
                type=cta_type,
                reason=reason,
                name=f"{account.name} - attended {event.title}"[:200],
                priority="low",
                source="program",  # the one-to-many motion; source_ref names the event
                source_ref=f"event:{event.pk}",
                dedupe_key=f"event:{event.pk}:attended:{account_id}",
            )
            report.ctas += created
    rows = [
        {
            "account_id": r.account_id,
            "contact_id": contacts[(r.account_id, r.email.lower())].pk,
            "key": poll_key(event, r),
        }
        for r in attendees
        if (r.account_id, r.email.lower()) in contacts
    ]
    if rows:
        report.polls += invite_contacts(
            Survey.objects.get(name=POLL),
            rows,
            template=EmailTemplate.objects.get(name=POLL_TEMPLATE),
            source_ref=f"event:{event.pk}",
        )


def poll_key(event: Event, registration: Registration) -> str:
    return f"event:{event.pk}:poll:{registration.pk}"
