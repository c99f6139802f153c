"""Synthetic weekly usage history, generated with numpy for all accounts of a chunk at once.

Each account has a hidden "fit" that drives how far and how fast it adopts; some accounts
decline after a while, some stop reporting for weeks (gaps), a few never report. The same fit
later drives renewal outcomes, so a health backtest on this data has something real to find.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from csops.usage.store import USAGE_COUNTERS, USAGE_SCHEMA


def account_fit(account_ids: np.ndarray, seed: int) -> np.ndarray:
    """A stable latent quality per account in [0, 1], independent of chunking."""
    # Knuth's multiplicative hash: the same account and seed always give the same fit.
    mixed = (account_ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(seed * 97 + 13)) % np.uint64(
        2**32
    )
    return mixed.astype(np.float64) / 2**32


def weekly_usage(
    account_ids: np.ndarray,
    licensed: np.ndarray,
    contract_start: np.ndarray,
    top_tier: np.ndarray,
    end: dt.date,
    weeks: int,
    seed: int,
) -> pa.Table:
    """Rows for every account and week since its contract start, for up to `weeks` weeks."""
    rng = np.random.default_rng([seed, int(account_ids.min(initial=0)), len(account_ids)])
    n = len(account_ids)
    fit = account_fit(account_ids, seed)
    target = np.clip(0.25 + 0.75 * fit + rng.normal(0, 0.08, n), 0.03, 1.0)
    ramp_weeks = rng.uniform(4, 30, n)
    declines = rng.random(n) < 0.35 * (1 - fit)  # poorer fit, more likely to decline
    decline_start = rng.integers(0, weeks, n)
    decline_rate = rng.uniform(0.01, 0.05, n)
    silent = rng.random(n) < 0.03  # never sends usage data
    gap_start = np.where(rng.random(n) < 0.08, rng.integers(0, weeks, n), -1)
    gap_length = rng.integers(2, 12, n)
    second_instance = rng.random(n) < 0.15
    shares = {
        name: np.clip(rng.normal(mean * (0.6 + 0.8 * fit), 0.08, n), 0.0, 1.0)
        for name, mean in (("engaged", 0.7), ("scm", 0.55), ("ci", 0.35), ("cd", 0.1), ("scanner", 0.18))
    }
    seats = np.maximum(licensed.astype(np.float64), 1.0)
    start_ordinal = contract_start.astype("datetime64[D]").astype(np.int64)
    end_ordinal = np.datetime64(end, "D").astype(np.int64)

    week = np.repeat(np.arange(weeks)[None, :], n, axis=0)  # 0 = newest
    date_ordinal = end_ordinal - 7 * week
    age_weeks = (date_ordinal - start_ordinal[:, None]) / 7.0
    alive = (age_weeks >= 0) & ~silent[:, None]
    in_gap = (
        (gap_start[:, None] >= 0)
        & (week >= gap_start[:, None])
        & (week < gap_start[:, None] + gap_length[:, None])
    )
    alive &= ~in_gap
    weeks_since_decline = np.maximum(decline_start[:, None] - week, 0)  # decline runs towards now
    utilisation = target[:, None] * (1 - np.exp(-np.maximum(age_weeks, 0) / ramp_weeks[:, None]))
    utilisation *= np.where(declines[:, None], np.exp(-decline_rate[:, None] * weeks_since_decline), 1.0)
    utilisation *= rng.normal(1.0, 0.04, utilisation.shape)
    rows, cols = np.nonzero(alive)
    util = np.clip(utilisation[rows, cols], 0.0, 1.3)
    billable = np.round(seats[rows] * util)
    active = np.round(billable * shares["engaged"][rows])
    pipeline_users = np.round(active * shares["ci"][rows])
    deploying = np.round(billable * shares["cd"][rows])
    deployments = np.round(deploying * rng.uniform(0.5, 12, len(rows)))
    successful = np.round(deployments * np.clip(0.5 + 0.5 * fit[rows], 0, 1))
    top = top_tier[rows]
    scanner_users = np.where(top, np.round(billable * shares["scanner"][rows]), 0)
    ci_pipelines = np.round(pipeline_users * rng.uniform(2, 40, len(rows)))
    scan_columns = {}
    for index, name in enumerate(
        ("scans_sast", "scans_dast", "scans_dependency", "scans_container", "scans_secret")
    ):
        uses = top & (rng.random(len(rows)) < fit[rows] * (0.9 - 0.15 * index))
        scan_columns[name] = np.where(uses, np.round(ci_pipelines * rng.uniform(0.05, 0.6, len(rows))), 0)
    values = {
        "billable_users": billable,
        "licensed_users": seats[rows],
        "unique_active_users": active,
        "git_operation_users": np.round(active * shares["scm"][rows]),
        "pipeline_users": pipeline_users,
        "ci_pipelines": ci_pipelines,
        "deploying_users": deploying,
        "deployments": deployments,
        "successful_deployments": successful,
        "failed_deployments": deployments - successful,
        "scanner_users": scanner_users,
        **scan_columns,
    }
    main = {
        "account_id": pa.array(account_ids[rows], pa.int64()),
        "instance_id": pa.array(np.char.add("inst-", account_ids[rows].astype(str)), pa.string()),
        "included_in_health": pa.array(np.ones(len(rows), bool)),
        "snapshot_date": pa.array(date_ordinal[rows, cols].astype("datetime64[D]"), pa.date32()),
        **{name: pa.array(values[name].astype(np.int32)) for name in USAGE_COUNTERS},
    }
    table = pa.table(main, schema=USAGE_SCHEMA)
    extra = second_instance[rows]
    if extra.any():
        sandbox = {name: pa.array((values[name][extra] * 0.1).astype(np.int32)) for name in USAGE_COUNTERS}
        table = pa.concat_tables(
            [
                table,
                pa.table(
                    {
                        "account_id": pa.array(account_ids[rows][extra], pa.int64()),
                        "instance_id": pa.array(
                            np.char.add("sandbox-", account_ids[rows][extra].astype(str)), pa.string()
                        ),
                        "included_in_health": pa.array(np.zeros(int(extra.sum()), bool)),
                        "snapshot_date": pa.array(
                            date_ordinal[rows, cols][extra].astype("datetime64[D]"), pa.date32()
                        ),
                        **sandbox,
                    },
                    schema=USAGE_SCHEMA,
                ),
            ]
        )
    return table
