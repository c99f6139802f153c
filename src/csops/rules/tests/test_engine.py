"""The rules engine: semantics, idempotency, dry runs, failure isolation, races and schedules."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from csops.cockpit.actions import raise_ctas
from csops.cockpit.models import Cta, CtaType, Playbook, Task
from csops.core import scheduler
from csops.core.configuration import ConfigError, apply_configuration, default_directory
from csops.core.models import AuditEntry, ScheduleFiring
from csops.programs.models import Enrolment, OutboxMessage
from csops.rules.actions import run_rules
from csops.rules.models import Rule, RuleEffect, RuleResult, RuleRun
from csops.rules.tests.conftest import TODAY

UTC = dt.UTC


def rule(name: str, when: list[str], actions: list[dict], **fields) -> Rule:
    return Rule.objects.create(name=name, when=when, actions=actions, **fields)


RENEWAL_CTA = {
    "create_cta": {
        "type": "Renewal",
        "reason": "Upcoming Renewal",
        "playbook": "Upcoming Renewal",
        "owner": ["csm", "cse"],
        "once_per": "renewal_date",
    }
}


def state() -> tuple:
    return (
        sorted(Cta.objects.values_list("dedupe_key", "owner_id", "status__name")),
        Task.objects.count(),
        Enrolment.objects.count(),
        RuleEffect.objects.count(),
    )


def test_running_twice_leaves_the_same_state(make_account, contact_for, team):
    Rule.objects.exclude(name__in=["Upcoming renewal", "At-risk: red CSM sentiment"]).update(enabled=False)
    accounts = [
        make_account(renewal_date=TODAY + dt.timedelta(days=30 + i), csm_sentiment="red") for i in range(5)
    ]
    first = run_rules(as_of=TODAY)
    after_first = state()
    second = run_rules(as_of=TODAY)
    assert state() == after_first
    assert Cta.objects.count() == 10 and Task.objects.count() == 5 * (2 + 4)
    assert {r.rule: r.actions for r in first.results.all()} == {
        "Upcoming renewal": {"create_cta": 5},
        "At-risk: red CSM sentiment": {"create_cta": 5, "notify": 5},
    }
    assert {r.rule: r.actions for r in second.results.all()} == {
        "Upcoming renewal": {"create_cta": 0},
        "At-risk: red CSM sentiment": {"create_cta": 0, "notify": 0},
    }
    [message] = OutboxMessage.objects.all()
    assert all(a.name in message.text for a in accounts)
    renewal = Cta.objects.filter(source_ref="Upcoming renewal").first()
    assert renewal.rule_run == first and renewal.owner == team["csm"]
    assert AuditEntry.objects.filter(object_id=str(renewal.pk), source="rule", verb="create").count() == 1


def test_a_closed_cta_is_not_raised_again_while_the_cooldown_lasts(make_account):
    Rule.objects.update(enabled=False)
    rule(
        "Sentiment red",
        ["csm_sentiment == 'red'"],
        [{"create_cta": {"type": "Risk", "reason": "At-Risk", "cooldown_days": 30}}],
    )
    account = make_account(csm_sentiment="red")
    run_rules(as_of=TODAY)
    cta = Cta.objects.get(account=account)
    assert cta.dedupe_key.endswith(":g0")
    run_rules(as_of=TODAY)
    assert Cta.objects.count() == 1  # one is open
    Cta.objects.filter(pk=cta.pk).update(closed_at=dt.datetime.now(UTC) - dt.timedelta(days=10))
    run_rules(as_of=TODAY)
    assert Cta.objects.count() == 1  # closed ten days ago: within the cooldown
    Cta.objects.filter(pk=cta.pk).update(closed_at=dt.datetime.now(UTC) - dt.timedelta(days=31))
    run_rules(as_of=TODAY)
    assert sorted(Cta.objects.values_list("dedupe_key", flat=True)) == [
        cta.dedupe_key,
        cta.dedupe_key[:-1] + "1",
    ]


def test_dry_run_lists_without_writing(make_account, capsys):
    Rule.objects.exclude(name="Upcoming renewal").update(enabled=False)
    account = make_account(renewal_date=TODAY + dt.timedelta(days=40))
    before = (state(), AuditEntry.objects.count())
    run = run_rules(as_of=TODAY, dry_run=True)
    result = run.results.get()
    assert run.dry_run and result.audience == 1 and result.actions == {"create_cta": 1}
    row = result.sample[0]["rows"][0]
    assert (
        row["account_id"] == account.pk
        and row["name"] == f"{account.name} - Renewal on {account.renewal_date}"
    )
    assert (state(), AuditEntry.objects.count()) == before and not OutboxMessage.objects.exists()
    call_command("rules", "run", "--dry-run", "--rule", "Upcoming renewal")
    out = capsys.readouterr()
    assert "would do 1 create_cta" in out.err and "dry run: nothing written" in out.out
    assert not Cta.objects.exists()


def test_a_failing_rule_is_recorded_and_alerted_and_the_others_still_run(make_account, team):
    Rule.objects.exclude(name="Upcoming renewal").update(enabled=False)
    make_account(renewal_date=TODAY + dt.timedelta(days=40))
    # Saved without its checks, as if a scorecard change had removed a measure it reads.
    rule("Broken", ["no_such_measure_color == 'red'"], [RENEWAL_CTA])
    run = run_rules(as_of=TODAY)
    results = {r.rule: r for r in run.results.all()}
    assert "unknown name 'no_such_measure_color'" in results["Broken"].error
    assert results["Broken"].alert == "emailed 1 admin(s)"
    assert results["Upcoming renewal"].error == "" and results["Upcoming renewal"].actions == {
        "create_cta": 1
    }
    [alert] = OutboxMessage.objects.all()
    assert (alert.to, alert.kind) == (team["admin"].email, "alert")
    assert "Broken" in alert.subject and "no_such_measure_color" in alert.text
    with pytest.raises(CommandError, match="1 rule\\(s\\) failed: Broken"):
        call_command("rules", "run")


def test_two_runners_applying_the_same_plan_make_each_cta_once(transactional_db, make_account):
    """Two runners raise the same CTAs at once, each in its own connection and transaction."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is meaningful on PostgreSQL (run in CI)")
    accounts = [make_account() for _ in range(30)]
    renewal = CtaType.objects.get(name="Renewal")
    playbook = Playbook.objects.get(name="Upcoming Renewal")
    rows = [
        {
            "account_id": a.pk,
            "name": a.name,
            "owner_id": a.csm_id,
            "due_date": TODAY,
            "dedupe_key": f"race:{a.pk}",
            "csm_owner": a.csm_id,
        }
        for a in accounts
    ]
    runs = [RuleRun.objects.create(as_of=TODAY) for _ in range(2)]
    barrier, created = threading.Barrier(2), []

    def runner(run: RuleRun) -> None:
        from django.db import connections

        try:
            barrier.wait()
            created.append(
                raise_ctas(
                    rows,
                    type=renewal,
                    reason=renewal.reasons.get(),
                    priority="medium",
                    playbook=playbook,
                    source_ref="race",
                    rule_run_id=run.pk,
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created) == 30
    assert Cta.objects.count() == 30 and Task.objects.count() == 30 * len(playbook.tasks)


def test_rule_scope_and_every_n_minutes_schedules(config):
    Rule.objects.update(enabled=False)
    rule("Quarter hourly", ["csm_sentiment == 'red'"], [RENEWAL_CTA], schedule="every 15 minutes")
    Rule.objects.filter(name__in=["Upcoming renewal", "Stale CSM sentiment"]).update(enabled=True)
    now = dt.datetime(2026, 11, 23, 5, 7, tzinfo=UTC)
    fired = [f.schedule for f in scheduler.tick(now)]
    assert sorted(f for f in fired if f.startswith("rule:")) == [
        "rule:Quarter hourly",
        "rule:Stale CSM sentiment",
        "rule:Upcoming renewal",
    ]
    assert not [f for f in scheduler.tick(now) if f.schedule.startswith("rule:")]  # a second scheduler
    later = [f.schedule for f in scheduler.tick(now + dt.timedelta(minutes=10))]
    assert "rule:Quarter hourly" in later and "rule:Upcoming renewal" not in later
    daily = ScheduleFiring.objects.filter(schedule="rule:Upcoming renewal").get()
    assert daily.due_at == dt.datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    # rules due together share one queued run
    same = ScheduleFiring.objects.filter(schedule__in=["rule:Upcoming renewal", "rule:Stale CSM sentiment"])
    assert len({f.task_result_id for f in same}) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": ["segment >"]}, "condition 1: cannot parse"),
        ({"when": ["renewal_date"]}, "is not a yes/no condition"),
        ({"when": ["segment == 'Scale'", "frobnicate(arr)"]}, "condition 2: unknown function"),
        ({"when": ["worsened('nope')"]}, "unknown measure 'nope'"),
        ({"schedule": "at dawn"}, "neither a cron expression nor 'every N minutes'"),
        (
            {"actions": [{"create_cta": {"type": "Risk", "reason": "Upcoming Renewal"}}]},
            "'Upcoming Renewal' is not a reason of 'Risk'",
        ),
        (
            {"actions": [{"create_cta": {"type": "Risk", "reason": "At-Risk", "playbook": "Nope"}}]},
            "unknown playbook 'Nope'",
        ),
        (
            {"actions": [{"create_cta": {"type": "Risk", "reason": "At-Risk", "owner": "boss"}}]},
            "owner 'boss'",
        ),
        (
            {"actions": [{"create_cta": {"type": "Risk", "reason": "At-Risk", "owner": "user:ghost"}}]},
            "no active person 'ghost'",
        ),
        (
            {"actions": [{"create_cta": {"type": "Risk", "reason": "At-Risk", "name": "{acount}"}}]},
            "unknown placeholder {acount}",
        ),
        ({"actions": [{"create_cta": {"type": "Risk", "reason": "At-Risk", "due": "segment"}}]}, "due"),
        ({"actions": [{"close_cta": {"status": "New", "type": "Risk"}}]}, "'New' is not a closed CTA status"),
        ({"actions": [{"enrol": {"program": "Nope"}}]}, "unknown program 'Nope'"),
        ({"actions": [{"set_field": {"field": "arr", "value": 1}}]}, "field must be one of"),
        ({"actions": [{"notify": {"to": "everyone"}}]}, "to 'everyone'"),
        ({"actions": [{"shout": {}}]}, "an action is one of"),
    ],
)
def test_bad_rules_are_refused_with_the_place_named(config, tmp_path: Path, change, message):
    good = {"name": "Mine", "when": ["segment == 'Scale'"], "actions": [RENEWAL_CTA]}
    with pytest.raises(ValidationError, match=message.replace("(", "\\(").replace("{", "\\{")):
        Rule(**{k: v for k, v in {**good, **change}.items() if k != "name"}, name="Mine").full_clean()
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "rules.yaml").write_text(yaml.safe_dump([{**good, **change}]))
    before = list(Rule.objects.values_list("name", flat=True))
    with pytest.raises(ConfigError, match=re.escape("rules.yaml: item 1 ('Mine')")):
        apply_configuration(directory)
    assert list(Rule.objects.values_list("name", flat=True)) == before


