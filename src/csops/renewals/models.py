"""Renewals and retention: monthly ARR snapshots (the history retention is computed from)."""

from __future__ import annotations

from django.db import models


class ArrSnapshot(models.Model):
    """An account's ARR on the first day of a month, with what it is grouped by then. Taken by a
    scheduled job or imported; one row per account and month."""

    month = models.DateField(db_index=True, help_text="The first day of the month.")
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="arr_snapshots")
    arr = models.DecimalField("ARR", max_digits=14, decimal_places=2)
    parent_id_then = models.BigIntegerField(
        null=True, blank=True, help_text="The account's top-level parent that month (itself: empty)."
    )
    segment = models.CharField(max_length=100, blank=True)
    geo = models.CharField(max_length=100, blank=True)
    csm = models.CharField(max_length=150, blank=True, help_text="The CSM's username that month.")
    renewal_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["month", "account_id"]
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="arr_snapshot_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m}: {self.arr}"
