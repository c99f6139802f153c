"""The renewal forecast: features as of a cut-off, a model trained only before the split, the
backtest's figures from held-out actuals, expected ARR by quarter, the what-if and the page."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal

import pyarrow as pa
import pytest
from django.utils import timezone

from csops.core.calendar import fiscal_quarter_label, fiscal_quarter_start
from csops.customers.models import Opportunity
from csops.health.models import HealthUpdate, ScoreHistory
from csops.renewals import forecast as fc
from csops.timeline.models import Activity, ActivityType
from csops.usage import store
from csops.usage.store import USAGE_COUNTERS, USAGE_SCHEMA

TODAY = dt.date.today()
_numbers = itertools.count(1)


def renewal(account, close: dt.date, basis: int | str, stage: str = "Closed Won", category: str = "closed"):
    return Opportunity.objects.create(
        external_id=f"FT-{next(_numbers)}",
        account=account,
        name=f"{account.name} renewal",
        type="renewal",
        arr_basis=Decimal(basis),
        close_date=close,
        stage=stage,
        forecast_category=category,
    )


def score(account, day: dt.date, value: float, color: str = "") -> None:
    color = color or ("green" if value >= 75 else "yellow" if value >= 50 else "red")
    ScoreHistory.objects.create(account=account, scored_on=day, score=value, color=color)


def usage(rows: list[tuple[int, dt.date, int, int]]) -> None:
    """(account id, snapshot date, billable users, licensed users) into the analytics store."""
    columns = {name: pa.array([0] * len(rows), pa.int32()) for name in USAGE_COUNTERS}
    columns["billable_users"] = pa.array([r[2] for r in rows], pa.int32())
    columns["licensed_users"] = pa.array([r[3] for r in rows], pa.int32())
    table = pa.table(
        {
            "account_id": pa.array([r[0] for r in rows], pa.int64()),
            "instance_id": pa.array([f"i{r[0]}" for r in rows]),
            "included_in_health": pa.array([True] * len(rows)),
            "snapshot_date": pa.array([r[1] for r in rows], pa.date32()),
            **columns,
        },
        schema=USAGE_SCHEMA,
    )
    store.append(store.connect(), "usage_snapshots", table, USAGE_SCHEMA)


def test_features_are_read_as_of_the_cut_off(make_account):
    account = make_account(csm_sentiment="green", csm_sentiment_date=TODAY - dt.timedelta(days=5))
    close = TODAY - dt.timedelta(days=30)
    cutoff = close - dt.timedelta(days=fc.LEAD_DAYS)  # 120 days ago
    opportunity = renewal(account, close, "50000", "Closed Lost")
    score(account, cutoff - dt.timedelta(days=100), 80)  # the trend's starting point (before cutoff - 90)
    score(account, cutoff - dt.timedelta(days=10), 45)  # the score then
    score(account, cutoff + dt.timedelta(days=1), 95)  # after the cut-off: unseen
    update = HealthUpdate.objects.create(account=account, sentiment="red", summary="Sponsor left")
    HealthUpdate.objects.filter(pk=update.pk).update(
        created_at=dt.datetime.combine(cutoff - dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    )
    meeting = ActivityType.objects.filter(counts_as_meeting=True).first()
    for days in (1, 30, 89, 90, 120, -1):  # within (cutoff - 90, cutoff]: 1, 30 and 89 days before
        Activity.objects.create(
            account=account, type=meeting, subject="Call", date=cutoff - dt.timedelta(days=days)
        )
    usage(
        [
            (account.pk, cutoff - dt.timedelta(days=7), 30, 100),
            (account.pk, cutoff - dt.timedelta(days=14), 90, 100),
            (account.pk, cutoff + dt.timedelta(days=1), 100, 100),
        ]
    )

    row = fc.features(Opportunity.objects.filter(pk=opportunity.pk), TODAY).iloc[0]

    assert row["cutoff"] == cutoff
    assert row["health_score"] == 45 and row["health_color"] == "red"
    assert row["health_trend"] == 45 - 80
    assert row["sentiment"] == "red"  # the update then, not the account's green set since
    assert row["activities_90d"] == 3
    assert row["utilisation"] == pytest.approx(0.30)
    assert row["segment"] == "Growth" and not row["won"] and row["closed"]
    # Forecast made before the cut-off: its features stop at the forecast date.
    early = fc.features(Opportunity.objects.filter(pk=opportunity.pk), cutoff - dt.timedelta(days=20)).iloc[0]
    assert early["cutoff"] == cutoff - dt.timedelta(days=20)
    assert (
        early["health_score"] == 80 and early["sentiment"] == "unknown" and early["activities_90d"] == 3
    )  # 30, 89, 90 before


def book(make_account, start: dt.date, count: int, step: int = 7) -> list[Opportunity]:
    """`count` closed renewals a week apart from `start`; every third is lost and was red then."""
    made = []
    for i in range(count):
        account = make_account(csm_sentiment="")
        close = start + dt.timedelta(days=i * step)
        lost = i % 3 == 0
        score(account, close - dt.timedelta(days=fc.LEAD_DAYS + 5), 30 + i % 5 if lost else 70 + i % 20)
        made.append(renewal(account, close, 10000 * (1 + i % 4), "Closed Lost" if lost else "Closed Won"))
    return made


def test_backtest_trains_only_on_renewals_closed_before_the_split(make_account):
    made = book(make_account, TODAY - dt.timedelta(days=400), 48)
    split = made[36].close_date
    result = fc.backtest(split, TODAY)
    held_out = {o.pk for o in made[36:]}
    assert result.held_out_ids == held_out
    assert result.training_ids == {o.pk for o in made[:36]}
    assert made[40].pk not in result.training_ids
    assert result.trained_on == 36 and result.held_out == 12 and result.lost == 4


def test_backtest_error_comes_from_held_out_actuals(make_account):
    made = book(make_account, TODAY - dt.timedelta(days=400), 48)
    split = made[36].close_date
    result = fc.backtest(split, TODAY)
    held, training = made[36:], made[:36]
    actual = sum((o.arr_basis for o in held if o.stage == "Closed Won"), Decimal(0))
    assert result.actual == actual == Decimal(sum(10000 * (1 + i % 4) for i in range(36, 48) if i % 3))
    assert result.basis == sum(o.arr_basis for o in held)
    won_rate = sum(o.arr_basis for o in training if o.stage == "Closed Won") / sum(
        o.arr_basis for o in training
    )
    assert result.baseline == pytest.approx(result.basis * won_rate, abs=Decimal("0.05"))
    model = fc.train(fc.features(fc.closed_before(split), split))
    held_features = fc.features(Opportunity.objects.filter(pk__in=[o.pk for o in held]), split)
    expected = sum(
        float(b) * p
        for b, p in zip(held_features["arr_basis"], model.probability(held_features), strict=True)
    )
    assert float(result.predicted) == pytest.approx(expected, abs=0.05)
    assert result.error == result.predicted - actual
    assert result.error_pct == pytest.approx(float((result.predicted - actual) / actual))
    # Red then, lost later: the model ranks them and beats the constant baseline.
    assert result.auc == 1.0 and result.brier < result.brier_baseline
    assert sum(q.actual for q in result.quarters) == actual


def test_backtest_needs_history(make_account):
    book(make_account, TODAY - dt.timedelta(days=100), 5)
    with pytest.raises(fc.NoModel):
        fc.backtest(TODAY - dt.timedelta(days=50), TODAY)


def test_combine_rule():
    assert fc.combine("Closed Won", "omitted", 0.1) == (1.0, "closed won")
    assert fc.combine("Closed Lost", "commit", 0.99) == (0.0, "closed lost")
    assert fc.combine("Proposal", "omitted", 0.9) == (0.0, "omitted")
    assert fc.combine("Proposal", "commit", 0.5) == (fc.COMMIT_FLOOR, "commit floor")
    assert fc.combine("Proposal", "commit", 0.95) == (0.95, "model")
    assert fc.combine("Proposal", "best_case", 0.4) == (0.4, "model")
    assert fc.combine("Proposal", "best_case", None) == (0.7, "category weight")


def test_expected_arr_by_quarter_by_the_category_weights(make_account):
    """Too little history for a model: the category weights count, and the sums are by hand."""
    first = fiscal_quarter_start(TODAY)
    second = fiscal_quarter_start(first + dt.timedelta(days=100))
    later = fiscal_quarter_start(first + dt.timedelta(days=400))
    a, b, c, d, e = (make_account() for _ in range(5))
    renewal(a, max(first, TODAY - dt.timedelta(days=1)), "100000", "Closed Won")  # 1 x 100,000
    renewal(
        b,
        TODAY + dt.timedelta(days=1)
        if fiscal_quarter_start(TODAY + dt.timedelta(days=1)) == first
        else first,
        "40000",
        "Negotiating",
        "commit",
    )  # 0.9 x 40,000
    renewal(c, second + dt.timedelta(days=3), "200000", "Proposal", "best_case")  # 0.7 x 200,000
    renewal(d, second + dt.timedelta(days=5), "30000", "Proposal", "omitted")  # 0
    renewal(e, later, "999000", "Discovery", "pipeline")  # beyond four quarters
    result = fc.forecast(TODAY, 4)
    assert result.model is None
    rows = {r["quarter"]: r for r in result.rows()}
    assert list(rows) == result.quarters and len(rows) == 4
    q1, q2 = fiscal_quarter_label(first), fiscal_quarter_label(second)
    assert rows[q1]["renewals"] == 2 and rows[q1]["expected"] == Decimal("136000.00")
    assert rows[q2]["renewals"] == 2 and rows[q2]["expected"] == Decimal("140000.00")
    assert rows[q2]["basis"] == Decimal("230000.00")
    assert result.total(result.rows())["expected"] == Decimal("276000.00")
    assert all(p.account_id != e.pk for p in result.predictions)
    by_segment = result.rows(by_segment=True)
    assert {(r["quarter"], r["segment"]) for r in by_segment} == {(q1, "Growth"), (q2, "Growth")}


def test_model_probability_counts_for_open_renewals(make_account):
    book(make_account, TODAY - dt.timedelta(days=400), 40)
    red, green = make_account(), make_account()
    close = fiscal_quarter_start(TODAY) + dt.timedelta(days=120)
    then = min(close - dt.timedelta(days=fc.LEAD_DAYS), TODAY) - dt.timedelta(days=2)
    score(red, then, 20)
    score(green, then, 95)
    renewal(red, close, "100000", "Proposal", "best_case")
    renewal(green, close, "100000", "Proposal", "best_case")
    result = fc.forecast(TODAY, 4)
    by_account = {p.account_id: p for p in result.predictions}
    assert result.model is not None and result.model.trained_on == 40
    assert by_account[red.pk].probability < 0.5 < by_account[green.pk].probability
    assert by_account[red.pk].rule == "model"
    assert by_account[red.pk].drivers[0][0] in ("health_score", "health_color")
    assert by_account[red.pk].expected == (
        Decimal("100000") * Decimal(str(by_account[red.pk].probability))
    ).quantize(Decimal("0.01"))


def _prediction(account_id: int, quarter: str, basis: str, probability: float, **fields) -> fc.Prediction:
    values = dict(
        id=account_id,
        account_id=account_id,
        account_name=f"A{account_id}",
        name="R",
        close_date=TODAY,
        quarter=quarter,
        segment="Growth",
        stage="Proposal",
        forecast_category="",
        arr_basis=Decimal(basis),
        health_color="green",
        sentiment="green",
        model_probability=probability,
        probability=probability,
        rule="model",
        category_probability=0.5,
        drivers=[],
    )
    return fc.Prediction(**{**values, **fields})


def test_what_if_removes_exactly_the_chosen_accounts():
    predictions = [
        _prediction(1, "Q1", "100000", 0.5, health_color="red"),
        _prediction(2, "Q1", "200000", 0.9),
        _prediction(3, "Q2", "50000", 0.8, health_color="red", segment="Scale"),
        _prediction(4, "Q2", "10000", 1.0, sentiment="red"),
    ]
    result = fc.Forecast(as_of=TODAY, quarters=["Q1", "Q2"], predictions=predictions, model=None)
    assert fc.WhatIf().churned(predictions) == frozenset()
    assert fc.WhatIf(colors=["red"]).churned(predictions) == {1, 3}
    assert fc.WhatIf(colors=["red"], quarter="Q2").churned(predictions) == {3}
    assert fc.WhatIf(colors=["red"], segments=["Scale"]).churned(predictions) == {3}
    assert fc.WhatIf(sentiments=["red"], accounts=[2]).churned(predictions) == {2, 4}
    rows = {r["quarter"]: r for r in result.rows(fc.WhatIf(colors=["red"]).churned(predictions))}
    assert rows["Q1"]["expected"] == Decimal("180000.00") and rows["Q1"]["at_risk"] == Decimal("50000.00")
    assert rows["Q2"]["expected"] == Decimal("10000.00") and rows["Q2"]["at_risk"] == Decimal("40000.00")
    assert rows["Q1"]["churned"] == 1 and rows["Q2"]["churned"] == 1
    untouched = {r["quarter"]: r for r in result.rows()}
    assert untouched["Q1"]["expected"] == Decimal("230000.00") and untouched["Q2"]["expected"] == Decimal(
        "50000.00"
    )


@pytest.fixture
def forecast_book(make_account):
    book(make_account, TODAY - dt.timedelta(days=400), 48)
    red = make_account(name="Red Renewal Co", health_color="red")
    green = make_account(name="Green Renewal Co", health_color="green")
    close = fiscal_quarter_start(TODAY) + dt.timedelta(days=100)
    renewal(red, close, "100000", "Proposal", "best_case")
    renewal(green, close, "300000", "Negotiating", "commit")
    return {"red": red, "green": green, "quarter": fiscal_quarter_label(close)}


def test_page_renders_with_backtest_and_what_if(client_as, forecast_book, django_assert_max_num_queries):
    viewer = client_as("viewer")
    with django_assert_max_num_queries(12):
        page = viewer.get("/renewals/forecast/", {"churn_color": "red", "quarter": forecast_book["quarter"]})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Backtest: the likelihood model on a held-out period" in text and "<svg" in text
    assert "ARR at risk" in text and "Red Renewal Co" in text
    assert 'id="drill"' in text and "Green Renewal Co" in text
    assert fc.DEFINITIONS["auc"] in text and "Commit (or a Closed category" in text


def test_page_exports(client_as, forecast_book):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    viewer = client_as("viewer")
    xlsx = viewer.get("/renewals/forecast/", {"export": "xlsx", "table": "quarters", "churn_color": "red"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Quarter", "Renewals", "ARR basis", "Category-only expected ARR", "Expected ARR")
    quarter = next(r for r in rows if r[0] == forecast_book["quarter"])
    assert quarter[1] == 2 and quarter[2] == 400000 and quarter[5] == 1 and quarter[6] > 0
    assert rows[-1][0] == "Total"
    renewals = viewer.get("/renewals/forecast/", {"export": "csv", "table": "renewals"})
    assert "Red Renewal Co" in renewals.content.decode()
    backtest = load_workbook(
        io.BytesIO(viewer.get("/renewals/forecast/", {"export": "xlsx", "table": "backtest"}).content)
    ).active
    assert next(backtest.iter_rows(values_only=True))[3] == "Won ARR (actual)"
    pdf = viewer.get("/renewals/forecast/", {"export": "pdf"})
    if pdf.status_code == 503:
        pytest.skip(pdf.content.decode())
    assert pdf["Content-Type"] == "application/pdf"
    assert "Expected renewal ARR by quarter" in "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages
    )


@pytest.mark.parametrize(
    "params, name",
    [
        ({"quarters": "9"}, "quarters"),
        ({"split": "yesterday"}, "split"),
        ({"split": (TODAY + dt.timedelta(days=1)).isoformat()}, "split"),
        ({"churn_color": "purple"}, "churn_color"),
        ({"churn_segment": "Nowhere"}, "churn_segment"),
        ({"churn_account": "x"}, "churn_account"),
        ({"quarter": "FY01-Q9"}, "quarter"),
        ({"churn_quarter": "FY01-Q9"}, "churn_quarter"),
        ({"export": "doc"}, "export"),
        ({"export": "csv", "table": "x"}, "table"),
    ],
)
def test_bad_parameters_are_400_naming_them(client_as, config, params, name):
    response = client_as("viewer").get("/renewals/forecast/", params)
    assert response.status_code == 400
    assert f"<li>{name}: " in response.content.decode()


def test_customer_contact_roles_without_permission_are_refused(client, config):
    assert client.get("/renewals/forecast/").status_code == 302  # to the login page


def test_the_pages_reuse_a_forecast_until_the_data_changes(make_account, django_assert_num_queries):
    from django.core.cache import cache

    cache.clear()
    account = make_account()
    renewal = Opportunity.objects.create(
        external_id="CACHE-1", account=account, name="R", type="renewal", stage="Proposal",
        close_date=TODAY + dt.timedelta(days=5), forecast_category="commit", arr_basis=Decimal(1000),
    )
    first = fc.cached(fc.forecast, TODAY, 4)
    with django_assert_num_queries(1):  # the data version only: no features read, no training
        again = fc.cached(fc.forecast, TODAY, 4)
    assert [p.expected for p in again.predictions] == [p.expected for p in first.predictions]
    Opportunity.objects.filter(pk=renewal.pk).update(
        forecast_category="omitted", updated_at=timezone.now() + dt.timedelta(seconds=1)
    )
    assert fc.cached(fc.forecast, TODAY, 4).predictions[0].expected == 0
    with pytest.raises(fc.NoModel):
        fc.cached(fc.backtest, TODAY - dt.timedelta(days=30), TODAY)
    with django_assert_num_queries(1), pytest.raises(fc.NoModel):  # the refusal is kept too
        fc.cached(fc.backtest, TODAY - dt.timedelta(days=30), TODAY)
