"""The renewal pipeline: lifecycle month, quarters, the risk-update cadence with its overdue flag,
the at-risk list, risk updates, and the pages."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csops.core.calendar import fiscal_quarter_label, fiscal_quarter_start
from csops.customers.models import Opportunity, RiskImpact, RiskReason
from csops.health.models import HealthUpdate
from csops.renewals import selectors
from csops.renewals.actions import log_risk_update, months_before, update_renewal
from csops.renewals.models import RenewalPolicy
from csops.timeline.models import Activity

D = dt.date


def test_lifecycle_month_counts_down_to_signing():
    today = D(2026, 12, 5)
    assert selectors.lifecycle_month(D(2026, 12, 31), today) == 12  # the renewal's own month
    assert selectors.lifecycle_month(D(2027, 1, 15), today) == 11
    assert selectors.lifecycle_month(D(2027, 11, 1), today) == 1
    assert selectors.lifecycle_month(D(2029, 1, 1), today) == 1
    assert selectors.lifecycle_month(D(2026, 6, 1), today) == 12  # overdue renewals stay in Signing
    assert selectors.lifecycle_label(D(2027, 6, 1), today) == "6 Adopt"
    assert selectors.lifecycle_label(D(2027, 3, 1), today) == "9 Expand / Prepare"


def test_quarter_labels_round_trip(settings):
    for day in (D(2026, 1, 1), D(2026, 2, 14), D(2026, 12, 31), D(2027, 7, 4)):
        start, end = selectors.quarter_bounds(fiscal_quarter_label(day))
        assert start == fiscal_quarter_start(day) and start <= day < end
        assert end == months_before(start, -3)
    for bad in ("2027-Q1", "FY27-Q5", "FYxx-Q1", ""):
        with pytest.raises(ValueError, match="fiscal quarter"):
            selectors.quarter_bounds(bad)


def test_update_interval_follows_the_policy(config):
    today = D(2026, 12, 5)
    next_quarter_ends = months_before(fiscal_quarter_start(today), -6)
    assert selectors.update_interval(today, today).days == 7
    assert selectors.update_interval(next_quarter_ends - dt.timedelta(days=1), today).days == 7
    assert selectors.update_interval(next_quarter_ends, today).days == 30
    assert selectors.update_interval(None, today).days == 30
    RenewalPolicy.objects.filter(name="default").update(update_days_soon=5, soon_quarters=0)
    assert selectors.update_interval(today, today).days == 5
    assert selectors.update_interval(next_quarter_ends - dt.timedelta(days=1), today).days == 30


@pytest.fixture
def renewal(make_account):
    """Make a renewal opportunity on a new account; override the account's or the renewal's fields."""
    numbers = iter(range(1, 1000))

    def make(
        close: dt.date, *, stage: str = "Proposal", account: dict | None = None, **fields
    ) -> Opportunity:
        holder = make_account(renewal_date=close, **(account or {}))
        return Opportunity.objects.create(
            external_id=f"R-{next(numbers)}-{holder.pk}",
            account=holder,
            name=f"{holder.name} - Renewal",
            type="renewal",
            arr_basis=holder.arr,
            close_date=close,
            stage=stage,
            forecast_category="best_case",
            **fields,
        )

    return make


def _updated(opportunity: Opportunity, days_ago: int) -> None:
    update = HealthUpdate.objects.create(account=opportunity.account, sentiment="green", summary="fine")
    HealthUpdate.objects.filter(pk=update.pk).update(created_at=timezone.now() - dt.timedelta(days=days_ago))


def test_overdue_and_at_risk_flags(config, renewal):
    today = timezone.localdate()
    soon, later = today + dt.timedelta(days=10), months_before(fiscal_quarter_start(today), -9)
    never_updated = renewal(soon)
    fresh = renewal(soon)
    _updated(fresh, 3)
    stale_soon = renewal(soon)
    _updated(stale_soon, 10)
    monthly = renewal(later)
    _updated(monthly, 10)
    red = renewal(later, account={"health_color": "red"})
    _updated(red, 40)
    sour = renewal(later, account={"csm_sentiment": "red"})
    _updated(sour, 1)
    flagged = renewal(later, risk_impact=RiskImpact.objects.first())
    _updated(flagged, 1)
    closed = renewal(today - dt.timedelta(days=5), stage="Closed Won", account={"health_color": "red"})
    flags = {o.pk: (o.overdue, o.at_risk) for o in selectors.pipeline()}
    assert flags == {
        never_updated.pk: (True, False),
        fresh.pk: (False, False),
        stale_soon.pk: (True, False),
        monthly.pk: (False, False),
        red.pk: (True, True),
        sour.pk: (False, True),
        flagged.pk: (False, True),
        closed.pk: (False, False),
    }
    totals = selectors.summary(selectors.pipeline().filter(stage__istartswith="Pro"))
    assert totals["count"] == 7 and totals["at_risk_count"] == 3 and totals["overdue"] == 3
    assert totals["at_risk_basis"] == Decimal("600000.00")
    assert dict(totals["categories"])["Best Case"] == Decimal("1400000.00")


def test_risk_update_logs_health_update_on_the_timeline(config, renewal, team):
    opportunity = renewal(timezone.localdate() + dt.timedelta(days=20))
    impact, reason = (
        RiskImpact.objects.get(name="Seat Churn"),
        RiskReason.objects.get(name="Lack of adoption"),
    )
    update = log_risk_update(
        opportunity,
        author=team["csm"],
        sentiment="yellow",
        summary="Two teams left the platform",
        needed="Exec sponsor call",
        risk_impact=impact,
        risk_reason=reason,
        next_step="EBR with the VP",
        next_step_date=timezone.localdate() + dt.timedelta(days=7),
    )
    opportunity.refresh_from_db()
    opportunity.account.refresh_from_db()
    assert (opportunity.risk_impact, opportunity.risk_reason, opportunity.next_step) == (
        impact,
        reason,
        "EBR with the VP",
    )
    assert opportunity.account.csm_sentiment == "yellow"
    assert update.next_date == timezone.localdate() + dt.timedelta(days=7)  # this quarter: weekly
    logged = Activity.objects.get(account=opportunity.account)
    assert (logged.type.name, logged.subject, logged.sentiment) == (
        "Health Update",
        "Two teams left the platform",
        "yellow",
    )
    assert "Needed: Exec sponsor call" in logged.notes
    flags = selectors.pipeline().get(pk=opportunity.pk)
    assert (flags.overdue, flags.at_risk) == (False, True)


def test_refused_risk_update_writes_nothing(config, renewal, team):
    opportunity = renewal(timezone.localdate() + dt.timedelta(days=20))
    with pytest.raises(ValidationError) as refused:
        log_risk_update(
            opportunity, author=team["csm"], sentiment="red", summary="x", next_step_date=timezone.localdate()
        )
    assert "next_step" in refused.value.message_dict
    assert not HealthUpdate.objects.exists() and not Activity.objects.exists()
    with pytest.raises(ValidationError, match="not edited on a renewal"):
        update_renewal(opportunity, actor=team["csm"], arr_basis=1)
    opportunity.type = "new"
    with pytest.raises(ValidationError, match="not a renewal"):
        update_renewal(opportunity, actor=team["csm"], next_step="call")


def test_pipeline_page_filters_and_exports(client_as, renewal, django_assert_max_num_queries):
    today = timezone.localdate()
    this_quarter = renewal(today + dt.timedelta(days=1), account={"health_color": "red"})
    renewal(months_before(fiscal_quarter_start(today), -6) + dt.timedelta(days=3))
    viewer = client_as("viewer")
    with django_assert_max_num_queries(10):
        page = viewer.get("/renewals/")
    assert page.status_code == 200 and "Renewals" in page.content.decode()
    quarter = viewer.get("/renewals/", {"quarter": fiscal_quarter_label(today)}).content.decode()
    assert this_quarter.account.name in quarter and "Update overdue" in quarter
    at_risk = viewer.get("/renewals/", {"open": "true", "at_risk": "true"}).context["page"].object_list
    assert [o.pk for o in at_risk] == [this_quarter.pk]
    bad = viewer.get("/renewals/", {"quarter": "FY99-Q9"})
    assert bad.status_code == 400
    owner = client_as("admin")
    sheet = owner.get("/renewals/", {"export": "xlsx", "at_risk": "true"})
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    assert rows[0][:5] == ("Account", "Quarter", "Close date", "Due", "ARR basis")
    assert rows[1][0] == this_quarter.account.name and rows[1][4] == 200000 and len(rows) == 2
    assert owner.get("/renewals/", {"export": "pdf"}).status_code == 400


def test_renewal_page_logs_a_risk_update(client_as, renewal, users):
    opportunity = renewal(timezone.localdate() + dt.timedelta(days=20))
    url = f"/renewals/{opportunity.pk}/"
    csm = client_as("csm")
    assert "Log a risk update" in csm.get(url).content.decode()
    refused = csm.post(
        url,
        {
            "form": "update",
            "update-sentiment": "red",
            "update-summary": "",
            "update-next_step_date": "2027-01-01",
        },
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "This field is required" in html and not HealthUpdate.objects.exists()
    done = csm.post(
        url,
        {
            "form": "update",
            "update-sentiment": "red",
            "update-summary": "Budget cut",
            "update-next_step": "Call the CFO",
            "update-next_step_date": "2027-01-01",
        },
    )
    assert done.status_code == 302 and HealthUpdate.objects.get().summary == "Budget cut"
    opportunity.refresh_from_db()
    assert opportunity.next_step == "Call the CFO"
    saved = csm.post(
        url,
        {
            "form": "plan",
            "plan-forecast_category": "commit",
            "plan-stage": "Negotiating",
            "plan-renewal_dri": users["csm"].pk,
            "plan-next_step": "",
            "plan-next_step_date": "2027-02-01",
        },
    )
    assert saved.status_code == 400 and "Say what the next step is" in saved.content.decode()
    saved = csm.post(
        url,
        {
            "form": "plan",
            "plan-forecast_category": "commit",
            "plan-stage": "Negotiating",
            "plan-renewal_dri": users["csm"].pk,
        },
    )
    assert saved.status_code == 302
    opportunity.refresh_from_db()
    assert (opportunity.forecast_category, opportunity.renewal_dri) == ("commit", users["csm"])
    assert client_as("viewer").post(url, {"form": "plan"}).status_code == 403


def test_rates_reconcile_with_their_drill_down(client_as, renewal):
    from csops.renewals.retention import on_time, renewal_rate

    start, end = D(2026, 1, 1), D(2026, 7, 1)
    renewal(D(2026, 2, 1), stage="Closed Won", renewal_due=D(2026, 2, 10))  # on time
    renewal(D(2026, 3, 20), stage="Closed Won", renewal_due=D(2026, 3, 1))  # late
    renewal(D(2026, 4, 1), stage="Closed Lost", renewal_due=D(2026, 4, 1))
    renewal(D(2026, 8, 1), stage="Closed Won", renewal_due=D(2026, 6, 30))  # due in, closed after
    renewal(D(2026, 5, 1), stage="Negotiating", renewal_due=D(2026, 9, 1))  # open: not in either
    viewer = client_as("viewer")
    closed = viewer.get("/renewals/", {"open": "false", "close_after": start, "close_before": end})
    totals = closed.context["summary"]
    assert totals["count"] == 3 and float(totals["won"] / totals["basis"]) == renewal_rate(start, end)
    due = viewer.get("/renewals/", {"due_after": start, "due_before": end}).context["summary"]
    check = on_time(start, end)
    assert (due["count"], due["on_time"]) == (check.due, check.on_time) == (4, 1)
    page = viewer.get("/renewals/retention/", {"end": "2026-07", "months": "6"}).content.decode()
    assert "/renewals/?open=false&amp;close_after=2026-01-01&amp;close_before=2026-07-01" in page
    assert "due_after=2026-01-01&amp;due_before=2026-07-01" in page
