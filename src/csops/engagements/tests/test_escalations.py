"""Escalations: each qualification criterion just met and just missed, the override, the kinds'
requirements, update cadences in business days, reminders once per due date, status history,
the resolution, the pages, the API and who may do what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csops.core.models import AuditEntry, Schedule
from csops.customers.models import Segment, SupportTicket
from csops.engagements import escalations
from csops.engagements.escalations import (
    add_months,
    add_update,
    file_escalation,
    qualification,
    remind_due,
    resolve,
)
from csops.engagements.models import Escalation, EscalationUpdate
from csops.engagements.tasks import remind_escalations
from csops.programs import outbox
from csops.programs.models import OutboxMessage

FRIDAY = dt.date(2026, 11, 13)  # the following Monday is the 16th; no holiday until the 26th
MONDAY, TUESDAY, WEDNESDAY = dt.date(2026, 11, 16), dt.date(2026, 11, 17), dt.date(2026, 11, 18)
JSON = "application/json"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    """The business day the actions take as today; a test moves it with `today.set(day)`."""

    class Today:
        day = FRIDAY

        def set(self, day: dt.date) -> None:
            self.day = day

    clock = Today()
    monkeypatch.setattr(escalations, "business_today", lambda: clock.day)
    return clock


@pytest.fixture
def big(make_account):
    """A Scale account meeting every criterion; override any field."""

    def make(**fields):
        values = {
            "segment": Segment.objects.get(name="Scale"),
            "arr": Decimal("130000"),
            "lam": Decimal("250000"),
            "contract_start": FRIDAY - dt.timedelta(days=300),
            "renewal_date": FRIDAY + dt.timedelta(days=45),
            **fields,
        }
        return make_account(**values)

    return make


@pytest.fixture
def csm(users):
    return users["csm"]


def ticket_of(account, closed: bool = False) -> SupportTicket:
    number = SupportTicket.objects.count() + 1
    return SupportTicket.objects.create(
        external_id=f"ZD-{account.pk}-{number}",
        account=account,
        subject="Pipelines stuck",
        severity="S1",
        opened_at=timezone.now() - dt.timedelta(days=2),
        closed_at=timezone.now() if closed else None,
    )


def escalate(account, actor, **fields) -> Escalation:
    values = {"kind": "account", "issue": "churn", "severity": "high", "title": "Evaluating other vendors"}
    return file_escalation(account, actor=actor, **(values | fields))


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


def met(account, key: str, today: dt.date = FRIDAY):
    criterion = next(c for c in qualification(account, today) if c.key == key)
    return criterion.met, criterion.detail


# --- qualification: each criterion just met and just missed ---------------------------------------


@pytest.mark.parametrize(
    "arr, ok, text",
    [
        (Decimal("120000"), True, "ARR 120,000.00 ≥ 120,000.00 (80% of the Scale ceiling of 150,000.00)."),
        (
            Decimal("119999.99"),
            False,
            "ARR 119,999.99 < 120,000.00 (80% of the Scale ceiling of 150,000.00).",
        ),
    ],
)
def test_arr_at_80_percent_of_the_segment_ceiling(big, arr, ok, text):
    assert met(big(arr=arr), "arr") == (ok, text)


def test_a_segment_without_a_ceiling_says_so_and_counts_as_met(big):
    ok, text = met(big(segment=Segment.objects.get(name="Strategic"), arr=Decimal("1")), "arr")
    assert ok and text == "ARR 1.00; the Strategic segment has no ARR ceiling, so this counts as met."


@pytest.mark.parametrize(
    "lam, ok, text",
    [
        (Decimal("100000"), False, "LAM 100,000.00 is not above 100,000.00."),
        (Decimal("100000.01"), True, "LAM 100,000.01 > 100,000.00."),
        (None, False, "The account has no LAM."),
    ],
)
def test_lam_above_100k(big, lam, ok, text):
    assert met(big(lam=lam), "lam") == (ok, text)


@pytest.mark.parametrize(
    "renewal, ok, text",
    [
        (
            dt.date(2027, 2, 13),
            True,
            "Renewal on 2027-02-13, 92 days away: on or before 2027-02-13, 3 months",
        ),
        (dt.date(2027, 2, 14), False, "Renewal on 2027-02-14, 93 days away: after 2027-02-13, 3 months"),
        (FRIDAY, True, "Renewal on 2026-11-13, 0 days away"),
        (FRIDAY - dt.timedelta(days=1), False, "The renewal date 2026-11-12 has passed"),
        (None, False, "The account has no renewal date."),
    ],
)
def test_renewal_at_most_3_months_away(big, renewal, ok, text):
    got, detail = met(big(renewal_date=renewal), "renewal")
    assert got == ok and detail.startswith(text)


def test_three_months_from_a_month_end_is_the_last_day_of_a_shorter_month(big):
    assert add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    account = big(renewal_date=dt.date(2027, 2, 28))
    assert met(account, "renewal", dt.date(2026, 11, 30))[0]
    assert met(account, "renewal", dt.date(2026, 11, 27))[0] is False  # due by 2027-02-27: missed
    assert met(big(renewal_date=dt.date(2027, 3, 1)), "renewal", dt.date(2026, 11, 30))[0] is False


# --- filing ---------------------------------------------------------------------------------------


def test_a_qualified_account_escalation(big, csm):
    account = big()
    escalation = escalate(account, csm, description=" Blocked on the runner bug ")
    assert (escalation.owner, escalation.qualified, escalation.overridden_by, escalation.override_reason) == (
        csm,
        True,
        None,
        "",
    )
    assert escalation.criteria["as_of"] == "2026-11-13"
    assert [(c["key"], c["met"]) for c in escalation.criteria["items"]] == [
        ("arr", True),
        ("lam", True),
        ("renewal", True),
    ]
    assert escalation.description == "Blocked on the runner bug"
    assert escalation.next_update_due == TUESDAY  # High: 2 business days, over the weekend
    assert [(u.status, u.severity, u.body) for u in escalation.updates.all()] == [("open", "high", "Filed.")]
    entry = AuditEntry.objects.get(object_id=str(escalation.pk), content_type__model="escalation")
    assert entry.actor == csm and entry.verb == "create"


def test_an_unqualified_account_needs_an_override_naming_the_failed_criteria(big, csm, users):
    account = big(arr=Decimal("119999.99"), lam=Decimal("100000"))
    message = refusal(lambda: escalate(account, csm))["override_reason"][0]
    assert "ARR ≥ 80% of the segment's ceiling not met (ARR 119,999.99 < 120,000.00" in message
    assert "LAM > 100,000 not met (LAM 100,000.00 is not above 100,000.00.)" in message
    assert "Renewal" not in message and "Give a reason to file it anyway." in message
    assert not Escalation.objects.exists() and not EscalationUpdate.objects.exists()
    escalation = escalate(
        account, users["admin"], override_reason=" Exec sponsor asked; $2M expansion at stake "
    )
    assert escalation.qualified is False and escalation.overridden_by == users["admin"]
    assert escalation.override_reason == "Exec sponsor asked; $2M expansion at stake"
    assert (
        escalation.updates.get().body == "Filed with an override: Exec sponsor asked; $2M expansion at stake"
    )


def test_an_override_reason_on_a_qualified_account_is_not_an_override(big, csm):
    escalation = escalate(big(), csm, override_reason="just in case")
    assert escalation.qualified and escalation.overridden_by is None and escalation.override_reason == ""


def test_a_support_escalation_needs_an_open_ticket_of_that_account(big, csm):
    account, other = big(), big()
    support = {"kind": "support", "issue": ""}
    assert "needs the account's ticket" in refusal(lambda: escalate(account, csm, **support))["ticket"][0]
    stranger = ticket_of(other)
    assert (
        "is not a ticket of"
        in refusal(lambda: escalate(account, csm, ticket=stranger, **support))["ticket"][0]
    )
    closed = ticket_of(account, closed=True)
    assert "is closed" in refusal(lambda: escalate(account, csm, ticket=closed, **support))["ticket"][0]
    assert not Escalation.objects.exists()
    ticket = ticket_of(account)
    escalation = escalate(account, csm, ticket=ticket, **support)
    assert escalation.kind == "support" and escalation.ticket == ticket and escalation.issue == ""


def test_an_account_escalation_needs_its_issue(big, csm):
    account = big()
    assert "needs its issue" in refusal(lambda: escalate(account, csm, issue=""))["issue"][0]
    assert "Unknown issue 'boredom'" in refusal(lambda: escalate(account, csm, issue="boredom"))["issue"][0]
    ticket = ticket_of(account)  # an account escalation may relate to a ticket too
    assert escalate(account, csm, issue="blocking", ticket=ticket).ticket == ticket


def test_bad_input_names_each_field_and_writes_nothing(big, csm):
    account = big(lam=None)
    errors = refusal(lambda: escalate(account, csm, kind="panic", severity="urgent", title=" "))
    assert set(errors) == {"kind", "severity", "title", "override_reason"}
    assert "allowed: critical, high, medium, low" in errors["severity"][0]
    long = refusal(lambda: escalate(account, csm, title="x" * 201, override_reason="y" * 301))
    assert set(long) == {"title", "override_reason"}
    assert not Escalation.objects.exists() and not AuditEntry.objects.filter(content_type__model="escalation")


def test_only_people_who_work_ctas_may_file_update_or_resolve(big, csm, users):
    account = big()
    for role in ("viewer", "account_owner", "pool"):
        with pytest.raises(PermissionDenied, match="may not file escalations: it takes the 'work_ctas'"):
            escalate(account, users[role])
    escalation = escalate(account, csm)
    with pytest.raises(PermissionDenied, match="may not update escalations"):
        add_update(escalation, actor=users["viewer"], body="x")
    with pytest.raises(PermissionDenied, match="may not resolve escalations"):
        resolve(escalation, actor=users["viewer"], resolution="x")
    assert escalation.updates.count() == 1


# --- updates, cadence, status history, resolution -------------------------------------------------


def test_update_cadence_in_business_days_over_a_weekend(big, csm, today):
    account = big()
    assert escalate(account, csm, severity="critical").next_update_due == MONDAY
    assert escalate(account, csm, severity="medium").next_update_due == dt.date(2026, 11, 20)
    # Low: 10 business days, Thanksgiving (the 26th) not one of them.
    assert escalate(account, csm, severity="low").next_update_due == dt.date(2026, 11, 30)
    escalation = escalate(account, csm, severity="high")
    today.set(MONDAY)
    update = add_update(
        escalation, actor=csm, body=" Workaround shipped ", status="monitoring", severity="low"
    )
    escalation.refresh_from_db()
    assert (update.status, update.severity, update.body) == ("monitoring", "low", "Workaround shipped")
    assert escalation.status == "monitoring" and escalation.next_update_due == dt.date(2026, 12, 1)
    today.set(WEDNESDAY)
    add_update(escalation, actor=csm, body="It broke again", status="open", severity="critical")
    escalation.refresh_from_db()
    assert escalation.next_update_due == dt.date(2026, 11, 19)
    today.set(dt.date(2026, 11, 20))
    add_update(escalation, actor=csm, body="Still broken")  # status and severity unchanged
    escalation.refresh_from_db()
    assert (escalation.status, escalation.severity, escalation.next_update_due) == (
        "open",
        "critical",
        MONDAY + dt.timedelta(days=7),
    )
    history = [(u.status, u.severity, u.body) for u in escalation.updates.all()]
    assert history == [
        ("open", "high", "Filed."),
        ("monitoring", "low", "Workaround shipped"),
        ("open", "critical", "It broke again"),
        ("open", "critical", "Still broken"),
    ]


def test_an_update_needs_a_body_and_cannot_resolve(big, csm):
    escalation = escalate(big(), csm)
    errors = refusal(lambda: add_update(escalation, actor=csm, body=" ", status="resolved", severity="meh"))
    assert set(errors) == {"body", "status", "severity"}
    assert "with its resolution" in errors["status"][0]
    escalation.refresh_from_db()
    assert escalation.status == "open" and escalation.updates.count() == 1


def test_resolve_needs_a_resolution_and_ends_the_updates(big, csm):
    escalation = escalate(big(), csm)
    assert (
        "how the escalation was resolved"
        in refusal(lambda: resolve(escalation, actor=csm, resolution=""))["resolution"][0]
    )
    resolve(escalation, actor=csm, resolution="Fixed in 17.6; customer renewed.")
    escalation.refresh_from_db()
    assert escalation.status == "resolved" and escalation.resolved_at is not None
    assert escalation.resolution == "Fixed in 17.6; customer renewed." and escalation.next_update_due is None
    assert escalation.updates.last().body == "Resolved: Fixed in 17.6; customer renewed."
    assert (
        "was resolved on" in refusal(lambda: resolve(escalation, actor=csm, resolution="again"))["status"][0]
    )
    assert "is resolved" in refusal(lambda: add_update(escalation, actor=csm, body="more"))["status"][0]
    assert escalation.updates.count() == 2


# --- reminders ------------------------------------------------------------------------------------


def test_reminders_once_per_due_date_to_the_owner(big, csm, users, today, smtp_server):
    account = big(name="Initech")
    escalation = escalate(account, csm, severity="critical", title="Runners down")  # due Monday
    resolved = escalate(account, users["admin"], severity="critical")
    resolve(resolved, actor=users["admin"], resolution="Done")
    assert remind_due(FRIDAY) == 0
    assert remind_due(MONDAY) == 1
    assert remind_due(MONDAY) == 0 and remind_due(TUESDAY) == 0  # once per due date, though overdue
    escalation.refresh_from_db()
    assert escalation.reminded_on == MONDAY
    message = OutboxMessage.objects.get()
    assert message.to == "csm@example.com" and message.kind == "notification"
    assert message.subject == f"Update due: escalation #{escalation.pk} Initech"
    assert "needs an update: it was due on 2026-11-16 (due today)" in message.text
    assert f"/escalations/{escalation.pk}/" in message.text
    assert outbox.deliver().sent == 1
    ((recipients, text),) = smtp_server.messages
    assert recipients == ["csm@example.com"] and "Runners down" in text
    today.set(TUESDAY)
    add_update(escalation, actor=csm, body="Patched")  # due Wednesday now
    assert remind_due(WEDNESDAY + dt.timedelta(days=1)) == 1
    assert "(overdue by 1 business day)" in OutboxMessage.objects.latest("pk").text
    assert OutboxMessage.objects.count() == 2


def test_the_reminder_task_and_its_schedule(big, csm, today):
    escalate(big(), csm, severity="critical")
    today.set(MONDAY)
    assert remind_escalations.call() == "1 escalation reminder(s) queued"
    schedule = Schedule.objects.get(name="engagement-reminders")
    assert schedule.cron == "0 8 * * *" and schedule.task == "csops.engagements.tasks.remind_escalations"


# --- pages ----------------------------------------------------------------------------------------


@pytest.fixture
def book(big, csm, users, today):
    """Three escalations: one qualified, due Tuesday; one overridden, critical, due Monday; one resolved."""
    account = big(name="Acme")
    small = big(name="Tiny", arr=Decimal("40000"))
    due_tuesday = escalate(account, csm, title="Vendor evaluation")
    overridden = escalate(
        small, users["admin"], severity="critical", title="CEO escalated", override_reason="Strategic logo"
    )
    done = escalate(account, csm, severity="low", title="Old problem")
    resolve(done, actor=csm, resolution="Fixed")
    return {"due_tuesday": due_tuesday, "overridden": overridden, "done": done}


def test_the_list_filters_sorts_and_shows_overdue_updates(book, client_as, today):
    today.set(TUESDAY)
    client = client_as("viewer")

    def titles(query: str) -> list[str]:
        response = client.get(f"/escalations/?{query}")
        assert response.status_code == 200
        return [row["object"].title for row in response.context["rows"]]

    assert titles("") == ["Old problem", "CEO escalated", "Vendor evaluation"]
    assert titles("status=open") == ["CEO escalated", "Vendor evaluation"]
    assert titles("status=resolved&status=monitoring") == ["Old problem"]
    assert titles("severity=critical") == ["CEO escalated"]
    assert titles("kind=support") == []
    assert titles("overdue=true") == ["CEO escalated"]  # due Monday; Tuesday's is due today, not late
    assert titles("overdue=false") == ["Old problem", "Vendor evaluation"]
    assert titles("sort=severity_rank") == ["CEO escalated", "Vendor evaluation", "Old problem"]
    assert titles("sort=title") == ["CEO escalated", "Old problem", "Vendor evaluation"]
    assert titles(f"account={book['overridden'].account_id}") == ["CEO escalated"]
    html = client.get("/escalations/?overdue=true").content.decode()
    assert "2026-11-16 · overdue" in html and "overridden" in html
    assert client.get("/escalations/?severity=urgent").status_code == 400
    assert 'href="/escalations/new/"' not in html  # a viewer may not file
    assert 'href="/escalations/new/"' in client_as("csm").get("/escalations/").content.decode()
    assert 'href="/escalations/">Escalations</a>' in html  # the navigation
    export = client.get("/escalations/?export=csv&severity=critical")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0] == "Title,Account,Kind,Severity,Status,Owner,Next update due,Qualified,Opened"
    assert lines[1].startswith(
        "CEO escalated,Tiny,Account escalation,Critical,Open,CS Ops admin Tester,2026-11-16 · overdue,"
    )


@pytest.mark.parametrize(
    "url", ["/escalations/?per_page=25", "/escalations/?status=open&overdue=true&sort=severity_rank"]
)
def test_the_list_query_count_is_pinned(book, big, csm, client_as, url):
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) <= 5, "\n".join(q["sql"] for q in queries)
    for i in range(5):
        escalate(big(), csm, severity="critical", title=f"More {i}")
    with CaptureQueriesContext(connection) as more:
        client.get(url)
    assert len(more) == len(queries)


def test_the_escalation_page(book, client_as, today):
    today.set(TUESDAY)
    client = client_as("viewer")
    overridden = book["overridden"]
    with CaptureQueriesContext(connection) as queries:
        page = client.get(overridden.get_absolute_url())
    assert page.status_code == 200 and len(queries) <= 8, "\n".join(q["sql"] for q in queries)
    html = page.content.decode()
    assert 'aria-label="not met">✗</span></td>\n  <td>ARR 40,000.00 &lt; 120,000.00' in html
    assert 'aria-label="met">✓</span></td>\n  <td>LAM 250,000.00 &gt; 100,000.00.' in html
    assert "Filed anyway by <strong>CS Ops admin Tester</strong>: Strategic logo" in html
    assert "Critical: an update every business day" in html
    assert '2026-11-16 <span class="tag red">overdue</span>' in html
    assert "Filed with an override: Strategic logo" in html
    assert "Record the update" not in html  # a viewer only reads
    due = client.get(book["due_tuesday"].get_absolute_url()).content.decode()
    assert "High: an update every 2 business days" in due and "overdue</span>" not in due
    assert "Every criterion was met." in due
    done = client.get(book["done"].get_absolute_url()).content.decode()
    assert "Fixed" in done and "Next update due" not in done


def test_update_and_resolve_from_the_page(book, client_as, today):
    escalation = book["due_tuesday"]
    client = client_as("csm")
    assert "Record the update" in client.get(escalation.get_absolute_url()).content.decode()
    today.set(MONDAY)
    bad = client.post(f"/escalations/{escalation.pk}/update/", {"body": "", "severity": "urgent"})
    assert bad.status_code == 400 and "This field is required." in bad.content.decode()
    response = client.post(
        f"/escalations/{escalation.pk}/update/",
        {"body": "Engineering on it", "status": "monitoring", "severity": "critical"},
    )
    assert response.status_code == 302 and response.url == escalation.get_absolute_url()
    escalation.refresh_from_db()
    assert (escalation.status, escalation.severity, escalation.next_update_due) == (
        "monitoring",
        "critical",
        TUESDAY,
    )
    assert client.post(f"/escalations/{escalation.pk}/resolve/", {"resolution": " "}).status_code == 400
    assert client.post(f"/escalations/{escalation.pk}/resolve/", {"resolution": "Fixed"}).status_code == 302
    escalation.refresh_from_db()
    assert escalation.status == "resolved"
    again = client.post(f"/escalations/{escalation.pk}/update/", {"body": "more"})
    assert again.status_code == 400 and "is resolved: file a new one" in again.content.decode()
    viewer = client_as("viewer")
    assert viewer.post(f"/escalations/{escalation.pk}/update/", {"body": "x"}).status_code == 403
    assert viewer.post(f"/escalations/{escalation.pk}/resolve/", {"resolution": "x"}).status_code == 403
    assert client.get(f"/escalations/{escalation.pk}/update/").status_code == 405


def test_the_new_escalation_page_shows_the_qualification_first(big, client_as, csm):
    client = client_as("csm")
    assert 'name="account"' in client.get("/escalations/new/").content.decode()
    missing = client.get("/escalations/new/?account=NOPE")
    assert missing.status_code == 400 and "No account with the CRM id or number" in missing.content.decode()
    account = big(renewal_date=dt.date(2027, 2, 14))
    for reference in (account.pk, account.external_id):
        html = client.get(f"/escalations/new/?account={reference}").content.decode()
        assert "Renewal on 2027-02-14, 93 days away: after 2027-02-13" in html
        assert "Not every criterion is met." in html and 'name="override_reason"' in html
    url = f"/escalations/new/?account={account.pk}"
    fields = {"kind": "account", "issue": "contraction", "severity": "medium", "title": "Seat cut"}
    refused = client.post(url, fields)
    assert refused.status_code == 400 and "Give a reason to file it anyway." in refused.content.decode()
    assert not Escalation.objects.exists()
    response = client.post(url, fields | {"override_reason": "Renewal moved up a day"})
    escalation = Escalation.objects.get()
    assert response.status_code == 302 and response.url == f"/escalations/{escalation.pk}/"
    assert escalation.overridden_by == csm and escalation.issue == "contraction"
    assert client_as("viewer").get(url).status_code == 403
    assert client_as("account_owner").post(url, fields).status_code == 403


def test_a_support_escalation_from_the_page_offers_the_accounts_open_tickets(big, client_as):
    account = big()
    ticket, closed = ticket_of(account), ticket_of(account, closed=True)
    client = client_as("csm")
    url = f"/escalations/new/?account={account.pk}"
    html = client.get(url).content.decode()
    assert f'value="{ticket.pk}"' in html and f'value="{closed.pk}"' not in html
    refused = client.post(url, {"kind": "support", "severity": "high", "title": "P1 outage"})
    assert refused.status_code == 400 and "needs the account&#x27;s ticket" in refused.content.decode()
    assert (
        client.post(
            url, {"kind": "support", "severity": "high", "title": "P1 outage", "ticket": ticket.pk}
        ).status_code
        == 302
    )
    assert Escalation.objects.get().ticket == ticket


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_filters_and_reads(book, client_as):
    api = client_as("viewer")
    page = api.get("/api/v1/escalations?limit=2").json()
    assert page["count"] == 3 and [i["title"] for i in page["items"]] == [
        "Vendor evaluation",
        "CEO escalated",
    ]
    assert [i["title"] for i in api.get("/api/v1/escalations?status=resolved").json()["items"]] == [
        "Old problem"
    ]
    critical = api.get("/api/v1/escalations?severity=critical").json()["items"]
    assert [(i["title"], i["qualified"], i["overridden_by"]) for i in critical] == [
        ("CEO escalated", False, "admin-user")
    ]
    account_id = book["overridden"].account_id
    assert api.get(f"/api/v1/escalations?account={account_id}").json()["count"] == 1
    detail = api.get(f"/api/v1/escalations/{book['overridden'].pk}").json()
    assert detail["criteria"][0]["key"] == "arr" and detail["criteria"][0]["met"] is False
    assert detail["updates"][0]["body"] == "Filed with an override: Strategic logo"
    bad = api.get("/api/v1/escalations?severity=urgent")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["severity"]
    assert api.get("/api/v1/escalations/999999").status_code == 404


def test_api_files_and_updates(big, client_as, today):
    account = big()
    ticket = ticket_of(account)
    api = client_as("csm")
    created = api.post(
        "/api/v1/escalations",
        content_type=JSON,
        data={
            "account": account.external_id,
            "kind": "support",
            "severity": "critical",
            "title": "Outage",
            "ticket": ticket.external_id,
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["ticket"] == ticket.external_id and body["next_update_due"] == "2026-11-16"
    assert body["owner"] == "csm-user" and body["qualified"] is True
    assert AuditEntry.objects.get(content_type__model="escalation").source == "api"
    today.set(MONDAY)
    updated = api.post(
        f"/api/v1/escalations/{body['id']}/updates",
        content_type=JSON,
        data={"body": "Mitigated", "status": "monitoring", "severity": "medium"},
    )
    assert updated.status_code == 201
    assert updated.json()["status"] == "monitoring" and updated.json()["next_update_due"] == "2026-11-23"
    assert [u["body"] for u in updated.json()["updates"]] == ["Filed.", "Mitigated"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"account": "NOPE"}, "account"),
        ({"ticket": "ZD-nope"}, "ticket"),
        ({"kind": "support"}, "ticket"),
        ({"kind": "panic"}, "kind"),
        ({"severity": "urgent"}, "severity"),
        ({"issue": ""}, "issue"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_api_bad_input_is_a_422_naming_the_field(big, client_as, change, field):
    account = big()
    data = {
        "account": account.external_id,
        "kind": "account",
        "issue": "churn",
        "severity": "high",
        "title": "Churn risk",
    } | change
    response = client_as("csm").post("/api/v1/escalations", content_type=JSON, data=data)
    assert response.status_code == 422, response.content
    assert field in str(response.json()["detail"][0]["loc"]), response.json()
    assert not Escalation.objects.exists()


def test_api_unqualified_without_override_and_bad_updates(big, client_as, csm):
    account = big(lam=Decimal("100000"))
    api = client_as("csm")
    data = {
        "account": account.external_id,
        "kind": "account",
        "issue": "churn",
        "severity": "high",
        "title": "T",
    }
    refused = api.post("/api/v1/escalations", content_type=JSON, data=data)
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"loc": ["override_reason"], "msg": refused.json()["detail"][0]["msg"]}
    ]
    assert "LAM > 100,000 not met" in refused.json()["detail"][0]["msg"]
    escalation = escalate(account, csm, override_reason="why not")
    bad = api.post(f"/api/v1/escalations/{escalation.pk}/updates", content_type=JSON, data={"body": " "})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body"]
    assert (
        api.post("/api/v1/escalations/999999/updates", content_type=JSON, data={"body": "x"}).status_code
        == 404
    )


def test_api_viewer_refused(big, client_as, csm):
    account = big()
    escalation = escalate(account, csm)
    api = client_as("viewer")
    data = {
        "account": account.external_id,
        "kind": "account",
        "issue": "churn",
        "severity": "high",
        "title": "T",
    }
    assert api.post("/api/v1/escalations", content_type=JSON, data=data).status_code == 403
    refused = api.post(f"/api/v1/escalations/{escalation.pk}/updates", content_type=JSON, data={"body": "x"})
    assert refused.status_code == 403 and "work_ctas" in refused.json()["detail"]
    assert escalation.updates.count() == 1
