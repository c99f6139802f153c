"""Writes to programs: enrolments (the journeys' steps and sending come with the programs engine)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csops.core import audit
from csops.customers.actions import update_contact
from csops.customers.models import Contact
from csops.programs.models import (
    Enrolment,
    EnrolmentState,
    MessageStatus,
    OutboxMessage,
    Program,
    Repeat,
    TrackingEvent,
)

BATCH = 2000


def period(program: Program, day: dt.date) -> str:
    """What a repeating program enrols a contact once per: '' (once), '2026-11' or '2026-Q4'."""
    if program.repeat == Repeat.MONTHLY:
        return f"{day:%Y-%m}"
    if program.repeat == Repeat.QUARTERLY:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return ""


def enrolment_key_parts(program: Program, day: dt.date) -> tuple[str, str]:
    """An enrolment's key is prefix + contact id + suffix: unique per contact, program and period."""
    when = period(program, day)
    return f"enrol:{program.name}:", f":{when}" if when else ""


@dataclass
class EnrolOutcome:
    enrolled: int = 0
    already: int = 0
    opted_out: int = 0
    no_recipient: int = 0

    def __str__(self) -> str:
        return (
            f"{self.enrolled} enrolled, {self.already} already enrolled, {self.opted_out} opted out, "
            f"{self.no_recipient} without a recipient"
        )


def recipients(account_ids: list[int]) -> dict[int, Contact]:
    """Each account's program recipient: its first GitLab Admin contact, else its first Sold-to."""
    from csops.rules.features import RECIPIENT_PERSONAS

    rank = {name: i for i, name in enumerate(RECIPIENT_PERSONAS)}
    found: dict[int, Contact] = {}
    contacts = Contact.objects.filter(account_id__in=account_ids, persona__name__in=RECIPIENT_PERSONAS)
    for contact in sorted(contacts.select_related("persona"), key=lambda c: (rank[c.persona.name], c.pk)):
        found.setdefault(contact.account_id, contact)
    return found


def enrol_accounts(
    program: Program, account_ids: list[int], *, source: str = "manual", source_ref: str = ""
) -> EnrolOutcome:
    """Enrol the accounts' program recipients by hand or by segment; opted-out contacts are skipped
    and counted, as are accounts without a recipient."""
    if not program.active:
        raise ValidationError({"program": f"{program.name!r} is not active."})
    found = recipients(account_ids)
    outcome = EnrolOutcome(no_recipient=len(set(account_ids) - set(found)))
    prefix, suffix = enrolment_key_parts(program, timezone.localdate())
    rows = []
    for contact in found.values():
        if contact.email_opt_out:
            outcome.opted_out += 1
        else:
            rows.append(
                {
                    "account_id": contact.account_id,
                    "contact_id": contact.pk,
                    "key": f"{prefix}{contact.pk}{suffix}",
                }
            )
    outcome.enrolled = enrol_contacts(
        program_name=program.name, rows=rows, source_ref=source_ref, source=source
    )
    outcome.already = len(rows) - outcome.enrolled
    return outcome


def enrol_contacts(*, program_name: str, rows: list[dict], source_ref: str, source: str = "rule") -> int:
    """Enrol each row's contact (account_id, contact_id, key) once: a key already enrolled is left
    alone, so re-running, or two runners racing, never enrols anyone twice. Returns how many are new."""
    program = Program.objects.get(name=program_name)
    made = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        with transaction.atomic():
            keys = [row["key"] for row in batch]
            before = set(Enrolment.objects.filter(key__in=keys).values_list("key", flat=True))
            Enrolment.objects.bulk_create(
                [
                    Enrolment(
                        program=program,
                        account_id=row["account_id"],
                        contact_id=row["contact_id"],
                        key=row["key"],
                        source=source,
                        source_ref=source_ref,
                    )
                    for row in batch
                    if row["key"] not in before
                ],
                ignore_conflicts=True,
            )
            new = Enrolment.objects.filter(key__in=set(keys) - before).values_list("pk", "key")
            audit.record_many(
                audit.entry(
                    actor=None,
                    verb="create",
                    obj=Enrolment(pk=pk, key=key, program=program),
                    source=source,
                    changes={"program": [None, program.name], "by": [None, source_ref]},
                )
                for pk, key in new
            )
            made += len(new)
    return made


# --- what contacts do with their emails ---------------------------------------------------------------


def _message(public_id: str) -> OutboxMessage | None:
    return OutboxMessage.objects.filter(public_id=public_id).first()


def record_click(public_id: str, name: str, url: str) -> None:
    if message := _message(public_id):
        TrackingEvent.objects.create(
            message=message, kind=TrackingEvent.Kind.CLICK, link=name[:50], url=url[:1000]
        )


def record_open(public_id: str) -> None:
    if message := _message(public_id):
        TrackingEvent.objects.create(message=message, kind=TrackingEvent.Kind.OPEN)


CUSTOMER_KINDS = ("program", "survey", "assist", "engagement")


@transaction.atomic
def unsubscribe(message: OutboxMessage) -> None:
    """The contact opts out: no further program, survey or assist email; their journeys end."""
    contact = message.contact
    if not contact.email_opt_out:
        update_contact(contact, actor=None, source="unsubscribe", email_opt_out=True)
    TrackingEvent.objects.get_or_create(message=message, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    OutboxMessage.objects.filter(
        contact=contact, status=MessageStatus.QUEUED, kind__in=CUSTOMER_KINDS
    ).update(status=MessageStatus.CANCELLED, last_error="The contact unsubscribed.")
    Enrolment.objects.filter(contact=contact, state=EnrolmentState.ACTIVE).update(
        state=EnrolmentState.EXITED, ended_at=timezone.now(), exit_reason="unsubscribed", next_at=None
    )
