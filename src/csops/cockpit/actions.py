"""Writes to the cockpit: success plans and their objectives (CTAs and tasks come next)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from csops.cockpit.models import Objective, SuccessPlan
from csops.core.actions import create_object, update_object
from csops.core.models import User
from csops.customers.models import Account


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
    import random

    import numpy as np
    from django.db import transaction

    from csops.usage.synthetic import account_fit

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
