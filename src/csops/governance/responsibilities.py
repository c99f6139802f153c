"""The CS Ops core responsibilities tracker (seed 003): each process CS Ops is responsible for, its
owner, and a red / yellow / green status. Anything but green carries why (the reason) and what is
being done about it (the plan), so leadership reads a status with its remedy, not a complaint.

Every write is an action here (transactional, audited, a call that changes nothing writes nothing);
the reads the pages, the report and the API share are the selectors below."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When
from django.utils import timezone

from csops.core.actions import create_object, update_object
from csops.core.calendar import business_date, business_today
from csops.core.models import User
from csops.core.permissions import has_perm
from csops.governance.models import CoreProcess, ProcessStatusChange, Rag

PERMISSION = "manage_processes"  # admins: add processes, rename them, change owners
STATUS_ORDER = (Rag.RED, Rag.YELLOW, Rag.GREEN)  # worst first, as leadership reads them
STATUS_RANK = Case(
    *(When(status=value, then=Value(rank)) for rank, value in enumerate(STATUS_ORDER)),
    output_field=IntegerField(),
)

# The processes CS Ops runs (seeds 000 and 003), for a new installation to start from.
DEFAULT_PROCESSES: tuple[tuple[str, str], ...] = (
    ("Systems implementation and maintenance",
     "The CS platform and the systems around it: connectors, data objects, upgrades, access."),
    ("Platform administration",
     "Rules, scorecards, playbooks and programs as configuration; every change peer reviewed."),
    ("Operational reporting", "The dashboards and reports the CS organisation runs on, and what they mean."),
    ("Systems enablement", "Training and office hours for CSMs, CSEs and account owners; Slack questions."),
    ("Product analytics and renewal strategies",
     "Product usage data in the customer journey; adoption and renewal-risk signals."),
    ("Fiscal year planning and strategy", "Segments, coverage models, capacity and targets for next year."),
    ("Customer Success journeys", "Onboarding, adoption, expansion and renewal journeys: programs, CTAs."),
    ("Customer programs", "Digital journeys, webinars, labs and surveys for every segment."),
    ("Renewal operations", "The renewal pipeline, risk reviews and the forecast."),
    ("CS KPIs", "Net and gross retention, platform adoption and CS efficiency: one definition each."),
    ("Policy management", "Written policies (data retention, sandbox cleanup, escalations) kept current."),
    ("Documentation", "Handbook pages for every CS Ops process, updated when the process changes."),
    ("Request intake and triage", "CS Ops requests triaged weekly by the workstream leads, weighted."),
    ("Peer review of configuration changes",
     "No rule or data object changes without another admin's review; the changelog."),
)


# --- permissions -----------------------------------------------------------------------------------


def may_manage(user: User) -> bool:
    return has_perm(user, PERMISSION)


def may_update(user: User, process: CoreProcess) -> bool:
    """Admins, and the process's owner, update its status and description."""
    return may_manage(user) or (has_perm(user, "view_customers") and user.pk == process.owner_id)


def _require_manage(actor: User, what: str) -> None:
    if not may_manage(actor):
        raise PermissionDenied(f"{actor} may not {what}: it takes the '{PERMISSION}' permission (admins).")


def _require_update(actor: User, process: CoreProcess, what: str) -> None:
    if not may_update(actor, process):
        raise PermissionDenied(
            f"{actor} may not {what} of {process}: only its owner ({process.owner}) and admins may."
        )


# --- validation ------------------------------------------------------------------------------------


def _status_errors(status: str, reason: str, plan: str) -> dict[str, str]:
    if status not in Rag.values:
        return {"status": f"Unknown status {status!r} (allowed: {', '.join(Rag.values)})."}
    errors = {}
    if status != Rag.GREEN:
        label = Rag(status).label.lower()
        if not reason:
            errors["reason"] = f"Say why the process is {label}: leadership reads the reason with the status."
        if not plan:
            errors["plan"] = f"Give the plan that makes it green: a {label} status needs one."
    return errors


def _owner_errors(owner: User | None) -> dict[str, str]:
    if owner is None:
        return {"owner": "Name the process's owner."}
    if owner.is_pool or not owner.is_active:
        return {"owner": f"{owner} cannot own a process: the owner is an active person, not a pool."}
    return {}


def _clean(text: str | None) -> str:
    return (text or "").strip()


# --- actions ---------------------------------------------------------------------------------------


def _record(process: CoreProcess, actor: User | None, from_status: str) -> ProcessStatusChange:
    return ProcessStatusChange.objects.create(
        process=process, from_status=from_status, status=process.status, reason=process.reason,
        plan=process.plan, changed_by=actor if actor and actor.pk else None,
    )


@transaction.atomic
def add_process(
    *,
    actor: User,
    name: str,
    owner: User | None,
    description: str = "",
    status: str = Rag.GREEN,
    reason: str = "",
    plan: str = "",
    source: str = "web",
) -> CoreProcess:
    """A new process with its first status, which opens its history."""
    _require_manage(actor, "add core processes")
    name, reason, plan = _clean(name), _clean(reason), _clean(plan)
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the process a name."
    elif CoreProcess.objects.filter(name__iexact=name).exists():
        errors["name"] = f"There is already a process named {name!r}."
    errors.update(_owner_errors(owner))
    errors.update(_status_errors(status, reason, plan))
    if errors:
        raise ValidationError(errors)
    try:
        process = create_object(
            CoreProcess, actor=actor, source=source, name=name, description=_clean(description), owner=owner,
            status=status, reason=reason, plan=plan, status_changed_at=timezone.now(),
        )
    except IntegrityError:  # the same name added at the same moment by someone else
        raise ValidationError({"name": f"There is already a process named {name!r}."}) from None
    _record(process, actor, from_status="")
    return process


