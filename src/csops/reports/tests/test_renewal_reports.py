"""The renewals dashboards in the report catalogue: the same figures as their own pages, exported and
delivered by email like every report."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
from django.utils import timezone

from csops.core.calendar import fiscal_quarter_label
from csops.customers.models import Opportunity
from csops.renewals.actions import first_of_month, months_before
from csops.renewals.models import ArrSnapshot
from csops.reports.actions import send_due_reports, subscribe
from csops.reports.selectors import REPORTS, parse_filters


def build(slug: str, **params):
    report = REPORTS[slug]
    filters, errors = parse_filters(params, report.filters)
    assert not errors
    return report.build(filters)


def test_retention_report_matches_the_hand_computed_book(make_account):
    end = first_of_month(timezone.localdate())
    start = months_before(end, 12)
    grower, leaver = make_account(), make_account()
    for account, before, after in ((grower, 100, 150), (leaver, 60, 0)):
        ArrSnapshot.objects.create(account=account, month=start, arr=Decimal(before), segment="Growth")
        ArrSnapshot.objects.create(account=account, month=end, arr=Decimal(after), segment="Growth")
    result = build("retention")
    figures = {f.label: f.value for f in result.figures}
    assert figures["Net retention"] == 93.8  # 150 / 160
    assert figures["Gross retention"] == 62.5  # (160 - 60) / 160
    assert figures["Logo churn"] == 50.0
    [growth, total] = result.tables[0].rows
    assert growth[:7] == ["Growth", 2, 160, 150, 60, 0, 50] and total[0] == "All"


def test_pipeline_report_sums_by_quarter_and_category(make_account, users, client_as):
    today = timezone.localdate()
    later = months_before(first_of_month(today), -4)

    def renewal(close, category, basis, **account):
        holder = make_account(**account)
        Opportunity.objects.create(
            external_id=f"P-{holder.pk}", account=holder, name="R", type="renewal", close_date=close,
            stage="Proposal", forecast_category=category, arr_basis=Decimal(basis),
        )

    renewal(today, "commit", 100)
    renewal(today, "pipeline", 50, health_color="red")
    renewal(later, "best_case", 70)
    rows = {r[0]: r for r in build("renewal-pipeline").tables[0].rows}
    now, then = rows[fiscal_quarter_label(today)], rows[fiscal_quarter_label(later)]
    headers = build("renewal-pipeline").tables[0].headers
    assert dict(zip(headers, now, strict=True)) == {
        "Quarter": fiscal_quarter_label(today), "Renewals": 2, "ARR basis": 150, "Pipeline": 50,
        "Best Case": 0, "Commit": 100, "Closed": 0, "Omitted": 0, "No category": 0, "At risk ARR": 50,
        "Overdue": 2,
    }
    assert then[1:3] == [1, 70]
    sheet = client_as("viewer").get("/reports/renewal-pipeline/", {"export": "xlsx"})
    values = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    assert values[0][:3] == ("Quarter", "Renewals", "ARR basis") and len(values) == 3


def test_forecast_report_says_why_without_history(make_account):
    account = make_account()
    Opportunity.objects.create(external_id="F-1", account=account, name="R", type="renewal",
                               close_date=timezone.localdate() + dt.timedelta(days=3), stage="Proposal",
                               forecast_category="commit", arr_basis=Decimal(1000))
    result = build("renewal-forecast")
    assert result.note.startswith("No backtest:")
    first = result.tables[0].rows[0]
    assert first[:3] == [fiscal_quarter_label(timezone.localdate()), 1, Decimal(1000)]
    assert first[3] == first[4] == Decimal("900.00")  # commit: 90% with too little history for a model


def test_retention_subscription_is_delivered(make_account, users, smtp_server):
    subscribe(user=users["viewer"], report="retention", frequency="monthly")
    assert send_due_reports() == 1
    from csops.programs.models import OutboxMessage

    message = OutboxMessage.objects.get(to=users["viewer"].email)
    assert message.subject.startswith("Retention")
    assert "On-time renewal rate" in message.text


def test_renewal_report_pages(client_as, make_account, django_assert_max_num_queries):
    viewer = client_as("viewer")
    with django_assert_max_num_queries(12):
        page = viewer.get("/reports/renewal-pipeline/")
    assert page.status_code == 200 and "Open renewals by fiscal quarter" in page.content.decode()
    assert viewer.get("/reports/retention/", {"months": "99"}).status_code == 400
    index = viewer.get("/reports/").content.decode()
    assert "Retention" in index and "Renewal forecast" in index and "Renewal pipeline" in index
