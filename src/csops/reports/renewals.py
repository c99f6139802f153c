"""The renewals dashboards as reports of the catalogue, so they export and can be subscribed to like
the others: retention, the renewal pipeline, the renewal forecast. Their full pages, with drill-down
and what-if, live in the renewals app; these read the same selectors."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum

from csops.core.calendar import fiscal_quarter_label
from csops.customers.models import ForecastCategory
from csops.renewals import forecast as fc
from csops.renewals import retention as metrics
from csops.renewals import selectors as pipeline
from csops.renewals.actions import first_of_month, months_before
from csops.reports.selectors import Figure, Filters, Result, Table

ZERO = Decimal(0)


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(100 * ratio, 1)


def retention_report(filters: Filters) -> Result:
    """Retention over the last `months` months (default 12) by segment, with the period's rates."""
    end = first_of_month(filters.today)
    start = months_before(end, int(filters.given.get("months", 12)))
    rows = metrics.retention(start, end, "segment")
    total = metrics.combined(rows)
    on_time = metrics.on_time(start, end)
    definitions = metrics.DEFINITIONS
    table = Table(
        "retention",
        f"Retention by segment, {start:%Y-%m} to {end:%Y-%m}",
        "Customers are top-level accounts with ARR at the start; children count with their parent, new "
        f"logos are outside the cohort. {definitions['net_retention']} {definitions['gross_retention']}",
        ["Segment", "Customers", "Starting ARR", "Ending ARR", "Churn", "Contraction", "Expansion",
         "Gross retention %", "Net retention %", "Logo churn %"],
        [
            [r.group, r.customers, r.starting, r.ending, r.churn, r.contraction, r.expansion,
             _percent(r.gross_retention), _percent(r.net_retention), _percent(r.logo_churn)]
            for r in [*rows, *([total] if total else [])]
        ],
        empty=f"No ARR snapshots for {start:%Y-%m}: take them monthly or import them.",
    )
    figures = [
        Figure(label, _percent(value), definitions[key], "%")
        for label, key, value in (
            ("Net retention", "net_retention", total and total.net_retention),
            ("Gross retention", "gross_retention", total and total.gross_retention),
            ("Logo churn", "logo_churn", total and total.logo_churn),
            ("Renewal rate", "renewal_rate", metrics.renewal_rate(start, end)),
            ("On-time renewal rate", "on_time_rate", on_time.rate),
        )
    ]
    return Result(figures=figures, tables=[table],
                  note="Drill down to the customers behind each figure at /renewals/retention/.")


def pipeline_report(filters: Filters) -> Result:
    """Open renewals by fiscal quarter and forecast category, with the at-risk and overdue ones."""
    rules = pipeline.policy()
    flags = pipeline.flags(filters.today, rules)
    renewals = pipeline.pipeline(filters.today, rules).filter(pipeline.OPEN, filters.accounts("account__"))
    by_month = (
        renewals.order_by()
        .values("close_date__year", "close_date__month", "forecast_category")
        .annotate(
            count=Count("pk"),
            basis=Sum("arr_basis"),
            at_risk=Sum("arr_basis", filter=flags["at_risk"]),
            overdue=Count("pk", filter=flags["overdue"]),
        )
    )
    categories = dict(ForecastCategory.choices)
    quarters: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in by_month:
        month = dt.date(row["close_date__year"], row["close_date__month"], 1)
        quarter = quarters[fiscal_quarter_label(month)]
        quarter["renewals"] += row["count"]
        quarter["basis"] += row["basis"] or ZERO
        quarter[row["forecast_category"] or ""] += row["basis"] or ZERO
        quarter["at_risk"] += row["at_risk"] or ZERO
        quarter["overdue"] += row["overdue"]
    table = Table(
        "quarters",
        "Open renewals by fiscal quarter",
        "ARR basis of the open renewals closing in each quarter, by forecast category; at risk: health or "
        f"CSM sentiment {' or '.join(rules.at_risk_colors or [])}, or a risk impact; overdue: no risk "
        f"update within {rules.update_days_soon} days (this quarter and the next {rules.soon_quarters}) "
        f"or {rules.update_days_later} days (later).",
        ["Quarter", "Renewals", "ARR basis", *categories.values(), "No category", "At risk ARR", "Overdue"],
        [
            [label, int(q["renewals"]), q["basis"], *(q[key] for key in categories), q[""], q["at_risk"],
             int(q["overdue"])]
            for label, q in sorted(quarters.items())
        ],
        empty="No open renewal.",
    )
    totals = pipeline.summary(renewals, rules)
    figures = [
        Figure("Open renewals", totals["count"], "Renewal opportunities not at a Closed stage."),
        Figure("ARR basis", totals["basis"] or ZERO, "The ARR up for renewal in them."),
        Figure("At risk ARR", totals["at_risk_basis"] or ZERO, "ARR basis of the open renewals at risk."),
        Figure("Risk updates overdue", totals["overdue"], "Open renewals with no update in their cadence."),
    ]
    return Result(figures=figures, tables=[table], note="The renewals themselves: /renewals/.")


def forecast_report(filters: Filters) -> Result:
    """Expected renewal ARR for this quarter and the next three, with the model's backtest."""
    forecast = fc.cached(fc.forecast, filters.today, 4)
    rows = forecast.rows()
    table = Table(
        "forecast",
        "Expected renewal ARR by quarter",
        fc.DEFINITIONS["expected"],
        ["Quarter", "Renewals", "ARR basis", "Expected (category only)", "Expected"],
        [[r["quarter"], r["renewals"], r["basis"], r["category_only"], r["expected"]] for r in rows],
        empty="No renewal closes in these quarters.",
    )
    result = Result(tables=[table], note="What-if and each renewal's probability: /renewals/forecast/.")
    try:
        check = fc.cached(fc.backtest, filters.today - dt.timedelta(days=fc.HELD_OUT_DAYS), filters.today)
    except fc.NoModel as exc:
        result.note = f"No backtest: {exc}. " + result.note
        return result
    result.figures = [
        Figure("Backtest AUC", check.auc and round(check.auc, 3), fc.DEFINITIONS["auc"]),
        Figure("Backtest forecast error", _percent(check.error_pct), fc.DEFINITIONS["error"], "%"),
        Figure("Naive baseline error", _percent(check.baseline_error_pct), fc.DEFINITIONS["baseline"], "%"),
    ]
    return result
