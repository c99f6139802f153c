"""Filters shared by the CTA list page and the API's CTA and task lists."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.utils import timezone

from csops.cockpit.models import Cta, CtaReason, CtaStatus, CtaType, Priority, Source, Task
from csops.cockpit.selectors import STATES, state_condition
from csops.core.models import User
from csops.customers.filtersets import SearchFilterSet

DATE = forms.DateInput(attrs={"type": "date"})


class ByName(filters.ModelMultipleChoiceFilter):
    """Chosen by name (in a form or a query string), filtered on the foreign key's id, so the
    indexes that lead with it serve the filter. No DISTINCT: a foreign key cannot repeat a row,
    and DISTINCT would sort every match before the first page."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("to_field_name", "name")
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": [v.pk for v in value]})


class CtaFilterSet(SearchFilterSet):
    search_fields = ("name", "account__name", "account__external_id")
    state = filters.ChoiceFilter(choices=STATES, method="filter_state", label="State", empty_label="Any")
    owner = filters.ModelChoiceFilter(
        queryset=User.objects.filter(is_active=True), to_field_name="username", label="Owner"
    )
    team = filters.ModelChoiceFilter(
        queryset=User.objects.filter(reports__isnull=False).distinct(),
        to_field_name="username",
        method="filter_team",
        label="Team of",
    )
    account = filters.CharFilter(field_name="account__name", lookup_expr="icontains", label="Account")
    account_id = filters.NumberFilter(field_name="account_id", label="Account id")
    type = ByName(queryset=CtaType.objects.all(), label="Type")
    reason = ByName(queryset=CtaReason.objects.select_related("type"), label="Reason")
    priority = filters.MultipleChoiceFilter(choices=Priority.choices, label="Priority", distinct=False)
    status = ByName(queryset=CtaStatus.objects.all(), label="Status")
    source = filters.MultipleChoiceFilter(choices=Source.choices, label="Source", distinct=False)
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte", label="Due from", widget=DATE)
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte", label="Due by", widget=DATE)

    class Meta:
        model = Cta
        fields: list[str] = []

    def filter_state(self, queryset, name, value):
        return queryset.filter(state_condition(value, timezone.localdate())) if value else queryset

    def filter_team(self, queryset, name, manager):
        # A manager's team is their direct reports (User.manager).
        return queryset.filter(owner__manager=manager) if manager else queryset


class TaskFilterSet(filters.FilterSet):
    cta = filters.NumberFilter(field_name="cta_id", label="CTA id")
    owner = filters.ModelChoiceFilter(
        queryset=User.objects.all(), to_field_name="username", label="Owner (username)"
    )
    open = filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", label="Open (not done)")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte", label="Due by")

    class Meta:
        model = Task
        fields: list[str] = []
