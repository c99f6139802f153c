"""The CS Ops request API: list with the board's filters and pagination, read, file, move; bad input
is a 422 naming the field, what is not the caller's to do a 403."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from csops.core.actions import create_token
from csops.core.models import User
from csops.requests import actions
from csops.requests.models import OpsRequest, State

JSON = "application/json"
URL = "/api/v1/requests"


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fields(response) -> dict[str, str]:
    return {".".join(map(str, e["loc"][-1:])): e["msg"] for e in response.json()["detail"]}


def test_file_read_and_list_with_a_token(people, gainsight):
    _, secret = create_token(people["requester"], actor=None)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.post(
        URL,
        content_type=JSON,
        data={
            "title": "Renewal risk report",
            "description": "Renewals this quarter with their risks.",
            "requester_label": "Growth",
            "workstream": "gainsight",
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["state"], created["state_label"], created["workstream"], created["requester"]) == (
        "triage",
        "Triage",
        "Gainsight",
        "quinn",
    )
    assert created["team_label"] == "CSOps" and created["moves"] == []  # the lead's to triage
    assert [t["to_state"] for t in created["transitions"]] == ["triage"]
    assert (
        api.get(f"{URL}/{created['id']}").json()["description"] == "Renewals this quarter with their risks."
    )
    listed = api.get(f"{URL}?state=triage&workstream=Gainsight&limit=10").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == created["id"]
    assert api.get(f"{URL}?state=in_process").json()["count"] == 0
    assert api.get(f"{URL}/999999").status_code == 404
    assert Client().get(URL).status_code == 401


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"title": " "}, "title", "Give the request a title."),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"description": ""}, "description", "Say what is needed"),
        ({"requester_label": "Boss"}, "requester_label", "Unknown requester label 'Boss'"),
        ({"team_label": "Nope"}, "team_label", "Unknown team label 'Nope'"),
        ({"workstream": "Nowhere"}, "workstream", "unknown workstream 'Nowhere'"),
        ({"due_date": "2020-01-01"}, "due_date", "is in the past"),
        ({"due_date": "soon"}, "due_date", "date"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(people, change, field, fragment):
    body = {"title": "Report", "description": "Needed", **change}
    response = login(people["requester"]).post(URL, content_type=JSON, data=body)
    assert response.status_code == 422, response.content
    errors = fields(response)
    assert field in errors and fragment in errors[field], errors
    assert not OpsRequest.objects.exists()


def test_move_along_the_workflow(at_state, people):
    request = at_state(State.IN_PROCESS)
    api = login(people["worker"])
    url = f"{URL}/{request.pk}/move"
    detail = api.get(f"{URL}/{request.pk}").json()
    assert detail["moves"] == ["need_more_info", "awaiting_feedback", "blocked", "monitoring", "completed"]
    refused = api.post(url, content_type=JSON, data={"to": "Awaiting Feedback"})
    assert refused.status_code == 422
    assert fields(refused) == {
        "resolution_summary": "Write the resolution summary before asking for feedback.",
        "reviewer": "Name the peer reviewer.",
    }
    same = api.post(
        url, content_type=JSON, data={"to": "awaiting_feedback", "reviewer": "wes", "resolution_summary": "x"}
    )
    assert "is the assignee" in fields(same)["reviewer"]
    moved = api.post(
        url,
        content_type=JSON,
        data={
            "to": "Awaiting Feedback",
            "reviewer": "rita@example.com",
            "resolution_summary": "Done",
            "note": "PTAL",
        },
    )
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert (body["state"], body["reviewer"], body["assignee"], body["resolution_summary"]) == (
        "awaiting_feedback",
        "rita",
        "wes",
        "Done",
    )
    assert body["transitions"][-1] == {
        **body["transitions"][-1],
        "to_state": "awaiting_feedback",
        "note": "PTAL",
    }
    illegal = api.post(url, content_type=JSON, data={"to": "backlog"})
    assert illegal.status_code == 422
    assert fields(illegal)["to"].startswith("A request does not move from Awaiting Feedback to Backlog.")
    unknown = api.post(url, content_type=JSON, data={"to": "Doing"})
    assert unknown.status_code == 422 and "unknown workflow label 'Doing'" in fields(unknown)["to"]
    nobody = api.post(url, content_type=JSON, data={"to": "completed", "reviewer": "nobody"})
    assert "unknown user 'nobody'" in fields(nobody)["reviewer"]
    checklist = api.post(url, content_type=JSON, data={"to": "completed"})
    assert checklist.status_code == 200 and checklist.json()["is_closed"]  # the fixture ticked it


def test_moves_that_are_not_the_callers_are_403s(at_state, people, users):
    request = at_state(State.IN_PROCESS)
    url = f"{URL}/{request.pk}/move"
    response = login(users["viewer"]).post(url, content_type=JSON, data={"to": "blocked"})
    assert response.status_code == 403 and "Only the assignee" in response.json()["detail"]
    response = login(people["worker"]).post(url, content_type=JSON, data={"to": "wont_do"})
    assert response.status_code == 403 and "Only the workstream lead (Lena)" in response.json()["detail"]
    assert OpsRequest.objects.get(pk=request.pk).state == State.IN_PROCESS
    assert login(people["lead"]).post(url, content_type=JSON, data={"to": "Won't Do"}).json()["is_closed"]


def test_the_lists_queries_are_pinned_and_it_pages(at_state, people, django_assert_max_num_queries):
    milestone = actions.create_milestone(
        actor=people["lead"], title="M1", start=dt.date(2026, 1, 5), due=dt.date(2026, 1, 30)
    )
    for state in (State.IN_PROCESS, State.BLOCKED, State.TRIAGE):
        request = at_state(state)
    actions.set_milestone(request, milestone, actor=people["admin"], today=dt.date(2026, 1, 12))
    api = login(people["lead"])
    with django_assert_max_num_queries(5):  # session, user, count, page, labels
        first = api.get(f"{URL}?limit=2").json()
    for state in (State.IN_PROCESS, State.BACKLOG) * 4:
        at_state(state)
    with django_assert_max_num_queries(5):
        page = api.get(f"{URL}?limit=5&offset=5").json()
    assert (
        first["count"] == 3 and len(first["items"]) == 2 and page["count"] == 11 and len(page["items"]) == 5
    )
    triaged = api.get(f"{URL}?state=triage").json()["items"][0]
    assert triaged["milestone"] == "M1" and triaged["labels"] == ["CSOps - Interrupt"]
    assert api.get(f"{URL}?limit=0").status_code == 422
    assert api.get(f"{URL}?state=doing").status_code == 422
    assert api.get(f"{URL}?closed_within=99999999999").status_code == 422
