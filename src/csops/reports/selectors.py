"""The reports: each a few grouped queries (aggregated in the database, never a loop over accounts)
that give figures, tables and charts, every figure with its definition next to it.

A report is declared once in REPORTS; the page, its CSV/XLSX/PDF exports and the subscription
emails all read the same `Result`."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from csops.cockpit.models import Cta, Playbook, Task
from csops.core.models import User
from csops.customers.models import Account, Segment
from csops.engagements.models import EngagementRequest, Escalation, FollowUp, RequestStatus
from csops.health.models import AccountHealth, ScoreHistory, ScoreRun
from csops.health.selectors import COLOR_NAMES, NoActiveScorecard, active_scorecard
from csops.programs.models import MessageStatus, OutboxMessage, SurveyInvitation, SurveyResponse
from csops.renewals.actions import first_of_month, months_before
from csops.renewals.handoff import PLAYBOOK as ONBOARDING_PLAYBOOK

MAX_MONTHS = 24
DEFAULT_MONTHS = 6
COLORS = ("green", "yellow", "red")

# --- filters --------------------------------------------------------------------------------------


@dataclass
class Filters:
    """A report's filters as asked for (?months=, ?segment=, ?team=); `given` keeps the raw values,
    which links and subscriptions carry."""

    months: int = DEFAULT_MONTHS
    segment: str = ""
    team: str = ""
    today: dt.date = field(default_factory=timezone.localdate)
    periodic: bool = False  # the report covers a period (it takes ?months=)
    given: dict[str, str] = field(default_factory=dict)

    @property
    def start(self) -> dt.date:
        """The first day of the period: the first of the month `months - 1` months before this one."""
        return months_before(first_of_month(self.today), self.months - 1)

    def accounts(self, path: str = "", team_path: str = "csm__") -> Q:
        """The accounts (at `path` from the queried model) of the segment, and of the team: the
        direct reports of the manager named, through the person at `team_path` (the CSM, an owner)."""
        condition = Q()
        if self.segment:
            condition &= Q(**{f"{path}segment__name": self.segment})
        if self.team:
            condition &= Q(**{f"{team_path}manager__username": self.team})
        return condition

    def describe(self) -> str:
        parts = []
        if self.periodic and ("months" in self.given or self.segment or self.team):
            parts.append(f"{self.start:%b %Y} to {self.today:%b %Y}")
        if self.segment:
            parts.append(f"segment {self.segment}")
        if self.team:
            parts.append(f"team of {self.team}")
        return ", ".join(parts)


def parse_filters(params: Mapping[str, Any], allowed: tuple[str, ...]) -> tuple[Filters, list[str]]:
    """The filters a report accepts, from request parameters (or a subscription's JSON); each
    error names its parameter. Filters the report does not take are ignored."""
    filters, errors = Filters(periodic="months" in allowed), []
    if "months" in allowed and (value := str(params.get("months") or "").strip()):
        if value.isdigit() and 1 <= int(value) <= MAX_MONTHS:
            filters.months = int(value)
            filters.given["months"] = value
        else:
            errors.append(f"months: {value!r} is not a number of months from 1 to {MAX_MONTHS}.")
    if "segment" in allowed and (value := str(params.get("segment") or "").strip()):
        if Segment.objects.filter(name=value).exists():
            filters.segment = filters.given["segment"] = value
        else:
            errors.append(f"segment: {value!r} is not a segment.")
    if "team" in allowed and (value := str(params.get("team") or "").strip()):
        if User.objects.filter(username=value, reports__isnull=False).exists():
            filters.team = filters.given["team"] = value
        else:
            errors.append(f"team: {value!r} is not a manager with a team.")
    return filters, errors


def filter_choices(allowed: tuple[str, ...]) -> dict[str, list]:
    """What the filter form offers: segments, and managers (a team is a manager's direct reports)."""
    choices: dict[str, list] = {}
    if "segment" in allowed:
        choices["segments"] = list(Segment.objects.values_list("name", flat=True))
    if "team" in allowed:
        choices["teams"] = list(
            User.objects.filter(reports__isnull=False).distinct().order_by("username").values_list(
                "username", flat=True
            )
        )
    return choices


# --- results ------------------------------------------------------------------------------------


def display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass
class Table:
    """A table of plain values: the first column labels the row, the others are figures."""

    name: str  # ?table=<name> exports it
    title: str
    definition: str
    headers: list[str]
    rows: list[list[Any]]
    empty: str = "No data for these filters."

    @property
    def display_rows(self) -> list[list[str]]:
        return [[display(v) for v in row] for row in self.rows]

    @property
    def numeric(self) -> list[bool]:
        """Which columns hold numbers (right-aligned): those with a number in some row."""
        def number(value: Any) -> bool:
            return isinstance(value, int | float | Decimal) and not isinstance(value, bool)

        return [i > 0 and any(number(r[i]) for r in self.rows) for i in range(len(self.headers))]

    @property
    def cells(self) -> list[list[tuple[str, bool]]]:
        numeric = self.numeric
        return [list(zip(row, numeric, strict=True)) for row in self.display_rows]

    @property
    def header_cells(self) -> list[tuple[str, bool]]:
        return list(zip(self.headers, self.numeric, strict=True))

    def as_text(self) -> str:
        """The table in fixed-width text (for email)."""
        lines = [self.headers, *self.display_rows]
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(self.headers))]
        out = []
        for number, line in enumerate(lines):
            cells = [
                str(v).ljust(w) if i == 0 else str(v).rjust(w)
                for i, (v, w) in enumerate(zip(line, widths, strict=True))
            ]
            out.append("  ".join(cells).rstrip())
            if number == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out) if self.rows else self.empty


