"""Reads for surveys: the results dashboard and the account's answers on Account 360.

Every figure is an aggregate the database computes (a few GROUP BY queries), so the dashboard
costs the same queries for ten answers or a million.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import altair as alt
from django.db.models import Count, Q
from django.utils import timezone

from csops.core import charts
from csops.programs.models import Survey, SurveyInvitation, SurveyKind, SurveyResponse
from csops.programs.surveys import CATEGORIES

PERIODS = {"all": "All time", "30": "Last 30 days", "90": "Last 90 days", "365": "Last 12 months"}
RECENT_COMMENTS = 20
ACCOUNT_RESPONSES = 10
NO_PROGRAM = "Not in a program"
NO_SEGMENT = "No segment"
# Chart colours by how good a category is: the best, the middle, the worst of each kind.
TONES = ("Promoters / satisfied", "Passives / neutral", "Detractors / dissatisfied")
TONE_OF = {name: TONES[i] for kind in CATEGORIES.values() for i, (name, _) in enumerate(kind)}


@dataclass
class Tally:
    """Answers by category and invitations of one group (a survey, a segment, a program) and kind."""

    kind: str
    categories: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invited: int = 0
    answered: int = 0
    open: int = 0

    @property
    def responses(self) -> int:
        return sum(self.categories.values())

    @property
    def score(self) -> float | None:
        """NPS: % promoters - % detractors (-100 to 100); CSAT: % satisfied (0 to 100)."""
        total = self.responses
        if not total:
            return None
        if self.kind == SurveyKind.NPS:
            return 100 * (self.categories["promoter"] - self.categories["detractor"]) / total
        return 100 * self.categories["satisfied"] / total

    @property
    def score_label(self) -> str:
        score = self.score
        if score is None:
            return "—"
        return f"{score:+.0f}" if self.kind == SurveyKind.NPS else f"{score:.0f}%"

    @property
    def response_rate(self) -> float | None:
        """Of the invitations sent in the period, the share answered."""
        return self.answered / self.invited if self.invited else None

    def shares(self) -> list[tuple[str, int, float]]:
        total = self.responses
        return [
            (name, self.categories[name], self.categories[name] / total if total else 0.0)
            for name, _ in CATEGORIES[self.kind]
        ]


def since(period: str, now: dt.datetime | None = None) -> dt.datetime | None:
    if period == "all":
        return None
    return (now or timezone.now()) - dt.timedelta(days=int(period))


def _window(queryset, start: dt.datetime | None):
    return queryset if start is None else queryset.filter(created_at__gte=start)


def _invitation_counts(queryset, *group: str):
    now = timezone.now()
    return queryset.values(*group).annotate(
        invited=Count("pk"),
        answered=Count("pk", filter=Q(answered_at__isnull=False)),
        open=Count("pk", filter=Q(answered_at__isnull=True, expires_at__gt=now)),
    )


def _tallies(group_response: str, group_invitation: str, start, blank: str) -> list[tuple[str, Tally]]:
    """Per (group, kind): answers by category and invitations; NPS before CSAT within a group."""
    tallies: dict[tuple[str, str], Tally] = {}

    def tally(name: str | None, kind: str) -> Tally:
        key = (name or blank, kind)
        return tallies.setdefault(key, Tally(kind=kind))

    answers = (
        _window(SurveyResponse.objects.order_by(), start)
        .values(group_response, "survey__kind", "category")
        .annotate(n=Count("pk"))
    )
    for row in answers:
        tally(row[group_response], row["survey__kind"]).categories[row["category"]] += row["n"]
    invitations = _invitation_counts(
        _window(SurveyInvitation.objects.order_by(), start), group_invitation, "survey__kind"
    )
    for row in invitations:
        target = tally(row[group_invitation], row["survey__kind"])
        target.invited, target.answered, target.open = row["invited"], row["answered"], row["open"]
    kinds = [k.value for k in SurveyKind]
    return sorted(
        ((name, t) for (name, _), t in tallies.items()),
        key=lambda item: (item[0] == blank, item[0], kinds.index(item[1].kind)),
    )


def dashboard(period: str = "all") -> dict:
    """Results per survey, by segment and by program, a chart and the latest comments."""
    start = since(period)
    surveys = list(Survey.objects.all())
    per_survey = {s.pk: Tally(kind=s.kind) for s in surveys}
    answers = (
        _window(SurveyResponse.objects.order_by(), start)
        .values("survey_id", "category")
        .annotate(n=Count("pk"))
    )
    for row in answers:
        per_survey[row["survey_id"]].categories[row["category"]] += row["n"]
    for row in _invitation_counts(_window(SurveyInvitation.objects.order_by(), start), "survey_id"):
        target = per_survey[row["survey_id"]]
        target.invited, target.answered, target.open = row["invited"], row["answered"], row["open"]
    results = [(s, per_survey[s.pk]) for s in surveys]
    comments = list(
        _window(SurveyResponse.objects.exclude(comment=""), start)
        .select_related("survey", "account", "contact")
        .order_by("-created_at", "-pk")[:RECENT_COMMENTS]
    )
    return {
        "results": results,
        "by_segment": _tallies("account__segment__name", "account__segment__name", start, NO_SEGMENT),
        "by_program": _tallies(
            "invitation__enrolment__program__name", "enrolment__program__name", start, NO_PROGRAM
        ),
        "chart": results_chart(results),
        "comments": comments,
        "invited": sum(t.invited for _, t in results),
        "responses": sum(t.responses for _, t in results),
    }


def results_chart(results: list[tuple[Survey, Tally]]) -> str:
    """Each survey's answers as one bar of 100%: the best category green, the middle yellow, the
    worst red. Server-rendered SVG."""
    rows = [
        {
            "survey": survey.name,
            "answer": TONE_OF[name],
            "share": round(100 * share, 1),
            "responses": n,
            "order": TONES.index(TONE_OF[name]),
        }
        for survey, tally in results
        if tally.responses
        for name, n, share in tally.shares()
    ]
    if not rows:
        return ""
    colours = [charts.COLORS[c] for c in ("green", "yellow", "red")]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="% of responses", scale=alt.Scale(domain=[0, 100])),
            y=alt.Y("survey:N", title=None, sort=None),
            color=alt.Color(
                "answer:N",
                scale=alt.Scale(domain=list(TONES), range=colours),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=["survey:N", "answer:N", "responses:Q", "share:Q"],
        )
    )
    return charts.render(chart.properties(width=480, title="Answers by survey"))


def account_surveys(account) -> dict:
    """Account 360: the account's latest answers and how many invitations are still open."""
    return {
        "survey_responses": list(
            SurveyResponse.objects.filter(account=account)
            .select_related("survey", "contact")
            .order_by("-created_at", "-pk")[:ACCOUNT_RESPONSES]
        ),
        "open_survey_invitations": SurveyInvitation.objects.filter(
            account=account, answered_at__isnull=True, expires_at__gt=timezone.now()
        ).count(),
    }
