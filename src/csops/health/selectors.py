"""Reads of health configuration and results."""

from __future__ import annotations

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


def account_health(account_id: int) -> dict | None:
    """Everything the Account 360 health panel shows, or None before the first scoring."""
    from csops.core.charts import score_trend
    from csops.health.models import AccountHealth, ScoreHistory

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
            value = data.get("value")
            rows.append(
                {
                    "name": measure.name,
                    "weight": measure.weight,
                    "value": FORMATTERS[measure.format](value)
                    if value is not None and not data.get("na")
                    else "",
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
