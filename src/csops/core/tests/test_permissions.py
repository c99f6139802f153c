"""The role matrix: each role x each protected action → allowed, or 403."""

import pytest

from csops.core.models import Role
from csops.core.permissions import PERMISSIONS, has_perm

ADMIN, CSM, OWNER, VIEWER = "admin", "csm", "account_owner", "viewer"

# (method, url, body or None, roles allowed)
PAGE_MATRIX = [
    ("get", "/customers/accounts/", None, {ADMIN, CSM, OWNER, VIEWER}),
    ("get", "/customers/accounts/?export=csv", None, {ADMIN, CSM, OWNER, VIEWER}),
    ("get", "/customers/accounts/add/", None, {ADMIN}),
    ("get", "/customers/accounts/{account}/edit/", None, {ADMIN, CSM}),
    ("get", "/customers/contacts/add/", None, {ADMIN, CSM, OWNER}),
    ("get", "/customers/opportunities/add/", None, {ADMIN, OWNER}),
    ("get", "/customers/tickets/add/", None, {ADMIN, CSM}),
    ("get", "/customers/accounts/{account}/delete/", None, {ADMIN}),
    ("get", "/customers/contacts/{contact}/delete/", None, {ADMIN, CSM}),
    ("get", "/customers/opportunities/{opportunity}/delete/", None, {ADMIN}),
    ("get", "/customers/tickets/{ticket}/delete/", None, {ADMIN}),
    ("get", "/customers/import/", None, {ADMIN}),
    ("get", "/audit/", None, {ADMIN}),
    ("get", "/admin/customers/segment/", None, {ADMIN}),
]

API_MATRIX = [
    ("get", "/api/v1/accounts", None, {ADMIN, CSM, OWNER, VIEWER}),
    ("post", "/api/v1/accounts", {"external_id": "NEW-1", "name": "New Co", "arr": 1000}, {ADMIN}),
    ("patch", "/api/v1/accounts/{account}", {"industry": "Media"}, {ADMIN, CSM}),
    ("post", "/api/v1/contacts", {"external_id": "C-NEW", "account": "{external}", "last_name": "Li"},
     {ADMIN, CSM, OWNER}),
    ("post", "/api/v1/opportunities", {"external_id": "O-NEW", "account": "{external}", "name": "Up",
                                       "type": "add_on", "close_date": "2027-01-01", "stage": "Proposal"},
     {ADMIN, OWNER}),
    ("post", "/api/v1/tickets", {"external_id": "T-NEW", "account": "{external}", "subject": "Help",
                                 "severity": "S3", "opened_at": "2026-11-01T10:00:00Z"}, {ADMIN, CSM}),
]


def _fill(value, account):
    if isinstance(value, str):
        value = value.replace("{contact}", str(account.contacts.first().pk))
        value = value.replace("{opportunity}", str(account.opportunities.first().pk))
        value = value.replace("{ticket}", str(account.tickets.first().pk))
        return value.replace("{account}", str(account.pk)).replace("{external}", account.external_id)
    if isinstance(value, dict):
        return {k: _fill(v, account) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize(("method", "url", "body", "allowed"), PAGE_MATRIX)
def test_page_matrix(seeded, client_as, role, method, url, body, allowed):
    from csops.customers.models import Account

    account = Account.objects.filter(tickets__isnull=False).first()
    response = getattr(client_as(role), method)(_fill(url, account))
    if role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code in (403, 302)
        if response.status_code == 302:  # the admin site sends outsiders to its login
            assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize(("method", "url", "body", "allowed"), API_MATRIX)
def test_api_matrix(seeded, client_as, role, method, url, body, allowed):
    from csops.customers.models import Account

    account = Account.objects.first()
    response = getattr(client_as(role), method)(
        _fill(url, account), data=_fill(body, account), content_type="application/json")
    expected = {"get": 200, "post": 201, "patch": 200}[method] if role in allowed else 403
    assert response.status_code == expected, response.content
    if expected == 403:
        assert "permission" in response.json()["detail"]


def test_every_permission_has_at_least_the_admin(users):
    for perm in PERMISSIONS:
        assert has_perm(users["admin"], perm)


def test_pools_and_inactive_users_have_no_permissions(users):
    users["csm"].is_active = False
    for perm in PERMISSIONS:
        assert not has_perm(users["pool"], perm)
        assert not has_perm(users["csm"], perm)


def test_anonymous_is_sent_to_login(seeded, client):
    response = client.get("/customers/accounts/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/api/v1/accounts").status_code == 401
