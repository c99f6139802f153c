"""Filters for the rule run history (page and API alike)."""

from __future__ import annotations

import django_filters as filters

from csops.rules.models import Rule, RuleResult, Trigger


class RuleResultFilterSet(filters.FilterSet):
    rule = filters.ChoiceFilter(
        label="Rule", choices=lambda: [(n, n) for n in Rule.objects.values_list("name", flat=True)]
    )
    trigger = filters.ChoiceFilter(field_name="run__trigger", label="Trigger", choices=Trigger.choices)
    dry_run = filters.BooleanFilter(field_name="run__dry_run", label="Dry run")
    failed = filters.BooleanFilter(method="only_failed", label="Failed")
    started_after = filters.DateFilter(field_name="started_at", lookup_expr="date__gte", label="From")
    started_before = filters.DateFilter(field_name="started_at", lookup_expr="date__lte", label="To")

    class Meta:
        model = RuleResult
        fields: list[str] = []

    def only_failed(self, queryset, name, value):
        return queryset.exclude(error="") if value else queryset.filter(error="")
