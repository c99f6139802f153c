"""The scheduler: fires each enabled schedule's task once per due time, even with two running."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable

from croniter import croniter
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from csops.core.models import Schedule, ScheduleFiring


def business_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.CSOPS_ORGANISATION["business_time_zone"])


EVERY = re.compile(r"every\s+(\d+)\s+minutes?", re.IGNORECASE)
# Other apps' periodic work (e.g. rules, each with its own schedule): functions of `now` that fire
# what is due and return the firings.
SOURCES: list[Callable[[dt.datetime], list[ScheduleFiring]]] = []
# Work the worker does on every pass, each returning something to print when it did anything
# (programs' due steps, the outbox's due messages).
EVERY_PASS: list[Callable[[], object]] = []


def last_due(cron: str, now: dt.datetime) -> dt.datetime:
    """The latest time at or before `now` that a cron expression (in the business time zone) or
    'every N minutes' names."""
    if match := EVERY.fullmatch(cron.strip()):
        step = int(match.group(1)) * 60
        return dt.datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=dt.UTC)
    local = now.astimezone(business_zone())
    return croniter(cron, local + dt.timedelta(seconds=1)).get_prev(dt.datetime).astimezone(dt.UTC)


def claim(name: str, due: dt.datetime) -> ScheduleFiring | None:
    """Record that `name` fires for `due`; None when another scheduler already has."""
    try:
        with transaction.atomic():
            return ScheduleFiring.objects.create(schedule=name, due_at=due)
    except IntegrityError:
        return None


def tick(now: dt.datetime | None = None) -> list[ScheduleFiring]:
    """Enqueue every schedule whose latest due time has not fired yet; missed times fire once."""
    now = now or timezone.now()
    fired = []
    for schedule in Schedule.objects.filter(enabled=True):
        due = last_due(schedule.cron, now)
        try:
            with transaction.atomic():
                firing = ScheduleFiring.objects.create(schedule=schedule.name, due_at=due)
                result = import_string(schedule.task).enqueue()
                firing.task_result_id = str(result.id)
                firing.save(update_fields=["task_result_id"])
        except IntegrityError:
            continue  # another scheduler fired it
        fired.append(firing)
    for source in SOURCES:
        fired += source(now)
    return fired
