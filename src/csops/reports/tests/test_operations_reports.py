"""The CTA, time-to-value, programs and CSE reports against hand-computed figures."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from csops.cockpit.models import Cta, CtaReason, CtaStatus, CtaType, Playbook, Task
from csops.reports.tests.test_health_reports import rows

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def make_cta(
    account,
    kind: str,
    *,
    owner=None,
    created: float,
    due: int | None,
    closed: float | None = None,
    playbook=None,
) -> Cta:
    type_ = CtaType.objects.get(name=kind)
    cta = Cta.objects.create(
        account=account,
        name=f"{kind} CTA",
        type=type_,
        reason=CtaReason.objects.filter(type=type_).first(),
        status=CtaStatus.objects.get(name="New"),
        owner=owner,
        playbook=playbook,
        due_date=None if due is None else timezone.localdate() + dt.timedelta(days=due),
    )
    Cta.objects.filter(pk=cta.pk).update(
        created_at=days_ago(created), closed_at=None if closed is None else days_ago(closed)
    )
    cta.refresh_from_db()
    return cta


def test_ctas_by_type_and_team(client_as, make_account, team, django_assert_max_num_queries):
    account = make_account()
    csm = team["csm"]  # manager: mgr
    make_cta(account, "Risk", owner=csm, created=10, due=-1)  # open, overdue, 10 days old
    make_cta(account, "Risk", owner=csm, created=4, due=5)  # open, 4 days old
    make_cta(account, "Risk", created=12, due=-5, closed=2)  # closed 3 days late, after 10 days
    make_cta(account, "Lifecycle", owner=csm, created=3, due=1, closed=1)  # closed on time after 2 days
    viewer = client_as("viewer")
    with django_assert_max_num_queries(8):
        page = viewer.get("/reports/ctas/")
    assert page.status_code == 200
    # type, open, overdue, mean age of open, opened, closed, closed by due %, mean days to close
    assert rows(page, "by_type") == [
        ["Lifecycle", "0", "0", "—", "1", "1", "100.0", "2.0"],
        ["Risk", "2", "1", "7.0", "3", "1", "0.0", "10.0"],
    ]
    assert rows(page, "by_team") == [
        ["mgr", "2", "1", "7.0", "3", "1", "100.0", "2.0"],
        ["no team", "0", "0", "—", "1", "1", "0.0", "10.0"],
    ]
    html = page.content.decode()
    assert "50.0%" in html  # overdue: 1 of 2 open
    mine = rows(client_as("viewer").get("/reports/ctas/", {"team": "mgr"}), "by_type")
    assert [r[:6] for r in mine] == [
        ["Lifecycle", "0", "0", "—", "1", "1"],
        ["Risk", "2", "1", "7.0", "2", "0"],
    ]


def test_ctas_export_needs_a_table_name(client_as, make_account, team):
    from openpyxl import load_workbook

    make_cta(make_account(), "Risk", owner=team["csm"], created=10, due=-1)
    viewer = client_as("viewer")
    missing = viewer.get("/reports/ctas/", {"export": "csv"})
    assert missing.status_code == 400 and "table: give one of by_type, by_team" in missing.content.decode()
    book = load_workbook(
        io.BytesIO(viewer.get("/reports/ctas/", {"export": "xlsx", "table": "by_team"}).content)
    )
    assert list(book.active.iter_rows(values_only=True))[1][:3] == ("mgr", 1, 1)


def test_time_to_value_per_cohort(client_as, make_account, django_assert_max_num_queries):
    start = timezone.localdate() - dt.timedelta(days=60)
    playbook = Playbook.objects.get(name="New Customer Onboarding")
    p, q = make_account(contract_start=start), make_account(contract_start=start)
    make_account(contract_start=start)  # no onboarding CTA
    make_account(contract_start=start - dt.timedelta(days=400))  # before the period

    def onboarding(account, created: int, done: dict[str, int]) -> None:
        cta = make_cta(account, "Lifecycle", created=created, due=None, playbook=playbook)
        for position, task in enumerate(playbook.tasks):
            offset = done.get(task["name"].split()[0])
            Task.objects.create(
                cta=cta,
                name=task["name"],
                position=position,
                due_date=cta.created_at.date() + dt.timedelta(days=task["due_in_days"]),
                done_at=None if offset is None else cta.created_at + dt.timedelta(days=offset),
            )

    onboarding(p, 50, {"Hold": 10, "First": 35, "Customer": 40})  # kickoff on time, value late, onboarded
    onboarding(q, 20, {"Hold": 20})  # kickoff late
    viewer = client_as("viewer")
    with django_assert_max_num_queries(8):
        page = viewer.get("/reports/time-to-value/")
    assert page.status_code == 200
    # cohort, accounts, in onboarding, engaged ≤14d %, days, first value ≤30d %, days, onboarded ≤45d %, days
    assert rows(page, "cohorts") == [
        [f"{start:%Y-%m}", "3", "2", "50.0", "15.0", "0.0", "35.0", "50.0", "40.0"]
    ]
    html = page.content.decode()
    assert "&#x27;Hold the kickoff call&#x27; done within 14 days" in html
    assert "Onboarded within 45 days" in html


def test_programs_and_surveys(client_as, make_account, contact_for, django_assert_max_num_queries):
    from csops.programs.models import (
        Enrolment,
        OutboxMessage,
        Program,
        Survey,
        SurveyInvitation,
        SurveyResponse,
        TrackingEvent,
    )

    account = make_account()
    contact = contact_for(account, "GitLab Admin")
    program = Program.objects.get(name="Onboarding series")
    enrolment = Enrolment.objects.create(program=program, account=account, contact=contact, key="e1")
    messages = [
        OutboxMessage.objects.create(
            key=f"m{i}",
            kind="program",
            to="a@customer.example",
            subject="s",
            text="t",
            account=account,
            enrolment=enrolment,
            status="sent" if i < 3 else "queued",
            next_attempt_at=NOW,
            sent_at=NOW if i < 3 else None,
        )
        for i in range(4)
    ]
    for message, kind in (
        (messages[0], "open"),
        (messages[0], "open"),
        (messages[1], "open"),
        (messages[1], "click"),
    ):
        TrackingEvent.objects.create(message=message, kind=kind)
    survey = Survey.objects.get(name="Post-onboarding NPS")
    for i in range(5):
        invitation = SurveyInvitation.objects.create(
            survey=survey, account=account, contact=contact, digest=f"d{i}", key=f"k{i}", expires_at=NOW
        )
        if i < 4:
            score = (10, 9, 8, 3)[i]
            SurveyResponse.objects.create(
                invitation=invitation,
                survey=survey,
                account=account,
                contact=contact,
                score=score,
                category=("promoter", "promoter", "passive", "detractor")[i],
            )
    viewer = client_as("viewer")
    with django_assert_max_num_queries(8):
        page = viewer.get("/reports/programs/")
    assert page.status_code == 200
    # program, queued, sent, accounts reached, opened %, clicked %
    assert rows(page, "programs") == [["Onboarding series", "4", "3", "1", "66.7", "33.3"]]
    # survey, kind, invited, responses, rate, promoters, passives, detractors, mean, NPS
    assert rows(page, "surveys") == [
        ["Post-onboarding NPS", "NPS", "5", "4", "80.0", "2", "1", "1", "7.5", "25.0"]
    ]
    assert "promoters (9-10) - % detractors (0-6)" in page.content.decode()


def test_cse_engagements_and_escalations(
    client_as, make_account, contact_for, users, django_assert_max_num_queries
):
    from csops.engagements.models import EngagementRequest, Escalation, FollowUp

    account = make_account()
    contact = contact_for(account, "GitLab Admin")
    fields = {
        "account": account,
        "filed_by": users["account_owner"],
        "contact": contact,
        "topic": "CI",
        "primary_use_case": "ci",
        "risk_type": "none",
        "environment": "saas",
    }
    called = EngagementRequest.objects.create(status="called", **fields)
    filed_at = days_ago(10)
    EngagementRequest.objects.filter(pk=called.pk).update(
        filed_at=filed_at,
        converted_at=filed_at + dt.timedelta(days=1),
        called_on=timezone.localdate(filed_at) + dt.timedelta(days=3),
    )
    EngagementRequest.objects.create(status="filed", **fields)
    today = timezone.localdate()
    FollowUp.objects.create(
        request=called, kind="email", opened_on=today, due_on=today, done_on=today, done_at=NOW
    )
    FollowUp.objects.create(
        request=called, kind="answer", opened_on=today, due_on=today - dt.timedelta(days=1)
    )
    resolved = Escalation.objects.create(
        account=account,
        kind="account",
        title="Blocked",
        severity="high",
        owner=users["csm"],
        qualified=True,
        status="resolved",
    )
    Escalation.objects.filter(pk=resolved.pk).update(opened_at=days_ago(6), resolved_at=days_ago(2))
    Escalation.objects.create(
        account=account, kind="account", title="Down", severity="critical", owner=users["csm"]
    )
    viewer = client_as("viewer")
    with django_assert_max_num_queries(8):
        page = viewer.get("/reports/cse/")
    assert page.status_code == 200
    assert rows(page, "requests") == [["Filed", "1", "—", "—"], ["Call held", "1", "1.0", "3.0"]]
    assert rows(page, "follow_ups") == [
        ["Answer to a further question", "1", "0", "—", "1"],
        ["Follow-up email after the call", "1", "1", "100.0", "0"],
    ]
    assert rows(page, "escalations") == [
        ["Critical", "1", "0", "1", "0", "—"],
        ["High", "1", "1", "0", "1", "4.0"],
    ]


def test_every_report_page_renders_for_a_leader_with_its_query_count_pinned(
    client_as, seeded, django_assert_max_num_queries
):
    from csops.reports.selectors import REPORTS

    leader = client_as("viewer")
    for slug in REPORTS:
        with django_assert_max_num_queries(10):
            page = leader.get(f"/reports/{slug}/")
        assert page.status_code == 200, slug
    index = leader.get("/reports/").content.decode()
    assert all(f"/reports/{slug}/" in index for slug in REPORTS)
