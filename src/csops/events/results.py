"""Results of a webinar or lab, or of a series of them: registrations, attendance rate, poll scores,
accounts reached by segment, CTAs raised, and the later change in the related health measure for
attending accounts against similar (same segment) accounts that did not attend.

A fixed number of queries whatever the number of registrants or accounts: counts are aggregated in
the database, and the health measure is read from the analytics store in two set-wise queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

import altair as alt
import ibis
from django.db.models import Avg, Count, Q
from django.utils import timezone

from csops.cockpit.models import Cta
from csops.core import charts
from csops.customers.models import Account
from csops.events.models import Event, Registration, RegistrationStatus
from csops.health.selectors import active_scorecard
from csops.programs.models import SurveyResponse
from csops.usage import store


@dataclass
class Results:
    events: list[Event]
    registrations: dict[str, int]
    attended: int
    attendance_rate: float | None
    poll: dict[str, Any]
    segments: list[dict[str, Any]]
    ctas: int
    measure: str = ""
    health: list[dict[str, Any]] = field(default_factory=list)
    chart: str = ""


def results(events: list[Event], *, today: dt.date | None = None) -> Results:
    today = today or timezone.localdate()
    ids = [e.pk for e in events]
    registrations = Registration.objects.filter(event_id__in=ids)
    by_status = dict(registrations.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    counts = {s.label: by_status.get(s.value, 0) for s in RegistrationStatus}
    attended = registrations.filter(attended=True).count()
    # Walk-ins (attended without registering here) count among the registered for the rate.
    registered = registrations.filter(Q(status=RegistrationStatus.REGISTERED) | Q(attended=True)).count()
    polls = SurveyResponse.objects.filter(
        reduce(or_, (Q(invitation__key__startswith=f"event:{pk}:poll:") for pk in ids), Q(pk__in=[]))
    ).aggregate(answers=Count("pk"), average=Avg("score"), satisfied=Count("pk", filter=Q(score__gte=4)))
    poll = {
        "answers": polls["answers"],
        "average": polls["average"],
        "satisfied": round(100 * polls["satisfied"] / polls["answers"]) if polls["answers"] else None,
    }
    segments = list(
        registrations.filter(account__isnull=False)
        .values("account__segment__name")
        .annotate(
            registered=Count("account", distinct=True),
            attended=Count("account", filter=Q(attended=True), distinct=True),
        )
        .order_by("account__segment__name")
    )
    ctas = Cta.objects.filter(source_ref__in=[f"event:{pk}" for pk in ids]).count()
    result = Results(
        events=events,
        registrations=counts,
        attended=attended,
        attendance_rate=round(100 * attended / registered) if registered else None,
        poll=poll,
        segments=[
            {
                "segment": s["account__segment__name"] or "—",
                "registered": s["registered"],
                "attended": s["attended"],
            }
            for s in segments
        ],
        ctas=ctas,
    )
    measure = next((e.related_measure for e in events if e.related_measure), "")
    if measure and events:
        result.measure = measure
        first = min(e.starts_at for e in events)
        result.health = health_change(ids, measure, timezone.localdate(first), today)
        if result.health:
            result.chart = health_chart(result.health, measure)
    return result


def _measure_as_of(con, account_ids: list[int], measure: str, day: dt.date) -> dict[int, float]:
    """Each account's measure on its latest snapshot on or before the day (history keeps changes)."""
    history = con.table("health_history")
    rows = history.filter(
        history.scorecard == active_scorecard().name,
        history.item == measure,
        history.account_id.isin(account_ids),
        history.scored_on <= ibis.literal(day),
        history.value.notnull(),
    )
    latest = rows.group_by("account_id").aggregate(on=rows.scored_on.max())
    picked = rows.join(latest, [rows.account_id == latest.account_id, rows.scored_on == latest.on])
    frame = picked.select(rows.account_id, rows.value).to_pyarrow()
    return dict(zip(frame["account_id"].to_pylist(), frame["value"].to_pylist(), strict=True))


def health_change(
    event_ids: list[int], measure: str, first_day: dt.date, today: dt.date
) -> list[dict[str, Any]]:
    """Per segment: the average change of the measure from the day before the (first) event to
    today, for attending accounts and for the other accounts of the same segments."""
    attending = set(
        Registration.objects.filter(event_id__in=event_ids, attended=True, account__isnull=False).values_list(
            "account_id", flat=True
        )
    )
    if not attending:
        return []
    segment_of = dict(
        Account.objects.filter(
            segment__in=Account.objects.filter(pk__in=attending).values("segment")
        ).values_list("pk", "segment__name")
    )
    con = store.connect()
    if "health_history" not in con.list_tables():
        return []
    ids = list(segment_of)
    before = _measure_as_of(con, ids, measure, first_day - dt.timedelta(days=1))
    after = _measure_as_of(con, ids, measure, today)
    groups: dict[tuple[str, str], list[float]] = {}
    for account_id, segment in segment_of.items():
        if account_id in before and account_id in after:
            group = "Attended" if account_id in attending else "Did not attend"
            groups.setdefault((segment, group), []).append(after[account_id] - before[account_id])
    return [
        {
            "segment": segment,
            "group": group,
            "accounts": len(changes),
            "change": round(sum(changes) / len(changes), 3),
        }
        for (segment, group), changes in sorted(groups.items())
    ]


def health_chart(rows: list[dict[str, Any]], measure: str) -> str:
    """Grouped bars: the average change per segment, attending against not attending."""
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", title=None),
            yOffset=alt.YOffset("group:N"),
            x=alt.X("change:Q", title=f"Average change in {measure}"),
            color=alt.Color(
                "group:N",
                scale=alt.Scale(
                    domain=["Attended", "Did not attend"], range=[charts.COLORS["green"], "#7a8599"]
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["segment:N", "group:N", "accounts:Q", "change:Q"],
        )
    )
    return charts.render(chart.properties(width=480, title=f"Change in {measure} since the event"))
