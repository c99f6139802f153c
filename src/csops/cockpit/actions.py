"""Writes to the cockpit: CTAs with their tasks, and success plans with their objectives."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from csops.cockpit.models import (
    Cta,
    CtaReason,
    CtaStatus,
    CtaType,
    Objective,
    Playbook,
    Source,
    SuccessPlan,
    Task,
)
from csops.core import audit
from csops.core.actions import create_object, update_object
from csops.core.bulk import insert_rows
from csops.core.models import AuditEntry, User
from csops.core.permissions import has_perm
from csops.core.signals import account_data_changed
from csops.customers.models import Account
from csops.usage.synthetic import account_fit


def create_success_plan(
    account: Account,
    *,
    actor: User | None,
    name: str,
    type: str = "roi",
    status: str = "draft",
    source: str = "web",
) -> SuccessPlan:
    return create_object(
        SuccessPlan, actor=actor, source=source, account=account, name=name, type=type, status=status
    )


def update_success_plan(
    plan: SuccessPlan, *, actor: User | None, source: str = "web", **fields: Any
) -> SuccessPlan:
    return update_object(plan, actor=actor, source=source, **fields)


def add_objective(
    plan: SuccessPlan,
    *,
    actor: User | None,
    name: str,
    category: str = "",
    stage: str = "",
    status: str = "not_started",
    due: dt.date | None = None,
    source: str = "web",
) -> Objective:
    return create_object(
        Objective,
        actor=actor,
        source=source,
        plan=plan,
        name=name,
        category=category,
        stage=stage,
        status=status,
        due=due,
    )


def seed_success_plans(*, seed: int = 1) -> int:
    """Synthetic plans for the accounts the Outcomes measure applies to; better fit, more plans."""

    rng = random.Random(seed)
    accounts = list(
        Account.objects.filter(segment__name__in=["Growth", "Strategic", "PubSec"]).values_list(
            "pk", flat=True
        )
    )
    fits = account_fit(np.array(accounts, np.int64), seed) if accounts else []
    plans, objectives = [], []
    for account_id, fit in zip(accounts, fits, strict=True):
        roll = rng.random()
        if roll < 0.3 + 0.5 * fit:
            status = "active"
        elif roll < 0.45 + 0.5 * fit:
            status = "draft"
        else:
            continue
        plan = SuccessPlan(account_id=account_id, name="Value realisation plan", status=status)
        plans.append(plan)
        for index in range(rng.randint(0 if status == "draft" else 1, 3)):
            objectives.append(
                (
                    plan,
                    Objective(
                        name=["Cut release cycle time", "Consolidate toolchain", "Shift security left"][
                            index
                        ],
                        category=["Velocity", "Cost savings", "Security"][index],
                        stage=["CI", "SCM", "Secure"][index],
                        status=rng.choice(["not_started", "in_progress", "complete"]),
                    ),
                )
            )
    with transaction.atomic():
        SuccessPlan.objects.filter(account_id__in=accounts, name="Value realisation plan").delete()
        SuccessPlan.objects.bulk_create(plans, batch_size=2000)
        for plan, objective in objectives:
            objective.plan_id = plan.pk
        Objective.objects.bulk_create([o for _, o in objectives], batch_size=2000)
    return len(plans)


# --- CTAs and tasks --------------------------------------------------------------------------


def default_owner(account: Account) -> User | None:
    """The account's CSM; for a pooled account (TAM Scale) the CSE who works it."""
    if account.csm_id and not account.csm.is_pool:
        return account.csm
    return account.cse or account.csm


def open_status(cta_type: CtaType) -> CtaStatus:
    status = (
        CtaStatus.objects.filter(is_closed=False)
        .filter(Q(types=None) | Q(types=cta_type))
        .order_by("position")
        .first()
    )
    if status is None:
        raise ValidationError({"status": "No open CTA status is configured."})
    return status


def _task_owner(role: str, cta: Cta, account: Account) -> User | None:
    return cta.owner if role == "cta_owner" else getattr(account, role)


