from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.cockpit import actions
from csops.cockpit.forms import ObjectiveForm, SuccessPlanForm
from csops.cockpit.models import SuccessPlan
from csops.core.views import require
from csops.customers.models import Account


@login_required
@require_POST
def add_success_plan(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "manage_success_plans")
    account = get_object_or_404(Account, pk=pk)
    form = SuccessPlanForm(request.POST)
    if not form.is_valid():
        return render(request, "cockpit/plan_form.html", {"form": form, "account": account}, status=400)
    plan = actions.create_success_plan(account, actor=request.user, **form.cleaned_data)
    messages.success(request, f"Created the success plan {plan}.")
    return redirect(plan.get_absolute_url())


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
    form = ObjectiveForm(request.POST)
    if not form.is_valid():
        return render(request, "cockpit/objective_form.html", {"form": form, "plan": plan}, status=400)
    actions.add_objective(plan, actor=request.user, **form.cleaned_data)
    return redirect(plan.get_absolute_url())
