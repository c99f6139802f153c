"""Escalations: a support escalation (an existing ticket with a very high business impact) or an
account escalation (a blocking issue, a churn or contraction risk), used sparingly and only for the
larger accounts of a segment. Qualification, filing with or without an override, updates at the
severity's cadence, reminders when one is due, and the resolution. Every rule is enforced here."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from csops.core.actions import create_object, update_object
from csops.core.calendar import add_business_days, business_days_between, business_today
from csops.core.models import User
from csops.core.permissions import has_perm
from csops.customers.models import Account, SupportTicket
from csops.engagements.models import (
    UPDATE_EVERY,
    AccountIssue,
    Escalation,
    EscalationKind,
    EscalationStatus,
    EscalationUpdate,
    Severity,
)
from csops.programs import outbox

# The qualification thresholds of the CSE operating rhythm.
ARR_SHARE = Decimal("0.80")  # of the segment's ARR ceiling, at least
LAM_ABOVE = Decimal("100000")  # strictly more
RENEWAL_MONTHS = 3  # calendar months from today, at most
PERMISSION = "work_ctas"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it has no such day (Nov 30 + 3
    months is Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def cadence(severity: str) -> str:
    days = UPDATE_EVERY[Severity(severity)]
    return "every business day" if days == 1 else f"every {days} business days"


# --- qualification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    key: str  # arr, lam, renewal: the field a refusal names
    name: str
    met: bool
    detail: str  # the figures, as a sentence


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def qualification(account: Account, today: dt.date | None = None) -> list[Criterion]:
    """Each criterion with whether the account meets it and the figures it was judged on."""
    today = today or business_today()
    segment = account.segment
    arr = Decimal(account.arr or 0)
    if segment.arr_max is None:
        arr_criterion = Criterion(
            "arr",
            "ARR ≥ 80% of the segment's ceiling",
            True,
            f"ARR {_money(arr)}; the {segment.name} segment has no ARR ceiling, so this counts as met.",
        )
    else:
        floor = segment.arr_max * ARR_SHARE
        met = arr >= floor
        arr_criterion = Criterion(
            "arr",
            "ARR ≥ 80% of the segment's ceiling",
            met,
            f"ARR {_money(arr)} {'≥' if met else '<'} {_money(floor)} "
            f"(80% of the {segment.name} ceiling of {_money(segment.arr_max)}).",
        )
    if account.lam is None:
        lam_criterion = Criterion("lam", "LAM > 100,000", False, "The account has no LAM.")
    else:
        met = account.lam > LAM_ABOVE
        lam_criterion = Criterion(
            "lam",
            "LAM > 100,000",
            met,
            f"LAM {_money(account.lam)} {'>' if met else 'is not above'} {_money(LAM_ABOVE)}.",
        )
    by = add_months(today, RENEWAL_MONTHS)
    renewal = account.renewal_date
    if renewal is None:
        renewal_criterion = Criterion(
            "renewal", "Renewal ≤ 3 months away", False, "The account has no renewal date."
        )
    elif renewal < today:
        renewal_criterion = Criterion(
            "renewal",
            "Renewal ≤ 3 months away",
            False,
            f"The renewal date {renewal} has passed (today is {today}).",
        )
    else:
        met = renewal <= by
        days = (renewal - today).days
        renewal_criterion = Criterion(
            "renewal",
            "Renewal ≤ 3 months away",
            met,
            f"Renewal on {renewal}, {days} day{'s' if days != 1 else ''} away: "
            f"{'on or before' if met else 'after'} {by}, 3 months from {today}.",
        )
    return [arr_criterion, lam_criterion, renewal_criterion]


# --- filing ----------------------------------------------------------------------------------------


def _require(actor: User, what: str) -> None:
    if not has_perm(actor, PERMISSION):
        raise PermissionDenied(
            f"{actor} ({actor.get_role_display()}) may not {what}: it takes the '{PERMISSION}' "
            "permission (CSMs and admins)."
        )


def _choice(errors: dict[str, str], field: str, value: str | None, choices) -> None:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        errors[field] = f"Unknown {field.replace('_', ' ')} {value!r} (allowed: {allowed})."


@transaction.atomic
def file_escalation(
    account: Account,
    *,
    actor: User,
    kind: str,
    severity: str,
    title: str,
    description: str = "",
    ticket: SupportTicket | None = None,
    issue: str = "",
    override_reason: str = "",
    source: str = "web",
) -> Escalation:
    """File an escalation owned by `actor`. One that does not meet every criterion is refused
    unless an override reason is given, which is recorded with who gave it."""
    _require(actor, "file escalations")
    today = business_today()
    errors: dict[str, str] = {}
    _choice(errors, "kind", kind, EscalationKind)
    _choice(errors, "severity", severity, Severity)
    if not (title or "").strip():
        errors["title"] = "Give the escalation a title."
    if ticket is not None and ticket.account_id != account.pk:
        errors["ticket"] = f"Ticket {ticket.external_id} is not a ticket of {account}."
    elif kind == EscalationKind.SUPPORT:
        if ticket is None:
            errors["ticket"] = "A support escalation needs the account's ticket it escalates."
        elif not ticket.is_open:
            errors["ticket"] = f"Ticket {ticket.external_id} is closed: escalate an open ticket."
    if kind == EscalationKind.ACCOUNT and not issue:
        errors["issue"] = (
            "An account escalation needs its issue: a blocking issue, a churn risk or a contraction risk."
        )
    elif issue:
        _choice(errors, "issue", issue, AccountIssue)
    criteria = qualification(account, today)
    failed = [c for c in criteria if not c.met]
    reason = (override_reason or "").strip()
    if failed and not reason:
        errors["override_reason"] = (
            f"{account} does not qualify for an escalation: "
            + "; ".join(f"{c.name} not met ({c.detail})" for c in failed)
            + " Give a reason to file it anyway."
        )
    if errors:
        raise ValidationError(errors)
    escalation = create_object(
        Escalation,
        actor=actor,
        source=source,
        account=account,
        kind=kind,
        ticket=ticket,
        issue=issue,
        title=title.strip(),
        description=(description or "").strip(),
        severity=severity,
        status=EscalationStatus.OPEN,
        owner=actor,
        criteria={"as_of": today.isoformat(), "items": [asdict(c) for c in criteria]},
        qualified=not failed,
        overridden_by=actor if failed else None,
        override_reason=reason if failed else "",
        next_update_due=add_business_days(today, UPDATE_EVERY[Severity(severity)]),
    )
    _history(escalation, actor, "Filed." if not failed else f"Filed with an override: {reason}")
    return escalation


def _history(escalation: Escalation, actor: User | None, body: str) -> EscalationUpdate:
    return EscalationUpdate.objects.create(
        escalation=escalation, author=actor, body=body, status=escalation.status, severity=escalation.severity
    )


def _locked(escalation: Escalation) -> Escalation:
    """The row as it is now, locked: two updates at once must not both count from a stale copy."""
    return Escalation.objects.select_for_update().get(pk=escalation.pk)


# --- updates and the resolution ----------------------------------------------------------------------


@transaction.atomic
def add_update(
    escalation: Escalation,
    *,
    actor: User,
    body: str,
    status: str | None = None,
    severity: str | None = None,
    source: str = "web",
) -> EscalationUpdate:
    """Record an update (the status history), maybe a new status or severity; the next update is
    then due after the (new) severity's cadence, counted from today."""
    _require(actor, "update escalations")
    escalation = _locked(escalation)
    if escalation.status == EscalationStatus.RESOLVED:
        raise ValidationError({"status": f"Escalation #{escalation.pk} is resolved: file a new one."})
    errors: dict[str, str] = {}
    if not (body or "").strip():
        errors["body"] = "Say what changed."
    status = status or escalation.status
    severity = severity or escalation.severity
    if status == EscalationStatus.RESOLVED:
        errors["status"] = "Resolve an escalation with its resolution, not with an update."
    else:
        _choice(errors, "status", status, EscalationStatus)
    _choice(errors, "severity", severity, Severity)
    if errors:
        raise ValidationError(errors)
    update_object(
        escalation,
        actor=actor,
        source=source,
        status=status,
        severity=severity,
        next_update_due=add_business_days(business_today(), UPDATE_EVERY[Severity(severity)]),
    )
    return _history(escalation, actor, body.strip())