@dataclass
class Figure:
    label: str
    value: Any
    definition: str
    unit: str = ""  # "%" for a percentage

    @property
    def shown(self) -> str:
        return display(self.value) + (self.unit if self.value is not None else "")


@dataclass
class Result:
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    # SVG charts, drawn only for the page and the PDF (not for CSV, XLSX or email)
    charts: list[Callable[[], str]] = field(default_factory=list)
    note: str = ""


def _share(label: str, value: float | None, definition: str) -> Figure:
    return Figure(label, value, definition, unit="%")


def _percent(part: Any, whole: Any) -> float | None:
    return round(float(part or 0) * 100 / float(whole), 1) if whole else None


def _days(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 86400, 1)


def _since(then: str) -> ExpressionWrapper:
    return ExpressionWrapper(Value(timezone.now()) - F(then), output_field=DurationField())


def _between(later: str, earlier: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


def _month(day: dt.date | None) -> str:
    return f"{day:%Y-%m}" if day else "no contract start"


# --- health distribution over time -------------------------------------------------------------------


def health_distribution(filters: Filters) -> Result:
    """Accounts and ARR by colour on each scoring date: each account counts with its latest score on
    or before the date (the history keeps changes only)."""
    accounts_sql, accounts_params = (
        Account.objects.filter(filters.accounts()).values("pk").query.sql_with_params()
    )
    history, runs, account = ScoreHistory._meta.db_table, ScoreRun._meta.db_table, Account._meta.db_table
    sql = f"""
        WITH days AS (
            SELECT as_of AS day FROM {runs} WHERE as_of BETWEEN %s AND %s
            UNION SELECT scored_on FROM {history} WHERE scored_on BETWEEN %s AND %s
        ), spans AS (
            SELECT account_id, scored_on, color,
                   LEAD(scored_on) OVER (PARTITION BY account_id ORDER BY scored_on) AS until
            FROM {history} WHERE scored_on <= %s AND account_id IN ({accounts_sql})
        )
        SELECT d.day, s.color, COUNT(*), SUM(a.arr)
        FROM days d
        JOIN spans s ON s.scored_on <= d.day AND (s.until IS NULL OR s.until > d.day)
        JOIN {account} a ON a.id = s.account_id
        GROUP BY d.day, s.color ORDER BY d.day"""
    period = (filters.start, filters.today)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*period, *period, filters.today, *accounts_params])
        found = cursor.fetchall()
    by_day: dict[dt.date, dict[str, tuple[int, Decimal]]] = {}
    for day, color, accounts, arr in found:
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        by_day.setdefault(day, {})[color if color in COLORS else "unscored"] = (
            accounts, Decimal(str(arr or 0)).quantize(Decimal("0.01"))
        )
    rows = []
    for day, colors in by_day.items():
        counts = [colors.get(c, (0, Decimal("0.00"))) for c in (*COLORS, "unscored")]
        colored_arr = sum(arr for _, arr in counts[:3])
        rows.append(
            [day, *[n for n, _ in counts], *[a for _, a in counts[:3]], _percent(counts[0][1], colored_arr)]
        )
    table = Table(
        "distribution",
        "Accounts and ARR by health colour, per scoring date",
        "Each account counts with its latest overall colour scored on or before the date (no colour: "
        "every measure N/A); ARR is the account's current ARR. % ARR green = green ARR / the ARR of the "
        "accounts with a colour.",
        ["Scoring date", "Green", "Yellow", "Red", "No colour", "Green ARR", "Yellow ARR", "Red ARR",
         "% ARR green"],
        rows,
        empty="No scoring in the period: run `csops health score`.",
    )
    result = Result(tables=[table])
    if rows:
        last = rows[-1]
        scored = last[1] + last[2] + last[3]
        result.figures = [
            _share("Accounts green", _percent(last[1], scored),
                   f"% of the accounts with a colour on {last[0]} that are green (score 75-100)."),
            _share("ARR green", last[8], f"% of ARR on accounts green on {last[0]}."),
            _share("Accounts red", _percent(last[3], scored),
                   f"% of the accounts with a colour on {last[0]} that are red (score 0-49, or CSM "
                   "sentiment red)."),
        ]

        def chart() -> str:
            from csops.core import charts

            points = [
                {"date": r[0].isoformat(), "colour": c, "accounts": r[1 + i]}
                for r in rows for i, c in enumerate(COLORS)
            ]
            return charts.bars(points, x="accounts", y="date", color="colour", x_title="Accounts",
                               y_title="Scoring date", title="Accounts by health colour")

        result.charts.append(chart)
    return result


