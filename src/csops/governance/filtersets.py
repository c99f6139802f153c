"""Filters shared by the change request and changelog pages, their exports and the API."""

from __future__ import annotations

import django_filters as filters

from csops.core.configuration import REGISTRY
from csops.customers.filtersets import SearchFilterSet
from csops.governance.models import ChangeRequest, Status


class ChangeFilterSet(SearchFilterSet):
    search_fields = ("title", "why", "items__key")
    status = filters.MultipleChoiceFilter(choices=Status.choices, label="Status", distinct=False)
    kind = filters.ChoiceFilter(
        field_name="items__kind",
        label="Kind",
        distinct=True,
        choices=lambda: [(k, k) for k in sorted(REGISTRY)],
    )
    author = filters.CharFilter(field_name="author__username", label="Author (username)")

    class Meta:
        model = ChangeRequest
        fields: list[str] = []


class ChangelogFilterSet(ChangeFilterSet):
    """The changelog holds applied changes only: no status to choose."""

    status = None
