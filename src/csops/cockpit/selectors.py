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
        "open_ctas": open_ctas(account),
    }


def open_ctas(account) -> list:
    from csops.cockpit.models import Cta

    return list(
        Cta.objects.filter(account=account, closed_at__isnull=True)
        .select_related("type", "reason", "status", "owner")
        .prefetch_related("tasks")
    )


def my_ctas(user, today) -> dict[str, list]:
    """The user's open CTAs in the cockpit's four piles."""
    from csops.cockpit.models import Cta

    ctas = list(
        Cta.objects.filter(owner=user, closed_at__isnull=True)
        .select_related("account", "type", "reason", "status")
        .order_by("due_date", "pk")[:500]
    )
    piles: dict[str, list] = {"overdue": [], "today": [], "upcoming": [], "snoozed": []}
    for cta in ctas:
        if cta.snoozed_until and cta.snoozed_until > today:
            piles["snoozed"].append(cta)
        elif cta.due_date and cta.due_date < today:
            piles["overdue"].append(cta)
        elif cta.due_date == today:
            piles["today"].append(cta)
        else:
            piles["upcoming"].append(cta)
    return piles
