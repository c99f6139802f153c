import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csops.core.models import AuditEntry
from csops.customers.models import Account


@pytest.fixture
def admin_api(client_as):
    return client_as("admin")


def test_list_paginates_and_filters(seeded, admin_api):
    page = admin_api.get("/api/v1/accounts?limit=5&offset=0").json()
    assert page["count"] == Account.objects.count() and len(page["items"]) == 5
    scale = admin_api.get("/api/v1/accounts?segment=Scale&limit=100").json()
    assert scale["count"] == Account.objects.filter(segment__name="Scale").count() > 0
    assert {a["segment"] for a in scale["items"]} == {"Scale"}
    big = admin_api.get("/api/v1/accounts?arr_min=150000&limit=100").json()
    assert all(float(a["arr"]) >= 150000 for a in big["items"])


@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/contacts", "/api/v1/ctas",
                                  "/api/v1/activities"])
@pytest.mark.parametrize("query, field", [
    ("offset=9223372036854775808", "offset"), ("offset=-1", "offset"), ("limit=0", "limit"),
    ("limit=100000", "limit"), ("limit=ten", "limit"),
])
def test_pagination_out_of_range_is_a_422_naming_the_parameter(admin_api, path, query, field):
    response = admin_api.get(f"{path}?{query}")
    assert response.status_code == 422, response.content
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


def test_openapi_documents_filters(admin_api, users):
    spec = admin_api.get("/api/v1/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/api/v1/accounts"]["get"]["parameters"]}
    assert {"q", "segment", "geo", "csm", "csm_priority", "health", "limit", "offset"} <= params


def test_create_update_and_audit(users, admin_api):
    response = admin_api.post(
        "/api/v1/accounts",
        content_type="application/json",
        data={
            "external_id": "API-1",
            "name": "Api Co",
            "arr": "75000",
            "geo": "EMEA",
            "csm": "csm-user",
            "custom_fields": {"primary_use_case": "CD"},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["segment"] == "Scale" and body["csm"] == "csm-user"
    assert body["custom_fields"] == {"primary_use_case": "CD"}
    response = admin_api.patch(
        f"/api/v1/accounts/{body['id']}",
        content_type="application/json",
        data={"csm_sentiment": "Red", "csm_sentiment_date": "2026-11-20", "csm": None},
    )
    assert response.status_code == 200, response.content
    assert response.json()["csm_sentiment"] == "red" and response.json()["csm"] is None
    entry = AuditEntry.objects.filter(verb="update", source="api").get()
    assert entry.actor == users["admin"] and entry.changes["csm_sentiment"] == ["", "red"]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "fragment"),
    [
        ("post", "/api/v1/accounts", "{not json", 400, ""),
        ("post", "/api/v1/accounts", {"name": "No id"}, 422, "external_id"),
        ("post", "/api/v1/accounts", {"external_id": "X", "name": "Y", "arr": "lots"}, 422, "arr"),
        (
            "post",
            "/api/v1/accounts",
            {"external_id": "X", "name": "Y", "employees": "many"},
            422,
            "employees",
        ),
        (
            "post",
            "/api/v1/accounts",
            {"external_id": "X", "name": "Y", "segment": "Nope"},
            422,
            "unknown segment",
        ),
        (
            "post",
            "/api/v1/accounts",
            {"external_id": "X", "name": "Y", "tier": "gold"},
            422,
            "unknown value 'gold'",
        ),
        ("post", "/api/v1/accounts", {"external_id": "X", "name": "Y", "colour": "red"}, 422, "colour"),
        (
            "post",
            "/api/v1/accounts",
            {"external_id": "X", "name": "Y", "custom_fields": {"nope": 1}},
            422,
            "unknown field",
        ),
        (
            "post",
            "/api/v1/accounts",
            {"external_id": "X", "name": "Y", "renewal_date": "2020-01-01", "contract_start": "2021-01-01"},
            422,
            "before the contract start",
        ),
        ("post", "/api/v1/accounts", ["a", "list"], 422, ""),
        ("patch", "/api/v1/accounts/999999", {"name": "Z"}, 404, ""),
        ("get", "/api/v1/accounts/999999", None, 404, ""),
        ("get", "/api/v1/accounts/abc", None, 422, ""),
        ("get", "/api/v1/accounts?limit=-1", None, 422, ""),
        ("get", "/api/v1/accounts?arr_min=abc", None, 422, "arr_min"),
        ("get", "/api/v1/contacts/999999", None, 404, ""),
        (
            "post",
            "/api/v1/contacts",
            {"external_id": "C", "account": "NOPE", "last_name": "X"},
            422,
            "unknown account",
        ),
        (
            "post",
            "/api/v1/tickets",
            {
                "external_id": "T",
                "account": "NOPE",
                "subject": "s",
                "severity": "S9",
                "opened_at": "yesterday",
            },
            422,
            "opened_at",
        ),
    ],
)
def test_bad_input_is_a_json_4xx(seeded, admin_api, method, url, body, status, fragment):
    kwargs = {}
    if body is not None:
        kwargs = {"data": body, "content_type": "application/json"}
    before = Account.objects.count()
    response = getattr(admin_api, method)(url, **kwargs)
    assert response.status_code == status, response.content
    assert "detail" in response.json()
    assert fragment in response.content.decode()
    assert Account.objects.count() == before


def test_duplicate_external_id_is_refused(seeded, admin_api):
    existing = Account.objects.first()
    response = admin_api.post(
        "/api/v1/accounts",
        content_type="application/json",
        data={"external_id": existing.external_id, "name": "Dup"},
    )
    assert response.status_code == 422 and "already exists" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/accounts?limit=50",
        "/api/v1/contacts?limit=50",
        "/api/v1/opportunities?limit=50",
        "/api/v1/tickets?limit=50",
    ],
)
def test_list_endpoint_query_count_is_constant(seeded, admin_api, url):
    """Pinned: session + user + count + page, whatever the page size (no N+1)."""
    with CaptureQueriesContext(connection) as small:
        assert admin_api.get(url.replace("50", "2")).status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert admin_api.get(url).status_code == 200
    assert len(large) == len(small) <= 4, [q["sql"] for q in large]


def test_errors_outside_the_handlers_are_json_too(users, admin_api):
    response = admin_api.delete("/api/v1/accounts")
    assert response.status_code == 405 and response.json() == {"detail": "Method Not Allowed"}
    response = admin_api.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and "detail" in response.json()
