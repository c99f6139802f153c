"""CS Ops requests: intake, triage by the lead, the explicit workflow, weights, the closing checklist
and interrupts, each rule at its boundary."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from csops.core.models import AuditEntry
from csops.requests import actions
from csops.requests.actions import CHECKLIST, TRANSITIONS
from csops.requests.models import OpsRequest, RequestTransition, State, TeamLabel, Workstream

from .conftest import PATHS, tick_checklist


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


def move_kwargs(people, actor: str = "worker") -> dict:
    return {"actor": people[actor], "reviewer": people["reviewer"], "resolution_summary": "Done: see MR."}


# --- intake --------------------------------------------------------------------------------------------


def test_anyone_files_and_a_new_request_has_only_the_team_label(file, people, users):
    request = file(requester_label="CSM")
    assert (request.state, request.team_label, request.workstream, request.requester) == (
        State.TRIAGE,
        TeamLabel.CSOPS,
        None,
        people["requester"],
    )
    assert (request.weight, request.assignee, request.milestone, request.interrupt) == (
        None,
        None,
        None,
        False,
    )
    assert list(request.transitions.values_list("from_state", "to_state")) == [("", State.TRIAGE)]
    assert AuditEntry.objects.filter(object_id=str(request.pk), verb="create").exists()
    assert file(actor=users["viewer"]).requester == users["viewer"]  # a read-only viewer files too


def test_filing_names_each_missing_field(file, people):
    errors = refusal(
        lambda: file(
            title=" ",
            description="",
            requester_label="Nobody",
            team_label="Nope",
            due_date=dt.date(2026, 11, 22),
            today=dt.date(2026, 11, 23),
        )
    )
    assert set(errors) == {"title", "description", "requester_label", "team_label", "due_date"}
    assert errors["due_date"] == ["The due date 2026-11-22 is in the past."]
    assert "requester" in refusal(lambda: file(actor=people["pool"]))
    assert not OpsRequest.objects.exists()


def test_the_requester_may_name_the_team_a_workstream_and_a_due_date(file, gainsight, people):
    request = file(
        team_label=TeamLabel.GAINSIGHT_BUG,
        workstream=gainsight,
        due_date=dt.date(2026, 11, 23),
        today=dt.date(2026, 11, 23),
    )
    assert (request.state, request.team_label, request.workstream, request.due_date) == (
        State.TRIAGE,
        TeamLabel.GAINSIGHT_BUG,
        gainsight,
        dt.date(2026, 11, 23),
    )
    # Named, the workstream routes it to its lead, who still decides where it goes.
    errors = refusal(lambda: actions.move(request, State.READY_FOR_ASSIGNMENT, actor=people["other_lead"]))
    assert "the workstream lead" in errors["actor"][0]
    assert actions.move(request, State.NEED_MORE_INFO, actor=people["lead"]).state == State.NEED_MORE_INFO


def test_the_requester_and_the_people_on_it_comment(at_state, people):
    request = at_state(State.NEED_MORE_INFO)
    comment = actions.add_comment(request, actor=people["requester"], body=" The field is renewal_date. ")
    assert (comment.author, comment.body, comment.policy) == (
        people["requester"],
        "The field is renewal_date.",
        "",
    )
    actions.add_comment(request, actor=people["lead"], body="Thanks")
    errors = refusal(lambda: actions.add_comment(request, actor=people["other_lead"], body=" "))
    assert set(errors) == {"actor", "body"}
    assert [c.body for c in request.comments.all()] == ["The field is renewal_date.", "Thanks"]


def test_the_default_workstreams(config):
    names = set(Workstream.objects.values_list("name", flat=True))
    assert names == {"Gainsight", "Scale", "Digital", "Renewal Ops", "Technical Writing", "Analytics"}
    assert not Workstream.objects.filter(lead__isnull=False).exists()


# --- triage --------------------------------------------------------------------------------------------


def test_only_the_workstreams_lead_or_an_admin_triages(file, gainsight, people):
    request = file()
    for outsider in ("other_lead", "worker", "requester"):
        errors = refusal(lambda p=people[outsider]: actions.triage(request, actor=p, workstream=gainsight))
        assert "Only the lead of Gainsight triages" in errors["actor"][0]
    assert OpsRequest.objects.get(pk=request.pk).state == State.TRIAGE
    triaged = actions.triage(
        request,
        actor=people["lead"],
        workstream=gainsight,
        weight=3,
        team_label=TeamLabel.GAINSIGHT_BUG,
        assignee=people["worker"],
    )
    assert (triaged.state, triaged.workstream, triaged.weight, triaged.team_label, triaged.assignee) == (
        State.READY_FOR_ASSIGNMENT,
        gainsight,
        3,
        TeamLabel.GAINSIGHT_BUG,
        people["worker"],
    )
    assert (
        "triaged already"
        in refusal(lambda: actions.triage(triaged, actor=people["lead"], workstream=gainsight))["state"][0]
    )
    # An admin triages for any workstream, also one without a lead.
    digital = Workstream.objects.get(name="Digital")
    assert actions.triage(file(), actor=people["admin"], workstream=digital).workstream == digital
    assert (
        "Only the lead of Digital"
        in refusal(lambda: actions.triage(file(), actor=people["lead"], workstream=digital))["actor"][0]
    )


def test_triage_goes_only_where_triage_may(file, gainsight, people):
    errors = refusal(
        lambda: actions.triage(file(), actor=people["lead"], workstream=gainsight, to=State.IN_PROCESS)
    )
    assert errors["state"] == [
        "A request does not move from Triage to In_Process. From Triage a request moves to: "
        "Ready_for_Assignment, Need_More_Info, Unassigned, Monitoring, Backlog, Won't Do."
    ]


@pytest.mark.parametrize("to", [State.UNASSIGNED, State.MONITORING, State.BACKLOG])
def test_the_weekly_review_also_defers_transfers_or_parks_without_capacity(to, file, gainsight, people):
    request = actions.triage(file(), actor=people["lead"], workstream=gainsight, to=to, note="review")
    assert (request.state, request.workstream, request.is_closed) == (to, gainsight, False)


def test_an_untriaged_request_does_not_leave_triage_by_a_move(file, people):
    errors = refusal(lambda: actions.move(file(), State.READY_FOR_ASSIGNMENT, actor=people["admin"]))
    assert "its lead triages it first" in errors["workstream"][0]


# --- the transition table ------------------------------------------------------------------------------


def test_the_table_covers_every_label_and_only_closed_labels_are_dead_ends():
    assert set(TRANSITIONS) == set(State)
    assert {s for s, to in TRANSITIONS.items() if not to} == {State.WONT_DO, State.COMPLETED}
    # Only a deferred request comes back to the lead's weekly review.
    assert [s for s, to in TRANSITIONS.items() if State.TRIAGE in to] == [State.BACKLOG]
    # Work under review is not dropped from there: it goes back to In_Process first.
    assert State.WONT_DO not in TRANSITIONS[State.AWAITING_FEEDBACK]
    # Completed only after work: In_Process, its review, or another team's (Monitoring).
    assert {s for s, to in TRANSITIONS.items() if State.COMPLETED in to} == {
        State.IN_PROCESS,
        State.AWAITING_FEEDBACK,
        State.MONITORING,
    }


@pytest.mark.parametrize("from_state", list(State))
def test_every_illegal_move_is_refused_naming_the_allowed_ones(from_state, at_state, people):
    request = at_state(from_state)
    allowed = TRANSITIONS[from_state]
    for to in State:
        if to in allowed:
            continue
        errors = refusal(lambda to=to: actions.move(request, to, **move_kwargs(people, "admin")))
        message = errors["state"][0]
        if allowed:
            assert message.endswith(
                f"From {from_state.label} a request moves to: {', '.join(s.label for s in allowed)}."
            ), message
        else:
            assert message == f"A {from_state.label} request is closed: it moves nowhere."
        assert OpsRequest.objects.get(pk=request.pk).state == from_state
    assert RequestTransition.objects.filter(request=request).count() == len(PATHS[from_state]) + 1


@pytest.mark.parametrize("from_state", [s for s in State if s != State.TRIAGE and TRANSITIONS[s]])
def test_every_legal_move_is_made_and_recorded(from_state, at_state, people):
    for to in TRANSITIONS[from_state]:
        who = "lead" if to in actions.LEAD_DECISIONS else "worker"
        request = actions.move(at_state(from_state), to, note="why", **move_kwargs(people, who))
        assert request.state == to
        assert (request.closed_at is not None) == (to in (State.WONT_DO, State.COMPLETED))
        last = request.transitions.last()
        assert (last.from_state, last.to_state, last.actor, last.note) == (
            from_state,
            to,
            people[who],
            "why",
        )


@pytest.mark.parametrize("to", sorted(actions.LEAD_DECISIONS - {State.TRIAGE}))
def test_deferring_parking_and_declining_are_the_leads_decisions(to, at_state, people):
    request = at_state(State.READY_FOR_ASSIGNMENT)
    errors = refusal(lambda: actions.move(request, to, actor=people["worker"]))
    assert errors["actor"] == [
        f"Only the workstream lead (Lena) or a CS Ops admin moves a request to {to.label}."
    ]
    assert actions.moves_for(people["worker"], request) == [
        State.NEED_MORE_INFO,
        State.IN_PROCESS,
        State.MONITORING,
    ]
    assert actions.move(request, to, actor=people["lead"]).state == to
    assert actions.move(at_state(State.READY_FOR_ASSIGNMENT), to, actor=people["admin"]).state == to


def test_a_deferred_request_comes_back_to_the_leads_review(at_state, people):
    request = at_state(State.BACKLOG)
    assert (
        "moves a request to Triage"
        in refusal(lambda: actions.move(request, State.TRIAGE, actor=people["worker"]))["actor"][0]
    )
    request = actions.move(request, State.TRIAGE, actor=people["lead"], note="Next quarter is here")
    assert (request.state, request.workstream.name, request.assignee) == (
        State.TRIAGE,
        "Gainsight",
        people["worker"],
    )
    # From Triage again, only the lead moves it on: the assignee does not skip the review.
    assert (
        "triages"
        in refusal(lambda: actions.move(request, State.READY_FOR_ASSIGNMENT, actor=people["worker"]))[
            "actor"
        ][0]
    )
    assert actions.move(request, State.READY_FOR_ASSIGNMENT, actor=people["lead"]).state == (
        State.READY_FOR_ASSIGNMENT
    )


def test_a_review_that_was_blocked_resumes_awaiting_feedback(at_state, people):
    request = actions.move(at_state(State.AWAITING_FEEDBACK), State.BLOCKED, actor=people["reviewer"])
    request = actions.move(request, State.AWAITING_FEEDBACK, actor=people["worker"])
    assert (request.state, request.reviewer, request.resolution_summary) == (
        State.AWAITING_FEEDBACK,
        people["reviewer"],
        "Added the field and backfilled it.",
    )
    # Blocked while in process, it still needs the summary and the reviewer to ask for feedback.
    blocked = at_state(State.BLOCKED)
    assert set(refusal(lambda: actions.move(blocked, State.AWAITING_FEEDBACK, actor=people["worker"]))) == {
        "resolution_summary",
        "reviewer",
    }


def test_won_t_do_closes(at_state, people):
    request = actions.move(at_state(State.BACKLOG), State.WONT_DO, actor=people["lead"], note="Out of scope")
    assert request.closed_at is not None and request.is_closed
    assert "closed" in refusal(lambda: actions.set_weight(request, 3, actor=people["lead"]))["state"][0]


def test_only_people_on_the_request_move_it(at_state, people):
    request = at_state(State.IN_PROCESS)
    assert (
        "Only the assignee"
        in refusal(lambda: actions.move(request, State.BLOCKED, actor=people["requester"]))["actor"][0]
    )
    for who in ("lead", "admin", "worker"):
        request = actions.move(request, State.BLOCKED, actor=people[who])
        request = actions.move(request, State.IN_PROCESS, actor=people[who])


def test_in_process_needs_an_assignee(file, gainsight, people):
    request = actions.triage(file(), actor=people["lead"], workstream=gainsight)
    assert (
        "Assign"
        in refusal(lambda: actions.move(request, State.IN_PROCESS, actor=people["lead"]))["assignee"][0]
    )
    actions.assign(request, people["worker"], actor=people["lead"])
    assert actions.move(request, State.IN_PROCESS, actor=people["worker"]).state == State.IN_PROCESS


# --- awaiting feedback ---------------------------------------------------------------------------------


def test_awaiting_feedback_needs_a_summary_and_a_named_reviewer_who_is_not_the_assignee(at_state, people):
    request = at_state(State.IN_PROCESS)
    worker = people["worker"]
    errors = refusal(lambda: actions.move(request, State.AWAITING_FEEDBACK, actor=worker))
    assert set(errors) == {"resolution_summary", "reviewer"}
    errors = refusal(
        lambda: actions.move(request, State.AWAITING_FEEDBACK, actor=worker, reviewer=people["reviewer"])
    )
    assert set(errors) == {"resolution_summary"}
    errors = refusal(
        lambda: actions.move(request, State.AWAITING_FEEDBACK, actor=worker, resolution_summary="Done")
    )
    assert set(errors) == {"reviewer"}
    errors = refusal(
        lambda: actions.move(
            request, State.AWAITING_FEEDBACK, actor=worker, resolution_summary="Done", reviewer=worker
        )
    )
    assert "is the assignee" in errors["reviewer"][0]
    errors = refusal(
        lambda: actions.move(
            request, State.AWAITING_FEEDBACK, actor=worker, resolution_summary="Done", reviewer=people["pool"]
        )
    )
    assert "a pool" in errors["reviewer"][0]
    assert OpsRequest.objects.get(pk=request.pk).state == State.IN_PROCESS
    request = actions.move(
        request,
        State.AWAITING_FEEDBACK,
        actor=worker,
        resolution_summary=" Added the field. ",
        reviewer=people["reviewer"],
    )
    assert (request.state, request.resolution_summary, request.reviewer, request.assignee) == (
        State.AWAITING_FEEDBACK,
        "Added the field.",
        people["reviewer"],
        worker,  # the owner stays assignee
    )


# --- the closing checklist -----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", list(CHECKLIST))
def test_completing_without_each_checklist_item_is_refused_naming_it(missing, file, gainsight, people):
    request = file()
    OpsRequest.objects.filter(pk=request.pk).update(needs_peer_review=True)
    request = actions.triage(request, actor=people["lead"], workstream=gainsight, assignee=people["worker"])
    request = actions.move(request, State.IN_PROCESS, actor=people["worker"])
    request = actions.move(request, State.AWAITING_FEEDBACK, **move_kwargs(people))
    request = tick_checklist(request, people)
    untick = {missing: "" if missing == "changelog_entry" else False}
    actor = people["reviewer"] if missing == "peer_review_done" else people["worker"]
    actions.update_checklist(request, actor=actor, **untick)
    errors = refusal(lambda: actions.move(request, State.COMPLETED, actor=people["reviewer"]))
    assert errors == {missing: [CHECKLIST[missing]]}
    assert OpsRequest.objects.get(pk=request.pk).closed_at is None
    actions.update_checklist(
        request, actor=actor, **{missing: True if missing != "changelog_entry" else "CL-7"}
    )
    request = actions.move(request, State.COMPLETED, actor=people["reviewer"])
    assert request.state == State.COMPLETED and request.closed_at is not None


def test_an_empty_checklist_names_every_item(at_state, file, gainsight, people):
    request = actions.triage(file(), actor=people["lead"], workstream=gainsight, assignee=people["worker"])
    request = actions.move(request, State.IN_PROCESS, actor=people["worker"])
    errors = refusal(lambda: actions.move(request, State.COMPLETED, actor=people["worker"]))
    # Peer review is required only when the request changes a rule or data object.
    assert set(errors) == set(CHECKLIST) - {"peer_review_done"}


def test_peer_review_is_ticked_by_the_reviewer_not_the_assignee(at_state, people):
    request = at_state(State.IN_PROCESS)
    assert (
        "Name the reviewer"
        in refusal(lambda: actions.update_checklist(request, actor=people["worker"], peer_review_done=True))[
            "peer_review_done"
        ][0]
    )
    request = actions.move(request, State.AWAITING_FEEDBACK, **move_kwargs(people))
    assert (
        "Only the reviewer"
        in refusal(lambda: actions.update_checklist(request, actor=people["worker"], peer_review_done=True))[
            "peer_review_done"
        ][0]
    )
    assert actions.update_checklist(request, actor=people["reviewer"], peer_review_done=True).peer_review_done


# --- weight --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [1, 3, 5, 7])
def test_weights_1_3_5_7_are_accepted(weight, at_state, people):
    request = actions.set_weight(at_state(State.IN_PROCESS), weight, actor=people["worker"])
    assert OpsRequest.objects.get(pk=request.pk).weight == weight


@pytest.mark.parametrize(
    "weight, says",
    [
        (2, "The weight is 1, 3, 5 or 7"),
        (9, "split it into an epic of requests"),
        (8, "split it into an epic of requests"),
        (0, "The weight is 1, 3, 5 or 7"),
        (4, "The weight is 1, 3, 5 or 7"),
        (-1, "The weight is 1, 3, 5 or 7"),
    ],
)
def test_other_weights_are_refused(weight, says, at_state, file, gainsight, people):
    request = actions.set_weight(at_state(State.IN_PROCESS), 5, actor=people["worker"])
    errors = refusal(lambda: actions.set_weight(request, weight, actor=people["worker"]))
    assert says in errors["weight"][0]
    assert OpsRequest.objects.get(pk=request.pk).weight == 5
    assert (
        says
        in refusal(lambda: actions.triage(file(), actor=people["lead"], workstream=gainsight, weight=weight))[
            "weight"
        ][0]
    )


# --- milestones and interrupts -------------------------------------------------------------------------


def test_joining_a_milestone_after_its_start_marks_an_interrupt(at_state, people):
    milestone = actions.create_milestone(
        actor=people["admin"], title="FY27-Q4 M1", start=dt.date(2026, 11, 2), due=dt.date(2026, 11, 27)
    )
    before, on_start, after = at_state(State.BACKLOG), at_state(State.BACKLOG), at_state(State.BACKLOG)
    lead = people["lead"]
    assert not actions.set_milestone(before, milestone, actor=lead, today=dt.date(2026, 10, 30)).interrupt
    assert not actions.set_milestone(on_start, milestone, actor=lead, today=dt.date(2026, 11, 2)).interrupt
    assert actions.set_milestone(after, milestone, actor=lead, today=dt.date(2026, 11, 3)).interrupt
    # Staying in it changes nothing; leaving it for a milestone not yet started is no interrupt.
    assert not actions.set_milestone(before, milestone, actor=lead, today=dt.date(2026, 11, 20)).interrupt
    later = actions.create_milestone(
        actor=lead, title="FY27-Q4 M2", start=dt.date(2026, 11, 30), due=dt.date(2026, 12, 18)
    )
    assert not actions.set_milestone(after, later, actor=lead, today=dt.date(2026, 11, 20)).interrupt
    assert (
        "Only a workstream lead"
        in refusal(
            lambda: actions.create_milestone(
                actor=people["worker"], title="x", start=dt.date(2026, 1, 1), due=dt.date(2026, 1, 2)
            )
        )["actor"][0]
    )


def test_triage_into_a_started_milestone_is_an_interrupt(file, gainsight, people):
    milestone = actions.create_milestone(
        actor=people["lead"], title="M1", start=dt.date(2026, 11, 2), due=dt.date(2026, 11, 27)
    )
    request = actions.triage(
        file(), actor=people["lead"], workstream=gainsight, milestone=milestone, today=dt.date(2026, 11, 10)
    )
    assert request.interrupt and request.milestone == milestone


def test_epics_belong_to_one_workstream(file, gainsight, people):
    epic = actions.create_epic(actor=people["lead"], workstream=gainsight, title="Renewal CTA rebuild")
    scale = Workstream.objects.get(name="Scale")
    errors = refusal(lambda: actions.triage(file(), actor=people["admin"], workstream=scale, epic=epic))
    assert "belongs to Gainsight" in errors["epic"][0]
    assert actions.triage(file(), actor=people["lead"], workstream=gainsight, epic=epic).epic == epic
    assert (
        "Only the lead of Scale"
        in refusal(lambda: actions.create_epic(actor=people["lead"], workstream=scale, title="x"))["actor"][0]
    )
