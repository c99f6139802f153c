"""Retention metrics from the monthly ARR snapshots (DOMAIN.md, Renewals and retention).

A customer is a top-level account: children's ARR counts with their parent, as the parent was that
month. The cohort is every customer with ARR at the start; new logos (no ARR at the start) are
outside it. Over the period each customer in the cohort either churned (no ARR at the end),
contracted, expanded or stayed flat:

- net retention   = ARR at the end of the cohort / its ARR at the start
- gross retention = the same with each customer capped at its starting ARR
- logo churn      = customers churned / customers in the cohort
- renewal rate    = won ARR basis / ARR basis of the renewals that closed in the period

Everything is computed by the database in one grouped query; nothing loops over accounts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from csops.customers.models import Account, Opportunity, OpportunityType
from csops.renewals.models import ArrSnapshot

ZERO = Decimal("0")
GROUPS = ("segment", "geo", "csm", "cohort")
# The cohort is a customer's contract start year (its top-level account's).
NO_COHORT = "(no contract start)"
# A parent with no ARR row of its own at the start, whose children had ARR: grouped under this.
NOT_A_CUSTOMER_THEN = "(parent not yet a customer)"
DEFINITIONS = {
    "net_retention": "ARR at the end of the customers who had ARR at the start, over their ARR at the start.",
    "gross_retention": "The same, each customer capped at its starting ARR: churn and contraction only.",
    "logo_churn": "Customers with ARR at the start and none at the end, over those with ARR at the start.",
    "churn": "Starting ARR of the customers with none at the end.",
    "contraction": "ARR lost by customers who kept some.",
    "expansion": "ARR gained by customers who had some at the start (new logos excluded).",
    "renewal_rate": "Won ARR basis over the ARR basis of the renewals that closed in the period.",
    "on_time_rate": "Renewals due in the period (their contract end) closed won by that date, over all "
    "renewals due in the period; renewals with no due date are left out and counted apart.",
    "cohort": "The year the customer's contract started (its top-level account's contract start).",
}


@dataclass
class Movement:
    """One customer's ARR at the start and at the end of the period."""

    customer_id: int
    group: str
    start: Decimal
    end: Decimal

    @property
    def kind(self) -> str:
        if self.end <= 0:
            return "churn"
        if self.end < self.start:
            return "contraction"
        return "expansion" if self.end > self.start else "flat"


@dataclass
class Retention:
    group: str
    customers: int = 0
    starting: Decimal = ZERO
    ending: Decimal = ZERO
    churn: Decimal = ZERO
    contraction: Decimal = ZERO
    expansion: Decimal = ZERO
    churned: int = 0
    movements: list[Movement] = field(default_factory=list, repr=False)

    @property
    def net_retention(self) -> float | None:
        return float(self.ending / self.starting) if self.starting else None

    @property
    def gross_retention(self) -> float | None:
        kept = self.starting - self.churn - self.contraction
        return float(kept / self.starting) if self.starting else None

    @property
    def logo_churn(self) -> float | None:
        return self.churned / self.customers if self.customers else None

    def add(self, movement: Movement) -> None:
        self.customers += 1
        self.starting += movement.start
        self.ending += movement.end
        kind = movement.kind
        if kind == "churn":
            self.churn += movement.start
            self.churned += 1
        elif kind == "contraction":
            self.contraction += movement.start - movement.end
        elif kind == "expansion":
            self.expansion += movement.end - movement.start
        self.movements.append(movement)


def movements(start: dt.date, end: dt.date, group_by: str | None = None) -> list[Movement]:
    """Each customer of the starting cohort with its ARR at `start` and `end` (first days of months)."""
    if group_by not in (None, *GROUPS):
        raise ValueError(f"group by one of {GROUPS}")
    customer = Coalesce("parent_id_then", "account_id", output_field=BigIntegerField())
    money = DecimalField(max_digits=16, decimal_places=2)
    rows = (
        ArrSnapshot.objects.filter(month__in=[start, end])
        .annotate(customer=customer)
        .values("customer")
        .annotate(
            start_arr=Coalesce(Sum("arr", filter=Q(month=start)), Value(ZERO), output_field=money),
            end_arr=Coalesce(Sum("arr", filter=Q(month=end)), Value(ZERO), output_field=money),
        )
        .filter(start_arr__gt=0)
    )
    if group_by == "cohort":
        started = Account.objects.filter(pk=OuterRef("customer")).values("contract_start")[:1]
        rows = rows.annotate(group=Subquery(started))
    elif group_by:
        # The customer is grouped as its own (top-level) row was at the start.
        own = ArrSnapshot.objects.filter(account_id=OuterRef("customer"), month=start).values(group_by)[:1]
        rows = rows.annotate(group=Coalesce(Subquery(own), Value(NOT_A_CUSTOMER_THEN)))
    return [
        Movement(r["customer"], _label(r.get("group")), Decimal(r["start_arr"]), Decimal(r["end_arr"]))
        for r in rows.order_by("customer")
    ]


def _label(group) -> str:
    if isinstance(group, dt.date):
        return str(group.year)
    return group or ""


def retention(start: dt.date, end: dt.date, group_by: str | None = None) -> list[Retention]:
    """The period's retention overall (group_by None: one row, "All") or by segment, geo or CSM."""
    groups: dict[str, Retention] = {}
    for movement in movements(start, end, group_by):
        label = movement.group if group_by else "All"
        groups.setdefault(label, Retention(label)).add(movement)
    return [groups[k] for k in sorted(groups)]


def combined(rows: list[Retention]) -> Retention | None:
    """Every customer of `rows` together, as "All": the total of a grouped table without asking
    the database again."""
    if not rows:
        return None
    total = Retention("All")
    for row in rows:
        for movement in row.movements:
            total.add(movement)
    return total


def renewal_rate(start: dt.date, end: dt.date) -> float | None:
    """Won ARR basis / ARR basis of the renewal opportunities closed in [start, end)."""
    closed = Opportunity.objects.filter(
        type=OpportunityType.RENEWAL, close_date__gte=start, close_date__lt=end, stage__istartswith="Closed"
    )
    totals = closed.aggregate(
        basis=Sum("arr_basis"),
        won=Sum(Case(When(stage__iexact="Closed Won", then=F("arr_basis")), default=Value(ZERO))),
    )
    return float(totals["won"] / totals["basis"]) if totals["basis"] else None


@dataclass
class OnTime:
    due: int  # renewals with a due date in the period
    on_time: int  # of those, closed won by the due date
    undated: int  # renewals closing in the period with no due date: left out

    @property
    def rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


def on_time(start: dt.date, end: dt.date) -> OnTime:
    """Renewals due in [start, end) closed won on or before their due date (one query)."""
    renewals = Opportunity.objects.filter(type=OpportunityType.RENEWAL)
    due = Q(renewal_due__gte=start, renewal_due__lt=end)
    totals = renewals.aggregate(
        due=Count("pk", filter=due),
        on_time=Count("pk", filter=due & Q(stage__iexact="Closed Won", close_date__lte=F("renewal_due"))),
        undated=Count("pk", filter=Q(renewal_due__isnull=True, close_date__gte=start, close_date__lt=end)),
    )
    return OnTime(**totals)
