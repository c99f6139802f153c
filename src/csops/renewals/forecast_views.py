"""The renewal forecast page: expected renewal ARR by quarter and segment, the renewals behind a
quarter, a what-if (accounts assumed to churn) and the model's backtest, each figure defined beside
it; ?export=csv|xlsx (&table=quarters|segments|renewals|backtest) or ?export=pdf."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from csops.core import charts
from csops.core.exports import TABLE_FORMATS, pdf_response, requested, table_response
from csops.core.views import require
from csops.customers.models import Segment
from csops.renewals import forecast as fc

EXPORTS = (*TABLE_FORMATS, "pdf")
TABLES = ("quarters", "segments", "renewals", "backtest")
COLORS = ("green", "yellow", "red", "unknown")
SENTIMENTS = ("green", "yellow", "red")


def _choices(query: QueryDict, name: str, allowed, errors: list[str]) -> list[str]:
    values = [v for v in query.getlist(name) if v]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        errors.append(f"{name}: {', '.join(map(repr, wrong))} not one of {', '.join(allowed)}.")
    return values


def parse(query: QueryDict, today: dt.date, segments: list[str]) -> tuple[dict, list[str]]:
    """The page's parameters, and an error naming each bad one."""
    errors: list[str] = []
    params: dict = {"quarters": 4, "split": today - dt.timedelta(days=fc.HELD_OUT_DAYS)}
    value = query.get("quarters")
    if value:
        if value.isdigit() and 1 <= int(value) <= 8:
            params["quarters"] = int(value)
        else:
            errors.append(f"quarters: {value!r} is not a number of quarters from 1 to 8.")
    if value := query.get("split"):
        try:
            params["split"] = dt.date.fromisoformat(value)
        except ValueError:
            errors.append(f"split: {value!r} is not a date (YYYY-MM-DD).")
        else:
            if params["split"] >= today:
                errors.append(f"split: {value} is not in the past; the held-out period runs to today.")
    accounts = query.getlist("churn_account")
    if bad := [a for a in accounts if not a.isdigit()]:
        errors.append(f"churn_account: {', '.join(map(repr, bad))} not an account id.")
    params["what_if"] = fc.WhatIf(
        colors=_choices(query, "churn_color", COLORS, errors),
        segments=_choices(query, "churn_segment", segments, errors),
        sentiments=_choices(query, "churn_sentiment", SENTIMENTS, errors),
        quarter=query.get("churn_quarter", ""),
        accounts=[int(a) for a in accounts if a.isdigit()],
    )
    params["quarter"] = query.get("quarter", "")
    if (fmt := query.get("export")) and fmt not in EXPORTS:
        errors.append(f"export: {fmt!r} is not one of {', '.join(EXPORTS)}.")
    params["table"] = query.get("table") or "quarters"
    if params["table"] not in TABLES:
        errors.append(f"table: {params['table']!r} is not one of {', '.join(TABLES)}.")
    return params, errors


def _check_quarters(params: dict, forecast: fc.Forecast, errors: list[str]) -> None:
    for name, value in (("quarter", params["quarter"]), ("churn_quarter", params["what_if"].quarter)):
        if value and value not in forecast.quarters:
            errors.append(f"{name}: {value!r} is not one of {', '.join(forecast.quarters)}.")


def _chart(forecast: fc.Forecast, churned: frozenset[int]) -> str:
    totals: dict[tuple[str, str], float] = {}
    for p in forecast.predictions:
        if p.account_id in churned:
            continue
        key = (p.quarter, p.health_color or "unknown")
        totals[key] = totals.get(key, 0.0) + float(p.expected)
    rows = [{"quarter": q, "health": c, "arr": round(v)} for (q, c), v in sorted(totals.items())]
    return charts.bars(
        rows, x="arr", y="quarter", color="health", stack_order=list(COLORS),
        title="Expected renewal ARR by quarter, by the account's health now",
        x_title="Expected ARR", y_title=None,
    )


