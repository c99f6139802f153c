"""Incremental evaluation: when an account's data changes, its health and rules are re-evaluated
for that account within seconds, not at the next daily run.

Actions send `account_data_changed`; the accounts are marked pending in the same transaction as
the change (so a crash loses nothing) and, once it commits, a task is queued. The worker drains
every pending account in one set-wise pass, so a burst of edits or a large import costs one
evaluation, not one per row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from csops.core.signals import account_data_changed
from csops.rules.models import PendingEvaluation

BATCH = 5000


@receiver(account_data_changed)
def mark_pending(sender, account_ids, **kwargs) -> None:
    if not settings.CSOPS_INCREMENTAL_RULES or not account_ids:
        return
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), BATCH):
        PendingEvaluation.objects.bulk_create(
            [PendingEvaluation(account_id=pk) for pk in ids[start : start + BATCH]], ignore_conflicts=True
        )
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    from csops.rules.tasks import evaluate_pending

    evaluate_pending.enqueue()