def test_rules_are_configuration_as_code(config, tmp_path: Path):
    directory = tmp_path / "config"
    directory.mkdir()
    rules = yaml.safe_load((default_directory() / "rules.yaml").read_text())
    rules[1]["when"][1] = "days_until(renewal_date) >= 0 and months_until(renewal_date) <= 3"
    (directory / "rules.yaml").write_text(yaml.safe_dump(rules))
    plan = apply_configuration(directory, dry_run=True)
    assert [(d.kind, d.key, d.verb) for d in plan.diffs] == [("rules", "Upcoming renewal", "update")]
    assert Rule.objects.get(name="Upcoming renewal").when[1].endswith("<= 4")
    result = apply_configuration(directory, message="Renewal CTAs at three months")
    assert result.change.versions.get().key == "Upcoming renewal"
    assert Rule.objects.get(name="Upcoming renewal").when[1].endswith("<= 3")


def test_unknown_rule_and_bad_options_fail_clearly(config):
    with pytest.raises(CommandError, match="unknown rule 'Nope'"):
        call_command("rules", "run", "--rule", "Nope")
    with pytest.raises(CommandError, match="--as-of: not a date"):
        call_command("rules", "run", "--as-of", "tomorrow")
    with pytest.raises(CommandError, match="backtest: give one --rule"):
        call_command("rules", "backtest")
    assert not RuleResult.objects.exists()