# --- platform adoption ----------------------------------------------------------------------------


def adoption(filters: Filters) -> Result:
    """% of ARR and accounts with 0, 1, 2 or 3+ green use cases, overall and by segment; and each use
    case's colours, read from the measures of each account's current health."""
    try:
        scorecard = active_scorecard()
    except NoActiveScorecard as exc:
        return Result(note=str(exc))
    success = scorecard.adoption_success_at
    scored = AccountHealth.objects.filter(filters.accounts("account__", "account__csm__"))
    bucket = Case(When(adoption__gte=success, then=success), default="adoption", output_field=IntegerField())
    grouped = list(
        scored.annotate(bucket=bucket)
        .values("account__segment__name", "bucket")
        .annotate(accounts=Count("pk"), arr=Coalesce(Sum("account__arr"), Decimal(0)))
        .order_by("account__segment__name", "bucket")
    )
    buckets = list(range(success + 1))
    labels = [f"{b}+" if b == success else str(b) for b in buckets]
    totals = {b: [0, Decimal(0)] for b in buckets}
    segments: dict[str, dict[int, Decimal]] = {}
    for row in grouped:
        totals[row["bucket"]][0] += row["accounts"]
        totals[row["bucket"]][1] += row["arr"]
        segments.setdefault(row["account__segment__name"], {})[row["bucket"]] = row["arr"]
    all_accounts = sum(n for n, _ in totals.values())
    all_arr = sum(a for _, a in totals.values())
    overall = Table(
        "adoption",
        "Green use cases: accounts and ARR",
        f"Green use cases = how many of {', '.join(m.name for m in _adoption_measures(scorecard))} are "
        f"green in the account's current health; success is {success}+. % of ARR = the ARR of those "
        "accounts / the ARR of every scored account.",
        ["Green use cases", "Accounts", "% of accounts", "ARR", "% of ARR"],
        [[label, totals[b][0], _percent(totals[b][0], all_accounts), totals[b][1],
          _percent(totals[b][1], all_arr)] for b, label in zip(buckets, labels, strict=True)]
        if all_accounts else [],
        empty="No account has been scored: run `csops health score`.",
    )
    by_segment = Table(
        "by_segment",
        "% of ARR by green use cases, per segment",
        "Within each segment: the ARR of the accounts with that many green use cases / the segment's "
        "scored ARR.",
        ["Segment", *[f"{label} green" for label in labels], "Scored ARR"],
        [
            [name, *[_percent(arr.get(b, 0), sum(arr.values())) for b in buckets], sum(arr.values())]
            for name, arr in segments.items()
        ],
    )
    use_cases = _use_case_colours(scored, scorecard)
    result = Result(tables=[overall, by_segment, use_cases])
    if all_accounts:
        result.figures = [
            _share(f"ARR with {success}+ green use cases", _percent(totals[success][1], all_arr),
                   f"% of scored ARR on accounts with at least {success} green use cases (the "
                   "platform adoption success bar)."),
            _share("Accounts with no green use case", _percent(totals[0][0], all_accounts),
                   "% of scored accounts where none of the use cases is green."),
        ]

        def chart() -> str:
            from csops.core import charts

            return charts.bars(
                [{"use cases": r[0], "% of ARR": r[4] or 0} for r in overall.rows],
                x="% of ARR", y="use cases", x_title="% of ARR", y_title="Green use cases",
                title="Platform adoption",
            )

        result.charts.append(chart)
    return result


