from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from csops.cockpit import actions, selectors
from csops.cockpit.filtersets import CtaFilterSet
from csops.cockpit.forms import ObjectiveForm, SuccessPlanForm
from csops.cockpit.models import PRIORITY_RANK, CtaStatus, SuccessPlan, Task
from csops.core.models import User
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, require, save_posted_form
from csops.customers.models import Account
from csops.programs.assist_views import assist_context
from csops.timeline.forms import ActivityForm


@login_required
@require_POST
def add_success_plan(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "manage_success_plans")
    account = get_object_or_404(Account, pk=pk)
    return save_posted_form(
        request,
        SuccessPlanForm(request.POST),
        lambda data: actions.create_success_plan(account, actor=request.user, **data),
        template="cockpit/plan_form.html",
        context={"account": account},
        message="Success plan created.",
    )


@login_required
@require_POST
def set_plan_status(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "manage_success_plans")
    plan = get_object_or_404(SuccessPlan, pk=pk)
    status = request.POST.get("status", "")
    if status not in dict(SuccessPlan._meta.get_field("status").choices):
        messages.error(request, f"Unknown status {status!r}.")
        return redirect(plan.get_absolute_url())
    actions.update_success_plan(plan, actor=request.user, status=status)
    return redirect(plan.get_absolute_url())


@login_required
@require_POST
def add_objective(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "manage_success_plans")
    plan = get_object_or_404(SuccessPlan, pk=pk)
    return save_posted_form(
        request,
        ObjectiveForm(request.POST),
        lambda data: actions.add_objective(plan, actor=request.user, **data),
        template="cockpit/objective_form.html",
        context={"plan": plan},
        message="Objective added.",
    )


