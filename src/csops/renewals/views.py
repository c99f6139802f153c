"""Retention pages: the figures for a period by segment, geo or CSM, each defined next to it, and
the customers behind any figure."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from csops.core.views import require
from csops.customers.models import Account
from csops.renewals import retention as metrics
from csops.renewals.actions import first_of_month, months_before
from csops.renewals.models import ArrSnapshot

KINDS = ("churn", "contraction", "expansion", "flat")


def _period(request: HttpRequest) -> tuple[dt.date, dt.date, list[str]]:
    """The period's end month (?end=YYYY-MM, default: the latest snapshot) and start, 12 months
    before (?months=N); errors name the parameter."""
    errors = []
    latest = ArrSnapshot.objects.order_by("-month").values_list("month", flat=True).first()
    end = latest or first_of_month(dt.date.today())
    if value := request.GET.get("end"):
        try:
            end = dt.date.fromisoformat(f"{value}-01")
        except ValueError:
            errors.append(f"end: {value!r} is not a month (YYYY-MM).")
    months, value = 12, request.GET.get("months")
    if value and value.isdigit() and 1 <= int(value) <= 120:
        months = int(value)
    elif value:
        errors.append(f"months: {value!r} is not a number of months from 1 to 120.")
    return months_before(end, months), end, errors


@login_required
def retention(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    start, end, errors = _period(request)
    group_by = request.GET.get("by") if request.GET.get("by") in metrics.GROUPS else None
    rows = [] if errors else metrics.retention(start, end, group_by)
    total = None if errors else next(iter(metrics.retention(start, end)), None)
    return render(
        request,
        "renewals/retention.html",
        {
            "title": "Retention",
            "start": start,
            "end": end,
            "by": group_by or "",
            "rows": rows,
            "total": total,
            "renewal_rate": None if errors else metrics.renewal_rate(start, end),
            "errors": errors,
            "definitions": metrics.DEFINITIONS,
            "groups": metrics.GROUPS,
            "months": request.GET.get("months", "12"),
        },
        status=400 if errors else 200,
    )


@login_required
def customers(request: HttpRequest) -> HttpResponse:
    """The customers behind a figure: ?kind=churn|contraction|expansion|flat, optionally ?by=&group=."""
    require(request, "view_customers")
    start, end, errors = _period(request)
    kind = request.GET.get("kind", "")
    if kind and kind not in KINDS:
        errors.append(f"kind: {kind!r} is not one of {', '.join(KINDS)}.")
    group_by = request.GET.get("by") if request.GET.get("by") in metrics.GROUPS else None
    group = request.GET.get("group")
    found = (
        []
        if errors
        else [
            m
            for m in metrics.movements(start, end, group_by)
            if (not kind or m.kind == kind) and (group is None or not group_by or m.group == group)
        ]
    )
    names = dict(Account.objects.filter(pk__in=[m.customer_id for m in found]).values_list("pk", "name"))
    rows = [(m, names.get(m.customer_id, m.customer_id), m.end - m.start) for m in found]
    return render(
        request,
        "renewals/retention_customers.html",
        {
            "title": f"Retention: {kind or 'every customer'}",
            "rows": rows,
            "kind": kind,
            "group": group,
            "start": start,
            "end": end,
            "errors": errors,
            "total_start": sum(m.start for m in found),
            "total_change": sum(m.end - m.start for m in found),
        },
        status=400 if errors else 200,
    )