def create_cta(
    account: Account,
    *,
    actor: User | None,
    type: CtaType,
    reason: CtaReason,
    name: str = "",
    priority: str = "medium",
    owner: User | None = None,
    due_date: dt.date | None = None,
    playbook: Playbook | None = None,
    source: str = "manual",
    source_ref: str = "",
    dedupe_key: str | None = None,
) -> tuple[Cta, bool]:
    """Raise a CTA with its playbook's tasks. With a dedupe key, raising it again returns the
    existing CTA, even when two runners race (the key is unique in the database)."""
    if dedupe_key and (existing := Cta.objects.filter(dedupe_key=dedupe_key).first()):
        return existing, False
    today = timezone.localdate()
    try:
        with transaction.atomic():
            cta = Cta(
                account=account,
                type=type,
                reason=reason,
                name=name or f"{account.name} - {reason.name}",
                priority=priority,
                status=open_status(type),
                owner=owner or default_owner(account),
                due_date=due_date,
                playbook=playbook,
                source=source,
                source_ref=source_ref,
                dedupe_key=dedupe_key,
            )
            cta.full_clean(validate_unique=False)
            cta.save()
            if playbook is not None:
                Task.objects.bulk_create(
                    [
                        Task(
                            cta=cta,
                            name=step["name"],
                            position=index,
                            owner=_task_owner(step.get("owner", "cta_owner"), cta, account),
                            due_date=today + dt.timedelta(days=step.get("due_in_days", 0)),
                        )
                        for index, step in enumerate(playbook.tasks)
                    ]
                )
            audit.record(
                actor=actor,
                verb="create",
                obj=cta,
                source=source,
                changes={"name": [None, cta.name], "type": [None, type.name], "reason": [None, reason.name]},
            )
            account_data_changed.send(sender=Cta, account_ids=[account.pk])
    except IntegrityError:
        if dedupe_key:
            return Cta.objects.get(dedupe_key=dedupe_key), False
        raise
    return cta, True


@transaction.atomic
def close_cta(cta: Cta, *, actor: User | None, status: CtaStatus, complete_tasks: bool = False) -> Cta:
    """Close the CTA; with `complete_tasks`, its open tasks are marked done first (one step where
    the work is finished, instead of a page load per task)."""
    if not status.is_closed:
        raise ValidationError({"status": f"{status.name!r} is not a closed status."})
    if complete_tasks:
        for task in cta.tasks.filter(done_at=None):
            complete_task(task, actor=actor)
    update_object(cta, actor=actor, status=status, closed_at=timezone.now())
    return cta


@transaction.atomic
def reopen_cta(cta: Cta, *, actor: User | None) -> Cta:
    if cta.closed_at is None:
        raise ValidationError({"status": "The CTA is already open."})
    update_object(cta, actor=actor, status=open_status(cta.type), closed_at=None, source="reopen")
    return cta


@transaction.atomic
def snooze_cta(cta: Cta, *, actor: User | None, until: dt.date, reason: str) -> Cta:
    if until <= timezone.localdate():
        raise ValidationError({"snoozed_until": "Snooze until a future date."})
    if not reason.strip():
        raise ValidationError({"snooze_reason": "Say why the CTA is snoozed."})
    return update_object(cta, actor=actor, snoozed_until=until, snooze_reason=reason.strip())


@transaction.atomic
def complete_task(task: Task, *, actor: User | None) -> Task:
    if task.done_at is None:
        update_object(task, actor=actor, done_at=timezone.now())
    return task


# --- Working CTAs: bulk actions from the CTA list, changes from the API (cockpit UI) --------------

MAX_BULK = 1000


def _names(ctas: list[Cta], shown: int = 3) -> str:
    names = ", ".join(repr(c.name) for c in ctas[:shown])
    return names + (f" and {len(ctas) - shown} more" if len(ctas) > shown else "")


def ensure_can_own(owner: User) -> None:
    """A CTA's owner works it: a person (pools such as TAM Scale are worked by their members),
    active, whose role may work CTAs."""
    if owner.is_pool:
        raise ValidationError(
            {"owner": f"{owner} is a pool; pools cannot own CTAs. Choose one of its members."}
        )
    if not owner.is_active:
        raise ValidationError({"owner": f"{owner} is not an active user."})
    if not has_perm(owner, "work_ctas"):
        raise ValidationError({"owner": f"{owner} ({owner.get_role_display()}) may not work CTAs."})


