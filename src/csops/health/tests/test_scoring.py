import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from csops.customers.models import Account
from csops.health.actions import score_accounts
from csops.health.models import AccountHealth, ScoreHistory, ScoreRun
from csops.usage import store
from csops.usage.actions import seed_usage

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def scored(seeded):
    seed_usage(end=TODAY, weeks=20, seed=3)
    return score_accounts(as_of=TODAY)


def test_scoring_writes_every_account_and_keeps_only_changes(scored):
    assert scored.accounts == scored.changed == Account.objects.count()
    assert AccountHealth.objects.count() == Account.objects.count()
    colored = Account.objects.exclude(health_color="")
    assert colored.count() == Account.objects.exclude(health__color="").count() > 0
    again = score_accounts(as_of=TODAY)
    assert again.changed == 0
    con = store.connect()
    items = con.table("health_history").count().to_pyarrow().as_py()
    later = score_accounts(as_of=TODAY + dt.timedelta(days=40))  # usage goes stale: scores move
    assert 0 < later.changed <= later.accounts
    assert con.table("health_history").count().to_pyarrow().as_py() > items
    moved = AccountHealth.objects.filter(scored_on=TODAY + dt.timedelta(days=40)).first()
    assert moved.previous_on == TODAY and moved.previous_measures
    assert ScoreHistory.objects.filter(account_id=moved.account_id).count() == 2


def test_account_360_shows_score_measures_explanation_and_chart(scored, client_as):
    score_accounts(as_of=TODAY + dt.timedelta(days=40))
    health = AccountHealth.objects.filter(scored_on=TODAY + dt.timedelta(days=40)).exclude(color="").first()
    page = client_as("viewer").get(f"/customers/accounts/{health.account_id}/").content.decode()
    assert "License utilization" in page and "What moved since" in page
    assert "<svg" in page and f">{health.score:.0f}<" in page


def test_health_score_command(seeded, capsys):
    seed_usage(end=TODAY, weeks=8, seed=3)
    call_command("health", "score", "--as-of", "2026-11-23")
    assert "Scored" in capsys.readouterr().out and ScoreRun.objects.count() == 1
    with pytest.raises(CommandError, match="not a date"):
        call_command("health", "score", "--as-of", "yesterday")


def test_scoring_needs_an_active_scorecard(db):
    with pytest.raises(CommandError, match="no active scorecard"):
        call_command("health", "score")
