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


def test_health_update_sets_sentiment_and_next_date(seeded, client_as, users):
    from csops.core.models import AuditEntry
    from csops.health.models import HealthUpdate

    account = Account.objects.filter(renewal_date__isnull=False).first()
    url = f"/health/accounts/{account.pk}/updates/"
    assert client_as("viewer").post(url, {"sentiment": "red", "summary": "x"}).status_code == 403
    bad = client_as("csm").post(url, {"sentiment": "purple", "summary": ""})
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    assert not HealthUpdate.objects.exists()
    response = client_as("csm").post(
        url, {"sentiment": "red", "summary": "Champion left", "needed": "Exec sponsor call"}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    update = HealthUpdate.objects.get()
    assert account.csm_sentiment == "red" and account.csm_sentiment_date == update.created_at.date()
    assert update.next_date > update.created_at.date() and update.author == users["csm"]
    assert AuditEntry.objects.filter(object_repr=account.name, verb="update").exists()
    page = client_as("viewer").get(account.get_absolute_url()).content.decode()
    assert "Champion left" in page and "Next update due" in page


def test_update_cadence_follows_the_renewal_quarter(settings, db):
    from csops.health.actions import update_cadence

    settings.CSOPS_ORGANISATION = {**settings.CSOPS_ORGANISATION, "fiscal_year_start_month": 2}
    today = dt.date(2026, 11, 23)  # fiscal Q4 runs Nov-Jan
    assert update_cadence(Account(renewal_date=dt.date(2027, 1, 31)), today).days == 7
    assert update_cadence(Account(renewal_date=dt.date(2027, 4, 30)), today).days == 7  # next quarter
    assert update_cadence(Account(renewal_date=dt.date(2027, 5, 1)), today).days == 30
    assert update_cadence(Account(renewal_date=None), today).days == 30