def _tables(forecast: fc.Forecast, backtest: fc.Backtest | None, churned, drill: list) -> dict:
    money = ("ARR basis", "Category-only expected ARR", "Expected ARR", "Assumed churned", "ARR at risk")

    def totals(row, *first):
        return [*first, row["renewals"], row["basis"], row["category_only"], row["expected"], row["churned"],
                row["at_risk"]]

    quarters = forecast.rows(churned)
    segments = forecast.rows(churned, by_segment=True)
    return {
        "quarters": (["Quarter", "Renewals", *money], [totals(r, r["quarter"]) for r in quarters]
                     + [totals(forecast.total(quarters), "Total")]),
        "segments": (["Quarter", "Segment", "Renewals", *money],
                     [totals(r, r["quarter"], r["segment"]) for r in segments]),
        "renewals": (
            ["Opportunity", "Account", "Close date", "Quarter", "Segment", "Stage", "Forecast category",
             "ARR basis", "Model probability", "Probability", "Rule", "Expected ARR", "Health now",
             "Assumed churned", "Main drivers (log-odds)"],
            [[p.name, p.account_name, p.close_date, p.quarter, p.segment, p.stage, p.forecast_category,
              p.arr_basis, p.model_probability, p.probability, p.rule, p.expected, p.health_color,
              "yes" if p.account_id in churned else "", p.driver_text()] for p in drill],
        ),
        "backtest": (
            ["Quarter", "Renewals", "ARR basis", "Won ARR (actual)", "Predicted won ARR", "Naive baseline"],
            [[q.quarter, q.renewals, q.basis, q.actual, q.predicted, q.baseline] for q in backtest.quarters]
            if backtest else [],
        ),
    }


@login_required
def forecast(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    today = dt.date.today()
    segments = list(Segment.objects.order_by("name").values_list("name", flat=True))
    params, errors = parse(request.GET, today, segments)
    context = {"title": "Renewal forecast", "params": params, "segments": segments, "colors": COLORS,
               "sentiments": SENTIMENTS, "definitions": fc.DEFINITIONS, "rule": fc.RULE,
               "lead_days": fc.LEAD_DAYS, "labels": fc.LABELS, "today": today}
    if errors:
        return _page(request, context, errors)
    result = fc.cached(fc.forecast, today, params["quarters"])
    _check_quarters(params, result, errors)
    if errors:
        return _page(request, context, errors)
    backtest, no_backtest = None, ""
    try:
        backtest = fc.cached(fc.backtest, params["split"], today)
    except fc.NoModel as exc:
        no_backtest = str(exc)
    churned = params["what_if"].churned(result.predictions)
    quarter = params["quarter"]
    drill = [p for p in result.predictions if not quarter or p.quarter == quarter]
    tables = _tables(result, backtest, churned, drill)
    fmt = requested(request)
    if fmt in TABLE_FORMATS:
        headers, rows = tables[params["table"]]
        return table_response(fmt, f"renewal-forecast-{params['table']}", headers, rows)
    quarters = result.rows(churned)
    context.update(
        forecast=result, backtest=backtest, no_backtest=no_backtest, churned=churned,
        quarter_rows=quarters, quarter_total=result.total(quarters),
        segment_rows=result.rows(churned, by_segment=True), drill=drill if quarter else [],
        at_risk=[p for p in result.predictions if p.account_id in churned],
        chart=_chart(result, churned) if result.predictions else "",
        export_query=request.GET.urlencode(),
    )
    if fmt == "pdf":
        return pdf_response(request, "renewals/forecast_print.html", context, "renewal-forecast")
    return _page(request, context, [])


def _page(request: HttpRequest, context: dict, errors: list[str]) -> HttpResponse:
    return render(request, "renewals/forecast.html", {**context, "errors": errors},
                  status=400 if errors else 200)