def _adoption_measures(scorecard) -> list:
    keys = set(scorecard.adoption_measures)
    return [m for m in scorecard.measures if m.key in keys]


def _use_case_colours(scored, scorecard) -> Table:
    """Each use case's accounts by colour, and the ARR where it is green: one aggregate query over the
    measures' JSON (colour index: red 0, yellow 1, green 2)."""
    measures = _adoption_measures(scorecard)
    colors = {name: index for index, name in enumerate(COLOR_NAMES)}
    aggregates: dict[str, Any] = {"arr": Coalesce(Sum("account__arr"), Decimal(0))}
    for m in measures:
        for name in COLORS:
            is_color = Q(**{f"measures__{m.key}__color": colors[name]})
            aggregates[f"{m.key}_{name}"] = Count("pk", filter=is_color)
        aggregates[f"{m.key}_arr"] = Coalesce(
            Sum("account__arr", filter=Q(**{f"measures__{m.key}__color": colors["green"]})), Decimal(0)
        )
    totals = scored.aggregate(**aggregates) if measures else {}
    rows = [
        [m.name, *[totals[f"{m.key}_{c}"] for c in COLORS], totals[f"{m.key}_arr"],
         _percent(totals[f"{m.key}_arr"], totals["arr"])]
        for m in measures
    ]
    return Table(
        "use_cases",
        "Use cases by colour",
        "Accounts whose measure of the use case is green, yellow or red now (N/A counts in none); "
        "% of ARR green = ARR where it is green / the ARR of every scored account.",
        ["Use case", "Green", "Yellow", "Red", "ARR green", "% of ARR green"],
        rows if totals.get("arr") is not None and scored.exists() else [],
    )


# --- CTAs: volume, age, SLA ------------------------------------------------------------------------


def cta_report(filters: Filters) -> Result:
    """CTAs by type and by team (the owner's manager): open, overdue, age, opened and closed in the
    period, and closed by their due date."""
    today, start = filters.today, filters.start
    ctas = Cta.objects.filter(filters.accounts("account__", "owner__"))
    is_open = Q(closed_at__isnull=True)
    closed = Q(closed_at__date__gte=start)
    aggregates = {
        "open": Count("pk", filter=is_open),
        "overdue": Count("pk", filter=is_open & Q(due_date__lt=today)),
        "age": Avg(_since("created_at"), filter=is_open),
        "opened": Count("pk", filter=Q(created_at__date__gte=start)),
        "closed": Count("pk", filter=closed),
        "due": Count("pk", filter=closed & Q(due_date__isnull=False)),
        "on_time": Count("pk", filter=closed & Q(closed_at__date__lte=F("due_date"))),
        "to_close": Avg(_between("closed_at", "created_at"), filter=closed),
    }
    headers = ["Open", "Overdue", "Mean age of open (days)", "Opened in period", "Closed in period",
               "Closed by due date %", "Mean days to close"]

    def rows(group: str, label: Callable[[dict], str]) -> list[list]:
        return [
            [label(r), r["open"], r["overdue"], _days(r["age"]), r["opened"], r["closed"],
             _percent(r["on_time"], r["due"]), _days(r["to_close"])]
            for r in ctas.values(group).annotate(**aggregates).order_by(F(group).asc(nulls_last=True))
        ]

    definition = (
        "Open: not closed. Overdue: open and past its due date. Age: days since it was opened. Opened "
        f"and closed in period: since {start:%d %b %Y}. Closed by due date %: of the CTAs closed in the "
        "period with a due date, the share closed on or before it (the SLA)."
    )
    by_type = Table("by_type", "CTAs by type", definition, ["Type", *headers],
                    rows("type__name", lambda r: r["type__name"]))
    by_team = Table(
        "by_team", "CTAs by team",
        definition + " Team: the direct reports of the owner's manager.",
        ["Team (manager)", *headers],
        rows("owner__manager__username", lambda r: r["owner__manager__username"] or "no team"),
    )
    result = Result(tables=[by_type, by_team])
    if by_type.rows:
        totals = [sum(r[i] for r in by_type.rows) for i in (1, 2, 5)]
        result.figures = [
            Figure("Open CTAs", totals[0], "CTAs not closed, every type."),
            _share("Overdue", _percent(totals[1], totals[0]), "% of open CTAs past their due date."),
            Figure("Closed in period", totals[2], f"CTAs closed since {start:%d %b %Y}."),
        ]

        def chart() -> str:
            from csops.core import charts

            points = [
                {"type": r[0], "state": state, "CTAs": n}
                for r in by_type.rows for state, n in (("overdue", r[2]), ("on time", r[1] - r[2]))
            ]
            return charts.bars(points, x="CTAs", y="type", color="state", x_title="Open CTAs",
                               stack_order=["overdue", "on time"], title="Open CTAs by type")

        result.charts.append(chart)
    return result


