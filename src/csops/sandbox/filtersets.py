"""Filters of the sandbox pages: the report's instances and a run's actions."""

from __future__ import annotations

import django_filters as filters

from csops.customers.filtersets import SearchFilterSet
from csops.sandbox import rules
from csops.sandbox.models import SandboxAction, SandboxInstance

ACTIONS = [
    (rules.TAG, "Tag"),
    (rules.STOP, "Stop"),
    (rules.SNAPSHOT_TERMINATE, "Snapshot and terminate"),
    (rules.TERMINATE, "Terminate"),
    ("report", "Report only (a problem, nothing done)"),
]
OUTCOMES = [
    ("planned", "Planned (dry run)"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("skipped", "Skipped (termination cap)"),
]


def _regions() -> list[tuple[str, str]]:
    found = SandboxInstance.objects.order_by("region").values_list("region", flat=True).distinct()
    return [(r, r) for r in found]


class InstanceFilterSet(SearchFilterSet):
    search_fields = ("name", "instance_id", "owner")
    q = filters.CharFilter(method="search", label="Search name, id or owner")
    category = filters.ChoiceFilter(choices=list(rules.CATEGORIES.items()), label="State", empty_label="Any")
    region = filters.ChoiceFilter(choices=_regions, label="Region", empty_label="Any")

    class Meta:
        model = SandboxInstance
        fields: list[str] = []


class ActionFilterSet(SearchFilterSet):
    search_fields = ("name", "instance_id", "reason")
    q = filters.CharFilter(method="search", label="Search name, id or reason")
    action = filters.ChoiceFilter(choices=ACTIONS, label="Action", empty_label="Any")
    outcome = filters.ChoiceFilter(choices=OUTCOMES, label="Outcome", empty_label="Any")

    class Meta:
        model = SandboxAction
        fields: list[str] = []


def errors(filterset: filters.FilterSet) -> list[str]:
    """The form's errors, each naming its parameter."""
    return [f"{name}: {' '.join(messages)}" for name, messages in filterset.form.errors.items()]
