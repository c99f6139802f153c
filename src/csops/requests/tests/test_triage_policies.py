"""Triage policies: the three defaults fire on exactly the right requests, once a day however often
they run; conditions on labels and actions label and close; a policy is validated as configuration."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml

from csops.core.calendar import business_zone
from csops.core.configuration import ConfigError, apply_configuration, default_directory
from csops.core.models import AuditEntry
from csops.requests import actions
from csops.requests.models import OpsRequest, RequestComment, RequestLabel, State, TriagePolicy, Workstream
from csops.requests.triage import run_triage

MONDAY = dt.date(2026, 11, 23)
NUDGE, FLAG, SUMMARY = (
    "Nudge Need_More_Info after 7 days",
    "Flag In_Process without weight",
    "Weekly summary per workstream",
)


def entered(request: OpsRequest, days_ago: int, today: dt.date = MONDAY) -> OpsRequest:
    """Pretend the request took its label `days_ago` days before `today`, late in the day."""
    at = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(23, 30), tzinfo=business_zone())
    OpsRequest.objects.filter(pk=request.pk).update(state_changed_at=at)
    return request


def comments(policy: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for c in RequestComment.objects.filter(policy=policy).order_by("pk"):
        found.setdefault(c.request_id, []).append(c.body)
    return found


def test_the_defaults_are_loaded(config):
    assert set(TriagePolicy.objects.values_list("name", flat=True)) == {NUDGE, FLAG, SUMMARY}


def test_nudge_need_more_info_after_7_days_once_a_day(at_state, people):
    seven = entered(at_state(State.NEED_MORE_INFO), 7)
    ten = entered(at_state(State.NEED_MORE_INFO), 10)
    six = entered(at_state(State.NEED_MORE_INFO), 6)  # not yet
    entered(at_state(State.BLOCKED), 30)  # another label
    closed = at_state(State.NEED_MORE_INFO)
    actions.move(closed, State.WONT_DO, actor=people["lead"])
    entered(closed, 30)  # closed requests are left alone

    report = run_triage(MONDAY)
    assert sorted(report[NUDGE].matched) == sorted(report[NUDGE].commented) == sorted([seven.pk, ten.pk])
    bodies = comments(NUDGE)
    assert set(bodies) == {seven.pk, ten.pk}
    assert bodies[seven.pk][0].startswith("@quinn This request has waited for more information for 7 days.")

    again = run_triage(MONDAY)  # a re-run the same day comments nothing
    assert sorted(again[NUDGE].matched) == sorted([seven.pk, ten.pk]) and again[NUDGE].commented == []
    assert RequestComment.objects.filter(policy=NUDGE).count() == 2
    assert AuditEntry.objects.filter(source="triage", object_repr__startswith="Comment").count() == 2

    tuesday = run_triage(MONDAY + dt.timedelta(days=1))  # a new day: a new nudge, and six is seven now
    assert sorted(tuesday[NUDGE].commented) == sorted([seven.pk, ten.pk, six.pk])
    assert RequestComment.objects.filter(policy=NUDGE).count() == 5


def test_a_move_restarts_the_clock(at_state, people):
    request = entered(at_state(State.NEED_MORE_INFO), 9)
    actions.move(request, State.READY_FOR_ASSIGNMENT, actor=people["lead"])
    actions.move(request, State.NEED_MORE_INFO, actor=people["lead"])
    assert run_triage(MONDAY)[NUDGE].matched == []


def test_flag_in_process_without_weight(at_state, people):
    unweighted = at_state(State.IN_PROCESS)
    weighted = actions.set_weight(at_state(State.IN_PROCESS), 3, actor=people["worker"])
    at_state(State.READY_FOR_ASSIGNMENT)  # no weight, but not in process
    at_state(State.BLOCKED)

    report = run_triage(MONDAY)
    assert report[FLAG].matched == report[FLAG].commented == [unweighted.pk]
    assert comments(FLAG)[unweighted.pk][0].startswith("@wes This request is In_Process without a weight")
    assert weighted.pk not in comments(FLAG)
    assert run_triage(MONDAY)[FLAG].commented == []
    actions.set_weight(unweighted, 5, actor=people["worker"])
    assert run_triage(MONDAY + dt.timedelta(days=1))[FLAG].matched == []


def test_weekly_summary_per_workstream_on_mondays(at_state, file, people):
    scale = Workstream.objects.get(name="Scale")
    gainsight_open = [at_state(State.IN_PROCESS), at_state(State.BACKLOG)]
    at_state(State.COMPLETED)
    scale_open = actions.triage(file("Scale pool report"), actor=people["other_lead"], workstream=scale)
    new = file("Untriaged")

    report = run_triage(MONDAY)
    summary = report[SUMMARY].summary
    assert set(summary) == {"Gainsight", "Scale", "Not triaged"}
    assert [x.pk for x in summary["Gainsight"]] == sorted(r.pk for r in gainsight_open)
    assert [(x.pk, x.state) for x in summary["Scale"]] == [(scale_open.pk, "Ready_for_Assignment")]
    assert [x.pk for x in summary["Not triaged"]] == [new.pk]
    assert report[SUMMARY].commented == [] and not RequestComment.objects.filter(policy=SUMMARY).exists()
    text = report.text()
    assert (
        "Gainsight (2 open)" in text and f"#{scale_open.pk} [Ready_for_Assignment] Scale pool report" in text
    )

    tuesday = run_triage(MONDAY + dt.timedelta(days=1))
    assert tuesday[SUMMARY].skipped == "runs on Mondays" and tuesday[SUMMARY].summary == {}


def test_conditions_on_labels_and_actions_label_and_close(config, at_state, file, people):
    TriagePolicy.objects.create(
        name="Close stale Slack questions",
        labels=["Slack-Questions"],
        older_than_days=14,
        label="stale",
        close=True,
        comment="Closed after 14 days without activity.",
        mention=["requester", "lead"],
    )
    stale = entered(at_state(State.BACKLOG, requester_label="Slack-Questions"), 14)
    stuck = entered(at_state(State.AWAITING_FEEDBACK, requester_label="Slack-Questions"), 20)
    entered(at_state(State.BACKLOG, requester_label="CSM"), 30)  # another label
    entered(at_state(State.BACKLOG, requester_label="Slack-Questions"), 13)  # too young

    report = run_triage(MONDAY)
    result = report["Close stale Slack questions"]
    assert sorted(result.matched) == sorted(result.labelled) == sorted([stale.pk, stuck.pk])
    assert result.closed == [stale.pk]
    assert (
        "From Awaiting Feedback a request moves to: In_Process, Blocked, Completed."
        in result.refused[stuck.pk]
    )
    stale.refresh_from_db()
    assert (stale.state, stale.is_closed) == (State.WONT_DO, True)
    assert stale.transitions.last().actor is None and "triage policy" in stale.transitions.last().note
    assert comments("Close stale Slack questions")[stale.pk] == [
        "@quinn @lena Closed after 14 days without activity."
    ]
    assert set(RequestLabel.objects.filter(name="stale").values_list("request_id", flat=True)) == {
        stale.pk,
        stuck.pk,
    }

    again = run_triage(MONDAY)["Close stale Slack questions"]
    assert again.matched == [stuck.pk] and again.labelled == again.commented == again.closed == []
    assert RequestLabel.objects.filter(name="stale").count() == 2


def test_conditions_on_free_labels_and_interrupt(config, at_state, people):
    TriagePolicy.objects.create(
        name="Stale interrupts", labels=["stale", "CSOps - Interrupt"], summarise=True
    )
    both = at_state(State.BACKLOG)
    milestone = actions.create_milestone(actor=people["admin"], title="M", start=MONDAY, due=MONDAY)
    actions.set_milestone(both, milestone, actor=people["lead"], today=MONDAY + dt.timedelta(days=1))
    RequestLabel.objects.create(request=both, name="stale")
    only_label = at_state(State.BACKLOG)
    RequestLabel.objects.create(request=only_label, name="stale")
    assert run_triage(MONDAY)["Stale interrupts"].matched == [both.pk]


@pytest.mark.parametrize(
    "policy, message",
    [
        ({"name": "Nothing"}, "A policy needs an action"),
        ({"name": "Bad mention", "comment": "Hi", "mention": ["boss"]}, "mention: A list of: requester"),
        ({"name": "Closed", "state": "completed", "summarise": True}, "open requests only"),
        (
            {"name": "Bad state", "state": "doing", "summarise": True},
            "state: Value 'doing' is not a valid choice",
        ),
        ({"name": "Labels", "labels": "stale", "summarise": True}, "labels: A list of label names"),
    ],
)
def test_a_policy_is_checked_when_applied(config, tmp_path, policy, message):
    shutil.copy(default_directory() / "triage_policies.yaml", tmp_path)
    path = tmp_path / "triage_policies.yaml"
    items = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump([*items, policy]))
    with pytest.raises(ConfigError, match=message):
        apply_configuration(tmp_path)


def test_policies_and_workstream_leads_are_configuration(config, tmp_path, people):
    shutil.copy(default_directory() / "workstreams.yaml", tmp_path)
    path = tmp_path / "workstreams.yaml"
    items = yaml.safe_load(path.read_text())
    items[0]["lead"] = "lena"
    path.write_text(yaml.safe_dump(items))
    result = apply_configuration(tmp_path, message="Lena leads Gainsight")
    assert [(d.kind, d.key, d.verb) for d in result.diffs] == [("workstreams", "Gainsight", "update")]
    assert Workstream.objects.get(name="Gainsight").lead == people["lead"]
    assert apply_configuration(tmp_path).diffs == []
