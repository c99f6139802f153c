"""Reads for the engagement pages, the API and the CSE dashboard. Every figure of the dashboard is a
handful of aggregate queries, whatever the number of requests."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery

from csops.core.calendar import BusinessCalendar, business_calendar, business_zone
from csops.core.models import User
from csops.customers.models import Account
from csops.engagements.actions import account_owners, business_today, eligibility, policy
from csops.engagements.models import (
    NAME_SUFFIX,
    EngagementPolicy,
    EngagementRequest,
    Escalation,
    EscalationStatus,
    FollowUp,
    RequestStatus,
    Severity,
)
from csops.programs.models import SurveyResponse

OVERDUE_LISTED = 100


def requests() -> QuerySet[EngagementRequest]:
    """Requests with what a list row shows, and `next_due`: the earliest open follow-up's due day."""
    next_due = FollowUp.objects.filter(request=OuterRef("pk"), done_at__isnull=True).order_by("due_on")
    return EngagementRequest.objects.select_related("account", "cse", "cta", "filed_by").annotate(
        next_due=Subquery(next_due.values("due_on")[:1])
    )


def overdue(queryset: QuerySet[EngagementRequest], today: dt.date | None = None) -> QuerySet:
    """Requests with a follow-up still open after its due day."""
    today = today or business_today()
    late = FollowUp.objects.filter(request=OuterRef("pk"), done_at__isnull=True, due_on__lt=today)
    return queryset.filter(pk__in=late.values("request_id"))


def request_page(pk: int) -> EngagementRequest:
    return EngagementRequest.objects.select_related(
        "account__csm",
        "opportunity",
        "filed_by",
        "contact",
        "approved_by",
        "continues",
        "cse",
        "cta__status",
    ).get(pk=pk)


# --- follow-ups, on time or not, in business days ------------------------------------------------------


@dataclass(frozen=True)
class FollowUpRow:
    follow_up: FollowUp
    state: str  # "on time", "late", "overdue", "open"
    text: str


def _days(n: int) -> str:
    return f"{n} business day{'' if n == 1 else 's'}"


def follow_up_state(
    follow_up: FollowUp, calendar: BusinessCalendar, today: dt.date
) -> FollowUpRow:
    due = follow_up.due_on
    if follow_up.done_on is not None:
        if follow_up.done_on <= due:
            return FollowUpRow(follow_up, "on time", "Done on time")
        return FollowUpRow(
            follow_up, "late", f"Done late by {_days(calendar.business_days_between(due, follow_up.done_on))}"
        )
    if due < today:
        return FollowUpRow(
            follow_up, "overdue", f"Overdue by {_days(calendar.business_days_between(due, today))}"
        )
    if due == today:
        return FollowUpRow(follow_up, "open", "Due today")
    return FollowUpRow(follow_up, "open", f"Due in {_days(calendar.business_days_between(today, due))}")


def follow_up_rows(request: EngagementRequest) -> list[FollowUpRow]:
    calendar, today = business_calendar(), business_today()
    return [follow_up_state(f, calendar, today) for f in request.follow_ups.all()]


# --- who may file, and whether the account qualifies ------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    label: str
    met: bool | None  # None: met once the approver is named on the form
    detail: str


@dataclass
class Eligibility:
    conditions: list[Condition]
    is_owner: bool
    qualifies: bool
    needs_approver: bool
    owner_problem: str = ""

    @property
    def can_file(self) -> bool:
        return self.is_owner and self.qualifies


def filing_conditions(account: Account, user: User, rules: EngagementPolicy | None = None) -> Eligibility:
    """Each condition of filing, met or not, in the words of the actions' refusals."""
    rules = rules or policy()
    problems = eligibility(account, rules, None)
    owners = account_owners(account)
    is_owner = user in owners
    names = ", ".join(str(u) for u in owners) or "nobody (set the account's AE or renewals manager)"
    owner_problem = (
        ""
        if is_owner
        else f"Only the account owner (AE, SAE or Renewals Manager) of {account} may file a CSE engagement "
        f"request: {names}. Ask them to file it."
    )
    arr = Decimal(account.arr or 0)
    conditions = [
        Condition("You are the account owner", is_owner, owner_problem or f"Account owners: {names}."),
        Condition(
            f"ARR of at least {rules.min_arr:,.0f}",
            "arr" not in problems,
            problems.get("arr", f"ARR {arr:,.0f}."),
        ),
        Condition(
            f"The assigned CSM is the {rules.pool} pool",
            "csm" not in problems,
            problems.get("csm", f"Assigned CSM: {account.csm}."),
        ),
    ]
    needs_approver = "approved_by" in problems
    if rules.max_arr is not None:
        conditions.append(
            Condition(
                f"ARR up to {rules.max_arr:,.0f}, or the regional sales leader's approval",
                None if needs_approver else True,
                "Name the regional sales leader who approved it below."
                if needs_approver
                else f"ARR {arr:,.0f}.",
            )
        )
    return Eligibility(
        conditions=conditions,
        is_owner=is_owner,
        qualifies=not ({"arr", "csm"} & problems.keys()),
        needs_approver=needs_approver,
        owner_problem=owner_problem,
    )


