"""Backtests: score every account as of a past date and check the scores against what happened.

Accounts with a renewal outcome in the horizon form the population; "lost" means churned or
contracted. The arithmetic runs on whole arrays (numpy), never account by account.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pyarrow as pa

from csops.health.models import Outcome, OutcomeKind
from csops.health.scorecard import COLORS, Scorecard

LOST = (OutcomeKind.CHURNED, OutcomeKind.CONTRACTED)


def average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def roc_auc(risk: np.ndarray, lost: np.ndarray) -> float | None:
    """Probability that a lost account carries a higher risk than a kept one (ties count half)."""
    positives, negatives = int(lost.sum()), int((~lost).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(risk)
    return float((ranks[lost].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _rate(lost: np.ndarray) -> float | None:
    return float(lost.mean()) if len(lost) else None


def labels(as_of: dt.date, horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Account ids with an outcome in (as_of, as_of + horizon], and whether each was lost."""
    rows = list(
        Outcome.objects.filter(date__gt=as_of, date__lte=as_of + dt.timedelta(days=horizon_days))
        .order_by("account_id", "date")
        .values_list("account_id", "kind")
    )
    if not rows:
        return np.array([], np.int64), np.array([], bool)
    ids, kinds = zip(*rows, strict=True)
    ids_array, kinds_array = np.array(ids, np.int64), np.array(kinds)
    # An account with several outcomes in the horizon counts once: lost if any was a loss.
    unique_ids, inverse = np.unique(ids_array, return_inverse=True)
    lost = np.zeros(len(unique_ids), bool)
    np.logical_or.at(lost, inverse, np.isin(kinds_array, LOST))
    return unique_ids, lost


def evaluate(scores: pa.Table, scorecard: Scorecard, as_of: dt.date, horizon_days: int) -> dict:
    ids, lost_all = labels(as_of, horizon_days)
    score_ids = scores["account_id"].to_numpy()
    # Align outcomes with score rows by account id (both sorted).
    order = np.argsort(score_ids)
    found = np.searchsorted(score_ids[order], ids)
    found = np.clip(found, 0, max(len(score_ids) - 1, 0))
    present = (score_ids[order][found] == ids) if len(score_ids) else np.zeros(len(ids), bool)
    rows = order[found[present]]
    lost = lost_all[present]
    score = np.array(scores["score"].to_pylist(), dtype=float)[rows]
    color = np.array([c or "" for c in scores["color"].to_pylist()])[rows]
    scored = ~np.isnan(score)
    report: dict = {
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "scorecard": scorecard.name,
        "population": int(scored.sum()),
        "unscored": int((~scored).sum()),
        "lost": int(lost[scored].sum()),
    }
    report["base_rate"] = _rate(lost[scored])
    report["auc"] = roc_auc(-score[scored], lost[scored])
    bands = []
    for name in reversed(COLORS):
        members = scored & (color == name)
        bands.append(
            {
                "color": name,
                "accounts": int(members.sum()),
                "lost": int(lost[members].sum()),
                "rate": _rate(lost[members]),
            }
        )
    report["bands"] = bands
    red = next(b for b in bands if b["color"] == "red")
    report["lift_red"] = (
        red["rate"] / report["base_rate"] if red["rate"] is not None and report["base_rate"] else None
    )
    edges = np.arange(0, 101, 10)
    calibration = []
    for low, high in itertools.pairwise(edges):
        members = scored & (score >= low) & ((score < high) if high < 100 else (score <= high))
        calibration.append(
            {
                "bin": f"{low}-{high}",
                "accounts": int(members.sum()),
                "mean_score": float(score[members].mean()) if members.any() else None,
                "rate": _rate(lost[members]),
            }
        )
    report["calibration"] = calibration
    report["measures"] = _measures(scores, scorecard, rows, lost)
    return report


def _measures(scores: pa.Table, scorecard: Scorecard, rows: np.ndarray, lost: np.ndarray) -> list[dict]:
    """Each measure alone: how well its colour separates lost from kept accounts where it applies."""
    result = []
    for measure in scorecard.measures:
        codes = np.array(
            [np.nan if c is None else c for c in scores[f"{measure.key}__color"].to_pylist()], dtype=float
        )[rows]
        applies = ~np.isnan(codes)
        rates = {name: _rate(lost[applies & (codes == code)]) for code, name in enumerate(COLORS)}
        result.append(
            {
                "key": measure.key,
                "name": measure.name,
                "weight": measure.weight,
                "coverage": float(applies.mean()) if len(applies) else 0.0,
                "auc": roc_auc(-codes[applies], lost[applies]),
                "rates": rates,
            }
        )
    return sorted(result, key=lambda m: -(m["auc"] or 0))