@transaction.atomic
def resolve(escalation: Escalation, *, actor: User, resolution: str, source: str = "web") -> Escalation:
    _require(actor, "resolve escalations")
    escalation = _locked(escalation)
    if escalation.status == EscalationStatus.RESOLVED:
        raise ValidationError(
            {"status": f"Escalation #{escalation.pk} was resolved on {escalation.resolved_at:%Y-%m-%d}."}
        )
    if not (resolution or "").strip():
        raise ValidationError({"resolution": "Say how the escalation was resolved."})
    update_object(
        escalation,
        actor=actor,
        source=source,
        status=EscalationStatus.RESOLVED,
        resolution=resolution.strip(),
        resolved_at=timezone.now(),
        next_update_due=None,
    )
    _history(escalation, actor, f"Resolved: {resolution.strip()}")
    return escalation


# --- reminders -------------------------------------------------------------------------------------


def remind_due(today: dt.date | None = None) -> int:
    """Email each open escalation's owner when its update is due (once per due date: the message
    key carries the date, so a re-run or tomorrow's run of an overdue one queues nothing)."""
    today = today or business_today()
    due = (
        Escalation.objects.exclude(status=EscalationStatus.RESOLVED)
        .filter(next_update_due__lte=today)
        .exclude(owner__email="")
        .select_related("owner", "account")
        .order_by("pk")
    )
    queued, reminded = 0, []
    for escalation in due:
        late = business_days_between(escalation.next_update_due, today)
        when = f"overdue by {late} business day{'s' if late != 1 else ''}" if late > 0 else "due today"
        text = (
            f'Escalation #{escalation.pk} of {escalation.account}, "{escalation.title}" '
            f"({escalation.get_severity_display()}: an update {cadence(escalation.severity)}), "
            f"needs an update: it was due on {escalation.next_update_due} ({when}).\n\n"
            f"Add one: {outbox.base_url()}{escalation.get_absolute_url()}\n"
        )
        sent = outbox.queue_plain(
            key=f"escalation-update:{escalation.pk}:{escalation.next_update_due.isoformat()}",
            kind="notification",
            to=[escalation.owner.email],
            subject=f"Update due: escalation #{escalation.pk} {escalation.account}"[:300],
            text=text,
        )
        if sent:
            queued += sent
            reminded.append(escalation.pk)
    if reminded:
        Escalation.objects.filter(pk__in=reminded).update(reminded_on=today)
    return queued
