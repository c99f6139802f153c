"""The escalation pages: the list, one escalation with its history, filing one, updating and
resolving it. Every change goes through `escalations`; refused input comes back as the form with
its errors and a 400."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, add_action_errors, require
from csops.customers.models import Account
from csops.engagements import escalations
from csops.engagements.escalation_forms import (
    AccountChoiceForm,
    EscalationFilterSet,
    EscalationForm,
    ResolveForm,
    UpdateForm,
)
from csops.engagements.models import UPDATE_EVERY, Escalation, EscalationStatus, Severity

SEVERITY_RANK = Case(
    *(When(severity=value, then=Value(rank)) for rank, value in enumerate(Severity.values)),
    output_field=IntegerField(),
)


def _next_update(due) -> str:
    # A resolved escalation has no next update (None: an empty cell).
    return f"{due}{' · overdue' if due < escalations.business_today() else ''}"


class EscalationListView(ObjectListView):
    queryset = Escalation.objects.select_related("account", "owner").annotate(severity_rank=SEVERITY_RANK)
    filterset_class = EscalationFilterSet
    title = "Escalations"
    export_name = "escalations"
    default_sort = "-id"
    add_url_name = "escalations:new"
    add_permission = escalations.PERMISSION
    header_template = "engagements/escalation_list_header.html"
    columns = [
        Column("title", "Title", sort="title", link=True),
        Column("account", "Account", sort="account__name"),
        Column("get_kind_display", "Kind", sort="kind"),
        Column("get_severity_display", "Severity", sort="severity_rank"),
        Column("get_status_display", "Status", sort="status"),
        Column("owner", "Owner"),
        Column("next_update_due", "Next update due", sort="next_update_due", display=_next_update),
        Column("qualified", "Qualified", sort="qualified", display=lambda v: "yes" if v else "overridden"),
        Column("opened_at", "Opened", sort="id", display=lambda v: f"{v:%Y-%m-%d}"),
    ]

    def extra_context(self, request: HttpRequest, objects) -> dict[str, Any]:
        return {"cadences": _cadences()}


def _cadences() -> list[tuple[str, str]]:
    return [(Severity(s).label, escalations.cadence(s)) for s in UPDATE_EVERY]


def _detail_context(request: HttpRequest, escalation: Escalation, **forms: Any) -> dict[str, Any]:
    can_work = has_perm(request.user, escalations.PERMISSION)
    is_open = escalation.status != EscalationStatus.RESOLVED
    today = escalations.business_today()
    return {
        "escalation": escalation,
        "criteria": escalation.criteria.get("items", []),
        "criteria_as_of": escalation.criteria.get("as_of"),
        "cadence": escalations.cadence(escalation.severity),
        "overdue": is_open and escalation.next_update_due is not None and escalation.next_update_due < today,
        "history": list(escalation.updates.select_related("author")),
        "can_work": can_work and is_open,
        "update_form": forms.get("update_form") or UpdateForm(),
        "resolve_form": forms.get("resolve_form") or ResolveForm(),
    }


def _escalation(pk: int) -> Escalation:
    return get_object_or_404(
        Escalation.objects.select_related("account__segment", "owner", "overridden_by", "ticket"), pk=pk
    )


@login_required
def escalation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    return render(request, "engagements/escalation_detail.html", _detail_context(request, _escalation(pk)))


@login_required
@require_POST
def add_update(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, escalations.PERMISSION)
    escalation = _escalation(pk)
    form = UpdateForm(request.POST)
    if form.is_valid():
        try:
            escalations.add_update(
                escalation,
                actor=request.user,
                body=form.cleaned_data["body"],
                status=form.cleaned_data["status"] or None,
                severity=form.cleaned_data["severity"] or None,
            )
        except ValidationError as exc:
            _add_errors(request, form, exc, escalation)
        else:
            messages.success(request, "Update recorded.")
            return redirect(escalation)
    context = _detail_context(request, escalation, update_form=form)
    return render(request, "engagements/escalation_detail.html", context, status=400)


@login_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, escalations.PERMISSION)
    escalation = _escalation(pk)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            escalations.resolve(escalation, actor=request.user, resolution=form.cleaned_data["resolution"])
        except ValidationError as exc:
            _add_errors(request, form, exc, escalation)
        else:
            messages.success(request, "Escalation resolved.")
            return redirect(escalation)
    context = _detail_context(request, escalation, resolve_form=form)
    return render(request, "engagements/escalation_detail.html", context, status=400)


def _add_errors(
    request: HttpRequest, form, exc: ValidationError, escalation: Escalation | None = None
) -> None:
    """The action's errors on the form's fields where it has them, else above the form; a resolved
    escalation's page has no forms, so there they are messages."""
    if escalation is not None and escalation.status == EscalationStatus.RESOLVED:
        for text in exc.messages:
            messages.error(request, text)
    add_action_errors(form, exc)


@login_required
def new_escalation(request: HttpRequest) -> HttpResponse:
    """`?account=<id or CRM id>`: the account's qualification, then the form."""
    require(request, escalations.PERMISSION)
    if "account" not in request.GET:
        return render(request, "engagements/escalation_form.html", {"choose": AccountChoiceForm()})
    choose = AccountChoiceForm(request.GET)
    if not choose.is_valid():
        return render(request, "engagements/escalation_form.html", {"choose": choose}, status=400)
    account: Account = choose.cleaned_data["account"]
    criteria = escalations.qualification(account)
    form = EscalationForm(request.POST if request.method == "POST" else None, account=account)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                escalation = escalations.file_escalation(
                    account,
                    actor=request.user,
                    kind=data["kind"],
                    severity=data["severity"],
                    title=data["title"],
                    description=data["description"],
                    ticket=data["ticket"],
                    issue=data["issue"],
                    override_reason=data["override_reason"],
                )
            except ValidationError as exc:
                _add_errors(request, form, exc)
            else:
                messages.success(request, f"Filed escalation #{escalation.pk}.")
                return redirect(escalation)
        status = 400
    return render(
        request,
        "engagements/escalation_form.html",
        {
            "account": account,
            "criteria": criteria,
            "qualified": all(c.met for c in criteria),
            "form": form,
            "cadences": _cadences(),
        },
        status=status,
    )
