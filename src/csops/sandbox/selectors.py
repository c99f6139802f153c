"""Reads of the sandbox app: the report of the account's instances by state, with a monthly cost
estimate from the policy's price table."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from csops.sandbox.models import SandboxInstance, SandboxPolicy, SandboxRun
from csops.sandbox.rules import CATEGORIES

HOURS_PER_MONTH = Decimal(730)
# The report's order: what needs attention first.
ORDER = (
    "terminating",
    "awaiting",
    "expiring",
    "unnamed",
    "bad_tag",
    "new",
    "active",
    "permanent",
    "excluded",
)


def monthly_cost(instance: SandboxInstance, prices: dict) -> Decimal | None:
    """On-demand compute per month while running; a stopped instance costs no compute (its
    volumes still do). None when the type has no price in the policy's table."""
    if instance.state not in ("pending", "running"):
        return Decimal(0)
    price = prices.get(instance.instance_type)
    return None if price is None else (Decimal(str(price)) * HOURS_PER_MONTH).quantize(Decimal("0.01"))


@dataclass
class Group:
    key: str
    label: str
    instances: list[SandboxInstance] = field(default_factory=list)
    cost: Decimal = Decimal(0)
    unpriced: int = 0

    @property
    def count(self) -> int:
        return len(self.instances)


def instances() -> QuerySet[SandboxInstance]:
    return SandboxInstance.objects.all()


def report(policy: SandboxPolicy | None, queryset: QuerySet[SandboxInstance] | None = None) -> list[Group]:
    """The instances by category, in ORDER, each with its monthly cost estimate."""
    prices = (policy.prices if policy else None) or {}
    groups = {key: Group(key, CATEGORIES[key]) for key in ORDER}
    for instance in (queryset if queryset is not None else instances()).order_by("expiration", "instance_id"):
        group = groups.setdefault(instance.category, Group(instance.category, instance.category))
        cost = monthly_cost(instance, prices)
        instance.monthly_cost = cost
        group.instances.append(instance)
        if cost is None:
            group.unpriced += 1
        else:
            group.cost += cost
    return list(groups.values())


def last_run() -> SandboxRun | None:
    """The run that last refreshed the inventory (a dry run reads the account too)."""
    return SandboxRun.objects.first()
