"""Filters shared by the board, the request list (and its CSV export) and the API's list."""

from __future__ import annotations

import datetime as dt

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from csops.cockpit.filtersets import ByName
from csops.core.models import User
from csops.customers.filtersets import SearchFilterSet
from csops.requests.models import OpsRequest, RequesterLabel, State, TeamLabel, Workstream

# The labels read as GitLab spells them (the choices' own labels are derived from their names).
TEAM_LABELS = [(v, v) for v in TeamLabel.values]
REQUESTER_LABELS = [(v, v) for v in RequesterLabel.values]


class OpsRequestFilterSet(SearchFilterSet):
    search_fields = ("title",)
    workstream = ByName(queryset=Workstream.objects.all(), label="Workstream")
    state = filters.MultipleChoiceFilter(choices=State.choices, label="Workflow label", distinct=False)
    team_label = filters.MultipleChoiceFilter(choices=TEAM_LABELS, label="Team label", distinct=False)
    requester_label = filters.MultipleChoiceFilter(
        choices=REQUESTER_LABELS, label="Requester label", distinct=False
    )
    assignee = filters.ModelChoiceFilter(
        # Only the people who have requests: the choices stay short whatever the number of users.
        queryset=User.objects.filter(
            pk__in=OpsRequest.objects.filter(assignee__isnull=False).values("assignee_id")
        ).order_by("first_name", "last_name", "username"),
        to_field_name="username",
        label="Assignee",
        empty_label="Anyone",
    )
    interrupt = filters.BooleanFilter(
        field_name="interrupt",
        label="CSOps - Interrupt",
        widget=forms.Select(
            choices=[("", "Either"), ("true", "Interrupts only"), ("false", "No interrupts")]
        ),
    )
    closed_within = filters.NumberFilter(
        method="filter_closed_within", min_value=0, max_value=36500, label="Closed in the last … days"
    )

    class Meta:
        model = OpsRequest
        fields: list[str] = []

    def filter_closed_within(self, queryset, name, value):
        """Open requests, and the closed ones closed in the last `value` days."""
        if value is None:
            return queryset
        since = timezone.now() - dt.timedelta(days=int(value))
        return queryset.filter(Q(closed_at__isnull=True) | Q(closed_at__gte=since))
