"""Incremental evaluation: an account's rules run again as soon as its data changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from csops.cockpit.models import Cta
from csops.customers.actions import import_records, update_account
from csops.customers.imports import validate_rows
from csops.health.actions import record_health_update, score_accounts
from csops.health.models import ScoreRun
from csops.rules.actions import evaluate_pending
from csops.rules.models import PendingEvaluation, Rule, RuleRun
from csops.rules.tests.conftest import TODAY
from csops.timeline.actions import log_activity
from csops.timeline.models import ActivityType


@pytest.fixture
def only_renewals(config):
    Rule.objects.exclude(name="Upcoming renewal").update(enabled=False)


def test_an_edit_queues_its_account_and_the_worker_raises_its_cta(
    only_renewals, make_account, team, django_capture_on_commit_callbacks
):
    soon, other = make_account(), make_account()
    score_accounts(as_of=TODAY)
    with django_capture_on_commit_callbacks(execute=True):
        update_account(soon, actor=team["admin"], renewal_date=TODAY + dt.timedelta(days=60))
    assert list(PendingEvaluation.objects.values_list("account_id", flat=True)) == [soon.pk]
    assert DBTaskResult.objects.filter(task_path="csops.rules.tasks.evaluate_pending").count() == 1
    outcome = evaluate_pending()
    assert outcome["accounts"] == 1 and not PendingEvaluation.objects.exists()
    run = RuleRun.objects.get(pk=outcome["run"])
    assert run.trigger == "incremental" and run.scope == 1
    assert list(Cta.objects.values_list("account_id", "source_ref")) == [(soon.pk, "Upcoming renewal")]
    assert ScoreRun.objects.first().accounts == 1  # the account was re-scored first
    assert evaluate_pending() == {"accounts": 0}
    assert not other.ctas.exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_reevaluates_a_changed_account(users, make_account, team):
    """End to end through the queue: the worker fires nothing else and runs the evaluation."""
    Rule.objects.update(enabled=False)
    Rule.objects.filter(name="At-risk: red CSM sentiment").update(enabled=True)
    account = make_account()
    record_health_update(account, author=team["csm"], sentiment="red", summary="Champion left")
    assert PendingEvaluation.objects.filter(account=account).exists()
    call_command("worker", "--once")
    cta = Cta.objects.get(account=account)
    assert cta.reason.name == "At-Risk" and cta.rule_run.trigger == "incremental"
    assert not PendingEvaluation.objects.exists()


def test_imports_and_activities_mark_their_accounts(only_renewals, make_account, team):
    first, second = make_account(), make_account()
    rows = [
        {"Id": first.external_id, "Name": first.name, "Renewal Date": str(TODAY + dt.timedelta(days=50))},
        {"Id": second.external_id, "Name": second.name, "Renewal Date": str(second.renewal_date)},
    ]
    validation = validate_rows("accounts", list(rows[0]), [(i + 2, r) for i, r in enumerate(rows)])
    assert not validation.errors, validation.errors
    import_records(validation, actor=team["admin"], file_name="accounts.csv")
    assert set(PendingEvaluation.objects.values_list("account_id", flat=True)) == {first.pk}
    second.refresh_from_db()
    assert second.segment.name == "Growth"  # a file without ARR or segment columns leaves the segment
    log_activity(
        second,
        author=team["csm"],
        type=ActivityType.objects.get(name="Cadence Call"),
        subject="Cadence",
        date=TODAY,
    )
    assert set(PendingEvaluation.objects.values_list("account_id", flat=True)) == {first.pk, second.pk}
    evaluate_pending()
    assert list(Cta.objects.values_list("account_id", flat=True)) == [first.pk]


def test_a_large_burst_becomes_one_full_pass(only_renewals, make_account, monkeypatch):
    from csops.rules import actions

    monkeypatch.setattr(actions, "FULL_RUN_ABOVE", 2)
    accounts = [make_account(renewal_date=TODAY + dt.timedelta(days=40)) for _ in range(4)]
    PendingEvaluation.objects.bulk_create([PendingEvaluation(account=a) for a in accounts[:3]])
    outcome = evaluate_pending()
    assert outcome["accounts"] == 3 and RuleRun.objects.get().scope is None
    assert Cta.objects.count() == 4 and not PendingEvaluation.objects.exists()


def test_closing_ctas_in_bulk_marks_their_accounts(only_renewals, make_account, team):
    from csops.cockpit.actions import bulk_close_ctas, create_cta
    from csops.cockpit.models import CtaStatus, CtaType

    account = make_account()
    risk = CtaType.objects.get(name="Risk")
    cta, _ = create_cta(account, actor=None, type=risk, reason=risk.reasons.get(name="At-Risk"))
    PendingEvaluation.objects.all().delete()
    bulk_close_ctas([cta.pk], actor=team["admin"], status=CtaStatus.objects.get(name="Closed Success"))
    assert list(PendingEvaluation.objects.values_list("account_id", flat=True)) == [account.pk]
