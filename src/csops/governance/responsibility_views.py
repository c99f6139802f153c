"""The core responsibilities tracker's pages: the list, a process with its history and forms, adding
one, and the one-page status report for leadership as HTML or PDF. Every change goes through
`responsibilities`; refused input comes back as the form with its errors, the field named, and a 400."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from csops.core.pdf import PdfUnavailable, html_to_pdf
from csops.core.tables import Column
from csops.core.views import ObjectListView, add_action_errors, require
from csops.governance import responsibilities as tracker
from csops.governance.models import CoreProcess
from csops.governance.responsibility_forms import (
    EditForm,
    OwnerForm,
    ProcessFilterSet,
    ProcessForm,
    StatusForm,
)

VIEW = "view_customers"  # everyone reads the tracker; leaders and viewers included
REPORT_CSS = "governance/responsibilities_report.css"


def _days(changed_at) -> str:
    days = tracker.days_in_status(changed_at)
    return "" if days is None else str(days)


class ProcessListView(ObjectListView):
    queryset = tracker.processes()
    filterset_class = ProcessFilterSet
    permission = VIEW
    title = "Core responsibilities"
    export_name = "core-processes"
    default_sort = "status_rank"
    add_url_name = "responsibilities:new"
    add_permission = tracker.PERMISSION
    header_template = "governance/responsibilities/list_header.html"
    columns = [
        Column("name", "Process", sort="name", link=True),
        Column("status", "Status", sort="status_rank", pill=True, display=lambda v: v.capitalize()),
        Column("owner", "Owner", sort="owner__username"),
        Column("status_changed_at", "Days in status", sort="status_changed_at", numeric=True, display=_days),
        Column("reason", "Reason"),
        Column("plan", "Plan"),
    ]

    def extra_context(self, request: HttpRequest, objects) -> dict[str, Any]:
        return {"counts": tracker.counts()}


def _process(pk: int) -> CoreProcess:
    return get_object_or_404(tracker.processes(), pk=pk)


def _updatable(request: HttpRequest, pk: int) -> CoreProcess:
    process = _process(pk)
    if not tracker.may_update(request.user, process):
        raise PermissionDenied(f"Only the owner of {process} ({process.owner}) and admins may change it.")
    return process


def _detail(request: HttpRequest, process: CoreProcess, status: int = 200, **forms: Any) -> HttpResponse:
    can_update, can_manage = tracker.may_update(request.user, process), tracker.may_manage(request.user)
    initial = {"name": process.name, "description": process.description}
    context = {
        "process": process,
        "days": tracker.days_in_status(process.status_changed_at),
        "history": tracker.history(process),
        "can_update": can_update,
        "can_manage": can_manage,
        "status_form": forms.get("status_form")
        or StatusForm(initial={"status": process.status, "reason": process.reason, "plan": process.plan}),
        "edit_form": forms.get("edit_form") or EditForm(initial=initial, can_rename=can_manage),
        "owner_form": forms.get("owner_form") or OwnerForm(initial={"owner": process.owner_id}),
    }
    return render(request, "governance/responsibilities/detail.html", context, status=status)


_REFUSED = object()


def _apply(form, action):
    """`action(cleaned_data)` on a valid form: its result, or _REFUSED with the errors on the form."""
    if not form.is_valid():
        return _REFUSED
    try:
        return action(form.cleaned_data)
    except ValidationError as exc:
        add_action_errors(form, exc)
        return _REFUSED


@login_required
def process_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, VIEW)
    return _detail(request, _process(pk))


@login_required
@require_POST
def update_status(request: HttpRequest, pk: int) -> HttpResponse:
    process = _updatable(request, pk)
    form = StatusForm(request.POST)
    change = _apply(form, lambda data: tracker.update_status(process, actor=request.user, **data))
    if change is not _REFUSED:
        said = "Status updated." if change else "Nothing changed: the same status, reason and plan."
        messages.success(request, said)
        return redirect(process)
    return _detail(request, process, status=400, status_form=form)


@login_required
@require_POST
def edit_process(request: HttpRequest, pk: int) -> HttpResponse:
    process = _updatable(request, pk)
    form = EditForm(request.POST, can_rename=tracker.may_manage(request.user))
    if _apply(form, lambda data: tracker.edit_process(process, actor=request.user, **data)) is not _REFUSED:
        messages.success(request, "Saved.")
        return redirect(process)
    return _detail(request, process, status=400, edit_form=form)


@login_required
@require_POST
def change_owner(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, tracker.PERMISSION)
    process = _process(pk)
    form = OwnerForm(request.POST)
    if _apply(form, lambda data: tracker.change_owner(process, actor=request.user, **data)) is not _REFUSED:
        messages.success(request, "Owner saved.")
        return redirect(process)
    return _detail(request, process, status=400, owner_form=form)


@login_required
def new_process(request: HttpRequest) -> HttpResponse:
    require(request, tracker.PERMISSION)
    form = ProcessForm(request.POST or None, initial={"owner": request.user.pk})
    if request.method == "POST":
        process = _apply(form, lambda data: tracker.add_process(actor=request.user, **data))
        if process is not _REFUSED:
            messages.success(request, f"Added {process}.")
            return redirect(process)
    status = 400 if form.is_bound else 200
    return render(request, "governance/responsibilities/form.html", {"form": form}, status=status)


@login_required
def report(request: HttpRequest, as_pdf: bool = False) -> HttpResponse:
    """The one-page status report; `?format=pdf` (or report.pdf) for the PDF to hand round."""
    require(request, VIEW)
    if as_pdf or request.GET.get("format") == "pdf":
        return report_pdf(request)
    return render(request, "governance/responsibilities/report.html", {"report": tracker.status_report()})


def report_pdf(request: HttpRequest) -> HttpResponse:
    """The report as a PDF (the page and the API serve it), or a 503 saying why it cannot be made."""
    report = tracker.status_report()
    with open(finders.find(REPORT_CSS), encoding="utf-8") as css:
        context = {"report": report, "css": css.read()}
    html = render_to_string("governance/responsibilities/report_pdf.html", context, request=request)
    try:
        pdf = html_to_pdf(html)
    except PdfUnavailable as exc:
        return HttpResponse(f"The PDF cannot be made here: {exc}", status=503, content_type="text/plain")
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"core-responsibilities-{report.as_of.isoformat()}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