# --- the CSE dashboard -----------------------------------------------------------------------------------


@dataclass
class OverdueRow:
    follow_up: FollowUp
    days: int


@dataclass
class Dashboard:
    by_status: list[tuple[str, str, int]]  # value, label, count
    waiting: int  # filed, CTA not raised yet: outside the metrics
    uncounted: int  # with a CTA whose name lost the suffix
    median_hours_to_cta: float | None
    median_days_to_call: float | None
    on_time: int
    late: int
    open_overdue: int
    open_due: int
    overdue: list[OverdueRow]
    csat_count: int
    csat_satisfied: int
    survey: str
    escalations: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.by_status)

    @property
    def csat_percent(self) -> float | None:
        return 100 * self.csat_satisfied / self.csat_count if self.csat_count else None

    @property
    def on_time_percent(self) -> float | None:
        done = self.on_time + self.late
        return 100 * self.on_time / done if done else None

    @property
    def escalations_open(self) -> int:
        return sum(n for _, _, n in self.escalations)

    @property
    def max_status(self) -> int:
        return max((n for _, _, n in self.by_status), default=0)


def counted_requests(cse: User | None = None) -> QuerySet[EngagementRequest]:
    """The requests the metrics count: those whose CTA keeps the mandatory name suffix."""
    rows = EngagementRequest.objects.filter(cta__name__endswith=NAME_SUFFIX)
    return rows.filter(cse=cse) if cse is not None else rows


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def dashboard(cse: User | None = None, today: dt.date | None = None) -> Dashboard:
    today = today or business_today()
    rules = policy()
    counted = counted_requests(cse)
    scope = EngagementRequest.objects.filter(cse=cse) if cse is not None else EngagementRequest.objects.all()
    statuses = dict(counted.values_list("status").annotate(n=Count("pk")).order_by())
    zone = business_zone()
    converted = counted.filter(converted_at__isnull=False)
    to_cta = [
        (to - filed).total_seconds() / 3600 for filed, to in converted.values_list("filed_at", "converted_at")
    ]
    to_call = [
        (called - filed.astimezone(zone).date()).days
        for filed, called in counted.filter(called_on__isnull=False).values_list("filed_at", "called_on")
    ]
    follow_ups = FollowUp.objects.filter(request__in=counted.values("pk"))
    tally = follow_ups.aggregate(
        on_time=Count("pk", filter=Q(done_on__isnull=False, done_on__lte=F("due_on"))),
        late=Count("pk", filter=Q(done_on__isnull=False, done_on__gt=F("due_on"))),
        open_overdue=Count("pk", filter=Q(done_at__isnull=True, due_on__lt=today)),
        open_due=Count("pk", filter=Q(done_at__isnull=True, due_on__gte=today)),
    )
    calendar = business_calendar()
    late_rows = (
        follow_ups.filter(done_at__isnull=True, due_on__lt=today)
        .select_related("request__account", "request__cse")
        .order_by("due_on", "pk")[:OVERDUE_LISTED]
    )
    csat = SurveyResponse.objects.filter(survey__name=rules.survey).aggregate(
        n=Count("pk"), satisfied=Count("pk", filter=Q(category="satisfied"))
    )
    severities = dict(
        Escalation.objects.exclude(status=EscalationStatus.RESOLVED)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return Dashboard(
        by_status=[(value, label, statuses.get(value, 0)) for value, label in RequestStatus.choices],
        waiting=scope.filter(cta__isnull=True, status=RequestStatus.FILED).count(),
        uncounted=scope.filter(cta__isnull=False).exclude(cta__name__endswith=NAME_SUFFIX).count(),
        median_hours_to_cta=_median(to_cta),
        median_days_to_call=_median(to_call),
        overdue=[OverdueRow(f, calendar.business_days_between(f.due_on, today)) for f in late_rows],
        csat_count=csat["n"],
        csat_satisfied=csat["satisfied"],
        survey=rules.survey,
        escalations=[(value, label, severities.get(value, 0)) for value, label in Severity.choices],
        **tally,
    )
