"""Writes to the cockpit: CTAs with their tasks, and success plans with their objectives."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import numpy as np
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
    SuccessPlan,
    Task,
)
from csops.core import audit
from csops.core.actions import create_object, update_object
from csops.core.models import User
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
    except IntegrityError:
        if dedupe_key:
            return Cta.objects.get(dedupe_key=dedupe_key), False
        raise
    return cta, True


@transaction.atomic
def close_cta(cta: Cta, *, actor: User | None, status: CtaStatus) -> Cta:
    if not status.is_closed:
        raise ValidationError({"status": f"{status.name!r} is not a closed status."})
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


def seed_ctas(*, seed: int = 1) -> int:
    """Demo CTAs until the rules engine raises them: At-Risk for red sentiment, Upcoming Renewal
    for renewals within four months. Raised through `create_cta`, so re-running adds nothing."""

    rng = random.Random(seed)
    today = timezone.localdate()
    risk = CtaType.objects.filter(name="Risk").first()
    renewal = CtaType.objects.filter(name="Renewal").first()
    plans = {p.name: p for p in Playbook.objects.all()}
    made = 0
    accounts = Account.objects.select_related("csm", "cse").exclude(csm=None)
    for account in accounts.filter(csm_sentiment="red"):
        if risk:
            _, created = create_cta(
                account,
                actor=None,
                type=risk,
                reason=risk.reasons.get(name="At-Risk"),
                priority="high",
                playbook=plans.get("Account Triage"),
                source="rule",
                source_ref="demo: at-risk",
                dedupe_key=f"demo:at-risk:{account.pk}",
                due_date=today + dt.timedelta(days=rng.randint(-5, 10)),
            )
            made += created
    upcoming = accounts.filter(renewal_date__gte=today, renewal_date__lte=today + dt.timedelta(days=120))
    for account in upcoming:
        if renewal:
            _, created = create_cta(
                account,
                actor=None,
                type=renewal,
                reason=renewal.reasons.get(name="Upcoming Renewal"),
                playbook=plans.get("Upcoming Renewal"),
                source="rule",
                source_ref="demo: upcoming renewal",
                dedupe_key=f"demo:renewal:{account.pk}:{account.renewal_date}",
                due_date=account.renewal_date - dt.timedelta(days=30),
            )
            made += created
    return made
