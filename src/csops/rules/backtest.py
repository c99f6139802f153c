"""What a rule would have done over a past window, replayed day by day from the history.

Each day's features are rebuilt as of that day (usage snapshots, the health history, tickets,
timeline, opportunities and CTAs as they stood), the rule's audience is evaluated on them, and an
account "fires" on the day it enters the audience. Account attributes are today's: the
application database keeps no history of them (as for health backtests).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pyarrow.compute as pc

from csops.cockpit.models import Cta
from csops.customers.models import Account
from csops.health.models import Outcome
from csops.health.selectors import active_scorecard
from csops.rules import features
from csops.rules.compiler import Tables, compile_rule
from csops.rules.models import Rule, RuleBacktest
from csops.usage import store

OUTCOME_HORIZON_DAYS = 180
LOST = ("churned", "contracted")
SAMPLE = 25


def _matched(compiled_for: Callable[[dt.date], object], day: dt.date) -> set[int]:
    compiled = compiled_for(day)
    ids = compiled.audience().select("account_id").to_pyarrow()["account_id"]
    return set(pc.unique(ids).to_pylist()) if len(ids) else set()


def backtest_rule(
    rule: Rule,
    *,
    days: int,
    as_of: dt.date,
    step_days: int = 1,
    actor=None,
    progress: Callable[[str], None] = lambda message: None,
) -> RuleBacktest:
    started = time.monotonic()
    scorecard = active_scorecard()
    con = store.connect()

    def compiled_for(day: dt.date):
        features.sync(con, day)
        table = features.as_features(con, scorecard, day)
        return compile_rule(rule.definition(), Tables.from_store(con, table), scorecard, day)

    first = as_of - dt.timedelta(days=days - 1)
    series, fired_on = [], {}
    previous: set[int] | None = None
    day = first
    while day <= as_of:
        with store.exclusive(con):
            matched = _matched(compiled_for, day)
        entered = matched if previous is None else matched - previous
        for account_id in entered:
            fired_on.setdefault(account_id, day)
        new = len(entered) if previous is not None else 0
        series.append({"day": day.isoformat(), "audience": len(matched), "entered": new})
        progress(f"  {day}: {len(matched):,} in audience, {new:,} entered")
        previous = matched
        day += dt.timedelta(days=step_days)
    report = {
        "series": series,
        "at_start": series[0]["audience"] if series else 0,
        "entered": sum(point["entered"] for point in series),
        "accounts": len(fired_on),
        "step_days": step_days,
        "raised": _raised(rule.name, first, as_of),
        "outcomes": _outcomes(fired_on, first, as_of),
        "sample": _sample(fired_on),
    }
    return RuleBacktest.objects.create(
        rule=rule.name,
        actor=actor if actor and actor.pk else None,
        as_of=as_of,
        days=days,
        seconds=round(time.monotonic() - started, 2),
        report=report,
    )


def _raised(rule: str, first: dt.date, last: dt.date) -> int:
    """CTAs the rule really raised in the window, to set beside what the replay says."""
    return Cta.objects.filter(
        source="rule", source_ref=rule, created_at__date__gte=first, created_at__date__lte=last
    ).count()


def _outcomes(fired_on: dict[int, dt.date], first: dt.date, last: dt.date) -> dict:
    """Of the accounts the rule picked, how many were lost (churned or contracted) from the window's
    start to the horizon after it, beside the same rate over every account with an outcome then:
    does the rule pick the accounts that need attention?"""
    outcomes = Outcome.objects.filter(
        date__gte=first, date__lte=last + dt.timedelta(days=OUTCOME_HORIZON_DAYS)
    )
    known = set(outcomes.values_list("account_id", flat=True))
    lost = set(outcomes.filter(kind__in=LOST).values_list("account_id", flat=True))
    picked = known & set(fired_on)
    picked_lost = lost & picked
    return {
        "horizon_days": OUTCOME_HORIZON_DAYS,
        "picked_with_outcome": len(picked),
        "picked_lost": len(picked_lost),
        "picked_lost_rate": len(picked_lost) / len(picked) if picked else None,
        "base_with_outcome": len(known),
        "base_lost": len(lost),
        "base_lost_rate": len(lost) / len(known) if known else None,
    }


def _sample(fired_on: dict[int, dt.date]) -> list[dict]:
    first = sorted(fired_on.items(), key=lambda item: (item[1], item[0]))[:SAMPLE]
    names = dict(Account.objects.filter(pk__in=[a for a, _ in first]).values_list("pk", "name"))
    return [{"account_id": a, "account": names.get(a, ""), "day": d.isoformat()} for a, d in first]
