"""Report subscriptions: the actions, the pages, and delivery through the outbox to a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csops.core.models import AuditEntry, Schedule
from csops.programs.outbox import deliver
from csops.reports.actions import send_due_reports, subscribe, unsubscribe
from csops.reports.models import ReportSubscription
from csops.reports.tests.test_operations_reports import make_cta

pytestmark = pytest.mark.django_db


def test_subscribe_is_idempotent_and_checks_its_input(users):
    leader = users["viewer"]
    first = subscribe(user=leader, report="ctas", filters={"months": "3"}, frequency="weekly")
    again = subscribe(user=leader, report="ctas", filters={"months": "3"}, frequency="monthly")
    assert again.pk == first.pk and again.frequency == "monthly"
    assert ReportSubscription.objects.filter(user=leader).count() == 1
    other = subscribe(user=leader, report="ctas", filters={"months": "6", "ignored": "x"})
    assert other.pk != first.pk and other.filters == {"months": "6"}
    assert AuditEntry.objects.filter(object_id=str(first.pk), verb="update").count() == 1
    for bad, field in (
        ({"report": "nope"}, "report"),
        ({"frequency": "daily"}, "frequency"),
        ({"filters": {"months": "99"}}, "filters"),
        ({"filters": ["x"]}, "filters"),
    ):
        arguments = {"report": "ctas", "filters": {}, "frequency": "weekly", **bad}
        with pytest.raises(ValidationError) as caught:
            subscribe(user=leader, **arguments)
        assert list(caught.value.message_dict) == [field]
    with pytest.raises(ValidationError, match="months: '99' is not a number of months"):
        subscribe(user=leader, report="ctas", filters={"months": "99"})
    assert unsubscribe(user=leader, subscription_id=first.pk) is True
    assert unsubscribe(user=leader, subscription_id=first.pk) is False  # already gone
    assert unsubscribe(user=users["admin"], subscription_id=other.pk) is False  # not theirs
    assert ReportSubscription.objects.filter(pk=other.pk).exists()


def test_subscribe_from_the_page_and_unsubscribe(client_as, users):
    leader = client_as("viewer")
    page = leader.get("/reports/health-distribution/", {"segment": "Growth"})
    assert 'action="/reports/health-distribution/subscribe/"' in page.content.decode()
    assert '<input type="hidden" name="segment" value="Growth">' in page.content.decode()
    response = leader.post(
        "/reports/health-distribution/subscribe/", {"segment": "Growth", "frequency": "monthly"}
    )
    assert response.status_code == 302 and response["Location"] == "/reports/subscriptions/"
    subscription = ReportSubscription.objects.get(user=users["viewer"])
    assert (subscription.report, subscription.filters, subscription.frequency) == (
        "health-distribution",
        {"segment": "Growth"},
        "monthly",
    )
    listing = leader.get("/reports/subscriptions/").content.decode()
    assert (
        "Health distribution over time" in listing and "segment: Growth" in listing and "Monthly" in listing
    )
    bad = leader.post("/reports/health-distribution/subscribe/", {"frequency": "hourly"})
    assert bad.status_code == 400 and "frequency: &#x27;hourly&#x27; is not one of" in bad.content.decode()
    assert leader.post("/reports/nope/subscribe/", {"frequency": "weekly"}).status_code == 400
    assert leader.post(f"/reports/subscriptions/{subscription.pk}/delete/").status_code == 302
    assert not ReportSubscription.objects.exists()


def test_a_due_report_is_emailed_once_and_weekly_again_seven_days_later(
    smtp_server, users, make_account, team
):
    make_cta(make_account(), "Risk", owner=team["csm"], created=10, due=-1)
    weekly = subscribe(user=users["viewer"], report="ctas", frequency="weekly")
    monthly = subscribe(user=users["admin"], report="ctas", filters={"team": "mgr"}, frequency="monthly")
    now = timezone.now()

    assert send_due_reports(now) == 2
    assert send_due_reports(now) == 0  # same run again: nothing due
    assert deliver().sent == 2
    assert deliver().sent == 0
    assert len(smtp_server.messages) == 2
    received = {
        to[0]: email.message_from_string(text, policy=policy.default) for to, text in smtp_server.messages
    }
    body = received["viewer@example.com"].get_body(("plain",)).get_content()
    assert received["viewer@example.com"]["Subject"].startswith("CTA volume, age and SLA")
    assert "Open CTAs: 1 - CTAs not closed, every type." in body
    assert "Risk" in body and "Closed by due date %" in body
    assert "/reports/ctas/" in body and "/reports/subscriptions/" in body
    admin = received["admin@example.com"].get_body(("plain",)).get_content()
    assert "/reports/ctas/?team=mgr" in admin and admin.splitlines()[0].endswith("team of mgr)")

    for later, due in ((6, 0), (7, 1)):
        assert send_due_reports(now + dt.timedelta(days=later)) == due, later
    assert ReportSubscription.objects.get(pk=weekly.pk).last_sent_at == now + dt.timedelta(days=7)
    assert send_due_reports(now + dt.timedelta(days=27)) == 1  # the weekly one (3 weeks on); not the monthly
    assert send_due_reports(now + dt.timedelta(days=28)) == 1  # the monthly one
    assert ReportSubscription.objects.get(pk=monthly.pk).last_sent_at == now + dt.timedelta(days=28)
    assert deliver().sent == 3 and len(smtp_server.messages) == 5


def test_the_schedule_runs_the_task(config, users):
    from django.utils.module_loading import import_string

    schedule = Schedule.objects.get(name="report-subscriptions")
    subscribe(user=users["viewer"], report="adoption", frequency="weekly")
    assert import_string(schedule.task).call() == "1 report(s) queued"
    assert import_string(schedule.task).call() == "0 report(s) queued"