def _locked(cta_ids: Iterable[int]) -> list[Cta]:
    """The selected CTAs, locked until the transaction ends, so two people changing the same rows
    queue rather than interleave. Every id must still exist: all or nothing."""
    wanted = sorted({int(pk) for pk in cta_ids})
    if not wanted:
        raise ValidationError("Select at least one CTA.")
    if len(wanted) > MAX_BULK:
        raise ValidationError(f"Select at most {MAX_BULK} CTAs at a time (got {len(wanted)}).")
    ctas = list(
        Cta.objects.select_for_update(of=("self",))
        .select_related("type", "status", "owner")
        .filter(pk__in=wanted)
        .order_by("pk")
    )
    if len(ctas) != len(wanted):
        missing = sorted(set(wanted) - {c.pk for c in ctas})
        raise ValidationError(f"No CTA with id {', '.join(map(str, missing[:5]))}; nothing was changed.")
    return ctas


def _write(ctas: list[Cta], fields: dict[str, Any], *, actor: User | None, source: str) -> int:
    """Set `fields` on every CTA in one UPDATE and audit each one with what changed for it."""
    entries = []
    for cta in ctas:
        before = audit.snapshot(cta)
        for name, value in fields.items():
            setattr(cta, name, value)
        changes = audit.diff(before, audit.snapshot(cta))
        entries.append(audit.entry(actor=actor, verb="update", obj=cta, changes=changes, source=source))
    if ctas:
        Cta.objects.filter(pk__in=[c.pk for c in ctas]).update(**fields)
        audit.record_many(entries)
        account_data_changed.send(sender=Cta, account_ids=sorted({c.account_id for c in ctas}))
    return len(ctas)


def bulk_close_ctas(
    cta_ids: Iterable[int], *, actor: User | None, status: CtaStatus, source: str = "web"
) -> int:
    """Close the CTAs with a closed status; returns how many were closed. CTAs already closed stay
    as they were, so posting the same form twice changes nothing more."""
    if not status.is_closed:
        raise ValidationError({"status": f"{status.name!r} is not a closed status; choose a closed one."})
    only_for = set(status.types.values_list("pk", flat=True))
    with transaction.atomic():
        ctas = _locked(cta_ids)
        wrong = [c for c in ctas if only_for and c.type_id not in only_for]
        if wrong:
            raise ValidationError(
                {"status": f"{status.name!r} does not apply to {_names(wrong)}; nothing was closed."}
            )
        still_open = [c for c in ctas if c.closed_at is None]
        return _write(still_open, {"status": status, "closed_at": timezone.now()}, actor=actor, source=source)


def bulk_reassign_ctas(
    cta_ids: Iterable[int], *, actor: User | None, owner: User, source: str = "web"
) -> int:
    """Give the CTAs to `owner`; their open tasks that the previous owner held move with them."""
    ensure_can_own(owner)
    with transaction.atomic():
        ctas = [c for c in _locked(cta_ids) if c.owner_id != owner.pk]
        _move_tasks(ctas, owner, actor=actor, source=source)
        return _write(ctas, {"owner": owner}, actor=actor, source=source)


def _move_tasks(ctas: list[Cta], owner: User, *, actor: User | None, source: str) -> None:
    previous = {c.pk: c.owner_id for c in ctas if c.owner_id}
    tasks = [
        t
        for t in Task.objects.filter(cta_id__in=list(previous), done_at__isnull=True).only(
            "pk", "name", "owner_id", "cta_id"
        )
        if t.owner_id == previous[t.cta_id]
    ]
    if tasks:
        Task.objects.filter(pk__in=[t.pk for t in tasks]).update(owner=owner)
        audit.record_many(
            audit.entry(actor=actor, verb="update", obj=t, changes={"owner_id": [t.owner_id, owner.pk]},
                        source=source)
            for t in tasks
        )