def _locked(process: CoreProcess) -> CoreProcess:
    """The row as it is now, locked: two updates at once must not both start from a stale status."""
    return CoreProcess.objects.select_for_update().select_related("owner").get(pk=process.pk)


@transaction.atomic
def update_status(
    process: CoreProcess,
    *,
    actor: User,
    status: str,
    reason: str = "",
    plan: str = "",
    source: str = "web",
) -> ProcessStatusChange | None:
    """Set the status with its reason and plan (both required unless green; a green status clears
    them unless given). Each update is a history row, from the status it had; a new reason or plan
    under the same status is one too, but only a new status restarts the days in status. An update
    that changes nothing writes nothing and returns None."""
    process = _locked(process)
    _require_update(actor, process, "update the status")
    reason, plan = _clean(reason), _clean(plan)
    errors = _status_errors(status, reason, plan)
    if errors:
        raise ValidationError(errors)
    if (process.status, process.reason, process.plan) == (status, reason, plan):
        return None
    from_status = process.status
    fields: dict[str, object] = {"status": status, "reason": reason, "plan": plan}
    if status != from_status:
        fields["status_changed_at"] = timezone.now()
    update_object(process, actor=actor, source=source, **fields)
    return _record(process, actor, from_status)


@transaction.atomic
def change_owner(
    process: CoreProcess, *, actor: User, owner: User | None, source: str = "web"
) -> CoreProcess:
    _require_manage(actor, "change the owner of core processes")
    errors = _owner_errors(owner)
    if errors:
        raise ValidationError(errors)
    return update_object(_locked(process), actor=actor, source=source, owner=owner)


@transaction.atomic
def edit_process(
    process: CoreProcess,
    *,
    actor: User,
    description: str,
    name: str | None = None,
    source: str = "web",
) -> CoreProcess:
    """The description (its owner or an admin); the name too (an admin; None leaves it)."""
    process = _locked(process)
    _require_update(actor, process, "edit the description")
    fields: dict[str, str] = {"description": _clean(description)}
    if name is not None and _clean(name) != process.name:
        _require_manage(actor, "rename core processes")
        name = _clean(name)
        if not name:
            raise ValidationError({"name": "Give the process a name."})
        if CoreProcess.objects.filter(name__iexact=name).exclude(pk=process.pk).exists():
            raise ValidationError({"name": f"There is already a process named {name!r}."})
        fields["name"] = name
    return update_object(process, actor=actor, source=source, **fields)


def add_default_processes(*, actor: User, owner: User, source: str = "web") -> list[CoreProcess]:
    """The default processes (green, owned by `owner`) that do not exist yet; re-running adds none."""
    existing = {n.lower() for n in CoreProcess.objects.values_list("name", flat=True)}
    return [
        add_process(actor=actor, name=name, description=description, owner=owner, source=source)
        for name, description in DEFAULT_PROCESSES
        if name.lower() not in existing
    ]


# --- selectors -------------------------------------------------------------------------------------


def processes() -> QuerySet[CoreProcess]:
    return CoreProcess.objects.select_related("owner").annotate(status_rank=STATUS_RANK)


def days_in_status(changed_at: dt.datetime | None, today: dt.date | None = None) -> int | None:
    """Calendar days since the status was set, counted in the business time zone."""
    if changed_at is None:
        return None
    return ((today or business_today()) - business_date(changed_at)).days


def history(process: CoreProcess) -> list[ProcessStatusChange]:
    return list(process.history.select_related("changed_by"))


def counts() -> dict[str, int]:
    """How many processes have each status, every status present (0 when none)."""
    found = dict(CoreProcess.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: found.get(status, 0) for status in STATUS_ORDER}


@dataclass
class StatusReport:
    as_of: dt.date
    generated_at: dt.datetime
    red: list[CoreProcess] = field(default_factory=list)
    yellow: list[CoreProcess] = field(default_factory=list)
    green: list[CoreProcess] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.red) + len(self.yellow) + len(self.green)

    @property
    def attention(self) -> list[tuple[str, str, list[CoreProcess]]]:
        """The sections shown in full, with reason and plan: red, then yellow."""
        return [(Rag.RED.value, Rag.RED.label, self.red), (Rag.YELLOW.value, Rag.YELLOW.label, self.yellow)]


def status_report(today: dt.date | None = None) -> StatusReport:
    """Reds first, then yellows, the longest in their status first (each with its reason and plan),
    then the greens by name. Each process carries `days` (in its status)."""
    today = today or business_today()
    report = StatusReport(as_of=today, generated_at=timezone.now())
    for process in processes().order_by("status_rank", F("status_changed_at").asc(nulls_last=True), "name"):
        process.days = days_in_status(process.status_changed_at, today)
        getattr(report, process.status).append(process)
    report.green.sort(key=lambda p: p.name.lower())
    return report
