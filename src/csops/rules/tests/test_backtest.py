"""Backtesting a rule: replaying it over past days from the history."""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command

from csops.health.models import Outcome
from csops.rules.backtest import backtest_rule
from csops.rules.models import Rule, RuleBacktest
from csops.rules.tests.conftest import TODAY


def day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def test_backtest_replays_each_day_from_history(make_account, put_health, capsys):
    always, later, never = make_account(), make_account(), make_account()
    put_health(always, day(-3), license_utilization=(0.95, "green"))
    put_health(later, day(-3), license_utilization=(0.50, "yellow"))
    put_health(later, day(-1), license_utilization=(0.93, "green"))
    put_health(never, day(-3), license_utilization=(0.30, "red"))
    Outcome.objects.create(external_id="o1", account=later, kind="churned", date=day(30))
    Outcome.objects.create(external_id="o2", account=never, kind="renewed", date=day(40))
    rule = Rule.objects.get(name="High licence utilisation")
    report = backtest_rule(rule, days=3, as_of=day(-1)).report
    assert [(p["day"], p["audience"], p["entered"]) for p in report["series"]] == [
        (str(day(-3)), 1, 0),
        (str(day(-2)), 1, 0),
        (str(day(-1)), 2, 1),
    ]
    assert report["at_start"] == 1 and report["entered"] == 1 and report["accounts"] == 2
    assert [s["account"] for s in report["sample"]] == [always.name, later.name]
    outcomes = report["outcomes"]
    assert (outcomes["picked_with_outcome"], outcomes["picked_lost"], outcomes["base_with_outcome"]) == (
        1,
        1,
        2,
    )
    assert outcomes["picked_lost_rate"] == 1.0 and outcomes["base_lost_rate"] == 0.5
    call_command("rules", "backtest", "--rule", rule.name, "--days", "2", "--as-of", str(day(-1)))
    assert "1 in the audience on day 1, 1 entries later, 2 accounts in all" in capsys.readouterr().out
    assert RuleBacktest.objects.count() == 2
