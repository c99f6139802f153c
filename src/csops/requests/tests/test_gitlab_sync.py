"""The GitLab mirror against a real HTTP server on loopback (fake_gitlab): python-gitlab makes its
real requests; nothing of it is mocked. Push, pull, refused moves, idempotence, dry runs, the
crash-safe link, and the errors an operator sees."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from csops.core.calendar import business_today
from csops.core.models import User
from csops.requests import actions, gitlab
from csops.requests.models import GitLabLink, Milestone, OpsRequest, State
from csops.requests.tests.fake_gitlab import TOKEN, FakeGitLab


@pytest.fixture
def server(settings):
    with FakeGitLab() as fake:
        settings.CSOPS_GITLAB_URL, settings.CSOPS_GITLAB_TOKEN = fake.url, TOKEN
        settings.CSOPS_GITLAB_PROJECT = fake.project["path_with_namespace"]
        settings.CSOPS_GITLAB_WORKFLOW_SCOPE = "workflow"
        yield fake


@pytest.fixture
def ready(file, gainsight, people) -> OpsRequest:
    """A triaged request: Gainsight, weight 3, assigned to wes, in a milestone (an interrupt),
    requested by Scale."""
    request = file("Add the renewal date to the CTA", requester_label="Scale")
    today = business_today()  # the milestone started last week: joining it now is an interrupt
    milestone = Milestone.objects.create(title="FY27-Q4 W47", start=today - dt.timedelta(days=7),
                                         due=today + dt.timedelta(days=7))
    return actions.triage(request, actor=people["lead"], workstream=gainsight, weight=3,
                          assignee=people["worker"], milestone=milestone, team_label="Gainsight")


def issue_of(server: FakeGitLab, request: OpsRequest) -> dict:
    return server.issues[GitLabLink.objects.get(request=request).iid]


def test_a_push_creates_the_issue_with_its_scoped_workflow_label(server, ready):
    report = gitlab.sync()
    assert len(report.created) == 1 and not report.refused, report.lines()
    issue = issue_of(server, ready)
    assert issue["title"] == "Add the renewal date to the CTA"
    assert issue["labels"] == [
        "CSOps", "CSOps - Interrupt", "CSOps - Scale", "Gainsight", "workflow::Ready_for_Assignment"
    ]
    assert issue["weight"] == 3 and issue["assignees"][0]["username"] == "wes"
    assert issue["milestone"]["title"] == "FY27-Q4 W47" and issue["state"] == "opened"
    assert issue["description"].startswith("The renewal CTA needs the renewal date.")
    link = ready.gitlab_link
    assert (link.project, link.iid, link.web_url) == ("cs/ops", issue["iid"], issue["web_url"])
    assert link.issue_updated_at.isoformat().replace("+00:00", "Z") == issue["updated_at"]


def test_a_second_sync_with_nothing_new_writes_nothing(server, ready, file):
    file("Another request")
    gitlab.sync()
    writes = len(server.writes())
    report = gitlab.sync()
    assert not report.changed and not report.refused and report.lines() == []
    assert len(server.writes()) == writes
    assert report.summary().startswith("0 issue(s) created, 0 updated")


def test_csops_changes_are_pushed_and_closing_closes_the_issue(server, ready, people, file):
    doomed = file("Old idea")
    gitlab.sync()
    server.issues[issue_of(server, ready)["iid"]]["labels"].append("frontend")  # a GitLab-only label
    actions.move(ready, State.IN_PROCESS, actor=people["worker"])
    actions.set_weight(ready, 5, actor=people["worker"])
    actions.triage(doomed, actor=people["lead"], workstream=ready.workstream, to=State.WONT_DO)
    report = gitlab.sync()
    assert len(report.updated) == 2, report.lines()
    issue = issue_of(server, ready)
    assert issue["labels"] == [
        "CSOps", "CSOps - Interrupt", "CSOps - Scale", "Gainsight", "frontend", "workflow::In_Process"
    ]
    assert issue["weight"] == 5
    closed = issue_of(server, doomed)
    assert closed["state"] == "closed" and "workflow::Won't Do" in closed["labels"]


def test_a_relabelled_issue_moves_its_request(server, ready):
    gitlab.sync()
    iid = issue_of(server, ready)["iid"]
    server.relabel(iid, add=["workflow::In_Process"])
    report = gitlab.sync()
    moved = f"#{ready.pk} moved from Ready_for_Assignment to In_Process (issue #{iid} relabelled)."
    assert report.moved == [moved]
    ready.refresh_from_db()
    assert ready.state == State.IN_PROCESS
    last = ready.transitions.last()
    assert (last.from_state, last.to_state) == (State.READY_FOR_ASSIGNMENT, State.IN_PROCESS)
    assert last.actor is None
    assert f"issue #{iid}" in last.note
    writes = len(server.writes())
    again = gitlab.sync()
    assert not again.changed and len(server.writes()) == writes


def test_a_move_the_workflow_refuses_is_reported_and_the_issue_set_back(server, ready):
    gitlab.sync()
    iid = issue_of(server, ready)["iid"]
    server.relabel(iid, add=["workflow::Completed"], state_event="close")
    report = gitlab.sync()
    assert not report.moved and len(report.refused) == 1
    refusal = report.refused[0]
    assert refusal.startswith(f"#{ready.pk} not moved: issue #{iid}: workflow::Completed")
    assert "does not move from Ready_for_Assignment to Completed" in refusal
    assert refusal.endswith("The issue is set back to workflow::Ready_for_Assignment.")
    ready.refresh_from_db()
    assert ready.state == State.READY_FOR_ASSIGNMENT and ready.closed_at is None
    issue = server.issues[iid]
    assert "workflow::Ready_for_Assignment" in issue["labels"] and issue["state"] == "opened"
    assert not gitlab.sync().refused  # reported once, not at every sync


def test_a_move_missing_what_its_label_needs_is_refused_naming_it(server, file, gainsight, people):
    unassigned = actions.triage(file("No one on it"), actor=people["lead"], workstream=gainsight)
    gitlab.sync()
    server.relabel(issue_of(server, unassigned)["iid"], add=["workflow::In_Process"])
    report = gitlab.sync()
    assert len(report.refused) == 1 and "assignee: Assign" in report.refused[0]
    unassigned.refresh_from_db()
    assert unassigned.state == State.READY_FOR_ASSIGNMENT


def test_an_issue_opened_in_gitlab_becomes_a_request_in_triage(server, people, users):
    issue = server.open_issue("Dashboard of CTAs by segment", author="quinn", due_date="2099-01-31",
                              labels=["CSOps", "CS Analytics", "CSOps - Growth", "workflow::In_Process"],
                              description="For the Growth team's QBR.")
    stranger = server.open_issue("From someone csops does not know", author="nobody-here")
    report = gitlab.sync()
    assert len(report.filed) == 2, report.lines()
    request = OpsRequest.objects.get(gitlab_link__iid=issue["iid"])
    assert (request.title, request.description, request.requester) == (
        "Dashboard of CTAs by segment", "For the Growth team's QBR.", people["requester"]
    )
    assert (request.state, request.team_label) == (State.TRIAGE, "CS Analytics")
    assert request.requester_label == "Growth"
    assert str(request.due_date) == "2099-01-31"
    assert any("workflow::In_Process not applied" in line for line in report.notes)
    other = OpsRequest.objects.get(gitlab_link__iid=stranger["iid"])
    assert other.requester == users["admin"] and "GitLab author @nobody-here" in " ".join(report.filed)
    # The push then gives the issue its workflow label and the request's marker.
    labels = server.issues[issue["iid"]]["labels"]
    assert "workflow::Triage" in labels and "workflow::In_Process" not in labels
    assert server.issues[issue["iid"]]["description"].endswith(f"<!-- csops:request:{request.pk} -->")
    writes = len(server.writes())
    assert not gitlab.sync().changed and len(server.writes()) == writes


def test_an_issue_made_just_before_a_crash_is_linked_not_filed_again(server, ready):
    gitlab.sync()
    GitLabLink.objects.all().delete()  # the push made the issue but its link was never saved
    report = gitlab.sync()
    assert not report.filed and not report.created
    assert report.notes == [f"Issue #1 was made for request #{ready.pk}: linked to it."]
    assert OpsRequest.objects.count() == 1 and len(server.issues) == 1
    assert GitLabLink.objects.get().request == ready


def test_a_dry_run_says_what_would_happen_and_writes_nothing(server, ready, file):
    gitlab.sync()
    server.relabel(issue_of(server, ready)["iid"], add=["workflow::In_Process"])
    server.open_issue("New from GitLab", author="quinn")
    file("Only in csops")
    writes, links = len(server.writes()), GitLabLink.objects.count()
    report = gitlab.sync(dry_run=True)
    assert (len(report.moved), len(report.filed), len(report.created)) == (1, 1, 1), report.lines()
    assert report.summary().startswith("Dry run: 1 issue(s) would be created")
    assert len(server.writes()) == writes and GitLabLink.objects.count() == links
    ready.refresh_from_db()
    assert ready.state == State.READY_FOR_ASSIGNMENT and OpsRequest.objects.count() == 2
    real = gitlab.sync()
    assert (len(real.moved), len(real.filed), len(real.created)) == (1, 1, 1)


def test_the_command_prints_the_report_and_fails_with_one_line_on_a_bad_token(server, ready, settings,
                                                                               capsys):
    call_command("requests", "sync-gitlab", "--dry-run")
    out = capsys.readouterr().out
    assert f"#{ready.pk} 'Add the renewal date to the CTA' → a new issue" in out and "Dry run:" in out
    assert not server.issues
    settings.CSOPS_GITLAB_TOKEN = "glpat-wrong"
    with pytest.raises(CommandError) as caught:
        call_command("requests", "sync-gitlab")
    message = str(caught.value)
    assert "refused the token (401)" in message and "CSOPS_GITLAB_TOKEN" in message and "\n" not in message


def test_the_other_errors_an_operator_sees(server, settings, users):
    settings.CSOPS_GITLAB_PROJECT = "cs/nope"
    with pytest.raises(gitlab.GitLabSyncError, match=r"no project 'cs/nope'.*CSOPS_GITLAB_PROJECT"):
        gitlab.sync()
    settings.CSOPS_GITLAB_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(gitlab.GitLabSyncError, match="cannot be reached"):
        gitlab.sync()
    settings.CSOPS_GITLAB_URL = ""
    with pytest.raises(CommandError, match="not configured: set CSOPS_GITLAB_URL"):
        call_command("requests", "sync-gitlab")
    from csops.requests.tasks import sync_gitlab

    assert sync_gitlab.call() == "GitLab sync not configured: skipped"


def test_the_scheduled_task_syncs(server, ready):
    from csops.requests.tasks import sync_gitlab

    assert sync_gitlab.call().startswith("1 issue(s) created")
    assert GitLabLink.objects.filter(request=ready).exists()


def test_workflow_labels_are_read_loosely_and_the_scope_is_a_setting(settings):
    assert gitlab.state_of(["CSOps", "workflow::In Process"]) == (State.IN_PROCESS, "workflow::In Process")
    assert gitlab.state_of(["workflow::Won\u2019t Do"])[0] == State.WONT_DO
    assert gitlab.state_of(["workflow::Sleeping"]) == (None, "workflow::Sleeping")
    assert gitlab.state_of(["CSOps"]) == (None, None)
    settings.CSOPS_GITLAB_WORKFLOW_SCOPE = "CSOps"
    assert gitlab.workflow_label(State.AWAITING_FEEDBACK) == "CSOps::Awaiting Feedback"
    assert gitlab.state_of(["CSOps::Awaiting Feedback"])[0] == State.AWAITING_FEEDBACK


def test_people_missing_in_gitlab_are_noted_not_fatal(server, file, gainsight, people):
    User.objects.filter(pk=people["worker"].pk).update(username="wes-not-in-gitlab")
    request = actions.triage(file("x"), actor=people["lead"], workstream=gainsight, assignee=people["worker"])
    report = gitlab.sync()
    assert len(report.created) == 1 and any("no user 'wes-not-in-gitlab'" in n for n in report.notes)
    assert issue_of(server, request)["assignees"] == []
