import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csops.core.models import AuditEntry
from csops.customers.models import Account


@pytest.mark.parametrize("url", [
    "/customers/accounts/?per_page=25", "/customers/accounts/?per_page=100&sort=-arr",
    "/customers/contacts/?per_page=100", "/customers/opportunities/?per_page=100",
    "/customers/tickets/?per_page=100",
])
def test_list_page_query_count_is_pinned(seeded, client_as, url):
    """session, user, count, rows (with related rows joined) and the filter form's choices."""
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) <= 8, "\n".join(q["sql"] for q in queries)
    with CaptureQueriesContext(connection) as smaller:
        client.get(url.replace("100", "25"))
    assert len(smaller) == len(queries)


def test_account_list_filters_sort_search_and_paginate(seeded, client_as):
    client = client_as("csm")
    response = client.get("/customers/accounts/?segment=Scale&sort=-arr&per_page=25")
    rows = response.context["rows"]
    arrs = [row["object"].arr for row in rows]
    assert arrs == sorted(arrs, reverse=True)
    assert {row["object"].segment.name for row in rows} == {"Scale"}
    target = Account.objects.first()
    found = client.get(f"/customers/accounts/?q={target.name[:8]}")
    assert target in [row["object"] for row in found.context["rows"]]
    assert client.get("/customers/accounts/?q=zzzz-no-such").context["rows"] == []
    assert b"No accounts match these filters" in client.get("/customers/accounts/?q=zzzz").content
    page2 = client.get("/customers/accounts/?per_page=25&page=2")
    assert page2.context["page"].number == 2
    bad = client.get("/customers/accounts/?arr_min=lots")
    assert bad.status_code == 400 and b"Enter a number" in bad.content


def test_csv_export_follows_the_filters(seeded, client_as):
    response = client_as("viewer").get("/customers/accounts/?segment=Digital&export=csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == Account.objects.filter(segment__name="Digital").count() > 0
    assert {r["Segment"] for r in rows} == {"Digital"}


def test_account_360(seeded, client_as):
    account = Account.objects.filter(contacts__isnull=False, csm__isnull=False).first()
    response = client_as("viewer").get(f"/customers/accounts/{account.pk}/")
    page = response.content.decode()
    assert account.name in page and "Team" in page and "Opportunities" in page
    assert account.contacts.first().last_name in page
    assert client_as("viewer").get("/customers/accounts/999999/").status_code == 404


def test_edit_form_saves_through_the_action_and_shows_errors(seeded, client_as, users):
    account = Account.objects.filter(segment__name="Growth").first()
    client = client_as("csm")
    form = client.get(f"/customers/accounts/{account.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(slack_channel="#a_wrong-internal")
    response = client.post(f"/customers/accounts/{account.pk}/edit/", data)
    assert response.status_code == 400 and b"An internal channel must be named" in response.content
    data.update(slack_channel="", industry="Aerospace")
    response = client.post(f"/customers/accounts/{account.pk}/edit/", data)
    assert response.status_code == 302
    entry = AuditEntry.objects.get(verb="update", source="web")
    assert entry.actor == users["csm"] and entry.changes["industry"][1] == "Aerospace"
    data.update(arr="not money")
    response = client.post(f"/customers/accounts/{account.pk}/edit/", data)
    assert response.status_code == 400 and b"Enter a number" in response.content


def test_delete_goes_through_the_action(seeded, client_as, users):
    account = Account.objects.filter(contacts__isnull=False).first()
    assert client_as("csm").post(f"/customers/accounts/{account.pk}/delete/").status_code == 403
    response = client_as("admin").post(f"/customers/accounts/{account.pk}/delete/")
    assert response.status_code == 302 and not Account.objects.filter(pk=account.pk).exists()
    entry = AuditEntry.objects.get(verb="delete", object_id=str(account.pk))
    assert entry.actor == users["admin"] and entry.changes["name"] == [account.name, None]


def test_add_form_prefills_the_account(seeded, client_as):
    account = Account.objects.first()
    form = client_as("csm").get(f"/customers/contacts/add/?account={account.pk}").context["form"]
    assert form.initial["account"] == str(account.pk)