def test_raising_the_same_rows_again_adds_nothing_even_in_the_same_run(make_account):
    accounts = [make_account() for _ in range(3)]
    renewal = CtaType.objects.get(name="Renewal")
    playbook = Playbook.objects.get(name="Upcoming Renewal")
    rows = [
        {
            "account_id": a.pk,
            "name": a.name,
            "owner_id": a.csm_id,
            "due_date": TODAY,
            "dedupe_key": f"k:{a.pk}",
        }
        for a in accounts
    ]
    run = RuleRun.objects.create(as_of=TODAY)
    options = dict(
        type=renewal,
        reason=renewal.reasons.get(),
        priority="high",
        playbook=playbook,
        source_ref="mine",
        rule_run_id=run.pk,
    )
    assert raise_ctas(rows, **options) == 3
    assert raise_ctas(rows, **options) == 0
    assert Cta.objects.count() == 3 and Task.objects.count() == 3 * len(playbook.tasks)
    assert AuditEntry.objects.filter(source="rule").count() == 3
    cta = Cta.objects.get(account=accounts[0])
    assert (cta.priority, cta.status.name, cta.source, cta.rule_run, cta.snooze_reason) == (
        "high",
        "New",
        "rule",
        run,
        "",
    )
    assert cta.created_at is not None and cta.tasks.get(position=1).owner is None  # renewals manager unset