def bulk_snooze_ctas(
    cta_ids: Iterable[int], *, actor: User | None, until: dt.date, reason: str, source: str = "web"
) -> int:
    """Snooze open CTAs until a future date, saying why; a closed CTA in the selection refuses all."""
    reason = reason.strip()
    if until <= timezone.localdate():
        raise ValidationError({"snoozed_until": f"Snooze until a future date ({until} is not)."})
    if not reason:
        raise ValidationError({"snooze_reason": "Say why the CTAs are snoozed."})
    limit = Cta._meta.get_field("snooze_reason").max_length
    if len(reason) > limit:
        raise ValidationError({"snooze_reason": f"Keep the reason under {limit} characters."})
    with transaction.atomic():
        ctas = _locked(cta_ids)
        closed = [c for c in ctas if c.closed_at is not None]
        if closed:
            raise ValidationError(f"{_names(closed)} {'is' if len(closed) == 1 else 'are'} closed; "
                                  "reopen before snoozing. Nothing was snoozed.")
        changed = [c for c in ctas if (c.snoozed_until, c.snooze_reason) != (until, reason)]
        return _write(changed, {"snoozed_until": until, "snooze_reason": reason}, actor=actor, source=source)


def raise_manual_cta(
    account: Account,
    *,
    actor: User | None,
    type: CtaType,
    reason: CtaReason,
    owner: User | None = None,
    source: str = "manual",
    **fields: Any,
) -> Cta:
    """A CTA a person raises by hand (page or API); its owner must be able to work it."""
    if owner is not None:
        ensure_can_own(owner)
    cta, _ = create_cta(account, actor=actor, type=type, reason=reason, owner=owner, source=source, **fields)
    return cta


UNSET: Any = object()


@transaction.atomic
def update_cta(
    cta: Cta,
    *,
    actor: User | None,
    source: str = "web",
    status: CtaStatus | None = UNSET,
    owner: User = UNSET,
    priority: str = UNSET,
    due_date: dt.date | None = UNSET,
    snoozed_until: dt.date | None = UNSET,
    snooze_reason: str = UNSET,
) -> Cta:
    """Change a CTA as the API's PATCH does, each part through its own action: a closed status
    closes it, an open status reopens or moves it, a snooze date snoozes it (null wakes it)."""
    if status is not UNSET:
        _set_status(cta, status, actor=actor)
    if owner is not UNSET:
        bulk_reassign_ctas([cta.pk], actor=actor, owner=owner, source=source)
        cta.refresh_from_db()
    plain = {k: v for k, v in {"priority": priority, "due_date": due_date}.items() if v is not UNSET}
    if plain:
        update_object(cta, actor=actor, source=source, **plain)
    if snoozed_until is not UNSET:
        _set_snooze(cta, snoozed_until, "" if snooze_reason is UNSET else snooze_reason, actor=actor)
    elif snooze_reason is not UNSET:
        raise ValidationError({"snooze_reason": "Give snoozed_until with the reason."})
    return cta


def _set_status(cta: Cta, status: CtaStatus | None, *, actor: User | None) -> None:
    if status is None:
        raise ValidationError({"status": "A CTA always has a status."})
    if status.is_closed:
        if cta.status_id != status.pk or cta.closed_at is None:
            close_cta(cta, actor=actor, status=status)
        return
    if cta.closed_at is not None:
        reopen_cta(cta, actor=actor)
    update_object(cta, actor=actor, status=status)


def _set_snooze(cta: Cta, until: dt.date | None, reason: str, *, actor: User | None) -> None:
    if until is None:
        update_object(cta, actor=actor, snoozed_until=None, snooze_reason="")
        return
    if cta.closed_at is not None:
        raise ValidationError({"snoozed_until": "The CTA is closed; reopen it before snoozing."})
    if (cta.snoozed_until, cta.snooze_reason) != (until, reason.strip()):
        snooze_cta(cta, actor=actor, until=until, reason=reason)


@transaction.atomic
def reopen_task(task: Task, *, actor: User | None) -> Task:
    if task.done_at is not None:
        update_object(task, actor=actor, done_at=None)
    return task


# --- CTAs raised in bulk (rules) ------------------------------------------------------------------

RAISE_BATCH = 2000
TASK_OWNER_COLUMNS = {
    "csm": "csm_owner",
    "cse": "cse_owner",
    "ae": "ae_owner",
    "sa": "sa_owner",
    "renewals_manager": "renewals_manager_owner",
}


