"""Activities linked to CTAs (the CTA page's quick log, Account 360), `/api/v1/activities`, and
`csops import activities`."""

import csv
import datetime as dt
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csops.cockpit.actions import create_cta
from csops.cockpit.models import Cta, CtaType
from csops.core.models import AuditEntry
from csops.customers.actions import ImportRejected
from csops.customers.imports import validate
from csops.customers.models import Account, Contact, ImportRun
from csops.timeline.actions import import_activities, log_activity
from csops.timeline.models import Activity, ActivityType

JSON = "application/json"


@pytest.fixture
def account(seeded):
    return Account.objects.filter(contacts__isnull=False).order_by("pk").first()


@pytest.fixture
def other(account):
    return Account.objects.filter(contacts__isnull=False).exclude(pk=account.pk).order_by("pk").first()


def raise_cta(account, name: str = "Follow up") -> Cta:
    kind = CtaType.objects.get(name="Risk")
    return create_cta(account, actor=None, type=kind, reason=kind.reasons.first(), name=name)[0]


# --- the link between activities and CTAs ----------------------------------------------------------


def test_log_activity_links_a_cta_of_the_same_account_only(account, other, users):
    call = ActivityType.objects.get(name="Customer Call")
    mine, theirs = raise_cta(account), raise_cta(other, "Elsewhere")
    with pytest.raises(ValidationError, match="on another account"):
        log_activity(
            account, author=users["csm"], type=call, subject="x", date=dt.date(2026, 11, 20), cta=theirs
        )
    assert not Activity.objects.exists()
    activity = log_activity(
        account, author=users["csm"], type=call, subject="x", date=dt.date(2026, 11, 20), cta=mine
    )
    assert list(mine.activities.all()) == [activity]


def test_quick_log_on_the_cta_page(account, other, users, client_as):
    cta = raise_cta(account)
    contact = account.contacts.first()
    page = client_as("csm").get(f"/cockpit/ctas/{cta.pk}/")
    assert page.status_code == 200 and b"No activity logged on this CTA yet" in page.content
    form = page.context["activity_form"]
    assert set(form.fields["external_attendees"].queryset) == set(account.contacts.all())
    url = f"/timeline/ctas/{cta.pk}/activities/"
    data = {
        "type": ActivityType.objects.get(name="Customer Call").pk,
        "subject": "Triage call",
        "date": "2026-11-21",
        "external_attendees": [contact.pk],
        "sentiment": "yellow",
        "notes": "Budget",
    }
    assert client_as("viewer").post(url, data).status_code == 403
    stranger = Contact.objects.filter(account=other).first()
    bad = client_as("csm").post(url, {**data, "external_attendees": [stranger.pk]})
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    bad = client_as("csm").post(url, {**data, "subject": ""})
    assert (
        bad.status_code == 400 and b"This field is required" in bad.content and b"on the CTA" in bad.content
    )
    assert not Activity.objects.exists()
    response = client_as("csm").post(url, data)
    assert response.status_code == 302 and response["Location"] == f"/cockpit/ctas/{cta.pk}/"
    activity = Activity.objects.get()
    assert (
        activity.cta == cta
        and activity.author == users["csm"]
        and list(activity.external_attendees.all()) == [contact]
    )
    page = client_as("viewer").get(f"/cockpit/ctas/{cta.pk}/").content.decode()
    assert "Triage call" in page and str(contact) in page
    account_page = client_as("viewer").get(account.get_absolute_url()).content.decode()
    assert f'CTA <a href="/cockpit/ctas/{cta.pk}/">{cta.name}</a>' in account_page


# --- the API -----------------------------------------------------------------------------------------