def test_dry_run_counts_enrolments_without_the_skipped(make_account, contact_for, put_health):
    from csops.customers.models import Segment

    Rule.objects.exclude(name="90 day low licence utilisation journey").update(enabled=False)
    scale = Segment.objects.get(name="Scale")
    accounts = [make_account(segment=scale, contract_start=TODAY - dt.timedelta(days=120)) for _ in range(3)]
    contact_for(accounts[0], "GitLab Admin")
    contact_for(accounts[1], "Sold-to", email_opt_out=True)  # accounts[2] has no recipient at all
    for account in accounts:
        put_health(account, TODAY, license_utilization=(0.5, "yellow"))
    result = run_rules(as_of=TODAY, dry_run=True).results.get()
    assert result.audience == 3 and result.actions == {"enrol": 1}
    skips = sorted(str(row["skip"]) for row in result.sample[0]["rows"])
    assert skips == ["None", "no recipient", "opted out"]
    assert run_rules(as_of=TODAY).results.get().actions == {"enrol": 1}
    assert Enrolment.objects.get().account == accounts[0]


def test_two_whole_runs_at_once_raise_each_cta_once(transactional_db, make_account):
    """Two runners (threads, each with its own database and store connection) run every rule at
    once: they take turns on the store, and the database refuses the second of any CTA."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is meaningful on PostgreSQL (run in CI)")
    Rule.objects.exclude(name__in=["Upcoming renewal", "At-risk: red CSM sentiment"]).update(enabled=False)
    for i in range(10):
        make_account(renewal_date=TODAY + dt.timedelta(days=20 + i), csm_sentiment="red")
    barrier, runs, errors = threading.Barrier(2), [], []

    def runner() -> None:
        from django.db import connections

        from csops.usage import store

        try:
            barrier.wait()
            runs.append(run_rules(as_of=TODAY))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            store.close_all()
            connections.close_all()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(runs) == 2
    assert all(result.error == "" for run in runs for result in run.results.all())
    assert Cta.objects.count() == 20 and Task.objects.count() == 10 * (2 + 4)
    created = sorted(sum(r.actions.get("create_cta", 0) for r in run.results.all()) for run in runs)
    assert created == [0, 20]
