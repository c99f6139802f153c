"""Reads of the timeline."""

from __future__ import annotations

from django.db.models import Max, Prefetch

from csops.core.permissions import has_perm
from csops.customers.models import Contact
from csops.timeline.forms import ActivityForm
from csops.timeline.models import Activity


def account_activities(account, limit: int = 50) -> list[Activity]:
    return list(
        Activity.objects.filter(account=account)
        .select_related("type", "author", "cta")
        .prefetch_related(Prefetch("external_attendees", Contact.objects.select_related("persona")))[:limit]
    )


def last_meeting(account):
    return Activity.objects.filter(account=account, type__counts_as_meeting=True).aggregate(last=Max("date"))[
        "last"
    ]


def timeline_context(user, account) -> dict:
    return {
        "activities": account_activities(account),
        "last_meeting": last_meeting(account),
        "can_log_activity": has_perm(user, "log_activity"),
        "activity_form": ActivityForm(account=account),
    }