# --- time to value ----------------------------------------------------------------------------------

# The onboarding playbook's milestone tasks, found by a word of their name; the target is the task's
# due_in_days in the playbook (DOMAIN.md: kickoff 14 days, first value 30, onboarded 45).
MILESTONES = (("engaged", "kickoff"), ("first value", "first value"), ("onboarded", "onboarded"))


def _milestones() -> list[tuple[str, str, int]]:
    """(milestone, task name, target days) from the onboarding playbook's configuration."""
    playbook = Playbook.objects.filter(name=ONBOARDING_PLAYBOOK).first()
    tasks = playbook.tasks if playbook else []
    found = []
    for milestone, word in MILESTONES:
        task = next((t for t in tasks if word in t["name"].lower()), None)
        if task:
            found.append((milestone, task["name"], int(task.get("due_in_days", 0))))
    return found


def time_to_value(filters: Filters) -> Result:
    """Per cohort (contract start month): the onboarding milestones reached on time, from the tasks
    of the New Customer Onboarding CTAs."""
    milestones = _milestones()
    if not milestones:
        return Result(note=f"No {ONBOARDING_PLAYBOOK!r} playbook with kickoff, first value and onboarded "
                           "tasks is configured.")
    cohort_of = TruncMonth("contract_start")
    accounts = (
        Account.objects.filter(filters.accounts(), contract_start__gte=filters.start)
        .annotate(cohort=cohort_of)
        .values("cohort")
        .annotate(accounts=Count("pk"))
        .order_by("cohort")
    )
    names = {name: milestone for milestone, name, _ in milestones}
    tasks = (
        Task.objects.filter(
            filters.accounts("cta__account__", "cta__account__csm__"),
            cta__playbook__name=ONBOARDING_PLAYBOOK,
            cta__account__contract_start__gte=filters.start,
            name__in=names,
        )
        .annotate(cohort=TruncMonth("cta__account__contract_start"))
        .values("cohort", "name")
        .annotate(
            started=Count("cta__account", distinct=True),
            done=Count("pk", filter=Q(done_at__isnull=False)),
            on_time=Count("pk", filter=Q(done_at__date__lte=F("due_date"))),
            days=Avg(_between("done_at", "cta__created_at")),
        )
    )
    reached: dict[Any, dict[str, dict]] = {}
    for row in tasks:
        reached.setdefault(row["cohort"], {})[names[row["name"]]] = row
    rows = []
    for cohort in accounts:
        month = cohort["cohort"]
        got = reached.get(month, {})
        started = max((r["started"] for r in got.values()), default=0)
        row: list[Any] = [_month(month), cohort["accounts"], started]
        for milestone, _, _ in milestones:
            found = got.get(milestone) or {}
            row += [_percent(found.get("on_time", 0), started), _days(found.get("days"))]
        rows.append(row)
    headers = ["Cohort (contract start)", "Accounts", "In onboarding"]
    definitions = []
    for milestone, name, target in milestones:
        headers += [f"{milestone.capitalize()} ≤{target}d %", f"Mean days to {milestone}"]
        definitions.append(f"{milestone.capitalize()}: the task {name!r} done within {target} days of the "
                           "onboarding CTA opening (its due date)")
    table = Table(
        "cohorts",
        "Time to value by cohort",
        "Cohort: the month the contract started. In onboarding: accounts with a "
        f"{ONBOARDING_PLAYBOOK!r} CTA. Each % is of the accounts in onboarding. " + "; ".join(definitions)
        + ". Mean days: from the CTA opening to the task done, over the tasks done.",
        headers,
        rows,
        empty="No contract started in the period.",
    )
    result = Result(tables=[table])
    started = sum(r[2] for r in rows)
    if started:
        for milestone, name, target in milestones:
            on_time = sum((reached.get(m, {}).get(milestone) or {}).get("on_time", 0) for m in reached)
            result.figures.append(_share(
                f"{milestone.capitalize()} within {target} days", _percent(on_time, started),
                f"% of the {started} accounts in onboarding whose {name!r} task was done by its due date.",
            ))
    return result


