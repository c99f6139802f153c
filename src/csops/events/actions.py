"""Webinars and hands-on labs (seed 004): the calendar, DRI sign-up, public registration with a
waitlist, the lab environment request a week ahead and its invitation codes, and the redemption of
a code into the attendee's own lab space. Every rule is enforced here, for pages, API and tasks."""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections import Counter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from csops.core import audit
from csops.core.actions import create_object, update_object
from csops.core.models import Role, User
from csops.customers.models import Account, Contact
from csops.events.models import (
    CodeKind,
    DriRole,
    DriSlot,
    Event,
    EventKind,
    EventPolicy,
    InvitationCode,
    LabRequest,
    LabSpace,
    Registration,
    RegistrationStatus,
)

CODE_BYTES = 15  # 120 random bits: unguessable, and short enough to read out in a lab


def policy() -> EventPolicy:
    found = EventPolicy.objects.filter(name="default").first()
    if found is None:
        raise ValidationError("No event policy 'default': apply the default configuration.")
    return found


def _may_run_events(actor: User) -> None:
    if not (actor.is_authenticated and actor.role == Role.ADMIN):
        raise ValidationError({"actor": "Only CS Ops admins add or change events."})


@transaction.atomic
def create_event(
    *,
    actor: User,
    kind: str,
    title: str,
    starts_at: dt.datetime,
    time_zone: str = "America/Los_Angeles",
    region: str = "",
    capacity: int | None = None,
    duration_minutes: int | None = None,
    lab_access_days: int | None = None,
    series: str = "",
    related_measure: str = "",
    description: str = "",
    join_url: str = "",
    recording_url: str = "",
    deck_url: str = "",
    panelists: int = 1,
    source: str = "web",
) -> Event:
    """An event on the calendar with its DRI slots: one host and `panelists` Q&A panelists."""
    _may_run_events(actor)
    errors = {}
    if kind not in EventKind.values:
        errors["kind"] = f"Choose one of: {', '.join(EventKind.values)}."
    if not (title or "").strip():
        errors["title"] = "Give the topic."
    if starts_at is None or timezone.is_naive(starts_at):
        errors["starts_at"] = "Give the start as a date and time with its time zone."
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = f"Not a time zone: {time_zone!r} (e.g. America/Los_Angeles)."
    if capacity is not None and capacity < 1:
        errors["capacity"] = "At least 1, or empty for no limit."
    if lab_access_days is not None and kind != EventKind.LAB:
        errors["lab_access_days"] = "Only labs give attendees a lab space."
    if errors:
        raise ValidationError(errors)
    rules = policy()
    minutes = duration_minutes or (rules.lab_minutes if kind == EventKind.LAB else rules.webinar_minutes)
    event = create_object(
        Event,
        actor=actor,
        source=source,
        kind=kind,
        title=title.strip(),
        starts_at=starts_at,
        time_zone=time_zone,
        region=region,
        capacity=capacity,
        duration_minutes=minutes,
        lab_access_days=lab_access_days,
        series=series,
        related_measure=related_measure,
        description=description,
        join_url=join_url,
        recording_url=recording_url,
        deck_url=deck_url,
    )
    DriSlot.objects.bulk_create(
        [DriSlot(event=event, role=DriRole.HOST, seat=1)]
        + [DriSlot(event=event, role=DriRole.PANELIST, seat=n) for n in range(1, panelists + 1)]
    )
    return event


# --- DRIs ----------------------------------------------------------------------------------------


@transaction.atomic
def sign_up(slot: DriSlot, *, cse: User, actor: User) -> DriSlot:
    """A CSE takes a DRI slot (an admin may sign someone up). Taking one's own slot again is a no-op."""
    slot = DriSlot.objects.select_for_update().select_related("event").get(pk=slot.pk)
    if actor != cse and actor.role != Role.ADMIN:
        raise ValidationError({"cse": "Sign yourself up; only an admin signs up someone else."})
    if cse.is_pool or cse.role not in (Role.CSM, Role.ADMIN) or not cse.is_active:
        raise ValidationError({"cse": f"{cse} is not a CSE who can be a DRI."})
    if slot.cse_id == cse.pk:
        return slot
    if slot.cse_id is not None:
        raise ValidationError({"slot": f"{slot.get_role_display()} is taken by {slot.cse}."})
    if slot.event.starts_at <= timezone.now():
        raise ValidationError({"slot": "The event has started: its DRIs are set."})
    return update_object(slot, actor=actor, cse=cse, signed_up_at=timezone.now())