def raise_ctas(
    rows: list[dict],
    *,
    type: CtaType,
    reason: CtaReason,
    priority: str,
    playbook: Playbook | None,
    source_ref: str,
    rule_run_id: int | None,
    source: str = Source.RULE,
) -> int:
    """Raise many CTAs with their playbook tasks, a batch per transaction; returns how many were new.

    Each row has account_id, name, owner_id, due_date, dedupe_key and the account team's owner ids
    (csm_owner, cse_owner…). A row whose dedupe key exists is left out by the database itself, so a
    re-run, or another runner racing this one, never makes a duplicate; only the CTAs this call
    inserted get tasks and an audit entry.
    """
    if reason.type_id != type.pk:
        raise ValidationError({"reason": f"{reason.name!r} is not a reason of {type.name!r}."})
    fixed = {
        "type_id": type.pk,
        "reason_id": reason.pk,
        "priority": priority,
        "status_id": open_status(type).pk,
        "playbook_id": playbook.pk if playbook else None,
        "source": source,
        "source_ref": source_ref,
        "rule_run_id": rule_run_id,
    }
    columns = ("account_id", "name", "owner_id", "due_date", "dedupe_key")
    today = timezone.localdate()
    cta_type = ContentType.objects.get_for_model(Cta).pk
    created = 0
    for start in range(0, len(rows), RAISE_BATCH):
        batch = rows[start : start + RAISE_BATCH]
        with transaction.atomic():
            new = dict(
                (key, pk)
                for pk, key in insert_rows(
                    Cta,
                    [{**fixed, **{c: row[c] for c in columns}} for row in batch],
                    skip_conflicts_on="dedupe_key",
                    returning=("id", "dedupe_key"),
                )
            )
            mine = [(new[row["dedupe_key"]], row) for row in batch if row["dedupe_key"] in new]
            if playbook is not None:
                insert_rows(Task, _tasks_for(mine, playbook, today))
            insert_rows(
                AuditEntry,
                [
                    {
                        "verb": "create",
                        "content_type_id": cta_type,
                        "object_id": str(pk),
                        "object_repr": row["name"][:200],
                        "changes": {"name": [None, row["name"]], source: [None, source_ref]},
                        "source": source,
                    }
                    for pk, row in mine
                ],
            )
        created += len(mine)
    return created


def _tasks_for(ctas: list[tuple[int, dict]], playbook: Playbook, today: dt.date) -> list[dict]:
    steps = [
        (i, s["name"], s.get("owner", "cta_owner"), today + dt.timedelta(days=s.get("due_in_days", 0)))
        for i, s in enumerate(playbook.tasks)
    ]
    return [
        {
            "cta_id": cta_id,
            "name": name,
            "position": index,
            "owner_id": row["owner_id"] if role == "cta_owner" else row.get(TASK_OWNER_COLUMNS[role]),
            "due_date": due,
        }
        for cta_id, row in ctas
        for index, name, role, due in steps
    ]


def close_ctas_by_rule(cta_ids: list[int], *, status: CtaStatus, rule: str) -> int:
    """Close open CTAs a rule found resolved; returns how many it closed (closed ones stay as they are)."""
    if not status.is_closed:
        raise ValidationError({"status": f"{status.name!r} is not a closed status."})
    closed = 0
    now = timezone.now()
    for start in range(0, len(cta_ids), RAISE_BATCH):
        with transaction.atomic():
            batch = list(
                Cta.objects.select_for_update()
                .filter(pk__in=cta_ids[start : start + RAISE_BATCH], closed_at__isnull=True)
                .values_list("pk", "name", "status__name")
            )
            Cta.objects.filter(pk__in=[pk for pk, _, _ in batch]).update(status=status, closed_at=now)
            audit.record_many(
                audit.entry(
                    actor=None,
                    verb="update",
                    obj=Cta(pk=pk, name=name),
                    source="rule",
                    changes={"status": [old, status.name], "closed_by_rule": [None, rule]},
                )
                for pk, name, old in batch
            )
            closed += len(batch)
    return closed