# --- programs and surveys --------------------------------------------------------------------------


def program_report(filters: Filters) -> Result:
    """Program emails sent, opened and clicked per program; survey responses and NPS/CSAT per survey."""
    start = filters.start
    sent = Q(status=MessageStatus.SENT, sent_at__date__gte=start)
    programs = (
        OutboxMessage.objects.filter(kind="program", enrolment__isnull=False, created_at__date__gte=start)
        .values("enrolment__program__name")
        .annotate(
            queued=Count("pk", distinct=True),
            sent=Count("pk", filter=sent, distinct=True),
            opened=Count("pk", filter=sent & Q(events__kind="open"), distinct=True),
            clicked=Count("pk", filter=sent & Q(events__kind="click"), distinct=True),
            accounts=Count("account", distinct=True),
        )
        .order_by("enrolment__program__name")
    )
    sends = Table(
        "programs",
        "Program emails",
        f"Emails of each program queued since {start:%d %b %Y}; sent: delivered to the mail server; opened "
        "and clicked: sent emails with at least one open (image loaded) or tracked click, as % of sent.",
        ["Program", "Queued", "Sent", "Accounts reached", "Opened %", "Clicked %"],
        [[r["enrolment__program__name"], r["queued"], r["sent"], r["accounts"],
          _percent(r["opened"], r["sent"]), _percent(r["clicked"], r["sent"])] for r in programs],
    )
    invited = dict(
        SurveyInvitation.objects.filter(created_at__date__gte=start)
        .values("survey__name").annotate(n=Count("pk")).values_list("survey__name", "n")
    )
    answers = (
        SurveyResponse.objects.filter(created_at__date__gte=start)
        .values("survey__name", "survey__kind")
        .annotate(
            responses=Count("pk"),
            good=Count("pk", filter=Q(category__in=("promoter", "satisfied"))),
            middle=Count("pk", filter=Q(category__in=("passive", "neutral"))),
            bad=Count("pk", filter=Q(category__in=("detractor", "dissatisfied"))),
            mean=Avg("score"),
        )
        .order_by("survey__name")
    )
    rows, nps_totals = [], [0, 0, 0]
    for r in answers:
        n = r["responses"]
        score = (
            round((r["good"] - r["bad"]) * 100 / n, 1) if r["survey__kind"] == "nps"
            else _percent(r["good"], n)
        )
        if r["survey__kind"] == "nps":
            nps_totals = [nps_totals[0] + r["good"], nps_totals[1] + r["bad"], nps_totals[2] + n]
        rows.append([r["survey__name"], r["survey__kind"].upper(), invited.get(r["survey__name"], 0), n,
                     _percent(n, invited.get(r["survey__name"], 0)), r["good"], r["middle"], r["bad"],
                     round(r["mean"], 2), score])
    surveys = Table(
        "surveys",
        "Survey results",
        f"Since {start:%d %b %Y}. NPS: promoters score 9-10, passives 7-8, detractors 0-6; NPS = % "
        "promoters - % detractors (-100 to 100). CSAT: satisfied 4-5, neutral 3, dissatisfied 1-2; its "
        "score is % satisfied. Response rate = responses / invitations sent in the period.",
        ["Survey", "Kind", "Invited", "Responses", "Response rate %", "Promoters / satisfied",
         "Passives / neutral", "Detractors / dissatisfied", "Mean score", "NPS or % satisfied"],
        rows,
    )
    result = Result(tables=[sends, surveys])
    if nps_totals[2]:
        result.figures.append(Figure(
            "NPS, all NPS surveys", round((nps_totals[0] - nps_totals[1]) * 100 / nps_totals[2], 1),
            f"% promoters (9-10) - % detractors (0-6) over the {nps_totals[2]} NPS answers since "
            f"{start:%d %b %Y}.",
        ))
    if sends.rows:
        result.figures.append(Figure("Program emails sent", sum(r[2] for r in sends.rows),
                                     f"Program emails delivered since {start:%d %b %Y}."))

        def chart() -> str:
            from csops.core import charts

            return charts.bars([{"program": r[0], "sent": r[2]} for r in sends.rows], x="sent", y="program",
                               x_title="Emails sent", title="Program emails sent")

        result.charts.append(chart)
    return result


