"""Report pages: the index, one generic dashboard page per report (with its CSV/XLSX/PDF exports and
a subscribe form), and my subscriptions."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from csops.core.exports import TABLE_FORMATS, pdf_response, requested, table_response
from csops.core.views import require
from csops.reports import actions
from csops.reports.models import Frequency, ReportSubscription
from csops.reports.selectors import REPORTS, Filters, Report, filter_choices, parse_filters

EXPORTS = (*TABLE_FORMATS, "pdf")


def _index(request: HttpRequest, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    return render(
        request,
        "reports/index.html",
        {
            "title": "Reports",
            "reports": REPORTS.values(),
            "subscribed": ReportSubscription.objects.filter(user=request.user).count(),
            "errors": errors or [],
        },
        status=status,
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return _index(request)


def _unknown(slug: str) -> list[str]:
    return [f"report: {slug!r} is not a report; use one of {', '.join(REPORTS)}."]


def _page(
    request: HttpRequest, spec: Report, filters: Filters, errors: list[str], result=None
) -> HttpResponse:
    return render(
        request,
        "reports/report.html",
        {
            "title": spec.title,
            "report": spec,
            "filters": filters,
            "query": urlencode(filters.given),
            "choices": filter_choices(spec.filters),
            "result": result,
            "charts": [draw() for draw in result.charts] if result else [],
            "errors": errors,
            "frequencies": Frequency.choices,
        },
        status=400 if errors else 200,
    )


@login_required
def report(request: HttpRequest, slug: str) -> HttpResponse:
    """A report's dashboard; ?export=csv|xlsx (&table=<name> when it has several) or ?export=pdf."""
    require(request, "view_customers")
    spec = REPORTS.get(slug)
    if spec is None:
        return _index(request, _unknown(slug), status=400)
    filters, errors = parse_filters(request.GET, spec.filters)
    fmt = requested(request)
    if fmt and fmt not in EXPORTS:
        errors.append(f"export: {fmt!r} is not one of {', '.join(EXPORTS)}.")
    if errors:
        return _page(request, spec, filters, errors)
    result = spec.build(filters)
    if fmt in TABLE_FORMATS:
        names = [t.name for t in result.tables]
        name = request.GET.get("table") or (names[0] if len(names) == 1 else "")
        table = next((t for t in result.tables if t.name == name), None)
        if table is None:
            given = f"{name!r} is not" if name else "give"
            return _page(request, spec, filters, [f"table: {given} one of {', '.join(names) or '(none)'}."])
        return table_response(fmt, f"{slug}-{table.name}", table.headers, table.rows, sheet=table.title)
    if fmt == "pdf":
        context = {"title": spec.title, "report": spec, "filters": filters, "result": result,
                   "charts": [draw() for draw in result.charts]}
        return pdf_response(request, "reports/report_print.html", context, slug)
    return _page(request, spec, filters, [], result)


@login_required
@require_POST
def subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, "view_customers")
    spec = REPORTS.get(slug)
    if spec is None:
        return _index(request, _unknown(slug), status=400)
    given = {name: request.POST[name] for name in spec.filters if request.POST.get(name)}
    try:
        subscription = actions.subscribe(
            user=request.user, report=slug, filters=given, frequency=request.POST.get("frequency", "")
        )
    except ValidationError as exc:
        filters, _ = parse_filters(given, spec.filters)
        errors = [f"{field}: {message}" for field, found in exc.message_dict.items() for message in found]
        return _page(request, spec, filters, errors)
    messages.success(request, f"Subscribed: {spec.title}, {subscription.get_frequency_display().lower()}, "
                              f"to {request.user.email or 'your address (none set yet)'}.")
    return redirect("reports:subscriptions")


@login_required
def subscriptions(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    mine = [
        (s, REPORTS.get(s.report), urlencode(s.filters))
        for s in ReportSubscription.objects.filter(user=request.user).order_by("report", "pk")
    ]
    return render(request, "reports/subscriptions.html", {"title": "My report subscriptions", "rows": mine})


@login_required
@require_POST
def unsubscribe(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    if actions.unsubscribe(user=request.user, subscription_id=pk):
        messages.success(request, "Unsubscribed.")
    return redirect("reports:subscriptions")