def test_api_creates_lists_and_retrieves(account, other, users, client_as):
    cta = raise_cta(account)
    contacts = list(account.contacts.order_by("pk")[:2])
    api = client_as("csm")
    body = {
        "account": account.external_id,
        "type": "customer call",
        "subject": "QBR",
        "date": "2026-11-19",
        "customer_attendees": [c.external_id for c in contacts],
        "cta": cta.pk,
        "sentiment": "Green",
    }
    response = api.post("/api/v1/activities", content_type=JSON, data=body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["type"] == "Customer Call" and made["author"] == "csm-user" and made["cta_id"] == cta.pk
    assert sorted(made["customer_attendees"]) == sorted(c.external_id for c in contacts)
    assert AuditEntry.objects.filter(source="api", verb="create", object_id=str(made["id"])).exists()
    log_activity(
        other,
        author=None,
        type=ActivityType.objects.get(name="Email"),
        subject="Mail",
        date=dt.date(2026, 10, 1),
    )
    viewer = client_as("viewer")
    assert viewer.get(f"/api/v1/activities?account={account.pk}").json()["count"] == 1
    assert viewer.get("/api/v1/activities?type=Email").json()["items"][0]["subject"] == "Mail"
    assert viewer.get("/api/v1/activities?date_after=2026-11-01&date_before=2026-11-30").json()["count"] == 1
    assert viewer.get(f"/api/v1/activities?cta={cta.pk}").json()["items"][0]["id"] == made["id"]
    assert viewer.get(f"/api/v1/activities/{made['id']}").json()["subject"] == "QBR"
    assert viewer.get("/api/v1/activities/999999").status_code == 404
    assert viewer.get("/api/v1/activities?date_after=soon").status_code == 422
    assert viewer.post("/api/v1/activities", content_type=JSON, data=body).status_code == 403


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"account": "NOPE"}, "account", "unknown account 'NOPE'"),
        ({"type": "Carrier pigeon"}, "type", "unknown activity type"),
        ({"customer_attendees": ["{stranger}"]}, "customer_attendees", "is not a contact of this account"),
        ({"customer_attendees": ["NO-SUCH"]}, "customer_attendees", "unknown contact 'NO-SUCH'"),
        ({"cta": "{foreign_cta}"}, "cta", "is on another account"),
        ({"cta": 999999}, "cta", "unknown CTA 999999"),
        ({"sentiment": "purple"}, "sentiment", "unknown value 'purple'"),
        ({"subject": ""}, "subject", "required"),
        ({"date": "yesterday"}, "date", ""),
        ({"author": "admin-user"}, "author", ""),
    ],
)
def test_api_refuses_bad_input_naming_the_field(account, other, client_as, change, field, fragment):
    stranger = Contact.objects.filter(account=other).first()
    foreign = raise_cta(other)
    body = {"account": account.external_id, "type": "Customer Call", "subject": "QBR", "date": "2026-11-19"}
    for key, value in change.items():
        if isinstance(value, list):
            value = [v.format(stranger=stranger.external_id) for v in value]
        elif value == "{foreign_cta}":
            value = foreign.pk
        body[key] = value
    response = client_as("csm").post("/api/v1/activities", content_type=JSON, data=body)
    assert response.status_code == 422, response.content
    assert field in response.content.decode() and fragment in response.content.decode()
    assert not Activity.objects.exists()


def test_api_list_query_count_is_constant(account, client_as):
    call = ActivityType.objects.get(name="Cadence Call")
    people = list(account.contacts.all()[:2])
    for day in range(12):
        log_activity(
            account,
            author=None,
            type=call,
            subject=f"Call {day}",
            date=dt.date(2026, 11, 1 + day),
            external_attendees=people,
        )
    api = client_as("viewer")
    with CaptureQueriesContext(connection) as small:
        assert len(api.get("/api/v1/activities?limit=2").json()["items"]) == 2
    with CaptureQueriesContext(connection) as large:
        items = api.get("/api/v1/activities?limit=50").json()["items"]
    assert len(items) == 12 and all(len(i["customer_attendees"]) == len(people) for i in items)
    # session, user, count, page, the attendees of the whole page
    assert len(large) == len(small) == 5, [q["sql"] for q in large]


# --- import ------------------------------------------------------------------------------------------

SALESFORCE = (
    "Id,AccountId,Subject,ActivityDate,Description,Type,Customer Attendees,Sentiment,Logged By,OwnerId\n"
)


