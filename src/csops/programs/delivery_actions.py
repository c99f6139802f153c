"""Writes to the outbox made by people: re-queueing messages that did not go out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csops.core import audit
from csops.core.models import User
from csops.programs.actions import CUSTOMER_KINDS
from csops.programs.models import MessageStatus, OutboxMessage

RETRYABLE = (MessageStatus.FAILED, MessageStatus.UNKNOWN)


@dataclass
class RetryReport:
    queued: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)  # queued before: nothing to do
    skipped: dict[int, str] = field(default_factory=dict)  # id: why it was left alone

    def __str__(self) -> str:
        text = f"{len(self.queued)} message(s) queued again"
        if self.already:
            text += f", {len(self.already)} queued already"
        if self.skipped:
            text += "; left alone: " + "; ".join(f"{pk}: {why}" for pk, why in sorted(self.skipped.items()))
        return text


@transaction.atomic
def retry_messages(ids: Iterable[int], *, actor: User | None, source: str = "web") -> RetryReport:
    """Queue failed and unknown messages again, for delivery at the next worker pass, with a fresh
    round of attempts. An unknown message may already have arrived: re-queueing it is a person's
    decision to risk a duplicate. Sent, bounced and cancelled messages, and messages to a contact
    who has since opted out, are left alone with the reason; a message queued already is left as is,
    so retrying twice queues once. Unknown ids refuse the whole request."""
    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationError({"ids": "Give at least one message id."})
    locked = OutboxMessage.objects.select_for_update(of=("self",)).select_related("contact")
    messages = {m.pk: m for m in locked.filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in messages]
    if missing:
        raise ValidationError({"ids": f"No outbox message with id {', '.join(map(str, missing))}."})
    report = RetryReport()
    now = timezone.now()
    for pk in wanted:
        message = messages[pk]
        if message.status == MessageStatus.QUEUED:
            report.already.append(pk)
            continue
        if message.status not in RETRYABLE:
            report.skipped[pk] = f"it is {message.get_status_display().lower()}, not failed or unknown"
            continue
        if message.kind in CUSTOMER_KINDS and message.contact is not None and message.contact.email_opt_out:
            report.skipped[pk] = f"{message.contact.email or message.to} has opted out of emails"
            continue
        OutboxMessage.objects.filter(pk=pk).update(
            status=MessageStatus.QUEUED, attempts=0, attempt_at=None, next_attempt_at=now, last_error=""
        )
        audit.record(
            actor=actor,
            verb="update",
            obj=message,
            source=source,
            changes={
                "status": [message.status, MessageStatus.QUEUED],
                "attempts": [message.attempts, 0],
                "last_error": [message.last_error, ""],
            },
        )
        report.queued.append(pk)
    return report