@transaction.atomic
def leave_slot(slot: DriSlot, *, actor: User) -> DriSlot:
    slot = DriSlot.objects.select_for_update().get(pk=slot.pk)
    if slot.cse_id is None:
        return slot
    if actor.pk != slot.cse_id and actor.role != Role.ADMIN:
        raise ValidationError({"slot": "Only the DRI (or an admin) leaves a slot."})
    return update_object(slot, actor=actor, cse=None, signed_up_at=None)


# --- registration --------------------------------------------------------------------------------


def account_for_email(email: str) -> Account | None:
    """The account whose contacts share the email's domain (the most of them), if any."""
    domain = email.rsplit("@", 1)[-1].lower()
    if not domain or domain in settings.CSOPS_FREE_MAIL_DOMAINS:
        return None
    counts = Counter(
        Contact.objects.filter(email__iendswith=f"@{domain}").values_list("account_id", flat=True)
    )
    if not counts:
        return None
    return Account.objects.filter(pk=counts.most_common(1)[0][0]).first()


@transaction.atomic
def register(
    event: Event, *, name: str, email: str, company: str = "", account: Account | None = None
) -> Registration:
    """A public registration: idempotent per email; beyond capacity, on the waitlist."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    name, email, company = (name or "").strip(), (email or "").strip().lower(), (company or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Give your name."
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Give a valid email address."
    if event.cancelled:
        errors["event"] = "This event is cancelled."
    elif event.starts_at + dt.timedelta(minutes=event.duration_minutes) <= timezone.now():
        errors["event"] = "This event is over: see the calendar for the next one."
    if errors:
        raise ValidationError(errors)
    existing = Registration.objects.filter(event=event, email=email).first()
    if existing and existing.status != RegistrationStatus.CANCELLED:
        return existing
    full = event.capacity is not None and _registered(event) >= event.capacity
    status = RegistrationStatus.WAITLISTED if full else RegistrationStatus.REGISTERED
    account = account or account_for_email(email)
    transaction.on_commit(lambda: _confirm(event.pk, email))
    if existing:
        return update_object(
            existing, actor=None, source="public", status=status, name=name, company=company, account=account
        )
    return create_object(
        Registration,
        actor=None,
        source="public",
        event=event,
        name=name,
        email=email,
        company=company,
        account=account,
        status=status,
    )


def _confirm(event_id: int, email: str) -> None:
    """The confirmation email goes at once (the periodic task would send any missed)."""
    from csops.events.messages import queue_confirmation

    if registration := Registration.objects.filter(event_id=event_id, email=email).first():
        queue_confirmation(registration)


def _registered(event: Event) -> int:
    return event.registrations.filter(status=RegistrationStatus.REGISTERED).count()


@transaction.atomic
def cancel_registration(registration: Registration) -> Registration:
    """Cancel; the first on the waitlist takes the freed place."""
    event = Event.objects.select_for_update().get(pk=registration.event_id)
    registration = Registration.objects.get(pk=registration.pk)
    if registration.status == RegistrationStatus.CANCELLED:
        return registration
    freed = registration.status == RegistrationStatus.REGISTERED
    registration = update_object(
        registration, actor=None, source="public", status=RegistrationStatus.CANCELLED
    )
    waiting = event.registrations.filter(status=RegistrationStatus.WAITLISTED).order_by("registered_at", "pk")
    if freed and (next_in := waiting.first()):
        update_object(next_in, actor=None, source="public", status=RegistrationStatus.REGISTERED)
    return registration


# --- labs ----------------------------------------------------------------------------------------


def lab_request_due(event: Event) -> dt.date:
    """The last day the lab's environment request may be filed (in the event's time zone)."""
    local = event.starts_at.astimezone(zoneinfo.ZoneInfo(event.time_zone)).date()
    return local - dt.timedelta(days=policy().lab_request_days)


@transaction.atomic
def file_lab_request(
    event: Event, *, actor: User, notes: str = "", today: dt.date | None = None
) -> LabRequest:
    """The lab DRI (the host, or an admin) requests the environment at least a week ahead; it
    yields the pair of invitation codes. Filing again returns the same request."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.kind != EventKind.LAB:
        raise ValidationError({"event": "Only labs need an environment."})
    if existing := LabRequest.objects.filter(event=event).first():
        return existing
    host = event.slots.filter(role=DriRole.HOST).values_list("cse_id", flat=True).first()
    if actor.pk != host and actor.role != Role.ADMIN:
        raise ValidationError({"actor": "The lab's host (its DRI) files the environment request."})
    today = today or timezone.localdate()
    due = lab_request_due(event)
    if today > due:
        raise ValidationError(
            {
                "event": (
                    f"Too late: a lab environment request is due {policy().lab_request_days} days "
                    f"before delivery, by {due.isoformat()} for this lab."
                )
            }
        )
    request = create_object(LabRequest, actor=actor, event=event, filed_by=actor, notes=notes.strip())
    for kind in CodeKind.values:
        InvitationCode.objects.create(event=event, kind=kind, code=new_code())
    return request


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def access_until(event: Event) -> dt.datetime:
    days = event.lab_access_days or policy().lab_access_days
    return event.starts_at + dt.timedelta(minutes=event.duration_minutes, days=days)