# --- CSE engagements and escalations ----------------------------------------------------------------


def cse_report(filters: Filters) -> Result:
    """CSE engagement requests filed in the period by status, how fast they were taken up, follow-ups
    on time, and escalations by severity."""
    start = filters.start
    requests = EngagementRequest.objects.filter(filters.accounts("account__", "account__csm__"),
                                                filed_at__date__gte=start)
    statuses = dict(RequestStatus.choices)
    by_status = (
        requests.values("status")
        .annotate(
            n=Count("pk"),
            accept=Avg(_between("converted_at", "filed_at")),
            first_call=Avg(
                ExpressionWrapper(F("called_on") - TruncDate("filed_at"), output_field=DurationField())
            ),
        )
    )
    order = list(statuses)
    status_rows = [
        [statuses[r["status"]], r["n"], _days(r["accept"]), _days(r["first_call"])]
        for r in sorted(by_status, key=lambda r: order.index(r["status"]))
    ]
    engagement = Table(
        "requests",
        "Engagement requests by status",
        f"Requests filed since {start:%d %b %Y}, by their status now. Days to accept: from filing to the "
        "CTA the batch raised for the CSE. Days to first response: from filing to the first CSE call.",
        ["Status", "Requests", "Mean days to accept", "Mean days to first response"],
        status_rows,
    )
    follow_ups = Table(
        "follow_ups",
        "Follow-ups",
        "Follow-ups the CSE owed on those requests (the email after the call within 2-3 business days, an "
        "answer within 1): on time = done on or before the due date, as % of those done.",
        ["Kind", "Owed", "Done", "On time %", "Open and overdue"],
        [
            [dict(FollowUp._meta.get_field("kind").choices).get(r["kind"], r["kind"]), r["n"], r["done"],
             _percent(r["on_time"], r["done"]), r["overdue"]]
            for r in FollowUp.objects.filter(request__in=requests)
            .values("kind")
            .annotate(
                n=Count("pk"),
                done=Count("pk", filter=Q(done_on__isnull=False)),
                on_time=Count("pk", filter=Q(done_on__lte=F("due_on"))),
                overdue=Count("pk", filter=Q(done_on__isnull=True, due_on__lt=filters.today)),
            )
            .order_by("kind")
        ],
    )
    severities = dict(Escalation._meta.get_field("severity").choices)
    escalations = Table(
        "escalations",
        "Escalations by severity",
        f"Escalations opened since {start:%d %b %Y}. Open: not resolved now. Qualified: met the criteria "
        "when filed (ARR ≥ 80% of the segment ceiling, LAM > $100k, renewal ≤ 3 months). Days to resolve: "
        "over the resolved ones.",
        ["Severity", "Opened", "Qualified", "Still open", "Resolved", "Mean days to resolve"],
        [
            [severities.get(r["severity"], r["severity"]), r["n"], r["qualified"], r["open"], r["resolved"],
             _days(r["days"])]
            for r in Escalation.objects.filter(filters.accounts("account__", "account__csm__"),
                                               opened_at__date__gte=start)
            .annotate(rank=Case(*[When(severity=s, then=i) for i, s in enumerate(severities)],
                                output_field=IntegerField()))
            .values("severity", "rank")
            .annotate(
                n=Count("pk"),
                qualified=Count("pk", filter=Q(qualified=True)),
                open=Count("pk", filter=Q(resolved_at__isnull=True)),
                resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
                days=Avg(_between("resolved_at", "opened_at")),
            )
            .order_by("rank")
        ],
    )
    result = Result(tables=[engagement, follow_ups, escalations])
    filed = sum(r[1] for r in status_rows)
    if filed:
        result.figures.append(Figure("Requests filed", filed, f"CSE engagement requests filed since "
                                                              f"{start:%d %b %Y}."))
        done = sum(r[2] for r in follow_ups.rows)
        if done:
            result.figures.append(_share(
                "Follow-ups on time", _percent(sum(r[2] * (r[3] or 0) / 100 for r in follow_ups.rows), done),
                "% of the follow-ups done on or before their due date.",
            ))

        def chart() -> str:
            from csops.core import charts

            return charts.bars([{"status": r[0], "requests": r[1]} for r in status_rows], x="requests",
                               y="status", x_title="Requests", title="Engagement requests by status")

        result.charts.append(chart)
    return result


