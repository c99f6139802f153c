"""The demo's ARR history: thirteen monthly snapshots ending this month, with expansion,
contraction, churn and new logos, so retention has something to measure. It ends at today's ARR;
the churned customers' accounts are set to no ARR."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction

from csops.core.bulk import insert_rows
from csops.customers.models import Account
from csops.renewals.actions import first_of_month, months_before, top_level_parents
from csops.renewals.models import ArrSnapshot


@transaction.atomic
def seed_arr_history(months: int = 12, seed: int = 1) -> int:
    """Snapshots for this month and the `months` before it (none if any exist). About one in
    fifteen customers churned in the year (ARR kept until its last month), accounts younger than
    the year start then, the rest moved between -30% and +50%."""
    if ArrSnapshot.objects.exists():
        return 0
    rng = random.Random(seed)
    now = first_of_month(dt.date.today())
    accounts = list(
        Account.objects.values_list(
            "pk",
            "parent_id",
            "arr",
            "segment__name",
            "geo__name",
            "csm__username",
            "contract_start",
            "renewal_date",
        )
    )
    roots = top_level_parents({pk: parent for pk, parent, *_ in accounts})
    rows, churned = [], []
    for pk, _, arr, segment, geo, csm, started, renewal in accounts:
        growth = Decimal(str(round(rng.uniform(-0.3, 0.5), 3)))
        churned_at = rng.randrange(1, months) if rng.random() < 1 / 15 else None
        if churned_at is not None:
            churned.append(pk)
        begin = arr / (1 + growth) if arr else Decimal(0)
        for back in range(months, -1, -1):
            month = months_before(now, back)
            if started and started > month:
                continue  # not a customer yet: a new logo
            if churned_at is not None and back < churned_at:
                value = Decimal(0)
            else:
                value = begin + (arr - begin) * Decimal(months - back) / months
            rows.append(
                {
                    "month": month,
                    "account_id": pk,
                    "arr": round(value, 2),
                    "parent_id_then": roots[pk],
                    "segment": segment or "",
                    "geo": geo or "",
                    "csm": csm or "",
                    "renewal_date": renewal,
                }
            )
    for start in range(0, len(rows), 5000):
        insert_rows(ArrSnapshot, rows[start : start + 5000])
    # The churned customers' accounts have no ARR now either, so this month's scheduled snapshot
    # agrees with the history.
    Account.objects.filter(pk__in=churned).update(arr=0)
    return len(rows)
