"""`/api/v1/ctas` and `/api/v1/tasks`: the list's filters, manual CTAs, changes through the actions."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import Cta, CtaType, Playbook, Task
from csops.core.actions import create_token
from csops.core.models import AuditEntry
from csops.customers.models import Account

JSON = "application/json"


@pytest.fixture
def account(seeded, users):
    account = Account.objects.filter(csm__isnull=False, csm__is_pool=False).first()
    account.csm = users["csm"]
    account.save()
    return account


@pytest.fixture
def cta(account):
    kind = CtaType.objects.get(name="Risk")
    made, _ = create_cta(
        account,
        actor=None,
        type=kind,
        reason=kind.reasons.get(name="At-Risk"),
        playbook=Playbook.objects.get(name="Account Triage"),
        name="Risky",
        due_date=timezone.localdate() + dt.timedelta(days=3),
    )
    return made


def test_list_filters_and_paginates(cta, account, client_as):
    api = client_as("viewer")
    kind = CtaType.objects.get(name="Renewal")
    for day in range(3):
        create_cta(
            account,
            actor=None,
            type=kind,
            reason=kind.reasons.first(),
            name=f"Renewal {day}",
            due_date=timezone.localdate() - dt.timedelta(days=day + 1),
        )
    page = api.get("/api/v1/ctas?limit=2&offset=0").json()
    assert page["count"] == 4 and len(page["items"]) == 2
    assert [i["name"] for i in page["items"]] == ["Risky", "Renewal 0"]  # id order: stable for paging
    overdue = api.get("/api/v1/ctas?state=overdue&type=Renewal&owner=csm-user").json()
    assert overdue["count"] == 3 and {i["type"] for i in overdue["items"]} == {"Renewal"}
    item = api.get("/api/v1/ctas?type=Risk").json()["items"][0]
    assert (
        item["owner"] == "csm-user" and item["reason"] == "At-Risk" and item["playbook"] == "Account Triage"
    )
    assert item["status"] == "New" and item["is_closed"] is False
    bad = api.get("/api/v1/ctas?state=sleepy")
    assert bad.status_code == 422 and "state" in bad.content.decode()


def test_retrieve_has_the_tasks(cta, client_as):
    body = client_as("viewer").get(f"/api/v1/ctas/{cta.pk}").json()
    assert [t["name"] for t in body["tasks"]] == [t["name"] for t in cta.playbook.tasks]
    assert body["tasks"][0]["done"] is False
    assert client_as("viewer").get("/api/v1/ctas/999999").status_code == 404


def test_create_a_manual_cta(account, users, client_as):
    response = client_as("csm").post(
        "/api/v1/ctas",
        content_type=JSON,
        data={
            "account": account.external_id,
            "type": "risk",
            "reason": "Product Risk",
            "priority": "high",
            "due_date": "2026-12-01",
            "playbook": "Account Triage",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] == "csm-user" and body["source"] == "manual" and body["priority"] == "high"
    assert body["name"] == f"{account.name} - Product Risk" and len(body["tasks"]) > 0
    assert AuditEntry.objects.filter(verb="create", actor=users["csm"], object_id=str(body["id"])).exists()


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"account": "NOPE"}, 422, "unknown account 'NOPE'"),
        ({"type": "Party"}, 422, "unknown type 'Party'"),
        ({"reason": "Upcoming Renewal"}, 422, "unknown reason 'Upcoming Renewal'"),
        ({"priority": "whenever"}, 422, "priority"),
        ({"owner": "tam-scale"}, 422, "pools cannot own CTAs"),
        ({"owner": "viewer-user"}, 422, "may not work CTAs"),
        ({"owner": "nobody@nowhere"}, 422, "unknown user"),
        ({"playbook": "Nope"}, 422, "unknown playbook"),
        ({"colour": "red"}, 422, "colour"),
        ({"name": "x" * 300}, 422, "name"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(account, client_as, change, status, fragment):
    body = {"account": account.external_id, "type": "Risk", "reason": "At-Risk", **change}
    response = client_as("admin").post("/api/v1/ctas", content_type=JSON, data=body)
    assert response.status_code == status, response.content
    assert "detail" in response.json() and fragment in response.content.decode()
    assert not Cta.objects.exists()


def test_create_needs_work_ctas(account, client_as):
    body = {"account": account.external_id, "type": "Risk", "reason": "At-Risk"}
    assert client_as("viewer").post("/api/v1/ctas", content_type=JSON, data=body).status_code == 403
    assert client_as("account_owner").post("/api/v1/ctas", content_type=JSON, data=body).status_code == 403


def test_patch_works_the_cta_through_the_actions(cta, users, client_as):
    api, url = client_as("admin"), f"/api/v1/ctas/{cta.pk}"
    today = timezone.localdate()

    def patch(**data):
        return api.patch(url, content_type=JSON, data=data)

    response = patch(priority="urgent", due_date=str(today + dt.timedelta(days=1)), owner="admin@example.com")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["priority"], body["owner"]) == ("urgent", "admin-user")
    assert Task.objects.filter(cta=cta, owner=users["admin"]).exists()  # the CSM's tasks moved
    assert patch(snoozed_until=str(today), snooze_reason="x").status_code == 422
    assert patch(snoozed_until=str(today + dt.timedelta(days=5))).json()["detail"][0]["loc"] == [
        "snooze_reason"
    ]
    body = patch(snoozed_until=str(today + dt.timedelta(days=5)), snooze_reason="Away").json()
    assert body["snoozed_until"] == str(today + dt.timedelta(days=5)) and body["snooze_reason"] == "Away"
    assert patch(snoozed_until=None).json()["snoozed_until"] is None
    assert patch(status="Work in progress").json()["status"] == "Work in progress"
    closed = patch(status="closed success").json()
    assert closed["is_closed"] and closed["status"] == "Closed Success"
    assert patch(snoozed_until=str(today + dt.timedelta(days=5)), snooze_reason="x").status_code == 422
    reopened = patch(status="Work in progress").json()
    assert not reopened["is_closed"] and reopened["status"] == "Work in progress"
    assert AuditEntry.objects.filter(source="reopen", object_id=str(cta.pk)).exists()
    for bad, field in [
        ({"priority": "soon"}, "priority"),
        ({"status": "Nope"}, "status"),
        ({"owner": None}, "owner"),
        ({"owner": "tam-scale"}, "owner"),
        ({"status": "Closed: Not needed"}, "status"),
    ]:
        response = patch(**bad)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [field], bad
    cta.refresh_from_db()
    assert cta.priority == "urgent" and cta.closed_at is None and cta.owner == users["admin"]
    assert client_as("viewer").patch(url, content_type=JSON, data={"priority": "low"}).status_code == 403
    assert api.patch("/api/v1/ctas/999999", content_type=JSON, data={"priority": "low"}).status_code == 404


def test_tasks_list_and_mark_done(cta, users, client_as):
    api = client_as("csm")
    listed = api.get(f"/api/v1/tasks?cta={cta.pk}&open=true").json()
    assert listed["count"] == len(cta.playbook.tasks)
    task = listed["items"][0]
    assert (
        client_as("viewer")
        .patch(f"/api/v1/tasks/{task['id']}", content_type=JSON, data={"done": True})
        .status_code
        == 403
    )
    response = api.patch(f"/api/v1/tasks/{task['id']}", content_type=JSON, data={"done": True})
    assert response.status_code == 200 and response.json()["done"] is True
    assert api.get(f"/api/v1/tasks?cta={cta.pk}&open=true").json()["count"] == listed["count"] - 1
    assert api.get("/api/v1/tasks?owner=csm-user&open=false").json()["count"] == 1
    again = api.patch(f"/api/v1/tasks/{task['id']}", content_type=JSON, data={"done": True})
    assert again.json()["done_at"] == response.json()["done_at"]  # a retry changes nothing
    assert (
        api.patch(f"/api/v1/tasks/{task['id']}", content_type=JSON, data={"done": False}).json()["done"]
        is False
    )
    assert (
        api.patch(f"/api/v1/tasks/{task['id']}", content_type=JSON, data={"done": "maybe"}).status_code == 422
    )
    assert AuditEntry.objects.filter(content_type__model="task", object_id=str(task["id"])).count() == 2


def test_bearer_token(cta, users, client):
    _, secret = create_token(users["csm"], actor=None)
    response = client.get("/api/v1/ctas", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response.json()["count"] == 1
    assert client.get("/api/v1/ctas").status_code == 401


@pytest.mark.parametrize("url", ["/api/v1/ctas?limit=50", "/api/v1/tasks?limit=50"])
def test_list_endpoint_query_count_is_constant(cta, account, client_as, url):
    """Pinned: session + user + count + page, whatever the page size (no N+1)."""
    kind = CtaType.objects.get(name="Renewal")
    for index in range(12):
        create_cta(
            account,
            actor=None,
            type=kind,
            reason=kind.reasons.first(),
            name=f"R{index}",
            playbook=Playbook.objects.get(name="Upcoming Renewal"),
        )
    api = client_as("viewer")
    with CaptureQueriesContext(connection) as small:
        assert len(api.get(url.replace("50", "2")).json()["items"]) == 2
    with CaptureQueriesContext(connection) as large:
        assert len(api.get(url).json()["items"]) > 10
    assert len(large) == len(small) == 4, [q["sql"] for q in large]


def test_create_with_a_dedupe_key_is_safe_to_retry(account, client_as):
    body = {"account": account.external_id, "type": "Risk", "reason": "At-Risk", "dedupe_key": "ticket-42"}
    first = client_as("csm").post("/api/v1/ctas", content_type=JSON, data=body)
    again = client_as("csm").post("/api/v1/ctas", content_type=JSON, data=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and Cta.objects.count() == 1


def test_a_value_the_database_refuses_is_a_422(account, client_as):
    body = {"account": "A\x00", "type": "Risk\x00", "reason": "At-Risk"}
    response = client_as("csm").post("/api/v1/ctas", content_type=JSON, data=body)
    assert response.status_code == 422 and "detail" in response.json()
    assert not Cta.objects.exists()
