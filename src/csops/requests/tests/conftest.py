"""Fixtures for the CS Ops request tests: the default workstreams with a lead, a worker and a
reviewer, and a helper that files a request and walks it to any workflow label."""

from __future__ import annotations

import pytest

from csops.core.models import Role, User
from csops.requests import actions
from csops.requests.models import OpsRequest, State, Workstream


@pytest.fixture
def people(users) -> dict[str, User]:
    def person(username: str, role: str = Role.CSM) -> User:
        return User.objects.create_user(
            username=username,
            password="pw-for-tests",
            role=role,
            first_name=username.title(),
            email=f"{username}@example.com",
        )

    return {
        "admin": users["admin"],
        "lead": person("lena"),
        "other_lead": person("omar"),
        "worker": person("wes"),
        "reviewer": person("rita"),
        "requester": person("quinn", Role.ACCOUNT_OWNER),
        "pool": users["pool"],
    }


@pytest.fixture
def gainsight(people) -> Workstream:
    workstream = Workstream.objects.get(name="Gainsight")
    workstream.lead = people["lead"]
    workstream.save()
    scale = Workstream.objects.get(name="Scale")
    scale.lead = people["other_lead"]
    scale.save()
    return workstream


# How to reach each label from Triage, and what the request needs on the way.
PATHS: dict[State, tuple[State, ...]] = {
    State.TRIAGE: (),
    State.READY_FOR_ASSIGNMENT: (State.READY_FOR_ASSIGNMENT,),
    State.NEED_MORE_INFO: (State.NEED_MORE_INFO,),
    State.UNASSIGNED: (State.READY_FOR_ASSIGNMENT, State.UNASSIGNED),
    State.IN_PROCESS: (State.READY_FOR_ASSIGNMENT, State.IN_PROCESS),
    State.AWAITING_FEEDBACK: (State.READY_FOR_ASSIGNMENT, State.IN_PROCESS, State.AWAITING_FEEDBACK),
    State.BLOCKED: (State.READY_FOR_ASSIGNMENT, State.IN_PROCESS, State.BLOCKED),
    State.MONITORING: (State.READY_FOR_ASSIGNMENT, State.IN_PROCESS, State.MONITORING),
    State.BACKLOG: (State.READY_FOR_ASSIGNMENT, State.BACKLOG),
    State.WONT_DO: (State.WONT_DO,),
    State.COMPLETED: (State.READY_FOR_ASSIGNMENT, State.IN_PROCESS, State.COMPLETED),
}


@pytest.fixture
def file(people):
    def make(title: str = "Add a field to the renewal CTA", **fields) -> OpsRequest:
        return actions.file_request(
            actor=fields.pop("actor", people["requester"]),
            title=title,
            description=fields.pop("description", "The renewal CTA needs the renewal date."),
            **fields,
        )

    return make


def tick_checklist(request: OpsRequest, people) -> OpsRequest:
    actions.update_checklist(
        request,
        actor=people["worker"],
        documentation_updated=True,
        changelog_entry="https://example.com/cl/1",
        stakeholders_notified=True,
        lead_notified=True,
    )
    if request.needs_peer_review:
        actions.update_checklist(request, actor=people["reviewer"], peer_review_done=True)
    return OpsRequest.objects.get(pk=request.pk)


@pytest.fixture
def at_state(file, gainsight, people):
    """A request walked from Triage to `state` along the workflow, ready for any legal next move
    (assigned, summarised, reviewer named, checklist ticked)."""

    def make(state: State, **fields) -> OpsRequest:
        request = file(**fields)
        path = PATHS[State(state)]
        if not path:
            return request
        request = actions.triage(
            request, actor=people["lead"], workstream=gainsight, to=path[0], assignee=people["worker"]
        )
        if not request.is_closed:
            request = tick_checklist(request, people)
        for step in path[1:]:
            request = actions.move(
                request,
                step,
                actor=people["lead" if step in actions.LEAD_DECISIONS else "worker"],
                reviewer=people["reviewer"],
                resolution_summary="Added the field and backfilled it.",
            )
        assert request.state == state
        return request

    return make
