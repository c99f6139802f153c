"""Reads of health configuration and results."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, Count, F, IntegerField, Q, Sum, When

from csops.customers.models import Account
from csops.health.models import AccountHealth, ScoreHistory
from csops.health.models import Scorecard as ScorecardRow
from csops.health.scorecard import Scorecard, build


class NoActiveScorecard(Exception):
    pass


def active_scorecard() -> Scorecard:
    row = ScorecardRow.objects.filter(active=True).first()
    if row is None:
        raise NoActiveScorecard("no active scorecard: apply the default configuration first")
    return build(row.definition())


FORMATTERS = {
    "percent": lambda v: f"{v:.0%}",
    "days": lambda v: f"{v:.0f} days",
    "number": lambda v: f"{v:,.2f}".rstrip("0").rstrip("."),
    "color": lambda v: "",
}
COLOR_NAMES = ("red", "yellow", "green")


def _display_value(measure, data: dict) -> str:
    value = data.get("value")
    if value is None or data.get("na"):
        return ""
    if measure.parts:
        return f"{value:.0f} of {len(measure.parts)} parts green"
    return FORMATTERS[measure.format](value)


def account_health(account_id: int) -> dict | None:
    """Everything the Account 360 health panel shows, or None before the first scoring."""
    from csops.core.charts import score_trend  # altair is slow to import; only this page needs it

    health = AccountHealth.objects.filter(account_id=account_id).first()
    if health is None:
        return None
    try:
        scorecard = active_scorecard()
    except NoActiveScorecard:
        return None
    groups = []
    for group in scorecard.groups:
        rows = []
        for measure in group.measures:
            data = health.measures.get(measure.key) or {}
            rows.append(
                {
                    "name": measure.name,
                    "weight": measure.weight,
                    "value": _display_value(measure, data),
                    "color": COLOR_NAMES[data["color"]] if data.get("color") is not None else "",
                    "na": data.get("na") or "",
                    "stale": data.get("stale"),
                    "contribution": data.get("contribution") or 0.0,
                }
            )
        groups.append({"name": group.name, "weight": group.weight, "measures": rows})
    history = list(
        ScoreHistory.objects.filter(account_id=account_id, score__isnull=False)
        .order_by("scored_on")
        .values("scored_on", "score", "color")
    )
    trend = (
        score_trend(
            [{"date": h["scored_on"], "score": round(h["score"], 1), "color": h["color"]} for h in history]
        )
        if len(history) > 1
        else ""
    )
    return {"health": health, "groups": groups, "explanation": explain(health, scorecard), "trend": trend}


def explain(health, scorecard) -> list[dict]:
    """Which measures moved the score since the previous snapshot, biggest move first."""
    if health.previous_on is None:
        return []
    moves = []
    for measure in scorecard.measures:
        now = health.measures.get(measure.key) or {}
        before = health.previous_measures.get(measure.key) or {}
        delta = (now.get("contribution") or 0.0) - (before.get("contribution") or 0.0)
        color_now, color_before = now.get("color"), before.get("color")
        if abs(delta) >= 0.05 or color_now != color_before:
            moves.append(
                {
                    "name": measure.name,
                    "delta": delta,
                    "before": COLOR_NAMES[color_before] if color_before is not None else "n/a",
                    "after": COLOR_NAMES[color_now] if color_now is not None else "n/a",
                    "why": now.get("na") or "",
                }
            )
    return sorted(moves, key=lambda m: -abs(m["delta"]))


def distribution(field: str, *, limit: int | None = None) -> list[dict]:
    """Accounts and ARR by health colour, grouped by an account field, in one GROUP BY."""

    rows = (
        Account.objects.values(field)
        .annotate(
            accounts=Count("pk"),
            arr=Sum("arr"),
            **{name: Count("pk", filter=Q(health_color=name)) for name in ("green", "yellow", "red")},
            unscored=Count("pk", filter=Q(health_color="")),
        )
        .order_by("-accounts")
    )
    rows = list(rows[:limit] if limit else rows)
    for row in rows:
        row["label"] = row.pop(field) or "—"
    return rows


def adoption_by_arr() -> list[dict]:
    """Share of ARR whose account has 0, 1, 2 or 3+ green use cases."""

    bucket = Case(When(adoption__gte=3, then=3), default="adoption", output_field=IntegerField())
    rows = list(
        AccountHealth.objects.annotate(bucket=bucket)
        .values("bucket")
        .annotate(arr=Sum("account__arr"), accounts=Count("pk"))
        .order_by("bucket")
    )
    total = sum(float(r["arr"] or 0) for r in rows) or 1.0
    return [
        {
            "label": "3+" if r["bucket"] == 3 else str(r["bucket"]),
            "accounts": r["accounts"],
            "share": float(r["arr"] or 0) / total,
        }
        for r in rows
    ]


def movers(limit: int = 20) -> list:

    return list(
        AccountHealth.objects.filter(previous_score__isnull=False, score__isnull=False)
        .annotate(change=F("score") - F("previous_score"))
        .filter(change__lt=0)
        .select_related("account")
        .order_by("change")[:limit]
    )


def stale_data(today) -> dict:

    no_usage = AccountHealth.objects.filter(measures__license_utilization__na__startswith="no usage data")
    return {
        "no_usage": no_usage.count(),
        "stale_sentiment": Account.objects.filter(csm_sentiment_date__lt=today - dt.timedelta(days=90))
        .exclude(csm_sentiment="")
        .count(),
        "unscored": Account.objects.filter(health_color="").count(),
    }
