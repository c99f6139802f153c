from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from csops.cockpit import actions, selectors
from csops.cockpit.forms import ObjectiveForm, SuccessPlanForm
from csops.cockpit.models import Cta, CtaStatus, SuccessPlan, Task
from csops.core.permissions import has_perm
from csops.core.views import require, save_posted_form
from csops.customers.models import Account


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


@login_required
def my_ctas(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(
        request,
        "cockpit/my_ctas.html",
        {
            "piles": selectors.my_ctas(request.user, timezone.localdate()),
        },
    )


@login_required
def cta_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    cta = get_object_or_404(Cta.objects.select_related("account", "type", "reason", "status", "owner"), pk=pk)
    return render(
        request,
        "cockpit/cta_detail.html",
        {
            "cta": cta,
            "tasks": cta.tasks.select_related("owner"),
            "closed_statuses": CtaStatus.objects.filter(is_closed=True).filter(
                Q(types=None) | Q(types=cta.type)
            ),
            "can_work": has_perm(request.user, "work_ctas"),
        },
    )


@login_required
@require_POST
def work_cta(request: HttpRequest, pk: int) -> HttpResponse:
    """Complete a task, snooze, close or reopen: one form post per verb, each through its action."""
    require(request, "work_ctas")
    cta = get_object_or_404(Cta, pk=pk)
    verb = request.POST.get("verb")
    try:
        if verb == "complete_task":
            actions.complete_task(
                get_object_or_404(Task, pk=request.POST.get("task"), cta=cta), actor=request.user
            )
        elif verb == "snooze":
            until = parse_date(request.POST.get("until") or "")
            if until is None:
                raise ValidationError({"snoozed_until": "Give a date (YYYY-MM-DD)."})
            actions.snooze_cta(cta, actor=request.user, until=until, reason=request.POST.get("reason", ""))
        elif verb == "close":
            status = get_object_or_404(CtaStatus, pk=request.POST.get("status"))
            actions.close_cta(cta, actor=request.user, status=status)
        elif verb == "reopen":
            actions.reopen_cta(cta, actor=request.user)
        else:
            raise ValidationError(f"Unknown action {verb!r}.")
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("cockpit:cta_detail", pk=cta.pk)
    messages.success(request, "Saved.")
    return redirect("cockpit:cta_detail", pk=cta.pk)
