"""Reads of the renewals app: the policy, the renewal pipeline with its risk and overdue flags."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from csops.core.calendar import fiscal_quarter_label, fiscal_quarter_start
from csops.customers.models import ForecastCategory, Opportunity, OpportunityType
from csops.health.models import HealthUpdate
from csops.renewals.actions import months_before
from csops.renewals.models import RenewalPolicy

# Renewal lifecycle months (DOMAIN.md): month 12 is the renewal's own month.
LIFECYCLE = {
    1: "Deploy",
    2: "Activate",
    3: "Adopt",
    4: "Adopt",
    5: "Adopt",
    6: "Adopt",
    7: "Advocate",
    8: "Expand",
    9: "Expand / Prepare",
    10: "Prepare",
    11: "Quoted",
    12: "Signing",
}
OPEN = ~Q(stage__istartswith="Closed")


def policy() -> RenewalPolicy:
    """The policy named "default", or the built-in one when the configuration has none."""
    return RenewalPolicy.objects.filter(name="default").first() or RenewalPolicy(
        name="default", at_risk_colors=["red"]
    )


def soon_until(today: dt.date, rules: RenewalPolicy) -> dt.date:
    """The first day after the quarters that count as soon (this one and `soon_quarters` more)."""
    return months_before(fiscal_quarter_start(today), -3 * (rules.soon_quarters + 1))


def update_interval(
    renewal: dt.date | None, today: dt.date, rules: RenewalPolicy | None = None
) -> dt.timedelta:
    """Days between risk updates: weekly while the renewal is soon, else monthly (the policy's)."""
    rules = rules or policy()
    soon = renewal is not None and renewal < soon_until(today, rules)
    return dt.timedelta(days=rules.update_days_soon if soon else rules.update_days_later)


def lifecycle_month(close: dt.date, today: dt.date) -> int:
    """1 (Deploy) eleven months or more before the renewal's month, up to 12 (Signing) in it."""
    months_left = (close.year - today.year) * 12 + close.month - today.month
    return min(12, max(1, 12 - months_left))


def lifecycle_label(close: dt.date, today: dt.date | None = None) -> str:
    month = lifecycle_month(close, today or timezone.localdate())
    return f"{month} {LIFECYCLE[month]}"


def quarter_bounds(label: str) -> tuple[dt.date, dt.date]:
    """ "FY27-Q1" → its first day and the first day of the next quarter; ValueError if not a quarter."""
    found = re.fullmatch(r"FY(\d\d)-Q([1-4])", label.strip().upper())
    if not found:
        raise ValueError(f"{label!r} is not a fiscal quarter like FY27-Q1.")
    year, quarter = 2000 + int(found[1]), int(found[2])
    # The fiscal year is named for the calendar year it ends in: find its quarter by walking.
    start = fiscal_quarter_start(dt.date(year - 1, 1, 1))
    for _ in range(12):
        if fiscal_quarter_label(start) == f"FY{year % 100:02d}-Q{quarter}":
            return start, months_before(start, -3)
        start = months_before(start, -3)
    raise ValueError(f"{label!r} is not a fiscal quarter like FY27-Q1.")


def quarter_choices(today: dt.date, before: int = 4, after: int = 4) -> list[str]:
    start = fiscal_quarter_start(today)
    return [fiscal_quarter_label(months_before(start, -3 * n)) for n in range(-before, after + 1)]


def flags(today: dt.date | None = None, rules: RenewalPolicy | None = None) -> dict[str, Q]:
    """The conditions an open renewal is flagged by: `overdue` (no health update within the policy's
    cadence) and `at_risk` (health or CSM sentiment in the policy's colours, or a risk impact)."""
    today, rules, now = today or timezone.localdate(), rules or policy(), timezone.now()

    def updated_within(days: int) -> Exists:
        since = now - dt.timedelta(days=days)
        return Exists(HealthUpdate.objects.filter(account=OuterRef("account"), created_at__gte=since))

    soon = Q(close_date__lt=soon_until(today, rules))
    colors = list(rules.at_risk_colors or [])
    return {
        "overdue": OPEN
        & (
            (soon & ~updated_within(rules.update_days_soon))
            | (~soon & ~updated_within(rules.update_days_later))
        ),
        "at_risk": OPEN
        & (
            Q(account__health_color__in=colors)
            | Q(account__csm_sentiment__in=colors)
            | Q(risk_impact__isnull=False)
        ),
    }


def pipeline(today: dt.date | None = None, rules: RenewalPolicy | None = None) -> QuerySet[Opportunity]:
    """Every renewal opportunity with its account team, its last risk (health) update, and whether
    it is at risk and whether its update is overdue (both only for open renewals)."""
    last_update = HealthUpdate.objects.filter(account=OuterRef("account")).order_by("-created_at")
    return (
        Opportunity.objects.filter(type=OpportunityType.RENEWAL)
        .select_related(
            "account",
            "account__segment",
            "account__renewals_manager",
            "account__csm",
            "renewal_dri",
            "risk_impact",
            "risk_reason",
        )
        .annotate(
            last_update=Subquery(last_update.values("created_at")[:1], output_field=DateTimeField()),
            **{
                name: Case(
                    When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
                )
                for name, condition in flags(today, rules).items()
            },
        )
    )


def dri_is(user) -> Q:
    """Renewals `user` drives: named DRI, or the account's renewals manager when none is named."""
    return Q(renewal_dri=user) | Q(renewal_dri__isnull=True, account__renewals_manager=user)


def summary(renewals: QuerySet[Opportunity], rules: RenewalPolicy | None = None) -> dict:
    """Count and ARR basis of `renewals`, by forecast category, at risk and overdue: one query."""
    # The flags' conditions, not their annotations: an aggregate's filter cannot name those.
    flagged = flags(rules=rules)
    totals = renewals.aggregate(
        count=Count("pk"),
        basis=Sum("arr_basis"),
        at_risk_count=Count("pk", filter=flagged["at_risk"]),
        at_risk_basis=Sum("arr_basis", filter=flagged["at_risk"]),
        overdue=Count("pk", filter=flagged["overdue"]),
        won=Sum("arr_basis", filter=Q(stage__iexact="Closed Won")),
        on_time=Count("pk", filter=Q(stage__iexact="Closed Won", close_date__lte=F("renewal_due"))),
        **{key: Sum("arr_basis", filter=Q(forecast_category=key)) for key in ForecastCategory.values},
    )
    totals["categories"] = [(label, totals.pop(key) or 0) for key, label in ForecastCategory.choices]
    return totals
