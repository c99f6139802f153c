"""The renewals app's scheduled jobs (schedules.yaml)."""

from django.utils import timezone
from django_tasks import task

from csops.renewals.handoff import open_handoffs, remind_aes


@task()
def handoffs_daily() -> str:
    """Open the handoffs of yesterday's won deals, then remind each AE of the fields still empty."""
    opened = open_handoffs()
    return f"{opened} handoff(s) opened, {remind_aes()} AE reminder(s) queued"


@task()
def snapshot_arr() -> str:
    """This month's ARR snapshot (the history retention is computed from)."""
    from csops.renewals.actions import take_snapshot

    return f"{take_snapshot(timezone.localdate()):,} accounts"