def space_name(registration: Registration) -> str:
    """A lab space name from the attendee: e.g. ada-lovelace-1f3a (unique, readable, no email)."""
    stem = slugify(registration.name)[:40] or "attendee"
    return f"{stem}-{secrets.token_hex(2)}"


@transaction.atomic
def redeem(code: str, *, email: str, now: dt.datetime | None = None) -> LabSpace:
    """A registered attendee redeems the lab's production code: their own lab space, the same one
    if they redeem again; refused for others, beyond capacity, and once access has expired."""
    now = now or timezone.now()
    found = InvitationCode.objects.select_related("event").filter(code=(code or "").strip()).first()
    if found is None or found.kind != CodeKind.PRODUCTION:
        raise ValidationError({"code": "Not a lab invitation code: check it against the lab's slides."})
    event = Event.objects.select_for_update().get(pk=found.event_id)
    registration = Registration.objects.filter(
        event=event, email=(email or "").strip().lower(), status=RegistrationStatus.REGISTERED
    ).first()
    if registration is None:
        raise ValidationError({"email": f"{email} is not registered for {event.title}: register first."})
    if space := LabSpace.objects.filter(registration=registration).first():
        return space
    until = access_until(event)
    if now >= until:
        raise ValidationError({"code": f"This lab's access ended on {until:%Y-%m-%d %H:%M} UTC."})
    if event.capacity is not None and LabSpace.objects.filter(code__event=event).count() >= event.capacity:
        raise ValidationError({"code": f"All {event.capacity} lab spaces are taken."})
    try:
        with transaction.atomic():
            space = LabSpace.objects.create(
                registration=registration, code=found, name=space_name(registration), expires_at=until
            )
    except IntegrityError:  # the two-byte suffix met an existing name: one more try
        space = LabSpace.objects.create(
            registration=registration, code=found, name=space_name(registration), expires_at=until
        )
    space.provider_ref = import_string(settings.CSOPS_LAB_PROVISIONER)(space) or ""
    space.save(update_fields=["provider_ref"])
    audit.record(actor=None, verb="create", obj=space, changes={"name": [None, space.name]}, source="public")
    return space


def flag_unfilled_slots(today: dt.date | None = None) -> int:
    """Tell the CSE manager (else the CS Ops admins) of DRI slots still open within the policy's
    days, once per slot and day. Returns the messages queued."""
    from csops.events.selectors import unfilled_slots
    from csops.programs.outbox import queue_plain

    today = today or timezone.localdate()
    rules = policy()
    slots = list(unfilled_slots(today, rules.unfilled_slot_days))
    if not slots:
        return 0
    manager = (
        User.objects.filter(username=rules.cse_manager, is_active=True).first() if rules.cse_manager else None
    )
    recipients = (
        [manager.email]
        if manager and manager.email
        else list(
            User.objects.filter(role=Role.ADMIN, is_active=True, is_pool=False)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    lines = [
        f"- {s.event.title}, {s.event.starts_at:%Y-%m-%d %H:%M} UTC: {s.get_role_display()} {s.seat}"
        for s in slots
    ]
    return queue_plain(
        key=f"dri-open:{today.isoformat()}",
        kind="notification",
        to=recipients,
        subject=f"{len(slots)} DRI slot(s) open within {rules.unfilled_slot_days} days",
        text="These webinar and lab slots have no DRI yet:\n\n" + "\n".join(lines) + "\n",
    )
