"""Reads for the events tasks (the pages' reads are in page_selectors.py)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from csops.events.models import DriSlot


def unfilled_slots(today: dt.date, days: int) -> QuerySet[DriSlot]:
    """DRI slots still open for events starting within `days` days (and not yet started)."""
    until = dt.datetime.combine(today + dt.timedelta(days=days + 1), dt.time.min, tzinfo=dt.UTC)
    return (
        DriSlot.objects.filter(
            cse__isnull=True, event__cancelled=False, event__starts_at__gte=timezone.now(),
            event__starts_at__lt=until,
        )
        .select_related("event")
        .order_by("event__starts_at", "role", "seat")
    )
