"""Filters shared by the engagement request list page, its CSV export and the API's list."""

from __future__ import annotations

import django_filters as filters

from csops.core.models import Role, User
from csops.customers.filtersets import SearchFilterSet
from csops.engagements import selectors
from csops.engagements.models import EngagementRequest, RequestStatus


class RequestFilterSet(SearchFilterSet):
    search_fields = ("topic", "account__name", "account__external_id", "contact__last_name", "challenges")
    status = filters.MultipleChoiceFilter(choices=RequestStatus.choices, label="Status", distinct=False)
    cse = filters.ModelChoiceFilter(
        queryset=User.objects.filter(is_active=True, is_pool=False, role__in=[Role.CSM, Role.ADMIN]),
        to_field_name="username",
        label="CSE",
    )
    account = filters.CharFilter(field_name="account__name", lookup_expr="icontains", label="Account")
    account_id = filters.NumberFilter(field_name="account_id", label="Account id")
    overdue = filters.BooleanFilter(method="filter_overdue", label="Follow-up overdue")

    class Meta:
        model = EngagementRequest
        fields: list[str] = []

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        late = selectors.overdue(EngagementRequest.objects.all()).values("pk")
        return queryset.filter(pk__in=late) if value else queryset.exclude(pk__in=late)
