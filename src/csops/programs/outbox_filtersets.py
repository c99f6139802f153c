"""Filters for the outbox list (the page and its CSV export)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q

from csops.programs.models import MessageStatus, OutboxMessage

KINDS = [
    ("program", "Program"),
    ("survey", "Survey"),
    ("assist", "Email assist"),
    ("notification", "Notification"),
    ("alert", "Alert"),
    ("event", "Webinar or lab"),
]


class OutboxFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(label="Status", choices=MessageStatus.choices)
    kind = filters.ChoiceFilter(label="Kind", choices=KINDS)
    recipient = filters.CharFilter(method="search_recipient", label="Recipient", max_length=254)
    created_after = filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="Queued from")
    created_before = filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="Queued to")

    class Meta:
        model = OutboxMessage
        fields: list[str] = []

    def search_recipient(self, queryset, name, value):
        """An address or part of one, in To (or Cc: the CTA owner of an assist email)."""
        value = value.strip()
        return queryset.filter(Q(to__icontains=value) | Q(cc__icontains=value)) if value else queryset
