"""Writes to the usage store: imports and synthetic history."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from csops.core.bulk import paused_gc
from csops.core.signals import account_data_changed
from csops.customers.actions import ImportRejected
from csops.customers.imports import Validation
from csops.customers.models import Account
from csops.usage import store
from csops.usage.store import USAGE_COUNTERS, USAGE_SCHEMA
from csops.usage.synthetic import weekly_usage

CHUNK = 50_000


@paused_gc
def import_usage(validation: Validation, *, partial: bool = False) -> int:
    """Write validated usage rows to the store; all or nothing unless `partial`."""
    if validation.errors and not partial:
        raise ImportRejected(validation.errors)
    rows = [r.values for r in validation.valid_rows]
    columns = {
        "account_id": [r["account"] for r in rows],
        "instance_id": [r["instance_id"] for r in rows],
        "included_in_health": [r.get("included_in_health", True) for r in rows],
        "snapshot_date": [r["snapshot_date"] for r in rows],
        **{name: [r.get(name) for r in rows] for name in USAGE_COUNTERS},
    }
    store.upsert(
        store.connect(),
        "usage_snapshots",
        pa.table(columns, schema=USAGE_SCHEMA),
        keys=("account_id", "instance_id", "snapshot_date"),
    )
    account_data_changed.send(sender=import_usage, account_ids=sorted(set(columns["account_id"])))
    return len(rows)


def seed_usage(
    *, end: dt.date, weeks: int = 52, seed: int = 1, progress: Callable[[str], None] = lambda message: None
) -> int:
    """Replace the usage store with a synthetic weekly history for every account."""
    con = store.connect()
    con.create_table("usage_snapshots", schema=store.ibis.schema(USAGE_SCHEMA), overwrite=True)
    accounts = Account.objects.order_by("pk").values_list("pk", "licensed_users", "contract_start", "tier")
    total, started, last_pk = 0, time.monotonic(), 0
    while True:
        chunk = list(accounts.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            return total
        last_pk = chunk[-1][0]
        ids, licensed, starts, tiers = zip(*chunk, strict=True)
        table = weekly_usage(
            np.array(ids, np.int64),
            np.array([x or 10 for x in licensed], np.int64),
            np.array([s or end for s in starts], "datetime64[D]"),
            np.array([t == "ultimate" for t in tiers]),
            end,
            weeks,
            seed,
        )
        store.append(con, "usage_snapshots", table)
        total += table.num_rows
        progress(f"  usage: {total:,} weekly snapshots ({time.monotonic() - started:.0f}s)")
