"""The CTA list (filters, team view, sorting, pinned queries), its bulk actions and My CTAs."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csops.cockpit.actions import (
    bulk_close_ctas,
    bulk_reassign_ctas,
    bulk_snooze_ctas,
    close_cta,
    create_cta,
)
from csops.cockpit.filtersets import CtaFilterSet
from csops.cockpit.models import Cta, CtaStatus, CtaType, Playbook, Task
from csops.core.models import AuditEntry, Role, User
from csops.customers.models import Account


@pytest.fixture
def team(users):
    """A leader managing the CSM and a second CSM; a third CSM reports to nobody."""
    manager = User.objects.create_user(
        username="lead", password="pw-for-tests", role=Role.VIEWER, first_name="Lee", last_name="Lead"
    )
    second = User.objects.create_user(
        username="csm-two", password="pw-for-tests", role=Role.CSM, first_name="Second", last_name="Csm"
    )
    outsider = User.objects.create_user(
        username="csm-out", password="pw-for-tests", role=Role.CSM, first_name="Out", last_name="Sider"
    )
    User.objects.filter(pk__in=[users["csm"].pk, second.pk]).update(manager=manager)
    return {"manager": manager, "second": second, "outsider": outsider, "csm": users["csm"]}


@pytest.fixture
def book(seeded, team):
    """CTAs across owners, types, priorities and states, named for what they are."""
    today = timezone.localdate()
    risk, renewal = CtaType.objects.get(name="Risk"), CtaType.objects.get(name="Renewal")
    accounts = list(Account.objects.order_by("pk")[:4])
    specs = [
        ("csm overdue", accounts[0], risk, "At-Risk", "high", team["csm"], today - dt.timedelta(days=3)),
        ("csm today", accounts[0], renewal, "Upcoming Renewal", "medium", team["csm"], today),
        ("csm later", accounts[1], risk, "Product Risk", "urgent", team["csm"], today + dt.timedelta(days=9)),
        ("csm undated", accounts[1], risk, "At-Risk", "low", team["csm"], None),
        (
            "second overdue",
            accounts[2],
            renewal,
            "Upcoming Renewal",
            "low",
            team["second"],
            today - dt.timedelta(days=1),
        ),
        (
            "outsider later",
            accounts[3],
            risk,
            "At-Risk",
            "medium",
            team["outsider"],
            today + dt.timedelta(days=2),
        ),
    ]
    made = {}
    for name, account, kind, reason, priority, owner, due in specs:
        made[name], _ = create_cta(
            account,
            actor=None,
            type=kind,
            reason=kind.reasons.get(name=reason),
            name=name,
            priority=priority,
            owner=owner,
            due_date=due,
            playbook=Playbook.objects.get(name="Account Triage"),
            source="rule" if "overdue" in name else "manual",
        )
    Cta.objects.filter(pk=made["outsider later"].pk).update(
        snoozed_until=today + dt.timedelta(days=5), snooze_reason="Away"
    )
    close_cta(made["csm later"], actor=None, status=CtaStatus.objects.get(name="Closed Success"))
    return made


def names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


FILTER_CASES = [
    ({"owner": "csm-user"}, {"csm overdue", "csm today", "csm later", "csm undated"}),
    ({"team": "lead", "state": "open"}, {"csm overdue", "csm today", "csm undated", "second overdue"}),
    ({"state": "overdue"}, {"csm overdue", "second overdue"}),
    ({"state": "today"}, {"csm today"}),
    ({"state": "upcoming"}, {"csm undated"}),
    ({"state": "snoozed"}, {"outsider later"}),
    ({"state": "closed"}, {"csm later"}),
    ({"state": "active", "type": ["Renewal"]}, {"csm today", "second overdue"}),
    ({"reason": ["Product Risk"]}, {"csm later"}),
    ({"priority": ["low", "urgent"]}, {"csm undated", "second overdue", "csm later"}),
    ({"status": ["Closed Success"]}, {"csm later"}),
    ({"source": ["rule"]}, {"csm overdue", "second overdue"}),
    ({"q": "undated"}, {"csm undated"}),
]


def test_filterset(book):
    for data, expected in FILTER_CASES:
        filterset = CtaFilterSet(data, queryset=Cta.objects.all())
        assert filterset.is_valid(), (data, filterset.errors)
        assert names(filterset.qs) == expected, data


def test_filterset_account_and_due_range(book):
    account = book["csm overdue"].account
    today = timezone.localdate()
    by_name = CtaFilterSet({"account": account.name[2:8].lower()}, queryset=Cta.objects.all()).qs
    assert names(by_name) >= {"csm overdue", "csm today"} and "second overdue" not in names(by_name)
    window = {"due_after": str(today - dt.timedelta(days=2)), "due_before": str(today + dt.timedelta(days=3))}
    assert names(CtaFilterSet(window, queryset=Cta.objects.all()).qs) == {
        "csm today",
        "second overdue",
        "outsider later",
    }
    bad = CtaFilterSet(
        {"state": "asleep", "due_after": "soon", "owner": "nobody"}, queryset=Cta.objects.all()
    )
    assert not bad.is_valid() and set(bad.errors) == {"state", "due_after", "owner"}


def test_default_view_follows_the_role(book, team, client_as, client):
    client.force_login(team["manager"])
    shown = {row["object"].name for row in client.get("/cockpit/ctas/").context["rows"]}
    assert shown == {"csm overdue", "csm today", "csm undated", "second overdue"}
    mine = {row["object"].name for row in client_as("csm").get("/cockpit/ctas/").context["rows"]}
    assert mine == {"csm overdue", "csm today", "csm undated"}
    everyone = client_as("viewer").get("/cockpit/ctas/?page=1").context["rows"]
    assert {row["object"].name for row in everyone} == {
        "csm overdue",
        "csm today",
        "csm undated",
        "second overdue",
        "outsider later",
    }
    # A manager can look past the team: any explicit filter replaces the default.
    client.force_login(team["manager"])
    other = client.get("/cockpit/ctas/?owner=csm-out&state=")
    assert {row["object"].name for row in other.context["rows"]} == {"outsider later"}
    assert b"My team" in other.content


def test_sort_priority_by_urgency_and_reject_bad_filters(book, client_as):
    client = client_as("admin")
    rows = client.get("/cockpit/ctas/?state=&sort=-priority_rank").context["rows"]
    assert [row["object"].priority for row in rows][:2] == ["urgent", "high"]
    rows = client.get("/cockpit/ctas/?state=&sort=due_date&per_page=25").context["rows"]
    dated = [row["object"].due_date for row in rows if row["object"].due_date]
    assert dated == sorted(dated)
    bad = client.get("/cockpit/ctas/?due_after=someday")
    assert bad.status_code == 400 and b"Enter a valid date" in bad.content


def test_export_follows_the_filters(book, client_as):
    response = client_as("viewer").get("/cockpit/ctas/?state=overdue&export=csv")
    body = b"".join(response.streaming_content).decode()
    assert "csm overdue" in body and "second overdue" in body and "csm today" not in body


def _many(account, owner, count: int) -> None:
    kind = CtaType.objects.get(name="Risk")
    reason, status = kind.reasons.first(), CtaStatus.objects.get(name="New")
    today = timezone.localdate()
    Cta.objects.bulk_create(
        [
            Cta(
                account=account,
                name=f"bulk {i}",
                type=kind,
                reason=reason,
                status=status,
                owner=owner,
                due_date=today + dt.timedelta(days=i % 20 - 10),
                priority=["low", "high"][i % 2],
            )
            for i in range(count)
        ]
    )


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_list_page_query_count_is_pinned(book, team, client_as, role):
    """session, user, has-reports, count, rows (joined), the filter form's five choice lists, and
    for those who may bulk-edit the statuses and owners: the same for 25 rows or 100."""
    _many(Account.objects.first(), team["csm"], 120)
    client = client_as(role)
    url = "/cockpit/ctas/?state=open&per_page=100&sort=-priority_rank"
    with CaptureQueriesContext(connection) as large:
        response = client.get(url)
    assert response.status_code == 200 and len(response.context["rows"]) == 100
    with CaptureQueriesContext(connection) as small:
        client.get(url.replace("100", "25"))
    expected = 12 if role == "admin" else 10
    assert len(large) == len(small) == expected, "\n".join(q["sql"] for q in large)


def test_my_ctas_piles_are_bounded_counted_and_pinned(book, team, client_as):
    client = client_as("csm")
    with CaptureQueriesContext(connection) as few:
        piles = {p.name: p for p in client.get("/cockpit/").context["piles"]}
    assert {name: pile.count for name, pile in piles.items()} == {
        "overdue": 1,
        "today": 1,
        "upcoming": 1,
        "snoozed": 0,
    }
    _many(Account.objects.first(), team["csm"], 200)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/cockpit/")
    piles = {p.name: p for p in response.context["piles"]}
    # session, user, the four counts at once, the three piles that have rows (snoozed is empty)
    assert len(many) == len(few) == 6, "\n".join(q["sql"] for q in many)
    assert piles["overdue"].count == 1 + 100 and len(piles["overdue"].ctas) == 25
    assert piles["overdue"].more == 76
    assert piles["overdue"].see_all == "/cockpit/ctas/?owner=csm-user&state=overdue"
    assert b'href="/cockpit/ctas/?owner=csm-user&amp;state=overdue"' in response.content
    listed = client.get(piles["overdue"].see_all)
    assert listed.context["page"].paginator.count == piles["overdue"].count
    dues = [c.due_date for c in piles["upcoming"].ctas]
    assert dues == sorted(dues)


# --- bulk actions -------------------------------------------------------------------------------


def test_bulk_close_from_the_list(book, users, client_as):
    ids = [book["csm overdue"].pk, book["csm today"].pk, book["csm later"].pk]
    client = client_as("csm")
    assert (
        client_as("viewer").post("/cockpit/ctas/bulk/", {"selected": ids, "verb": "close"}).status_code == 403
    )
    wip = CtaStatus.objects.get(name="Work in progress")
    response = client.post(
        "/cockpit/ctas/bulk/",
        {"selected": ids, "verb": "close", "status": wip.pk, "next": "/cockpit/ctas/?state=open"},
        follow=True,
    )
    assert b"is not a closed status" in response.content
    assert response.redirect_chain[-1][0] == "/cockpit/ctas/?state=open"
    assert Cta.objects.filter(pk__in=ids, closed_at__isnull=True).count() == 2
    lost = CtaStatus.objects.get(name="Closed Lost: Not a Priority")
    response = client.post(
        "/cockpit/ctas/bulk/", {"selected": ids, "verb": "close", "status": lost.pk}, follow=True
    )
    assert b"Closed 2 CTA(s)" in response.content  # the one already closed is left alone
    assert Cta.objects.filter(pk__in=ids[:2], status=lost, closed_at__isnull=False).count() == 2
    assert Cta.objects.get(pk=ids[2]).status.name == "Closed Success"
    audited = AuditEntry.objects.filter(verb="update", actor=users["csm"], object_id__in=map(str, ids))
    assert sorted(int(e.object_id) for e in audited) == sorted(ids[:2])
    assert all(e.changes["status_id"][1] == lost.pk for e in audited)
    again = client.post(
        "/cockpit/ctas/bulk/", {"selected": ids, "verb": "close", "status": lost.pk}, follow=True
    )
    assert b"Closed 0 CTA(s)" in again.content and audited.count() == 2


def test_bulk_close_refuses_a_status_that_does_not_apply(book, users):
    lifecycle_only = CtaStatus.objects.get(name="Closed: Not needed")
    ids = [book["csm overdue"].pk, book["csm today"].pk]
    with pytest.raises(Exception, match="does not apply to 'csm overdue'"):
        bulk_close_ctas(ids, actor=users["csm"], status=lifecycle_only)
    assert not Cta.objects.filter(pk__in=ids, closed_at__isnull=False).exists()


def test_bulk_reassign_moves_the_owner_and_their_open_tasks(book, team, users, client_as):
    cta = book["csm overdue"]
    done = cta.tasks.first()
    Task.objects.filter(pk=done.pk).update(done_at=timezone.now())
    other_owner = cta.tasks.exclude(pk=done.pk).first()
    Task.objects.filter(pk=other_owner.pk).update(owner=users["admin"])
    client = client_as("admin")
    ids = [cta.pk, book["second overdue"].pk]
    for owner, message in [
        (users["pool"], b"pools cannot own CTAs"),
        (users["viewer"], b"may not work CTAs"),
    ]:
        response = client.post(
            "/cockpit/ctas/bulk/", {"selected": ids, "verb": "reassign", "owner": owner.pk}, follow=True
        )
        assert message in response.content
    assert Cta.objects.get(pk=cta.pk).owner == team["csm"]
    response = client.post(
        "/cockpit/ctas/bulk/",
        {"selected": ids, "verb": "reassign", "owner": team["outsider"].pk},
        follow=True,
    )
    assert b"Reassigned 2 CTA(s) to Out Sider" in response.content
    assert set(Cta.objects.filter(pk__in=ids).values_list("owner", flat=True)) == {team["outsider"].pk}
    tasks = {t.pk: t.owner_id for t in Task.objects.filter(cta=cta)}
    assert tasks[done.pk] == team["csm"].pk and tasks[other_owner.pk] == users["admin"].pk
    moved = [pk for pk, owner in tasks.items() if owner == team["outsider"].pk]
    assert len(moved) == len(tasks) - 2
    assert AuditEntry.objects.filter(
        content_type__model="task", object_id__in=map(str, moved)
    ).count() == len(moved)


def test_bulk_snooze_checks_date_reason_and_closed_ctas(book, users, client_as):
    client = client_as("csm")
    today = timezone.localdate()
    ids = [book["csm overdue"].pk, book["csm today"].pk]
    cases = [
        ({"until": str(today)}, b"Snooze until a future date"),
        ({"until": "2026-02-30"}, b"Give a date"),
        ({"until": str(today + dt.timedelta(days=4)), "reason": "  "}, b"Say why"),
        (
            {
                "until": str(today + dt.timedelta(days=4)),
                "reason": "x",
                "selected": [*ids, book["csm later"].pk],
            },
            b"is closed; reopen before snoozing",
        ),
        (
            {"until": str(today + dt.timedelta(days=4)), "reason": "x", "selected": [*ids, 99999999]},
            b"No CTA with id 99999999",
        ),
        ({"until": str(today + dt.timedelta(days=4)), "reason": "x", "selected": []}, b"Select at least one"),
    ]
    for extra, message in cases:
        response = client.post(
            "/cockpit/ctas/bulk/", {"selected": ids, "verb": "snooze", **extra}, follow=True
        )
        assert message in response.content, extra
    assert not Cta.objects.filter(pk__in=ids, snoozed_until__isnull=False).exists()
    until = today + dt.timedelta(days=4)
    assert bulk_snooze_ctas(ids, actor=users["csm"], until=until, reason="Customer on holiday") == 2
    assert bulk_snooze_ctas(ids, actor=users["csm"], until=until, reason="Customer on holiday") == 0
    assert set(Cta.objects.filter(pk__in=ids).values_list("snoozed_until", "snooze_reason")) == {
        (until, "Customer on holiday")
    }


def test_bulk_actions_are_all_or_nothing_and_reassign_refuses_pools(book, users):
    with pytest.raises(Exception, match="pools cannot own"):
        bulk_reassign_ctas([book["csm overdue"].pk], actor=None, owner=users["pool"])
    with pytest.raises(Exception, match="not a closed status"):
        bulk_close_ctas([book["csm overdue"].pk], actor=None, status=CtaStatus.objects.get(name="New"))
    assert Cta.objects.get(pk=book["csm overdue"].pk).closed_at is None


def test_list_page_has_accessible_bulk_controls(book, client_as):
    page = client_as("csm").get("/cockpit/ctas/?state=").content.decode()
    cta = book["csm overdue"]
    assert f'aria-label="Select {cta.name}"' in page and 'name="selected"' in page
    for control in ("bulk-until", "bulk-reason", "bulk-owner", "bulk-status"):
        assert f'<label for="{control}">' in page
    assert 'id="select-all"' in page and "core/bulk.js" in page
    assert "bulk.js" not in client_as("viewer").get("/cockpit/ctas/").content.decode()


@pytest.mark.parametrize(
    ("role", "url", "index"),
    [
        ("viewer", "/cockpit/ctas/", "cta_open_due"),
        ("viewer", "/cockpit/ctas/?state=open&sort=-priority_rank", "cta_open_priority"),
        ("viewer", "/cockpit/ctas/?state=closed&sort=-closed_at", "cta_closed"),
        ("viewer", "/cockpit/ctas/?state=&sort=-created_at", "cta_created"),
        ("csm", "/cockpit/ctas/", ""),
        ("viewer", "/cockpit/ctas/?state=open&type=Renewal", ""),
    ],
)
def test_the_list_orders_come_from_indexes(book, client_as, role, url, index):
    """With millions of CTAs a page must read an index in order, never sort every match: told to
    avoid sorts and sequential scans, the planner finds an index giving the order (the named one
    where only one can)."""
    if connection.vendor != "postgresql":
        pytest.skip("the plans that matter at scale are PostgreSQL's")
    with CaptureQueriesContext(connection) as queries:
        client_as(role).get(url)
    rows = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "cockpit_cta"."id"'))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        cursor.execute("EXPLAIN " + rows)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Sort" not in plan and index in plan, plan