def write(tmp_path: Path, text: str, name: str = "activities.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def good_rows(account, other) -> list[str]:
    a, b = (c.external_id for c in account.contacts.order_by("pk")[:2])
    return [
        f"00T1,{account.external_id},Kickoff,2026-11-02,First call,Customer Call,{a};{b},green,csm-user,005X",
        f"00T2,{account.external_id},Follow-up mail,11/05/2026,,Email,,,,005X",
        f"00T3,{other.external_id},Workshop,2026-11-10,CI deep dive,Workshop,,yellow,admin@example.com,005Y",
    ]


def test_import_salesforce_tasks_then_upsert(account, other, users, tmp_path):
    path = write(tmp_path, SALESFORCE + "\n".join(good_rows(account, other)) + "\n")
    validation = validate("activities", path)
    assert validation.ignored_columns == ["OwnerId"]
    run = import_activities(validation, actor=users["admin"], file_name=path.name)
    assert (run.created, run.updated, run.unchanged, run.failed) == (3, 0, 0, 0)
    kickoff = Activity.objects.get(external_id="00T1")
    assert (
        kickoff.account == account and kickoff.type.name == "Customer Call" and kickoff.notes == "First call"
    )
    assert kickoff.author == users["csm"] and kickoff.sentiment == "green"
    assert set(kickoff.external_attendees.values_list("external_id", flat=True)) == set(
        account.contacts.order_by("pk").values_list("external_id", flat=True)[:2]
    )
    assert Activity.objects.get(external_id="00T2").date == dt.date(2026, 11, 5)
    assert (
        AuditEntry.objects.filter(source="import", verb="create", content_type__model="activity").count() == 3
    )

    rows = good_rows(account, other)
    first_contact = account.contacts.order_by("pk").first().external_id
    rows[0] = rows[0].replace("First call", "First call moved").replace(rows[0].split(",")[6], first_contact)
    again = write(tmp_path, SALESFORCE + "\n".join(rows) + "\n")
    run = import_activities(validate("activities", again), actor=None, file_name=again.name)
    assert (run.created, run.updated, run.unchanged) == (0, 1, 2)
    kickoff.refresh_from_db()
    assert kickoff.notes == "First call moved"
    assert list(kickoff.external_attendees.values_list("external_id", flat=True)) == [first_contact]
    entry = AuditEntry.objects.get(verb="update", object_id=str(kickoff.pk))
    assert set(entry.changes) == {"notes", "external_attendees"}
    assert Activity.objects.count() == 3


def test_import_reports_each_bad_line_and_writes_nothing(account, other, tmp_path):
    stranger = Contact.objects.filter(account=other).first().external_id
    rows = [
        *good_rows(account, other),
        "00T4,NOPE,Call,2026-11-02,,Customer Call,,,,",
        f"00T5,{account.external_id},Call,2026-11-31,,Customer Call,,,,",
        f"00T6,{account.external_id},Call,2026-11-02,,Smoke signal,,,,",
        f"00T7,{account.external_id},Call,2026-11-02,,Customer Call,{stranger},,,",
        f"00T8,{account.external_id},Call,2026-11-02,,Customer Call,,,nobody,",
        f"00T1,{account.external_id},Again,2026-11-02,,Customer Call,,,,",
        f"00T9,{account.external_id},,2026-11-02,,Customer Call,,,,",
    ]
    path = write(tmp_path, SALESFORCE + "\n".join(rows) + "\n")
    with pytest.raises(ImportRejected) as caught:
        import_activities(validate("activities", path), actor=None, file_name=path.name)
    lines = {e.line: (e.column, e.reason) for e in caught.value.errors}
    assert lines == {
        5: ("AccountId", "unknown account 'NOPE'"),
        6: ("ActivityDate", "not a date (use YYYY-MM-DD): '2026-11-31'"),
        7: ("Type", "unknown activity type 'Smoke signal'"),
        8: ("Customer Attendees", f"contact {stranger!r} is not a contact of this account"),
        9: ("Logged By", "unknown user 'nobody'"),
        10: ("Id", "duplicate id '00T1' (first on line 2)"),
        11: ("Subject", "required"),
    }
    assert str(caught.value.errors[0]) == "line 5, column AccountId: unknown account 'NOPE'"
    assert not Activity.objects.exists() and not ImportRun.objects.filter(kind="activities").exists()


def test_import_partial_and_the_command(account, other, tmp_path, capsys):
    rows = [*good_rows(account, other), "00T4,NOPE,Call,2026-11-02,,Customer Call,,,,"]
    path = write(tmp_path, SALESFORCE + "\n".join(rows) + "\n")
    with pytest.raises(CommandError, match="1 error"):
        call_command("import", "activities", str(path))
    assert "activities.csv: line 5, column AccountId: unknown account 'NOPE'" in capsys.readouterr().err
    assert not Activity.objects.exists()
    call_command("import", "activities", str(path), "--partial")
    assert "3 created" in capsys.readouterr().out
    assert Activity.objects.count() == 3
    errors = list(csv.DictReader((tmp_path / "activities.csv.errors.csv").open()))
    assert [(e["line"], e["Id"]) for e in errors] == [("5", "00T4")]
    with pytest.raises(CommandError, match="missing required column 'subject'"):
        call_command(
            "import", "activities", str(write(tmp_path, "Id,AccountId,Type,ActivityDate\n", "x.csv"))
        )


def test_upload_page_offers_activities(account, other, client_as):
    client = client_as("admin")
    assert ("activities", "Activities") in client.get("/customers/import/").context["form"].fields[
        "kind"
    ].choices
    bad = SimpleUploadedFile(
        "a.csv", (SALESFORCE + "00T4,NOPE,Call,2026-11-02,,Customer Call,,,,\n").encode()
    )
    response = client.post("/customers/import/", {"kind": "activities", "file": bad})
    assert response.status_code == 400 and b"unknown account" in response.content
    good = SimpleUploadedFile("a.csv", (SALESFORCE + "\n".join(good_rows(account, other)) + "\n").encode())
    response = client.post("/customers/import/", {"kind": "activities", "file": good})
    assert response.status_code == 200 and b"3 created" in response.content
    assert Activity.objects.count() == 3


def test_api_create_with_an_external_id_is_safe_to_retry(account, other, client_as):
    body = {
        "account": account.external_id,
        "type": "Email",
        "subject": "Recap",
        "date": "2026-11-19",
        "external_id": "00T-RETRY",
    }
    first = client_as("csm").post("/api/v1/activities", content_type=JSON, data=body)
    again = client_as("csm").post("/api/v1/activities", content_type=JSON, data=body)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    elsewhere = client_as("csm").post(
        "/api/v1/activities", content_type=JSON, data={**body, "account": other.external_id}
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["detail"][0]["loc"] == ["external_id"]
    assert Activity.objects.count() == 1