# --- CS Ops process efficiency ---------------------------------------------------------------------

EFFICIENCY_MODULE = "csops.reports.efficiency"


def efficiency(filters: Filters) -> Result:
    """The steps and clicks the browser tests measured for common actions (`measured()` of
    csops.reports.efficiency)."""
    try:
        module = importlib.import_module(EFFICIENCY_MODULE)
    except ModuleNotFoundError:
        return Result(note=f"No measurements yet: the module {EFFICIENCY_MODULE} (with measured()) is "
                           "not installed.")
    measured = list(module.measured())
    table = Table(
        "actions",
        "Steps and clicks per action",
        "Measured by the browser test named on each row, doing the action in Chromium as a user would: "
        "steps = pages loaded after the start page (each link followed, each form sent); clicks = clicks "
        "on links, buttons and boxes, and Enter to send a form; fields = fields typed into or chosen.",
        ["Action", "Role", "Start", "Steps", "Clicks", "Fields", "Test"],
        [[m.get(k) for k in ("action", "role", "start", "steps", "clicks", "fields", "test")]
         for m in measured],
        empty="The browser tests have measured no action yet.",
    )
    result = Result(tables=[table])
    if measured:
        result.figures.append(Figure(
            "Mean clicks per action", round(sum(m.get("clicks") or 0 for m in measured) / len(measured), 1),
            f"Over the {len(measured)} actions measured.",
        ))
    return result


# --- the catalogue --------------------------------------------------------------------------------


def renewal_reports() -> list:
    from csops.reports import renewals

    return [
        Report("retention", "Retention",
               "Gross and net retention, logo churn, renewal and on-time renewal rates by segment.",
               ("months",), renewals.retention_report),
        Report("renewal-pipeline", "Renewal pipeline",
               "Open renewals by quarter and forecast category, at risk and overdue.", ("segment", "team"),
               renewals.pipeline_report),
        Report("renewal-forecast", "Renewal forecast",
               "Expected renewal ARR by quarter, with the likelihood model's backtest.", (),
               renewals.forecast_report),
    ]


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    summary: str
    filters: tuple[str, ...]
    build: Callable[[Filters], Result]


REPORTS: dict[str, Report] = {
    r.slug: r
    for r in (
        Report("health-distribution", "Health distribution over time",
               "Accounts and ARR by health colour on each scoring date.", ("months", "segment", "team"),
               health_distribution),
        Report("adoption", "Platform adoption",
               "% of ARR and accounts with 0, 1, 2 or 3+ green use cases (SCM, CI, CD, DevSecOps).",
               ("segment", "team"), adoption),
        Report("ctas", "CTA volume, age and SLA",
               "Open, overdue and closed CTAs by type and by team; closed by their due date.",
               ("months", "segment", "team"), cta_report),
        Report("time-to-value", "Time to value",
               "Per contract-start cohort: engaged in 14 days, first value in 30, onboarded in 45.",
               ("months", "segment", "team"), time_to_value),
        Report("programs", "Programs and surveys",
               "Program emails sent, opened and clicked; survey responses, NPS and CSAT.", ("months",),
               program_report),
        Report("cse", "CSE engagements",
               "Engagement requests by status, time to accept and first response, follow-ups, escalations.",
               ("months", "segment", "team"), cse_report),
        Report("efficiency", "CS Ops process efficiency",
               "Steps and clicks the browser tests measured for common actions.", (), efficiency),
        *renewal_reports(),
    )
}
