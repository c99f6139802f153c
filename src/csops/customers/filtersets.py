"""Filters shared by the HTML lists and the API lists."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q

from csops.core.models import Role, User
from csops.customers.models import (
    Account,
    Color,
    Contact,
    Deployment,
    Geo,
    Opportunity,
    OpportunityType,
    Persona,
    Priority,
    Segment,
    Severity,
    SupportTicket,
    Tier,
)

HEALTH_CHOICES = [*Color.choices, ("none", "Not scored")]


class SearchFilterSet(filters.FilterSet):
    search_fields: tuple[str, ...] = ()
    q = filters.CharFilter(method="search", label="Search")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


class AccountFilterSet(SearchFilterSet):
    search_fields = ("name", "external_id")
    segment = filters.ModelMultipleChoiceFilter(
        field_name="segment__name", queryset=Segment.objects.all(), to_field_name="name",
        label="Segment",
    )
    geo = filters.ModelMultipleChoiceFilter(
        field_name="geo__name", queryset=Geo.objects.all(), to_field_name="name", label="Geo"
    )
    csm = filters.ModelChoiceFilter(
        queryset=User.objects.filter(Q(role=Role.CSM) | Q(is_pool=True)),
        to_field_name="username", label="CSM",
    )
    csm_priority = filters.MultipleChoiceFilter(choices=Priority.choices, label="Priority")
    health = filters.MultipleChoiceFilter(choices=HEALTH_CHOICES, method="filter_health", label="Health")
    tier = filters.ChoiceFilter(choices=Tier.choices)
    deployment = filters.ChoiceFilter(choices=Deployment.choices)
    arr_min = filters.NumberFilter(field_name="arr", lookup_expr="gte", label="ARR at least")
    arr_max = filters.NumberFilter(field_name="arr", lookup_expr="lte", label="ARR at most")
    renewal_before = filters.DateFilter(field_name="renewal_date", lookup_expr="lte",
                                        label="Renews by")
    parent = filters.NumberFilter(field_name="parent_id", label="Parent account id")

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_health(self, queryset, name, values):
        if not values:
            return queryset
        colors = [v for v in values if v != "none"]
        condition = Q(health_color__in=colors)
        if "none" in values:
            condition |= Q(health_color="")
        return queryset.filter(condition)


class ContactFilterSet(SearchFilterSet):
    search_fields = ("first_name", "last_name", "email", "account__name")
    account = filters.NumberFilter(field_name="account_id")
    persona = filters.ModelChoiceFilter(queryset=Persona.objects.all(), to_field_name="name")
    email_opt_out = filters.BooleanFilter()

    class Meta:
        model = Contact
        fields: list[str] = []


class OpportunityFilterSet(SearchFilterSet):
    search_fields = ("name", "external_id", "account__name")
    account = filters.NumberFilter(field_name="account_id")
    type = filters.ChoiceFilter(choices=OpportunityType.choices)
    close_after = filters.DateFilter(field_name="close_date", lookup_expr="gte")
    close_before = filters.DateFilter(field_name="close_date", lookup_expr="lte")

    class Meta:
        model = Opportunity
        fields: list[str] = []


class TicketFilterSet(SearchFilterSet):
    search_fields = ("subject", "external_id", "account__name")
    account = filters.NumberFilter(field_name="account_id")
    severity = filters.MultipleChoiceFilter(choices=Severity.choices)
    is_emergency = filters.BooleanFilter()
    open = filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Open")

    class Meta:
        model = SupportTicket
        fields: list[str] = []
