"""The core processes API: the list (filters, pages, a pinned query count), a process with its history,
status updates by the owner or an admin, refusals as 422s naming the field, 403s and 404s."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from csops.core.actions import create_token
from csops.governance import responsibilities as tracker
from csops.governance.models import CoreProcess, Rag
from csops.governance.responsibility_demo import seed_processes

JSON = "application/json"
URL = "/api/v1/core-processes"


@pytest.fixture
def demo(users):
    seed_processes()
    return {p.name: p for p in CoreProcess.objects.all()}


def test_the_list_is_worst_first_and_filters(client_as, demo, users):
    api = client_as("viewer")
    body = api.get(URL).json()
    assert body["count"] == len(demo)
    statuses = [row["status"] for row in body["items"]]
    assert statuses == sorted(statuses, key=[Rag.RED, Rag.YELLOW, Rag.GREEN].index)
    first = body["items"][0]
    assert first["name"] == "CS KPIs" and first["days_in_status"] == 12 and first["reason"]
    reds = api.get(URL, {"status": "red"}).json()
    assert [row["name"] for row in reds["items"]] == ["CS KPIs", "Product analytics and renewal strategies"]
    owner = demo["Documentation"].owner.username
    mine = api.get(URL, {"owner": owner}).json()
    assert mine["count"] >= 1 and {row["owner"] for row in mine["items"]} == {owner}
    assert api.get(URL, {"q": "service ping"}).json()["count"] == 1
    page = api.get(URL, {"limit": 2, "offset": 2}).json()
    assert [row["id"] for row in page["items"]] == [row["id"] for row in body["items"][2:4]]


def test_bad_filters_are_422s_naming_the_field(client_as, demo):
    api = client_as("viewer")
    response = api.get(URL, {"status": "amber"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["status"]
    response = api.get(URL, {"owner": "nobody"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["owner"]
    assert api.get(URL, {"limit": 0}).status_code == 422


def test_the_list_takes_the_same_queries_however_many_processes(client_as, demo,
                                                               django_assert_max_num_queries):
    api = client_as("viewer")
    with django_assert_max_num_queries(4):
        response = api.get(URL, {"limit": 100})
    assert len(response.json()["items"]) == len(demo)


def test_a_process_with_its_history(client_as, demo):
    kpis = demo["CS KPIs"]
    body = client_as("viewer").get(f"{URL}/{kpis.pk}").json()
    assert body["description"] and body["status"] == "red"
    assert [(c["from_status"], c["status"]) for c in body["history"]] == [
        ("yellow", "red"), ("green", "yellow"), ("", "green")
    ]
    assert client_as("viewer").get(f"{URL}/999999").status_code == 404


def test_the_owner_updates_the_status_with_a_bearer_token(client, demo, users):
    process = tracker.add_process(actor=users["admin"], name="Dashboards", owner=users["csm"])
    _, secret = create_token(users["csm"], actor=None)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    payload = {"status": "yellow", "reason": "Slow for Strategic.", "plan": "Pre-aggregate."}
    response = client.post(f"{URL}/{process.pk}/status", payload, content_type=JSON, **auth)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["days_in_status"]) == ("yellow", 0)
    assert body["history"][0]["changed_by"] == "csm-user"
    again = client.post(f"{URL}/{process.pk}/status", payload, content_type=JSON, **auth)
    assert again.status_code == 200 and len(again.json()["history"]) == 2  # nothing written the second time


def test_bad_status_updates_are_422s_naming_the_field(client_as, demo):
    api, kpis = client_as("admin"), demo["CS KPIs"]
    response = api.post(f"{URL}/{kpis.pk}/status", {"status": "yellow", "reason": "x"}, content_type=JSON)
    assert response.status_code == 422 and [e["loc"] for e in response.json()["detail"]] == [["plan"]]
    response = api.post(f"{URL}/{kpis.pk}/status", {"status": "amber"}, content_type=JSON)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["status"]
    response = api.post(f"{URL}/{kpis.pk}/status", {"reason": "x"}, content_type=JSON)
    assert response.status_code == 422 and "status" in str(response.json()["detail"])
    response = api.post(f"{URL}/{kpis.pk}/status", {"status": "green", "colour": "x"}, content_type=JSON)
    assert response.status_code == 422 and "colour" in str(response.json()["detail"])
    assert kpis.history.count() == 3


def test_only_the_owner_and_admins_update(client_as, demo, client):
    kpis = demo["CS KPIs"]
    response = client_as("viewer").post(f"{URL}/{kpis.pk}/status", {"status": "green"}, content_type=JSON)
    assert response.status_code == 403 and "only its owner" in response.json()["detail"]
    response = client.post(f"{URL}/{kpis.pk}/status", {"status": "green"}, content_type=JSON)
    assert response.status_code == 401
    response = client_as("admin").post(f"{URL}/{kpis.pk}/status", {"status": "green"}, content_type=JSON)
    assert response.status_code == 200 and response.json()["status"] == "green"
    missing = client_as("admin").post(f"{URL}/999999/status", {"status": "green"}, content_type=JSON)
    assert missing.status_code == 404


def test_the_report_as_pdf_with_a_bearer_token(client, demo, users):
    _, secret = create_token(users["viewer"], actor=None)
    response = client.get(f"{URL}/report.pdf", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    content = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "CS KPIs" in content and content.index("CS KPIs") < content.index("Policy management")
    assert client.get(f"{URL}/report.pdf").status_code == 401
