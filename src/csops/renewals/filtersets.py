"""Filters of the renewal pipeline."""

from __future__ import annotations

import django_filters as filters
from django.utils import timezone

from csops.core.models import User
from csops.customers.filtersets import SearchFilterSet
from csops.customers.models import Color, ForecastCategory, Opportunity, RiskImpact, RiskReason, Segment
from csops.renewals import selectors

YES_NO = [("true", "Yes"), ("false", "No")]


def _quarters() -> list[tuple[str, str]]:
    return [(q, q) for q in selectors.quarter_choices(timezone.localdate())]


class RenewalFilterSet(SearchFilterSet):
    search_fields = ("name", "external_id", "account__name", "next_step")
    quarter = filters.ChoiceFilter(
        choices=_quarters, method="filter_quarter", label="Quarter", empty_label="Any"
    )
    forecast_category = filters.MultipleChoiceFilter(
        choices=ForecastCategory.choices, label="Forecast category"
    )
    open = filters.ChoiceFilter(choices=YES_NO, method="filter_open", label="Open", empty_label="Any")
    at_risk = filters.BooleanFilter(label="At risk")
    overdue = filters.BooleanFilter(label="Update overdue")
    health = filters.MultipleChoiceFilter(
        field_name="account__health_color", choices=Color.choices, label="Health"
    )
    risk_impact = filters.ModelChoiceFilter(queryset=RiskImpact.objects.all(), label="Risk impact")
    risk_reason = filters.ModelChoiceFilter(queryset=RiskReason.objects.all(), label="Risk reason")
    segment = filters.ModelChoiceFilter(field_name="account__segment", queryset=Segment.objects.all())
    close_after = filters.DateFilter(field_name="close_date", lookup_expr="gte", label="Closes on or after")
    close_before = filters.DateFilter(field_name="close_date", lookup_expr="lt", label="Closes before")
    due_after = filters.DateFilter(field_name="renewal_due", lookup_expr="gte", label="Due on or after")
    due_before = filters.DateFilter(field_name="renewal_due", lookup_expr="lt", label="Due before")
    dri = filters.ModelChoiceFilter(
        queryset=User.objects.filter(is_active=True), method="filter_dri", label="Renewal DRI"
    )

    class Meta:
        model = Opportunity
        fields: list[str] = []

    def filter_quarter(self, queryset, name, value):
        start, end = selectors.quarter_bounds(value)
        return queryset.filter(close_date__gte=start, close_date__lt=end)

    def filter_open(self, queryset, name, value):
        return queryset.filter(selectors.OPEN if value == "true" else ~selectors.OPEN) if value else queryset

    def filter_dri(self, queryset, name, value):
        return queryset.filter(selectors.dri_is(value)) if value else queryset