def _day(value: dt.date | dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d") if isinstance(value, dt.datetime) else str(value)


# Query-string keys that page or sort the list rather than filter it.
NOT_FILTERS = {"page", "per_page", "sort", "export"}


class CtaListView(ObjectListView):
    """Every CTA, filtered and sorted; a manager lands on the team's open CTAs, a CSM on their own."""

    title = "CTAs"
    queryset = selectors.ctas().annotate(priority_rank=PRIORITY_RANK)
    filterset_class = CtaFilterSet
    default_sort = "due_date"
    export_name = "ctas"
    bulk_template = "cockpit/cta_bulk.html"
    bulk_url_name = "cockpit:cta_bulk"
    bulk_permission = "work_ctas"
    header_template = "cockpit/cta_views.html"
    columns = [
        Column("name", "CTA", sort="name", link=True),
        Column("account.name", "Account", sort="account__name"),
        Column("type.name", "Type", sort="type__name"),
        Column("reason.name", "Reason", sort="reason__name"),
        Column("get_priority_display", "Priority", sort="priority_rank"),
        Column("status.name", "Status", sort="status__name"),
        Column("owner", "Owner", sort="owner__last_name"),
        Column("due_date", "Due", sort="due_date"),
        Column("snoozed_until", "Snoozed until", sort="snoozed_until"),
        Column("get_source_display", "Source", sort="source"),
        Column("created_at", "Created", sort="created_at", display=_day),
        Column("closed_at", "Closed", sort="closed_at", display=_day),
    ]

    def filter_data(self, request: HttpRequest):
        if set(request.GET) - NOT_FILTERS:
            return request.GET
        return default_filters(request.user, manager=self.is_manager(request))

    def is_manager(self, request: HttpRequest) -> bool:
        if not hasattr(request, "_has_reports"):
            request._has_reports = selectors.has_reports(request.user)
        return request._has_reports

    def extra_context(self, request: HttpRequest, objects) -> dict[str, Any]:
        user = request.user
        views = [("Mine", {"owner": user.username, "state": "open"})]
        if self.is_manager(request):
            views.append(("My team", {"team": user.username, "state": "open"}))
        views += [
            ("All open", {"state": "open"}),
            ("Overdue", {"state": "overdue"}),
            # Newest first: a due-date order over every CTA, closed ones included, has no index.
            ("Everything", {"state": "", "sort": "-created_at"}),
        ]
        context: dict[str, Any] = {"views": [(label, urlencode(query)) for label, query in views]}
        if has_perm(user, "work_ctas"):
            context.update(selectors.bulk_choices())
        return context


def default_filters(user: User, *, manager: bool) -> dict[str, str]:
    """What the list shows before any filter is chosen: a manager's team, a CSM's own, else all open."""
    if manager:
        return {"team": user.username, "state": "open"}
    if has_perm(user, "work_ctas"):
        return {"owner": user.username, "state": "open"}
    return {"state": "open"}


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("cockpit:cta_list")


def _bulk(request: HttpRequest, ids: list[int]) -> str:
    """Run the chosen verb on the selected CTAs; returns what to tell the user."""
    verb, user, post = request.POST.get("verb"), request.user, request.POST
    if verb == "close":
        status = CtaStatus.objects.filter(pk=_number(post.get("status"), "status")).first()
        if status is None:
            raise ValidationError({"status": "Choose a closed status."})
        return f"Closed {actions.bulk_close_ctas(ids, actor=user, status=status)} CTA(s) as {status}."
    if verb == "reassign":
        owner = User.objects.filter(pk=_number(post.get("owner"), "owner")).first()
        if owner is None:
            raise ValidationError({"owner": "Choose who gets the CTAs."})
        return f"Reassigned {actions.bulk_reassign_ctas(ids, actor=user, owner=owner)} CTA(s) to {owner}."
    if verb == "snooze":
        until = _date(post.get("until"), "snoozed_until")
        count = actions.bulk_snooze_ctas(ids, actor=user, until=until, reason=post.get("reason", ""))
        return f"Snoozed {count} CTA(s) until {until}."
    raise ValidationError(f"Unknown action {verb!r}.")


def _number(value: str | None, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({field: f"Not an id: {value!r}."}) from None


def _date(value: str | None, field: str) -> dt.date:
    try:
        parsed = parse_date(value or "")
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({field: "Give a date (YYYY-MM-DD)."})
    return parsed


@login_required
@require_POST
def cta_bulk(request: HttpRequest) -> HttpResponse:
    """Close, reassign or snooze the CTAs ticked on the list, all or none."""
    require(request, "work_ctas")
    try:
        ids = [int(value) for value in request.POST.getlist("selected")]
    except ValueError:
        ids = []
    try:
        if not ids:
            raise ValidationError("Select at least one CTA.")
        messages.success(request, _bulk(request, ids))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect(_back(request))


@login_required
def my_ctas(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(
        request,
        "cockpit/my_ctas.html",
        {"piles": selectors.my_ctas(request.user, timezone.localdate())},
    )


@login_required
def cta_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    try:
        cta = selectors.cta_page(pk)
    except ObjectDoesNotExist:
        raise Http404("No such CTA.") from None
    return render(request, "cockpit/cta_detail.html", cta_page_context(request, cta))


def cta_page_context(request: HttpRequest, cta, activity_form: ActivityForm | None = None) -> dict:
    """The CTA page: attributes, tasks, its activities, and the forms to work it."""
    can_log = has_perm(request.user, "log_activity")
    if can_log and activity_form is None:
        activity_form = ActivityForm(account=cta.account, initial={"date": timezone.localdate()})
    tasks = selectors.cta_tasks(cta)
    return {
        "cta": cta,
        "tasks": tasks,
        "open_task_count": sum(task.done_at is None for task in tasks),
        "activities": selectors.cta_activities(cta),
        "closed_statuses": selectors.closed_statuses_for(cta),
        "can_work": has_perm(request.user, "work_ctas"),
        "can_log_activity": can_log,
        "activity_form": activity_form,
        "account": cta.account,
        **assist_context(request, cta),
    }


@login_required
@require_POST
def work_cta(request: HttpRequest, pk: int) -> HttpResponse:
    """Complete a task, snooze, close or reopen: one form post per verb, each through its action."""
    require(request, "work_ctas")
    cta = get_object_or_404(selectors.ctas(), pk=pk)
    verb = request.POST.get("verb")
    try:
        if verb == "complete_task":
            actions.complete_task(
                get_object_or_404(Task, pk=_number(request.POST.get("task"), "task"), cta=cta),
                actor=request.user,
            )
        elif verb == "snooze":
            until = _date(request.POST.get("until"), "snoozed_until")
            actions.snooze_cta(cta, actor=request.user, until=until, reason=request.POST.get("reason", ""))
        elif verb == "close":
            status = get_object_or_404(CtaStatus, pk=_number(request.POST.get("status"), "status"))
            actions.close_cta(cta, actor=request.user, status=status,
                              complete_tasks=request.POST.get("complete_tasks") == "on")
        elif verb == "reopen":
            actions.reopen_cta(cta, actor=request.user)
        else:
            raise ValidationError(f"Unknown action {verb!r}.")
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("cockpit:cta_detail", pk=cta.pk)
    messages.success(request, _done(verb))
    return redirect("cockpit:cta_detail", pk=cta.pk)


def _done(verb: str) -> str:
    return {"complete_task": "Task done.", "snooze": "CTA snoozed.", "close": "CTA closed.",
            "reopen": "CTA reopened."}[verb]
