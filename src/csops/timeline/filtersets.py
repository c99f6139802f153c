"""Filters for the activities API list."""

from __future__ import annotations

import django_filters as filters

from csops.cockpit.filtersets import ByName
from csops.customers.filtersets import SearchFilterSet
from csops.timeline.models import Activity, ActivityType, Sentiment


class ActivityFilterSet(SearchFilterSet):
    search_fields = ("subject", "notes")
    account = filters.NumberFilter(field_name="account_id", label="Account id")
    account_crm_id = filters.CharFilter(field_name="account__external_id", label="Account CRM id")
    type = ByName(queryset=ActivityType.objects.all(), label="Activity type")
    cta = filters.NumberFilter(field_name="cta_id", label="CTA id")
    sentiment = filters.ChoiceFilter(choices=Sentiment.choices)
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte", label="On or after")
    date_before = filters.DateFilter(field_name="date", lookup_expr="lte", label="On or before")

    class Meta:
        model = Activity
        fields: list[str] = []
