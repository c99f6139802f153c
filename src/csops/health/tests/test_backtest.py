import datetime as dt

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from csops.health.actions import run_backtest, seed_outcomes
from csops.health.backtest import average_ranks, roc_auc
from csops.health.models import Backtest, Outcome
from csops.usage.actions import seed_usage

TODAY = dt.date(2026, 11, 23)


def test_roc_auc_known_values():
    lost = np.array([True, True, False, False])
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), lost) == 1.0
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), lost) == 0.0
    assert roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), lost) == 0.5  # ties count half
    assert roc_auc(np.array([0.9, 0.3, 0.5, 0.1]), lost) == 0.75
    assert roc_auc(np.array([0.9]), np.array([True])) is None
    assert list(average_ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]


@pytest.fixture
def history(seeded):
    seed_usage(end=TODAY, weeks=52, seed=3)
    return seed_outcomes(end=TODAY, seed=3)


def test_synthetic_outcomes_cover_past_renewals(history):
    assert history == Outcome.objects.count() > 0
    assert set(Outcome.objects.values_list("kind", flat=True)) <= {"renewed", "contracted", "churned"}
    assert not Outcome.objects.filter(date__gt=TODAY).exists()
    assert seed_outcomes(end=TODAY, seed=3) == history  # re-seeding replaces, never duplicates
    assert Outcome.objects.count() == history


def test_backtest_reports_separation(history):
    as_of = TODAY - dt.timedelta(days=300)
    result = run_backtest(as_of=as_of, horizon_days=290)
    report = result.report
    expected = Outcome.objects.filter(date__gt=as_of, date__lte=as_of + dt.timedelta(days=290))
    assert report["population"] + report["unscored"] == expected.values("account").distinct().count()
    assert report["lost"] == expected.exclude(kind="renewed").values("account").distinct().count()
    assert sum(b["accounts"] for b in report["bands"]) == report["population"]
    assert sum(c["accounts"] for c in report["calibration"]) == report["population"]
    assert report["auc"] is None or 0.0 <= report["auc"] <= 1.0
    assert {m["key"] for m in report["measures"]} >= {"license_utilization", "csm_sentiment"}


def test_backtest_command_and_pages(history, capsys, client_as):
    call_command(
        "health", "backtest", "--as-of", (TODAY - dt.timedelta(days=300)).isoformat(), "--horizon", "290d"
    )
    out = capsys.readouterr().out
    assert "ROC AUC" in out or "nothing to test" in out
    backtest = Backtest.objects.get()
    client = client_as("viewer")
    assert client.get("/health/backtests/").status_code == 200
    assert client.get(f"/health/backtests/{backtest.pk}/").status_code == 200
    assert client.get("/health/backtests/999/").status_code == 404
    with pytest.raises(CommandError, match="--horizon"):
        call_command("health", "backtest", "--as-of", "2026-01-01", "--horizon", "soon")
    with pytest.raises(CommandError, match="give --as-of"):
        call_command("health", "backtest")


def test_empty_window_says_so(seeded, capsys):
    call_command("health", "backtest", "--as-of", "2020-01-01", "--horizon", "30d")
    assert "nothing to test" in capsys.readouterr().out


def test_dashboard(seeded, client_as):
    from csops.health.actions import score_accounts

    seed_usage(end=TODAY, weeks=12, seed=3)
    score_accounts(as_of=TODAY - dt.timedelta(days=40))
    score_accounts(as_of=TODAY)
    page = client_as("viewer").get("/health/").content.decode()
    assert "By segment" in page and "Platform adoption" in page and "Biggest drops" in page
    assert page.count("<svg") == 2
