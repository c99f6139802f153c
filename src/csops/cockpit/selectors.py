"""Reads for the cockpit."""

from __future__ import annotations

from csops.cockpit.forms import ObjectiveForm, SuccessPlanForm
from csops.cockpit.models import PlanStatus, SuccessPlan
from csops.core.permissions import has_perm


def success_plan_context(user, account) -> dict:
    return {
        "success_plans": list(SuccessPlan.objects.filter(account=account).prefetch_related("objectives")),
        "can_manage_plans": has_perm(user, "manage_success_plans"),
        "plan_form": SuccessPlanForm(),
        "objective_form": ObjectiveForm(),
        "plan_statuses": PlanStatus.choices,
    }
