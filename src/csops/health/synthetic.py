"""Synthetic renewal outcomes that depend on the same hidden fit that drives synthetic usage.

Poorly fitting accounts adopt less and are more likely to contract or churn at renewal, so a
backtest on demo data finds a real, imperfect signal, as it would on real data.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from csops.usage.synthetic import account_fit


def outcomes(
    ids: np.ndarray, renewal: np.ndarray, contract_start: np.ndarray, arr: np.ndarray, end: dt.date, seed: int
) -> dict[str, np.ndarray]:
    """One outcome per account whose previous renewal fell in the year before `end`."""
    rng = np.random.default_rng([seed, 7])
    last_renewal = renewal - np.timedelta64(365, "D")
    end64 = np.datetime64(end, "D")
    eligible = (
        (last_renewal <= end64)
        & (last_renewal > end64 - np.timedelta64(365, "D"))
        & (contract_start <= last_renewal - np.timedelta64(300, "D"))
    )
    fit = account_fit(ids, seed)
    lost = rng.random(len(ids)) < 0.04 + 0.5 * (1 - fit) ** 2
    churned = lost & (rng.random(len(ids)) < 0.35)
    factor = np.where(
        churned, 0.0, np.where(lost, rng.uniform(0.4, 0.85, len(ids)), rng.uniform(1.0, 1.2, len(ids)))
    )
    kind = np.where(churned, "churned", np.where(lost, "contracted", "renewed"))
    return {
        "account_id": ids[eligible],
        "date": last_renewal[eligible],
        "kind": kind[eligible],
        "arr_before": arr[eligible],
        "arr_after": np.round(arr[eligible] * factor[eligible], 2),
    }
