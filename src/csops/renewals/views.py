"""Renewal pages: the pipeline by quarter with its at-risk list, a renewal with its risk updates,
and retention for a period by segment, geo, CSM or cohort, each figure defined next to it, with the
customers behind any figure."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from csops.core import charts, exports
from csops.core.calendar import fiscal_quarter_label
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, add_action_errors, require
from csops.customers.models import Account, Opportunity
from csops.customers.views import money
from csops.health.models import HealthUpdate
from csops.renewals import retention as metrics
from csops.renewals import selectors
from csops.renewals.actions import first_of_month, log_risk_update, months_before, update_renewal
from csops.renewals.filtersets import RenewalFilterSet
from csops.renewals.forms import RenewalForm, RiskUpdateForm
from csops.renewals.models import ArrSnapshot


class PipelineView(ObjectListView):
    """Renewal opportunities by quarter; `?at_risk=true` is the at-risk list."""

    title = "Renewals"
    queryset = Opportunity.objects.none()  # built per request: its flags compare with today
    filterset_class = RenewalFilterSet
    default_sort = "close_date"
    export_name = "renewals"
    header_template = "renewals/pipeline_header.html"
    columns = [
        Column("account.name", "Account", sort="account__name", link=True),
        Column("close_date", "Quarter", display=fiscal_quarter_label),
        Column("close_date", "Close date", sort="close_date"),
        Column("renewal_due", "Due", sort="renewal_due"),
        Column("arr_basis", "ARR basis", sort="arr_basis", numeric=True, display=money),
        Column("get_forecast_category_display", "Forecast", sort="forecast_category"),
        Column("stage", "Stage", sort="stage"),
        Column("close_date", "Lifecycle month", display=selectors.lifecycle_label),
        Column("account.health_color", "Health", sort="account__health_color", pill=True),
        Column("account.csm_sentiment", "CSM sentiment", sort="account__csm_sentiment", pill=True),
        Column("risk_impact", "Risk impact", sort="risk_impact__name"),
        Column("risk_reason", "Risk reason", sort="risk_reason__name"),
        Column("dri", "DRI"),
        Column("next_step", "Next step"),
        Column("next_step_date", "Next step date", sort="next_step_date"),
        Column("last_update", "Last risk update", sort="last_update", display=lambda v: f"{v:%Y-%m-%d}"),
        Column("overdue", "Update", sort="overdue", display=lambda v: "Overdue" if v else ""),
    ]

    def get(self, request: HttpRequest) -> HttpResponse:
        # The annotations compare with today, so the queryset is built per request.
        self.rules = selectors.policy()
        self.queryset = selectors.pipeline(rules=self.rules)
        return super().get(request)

    def extra_context(self, request: HttpRequest, objects) -> dict:
        return {"summary": selectors.summary(objects.order_by(), self.rules), "rules": self.rules}


@login_required
def renewal(request: HttpRequest, pk: int) -> HttpResponse:
    """One renewal: its pipeline fields (form "plan") and its risk updates (form "update")."""
    require(request, "view_customers")
    rules = selectors.policy()
    opportunity = get_object_or_404(selectors.pipeline(rules=rules), pk=pk)
    plan_form, update_form = RenewalForm(instance=opportunity, prefix="plan"), RiskUpdateForm(prefix="update")
    status = 200
    if request.method == "POST":
        require(request, "change_account")
        which = request.POST.get("form")
        try:
            if which == "plan":
                plan_form = RenewalForm(
                    request.POST, instance=selectors.pipeline(rules=rules).get(pk=pk), prefix="plan"
                )
                if plan_form.is_valid():
                    fields = {name: plan_form.cleaned_data[name] for name in plan_form.changed_data}
                    update_renewal(opportunity, actor=request.user, **fields)
                    messages.success(request, "Renewal saved.")
                    return redirect(opportunity.get_absolute_url())
            elif which == "update":
                update_form = RiskUpdateForm(request.POST, prefix="update")
                if update_form.is_valid():
                    data = {k: v for k, v in update_form.cleaned_data.items() if k in update_form.Meta.fields}
                    log_risk_update(opportunity, author=request.user, **data, **update_form.renewal_fields())
                    messages.success(request, "Risk update logged on the timeline; CSM sentiment set.")
                    return redirect(opportunity.get_absolute_url())
        except ValidationError as exc:
            add_action_errors(plan_form if which == "plan" else update_form, exc)
        status = 400
    today = timezone.localdate()
    return render(
        request,
        "renewals/renewal.html",
        {
            "title": f"Renewal: {opportunity.account}",
            "renewal": opportunity,
            "plan_form": plan_form,
            "update_form": update_form,
            "updates": HealthUpdate.objects.filter(account=opportunity.account).select_related("author")[:20],
            "lifecycle": selectors.lifecycle_label(opportunity.close_date, today),
            "quarter": fiscal_quarter_label(opportunity.close_date),
            "interval": selectors.update_interval(opportunity.close_date, today, rules).days,
            "can_change": has_perm(request.user, "change_account"),
        },
        status=status,
    )


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


RETENTION_HEADERS = [
    "Group",
    "Customers",
    "Starting ARR",
    "Ending ARR",
    "Churn",
    "Contraction",
    "Expansion",
    "Gross retention",
    "Net retention",
    "Logo churn",
]


def _retention_row(r: metrics.Retention) -> list:
    return [
        r.group,
        r.customers,
        r.starting,
        r.ending,
        r.churn,
        r.contraction,
        r.expansion,
        r.gross_retention,
        r.net_retention,
        r.logo_churn,
    ]


def _bridge(total: metrics.Retention) -> str:
    return charts.bridge(
        [
            ("Starting ARR", total.starting, "grey"),
            ("Churn", -total.churn, "red"),
            ("Contraction", -total.contraction, "yellow"),
            ("Expansion", total.expansion, "green"),
            ("Ending ARR", total.ending, "grey"),
        ],
        title="ARR of the starting customers",
    )


@login_required
def retention(request: HttpRequest) -> HttpResponse:
    """?export=csv|xlsx for the table, ?export=pdf for the dashboard."""
    require(request, "view_customers")
    start, end, errors = _period(request)
    group_by = request.GET.get("by") if request.GET.get("by") in metrics.GROUPS else None
    fmt = exports.requested(request)
    if fmt and fmt not in (*exports.TABLE_FORMATS, "pdf"):
        errors.append(f"export: {fmt!r} is not one of csv, xlsx, pdf.")
    rows = [] if errors else metrics.retention(start, end, group_by)
    total = metrics.combined(rows)
    if fmt in exports.TABLE_FORMATS and not errors:
        table = [_retention_row(r) for r in rows] + ([_retention_row(total)] if group_by and total else [])
        name = f"retention-{start:%Y-%m}-{end:%Y-%m}"
        return exports.table_response(fmt, name, RETENTION_HEADERS, table, sheet="Retention")
    context = {
        "title": "Retention",
        "start": start,
        "end": end,
        "by": group_by or "",
        "rows": rows,
        "total": total,
        "renewal_rate": None if errors else metrics.renewal_rate(start, end),
        "on_time": None if errors else metrics.on_time(start, end),
        "errors": errors,
        "definitions": metrics.DEFINITIONS,
        "definition_labels": [(k.replace("_", " ").capitalize(), v) for k, v in metrics.DEFINITIONS.items()],
        "groups": metrics.GROUPS,
        "months": request.GET.get("months", "12"),
        "query": request.GET.urlencode(),
        "chart": _bridge(total) if total else "",
    }
    if fmt == "pdf" and not errors:
        return exports.pdf_response(
            request, "renewals/retention_print.html", context, f"retention-{end:%Y-%m}"
        )
    return render(request, "renewals/retention.html", context, status=400 if errors else 200)


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
    fmt = exports.requested(request)
    if fmt and not errors:
        if fmt not in exports.TABLE_FORMATS:
            errors.append(f"export: {fmt!r} is not one of {', '.join(exports.TABLE_FORMATS)}.")
        else:
            table = [[name, m.group, m.start, m.end, change, m.kind] for m, name, change in rows]
            headers = ["Customer", "Group", "Starting ARR", "Ending ARR", "Change", "Movement"]
            return exports.table_response(fmt, f"retention-{kind or 'customers'}-{end:%Y-%m}", headers, table)
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
            "query": request.GET.urlencode(),
        },
        status=400 if errors else 200,
    )
