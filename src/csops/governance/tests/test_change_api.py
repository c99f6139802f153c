"""The change request API: propose, read, review, the changelog; refusals as 422s naming the field."""

from __future__ import annotations

import pytest
from django.test import Client

from csops.core.configuration import REGISTRY, dump_object
from csops.core.models import Role, User
from csops.governance.models import ChangeRequest
from csops.rules.models import Rule

JSON = "application/json"
RULE = "Upcoming renewal"


@pytest.fixture
def reviewer(users) -> Client:
    client = Client()
    client.force_login(User.objects.create_user(username="admin-2", password="pw", role=Role.ADMIN))
    return client


def rule_definition(**changes) -> dict:
    return {**dump_object(REGISTRY["rules"], Rule.objects.get(name=RULE)), **changes}


def test_propose_review_and_read_the_changelog(client_as, reviewer):
    admin = client_as("admin")
    body = {
        "title": "Three months out",
        "why": "CSMs asked.",
        "objects": [{"kind": "rules", "key": RULE, "definition": rule_definition(description="3 months.")}],
    }
    response = admin.post("/api/v1/changes", body, content_type=JSON)
    assert response.status_code == 201, response.content
    change = response.json()
    assert change["status"] == "open" and change["items"][0]["after"]["description"] == "3 months."
    number = change["number"]
    own = admin.post(f"/api/v1/changes/{number}/reviews", {"verdict": "approve"}, content_type=JSON)
    assert own.status_code == 422 and own.json()["detail"][0]["loc"] == ["verdict"]
    done = reviewer.post(f"/api/v1/changes/{number}/reviews", {"verdict": "approve"}, content_type=JSON)
    assert done.status_code == 201 and done.json()["status"] == "applied"
    assert done.json()["approved_by"] == ["admin-2"]
    log = admin.get("/api/v1/changelog").json()
    assert log["count"] == 1 and log["items"][0]["why"] == "CSMs asked."
    assert admin.get(f"/api/v1/changes/{number}").json()["reviews"][0]["verdict"] == "approve"
    assert admin.get("/api/v1/changes?status=open").json()["count"] == 0


@pytest.mark.parametrize(
    ("objects", "field", "message"),
    [
        ([{"kind": "widgets", "key": "x", "definition": {}}], "objects.0.kind", "No configuration kind"),
        ([{"kind": "rules", "key": RULE, "definition": {"name": "Other"}}], "objects.0.definition", "key"),
        ([{"kind": "rules", "key": "Nope", "definition": None}], "definition", "no rules 'Nope' to remove"),
        (
            [{"kind": "geos", "key": "MEA", "definition": {"colour": "red"}}],
            "definition",
            "unknown field 'colour'",
        ),
    ],
)
def test_bad_proposals_are_422_naming_the_field(client_as, objects, field, message):
    body = {"title": "t", "why": "w", "objects": objects}
    response = client_as("admin").post("/api/v1/changes", body, content_type=JSON)
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"] == [field] and message in error["msg"]
    assert not ChangeRequest.objects.exists()


def test_only_admins_propose(client_as):
    body = {"title": "t", "why": "w", "objects": [{"kind": "geos", "key": "MEA", "definition": {}}]}
    assert client_as("csm").post("/api/v1/changes", body, content_type=JSON).status_code == 403
    missing_why = {"title": "t", "objects": body["objects"]}
    assert client_as("admin").post("/api/v1/changes", missing_why, content_type=JSON).status_code == 422
    assert not ChangeRequest.objects.exists()
