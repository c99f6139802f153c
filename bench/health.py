"""Benchmark: scoring every account's health with the product engine, against hand-written baselines.

    .venv/bin/python bench/health.py [--accounts N] [--weeks W]     (default N=1,000,000, W=52)

Builds a fresh DuckDB analytics store in a temporary directory (no application database): a
synthetic `health_accounts` table with exactly the engine's ACCOUNT_FEATURES columns,
`health_tickets` (Poisson counts) and `usage_snapshots` from the product's own `weekly_usage`
generator, written 50k accounts at a time by a child process (so the parent's peak RSS is the
scoring's, not the generator's). Then, in this process:

1. times the product path, `score_table(scorecard, feature_table(con, as_of), as_of).to_pyarrow()`
   with the default PROVE scorecard, best of two runs (the first warms DuckDB's buffers);
2. times HAND_SQL below, the same scorecard written by hand as one DuckDB query (same output
   columns), on the same connection, best of two;
3. times the same scorecard in vectorised pandas (loading the tables from the store included);
   above 200k accounts it runs on the first 200k accounts and extrapolates linearly, unless the
   extrapolation is under 90 s, in which case it also runs on all accounts;
4. checks that all three agree, account by account, on every output column (score and
   contributions within 1e-6), and exits non-zero if they do not.

The timeline and success-plan columns are null, as they are in the product today; `--with-plans`
fills them, to check those measures' branches too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEED = 11
AS_OF = dt.date(2025, 6, 30)
CHUNK = 50_000
PANDAS_SAMPLE = 200_000
TOLERANCE = 1e-6
TARGET_SECONDS, TARGET_RATIO, TARGET_RSS_GB = 30.0, 1.5, 4.0

warnings.filterwarnings("ignore", category=DeprecationWarning)


def _setup_django(data_dir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "csops.settings"
    os.environ["CSOPS_DATA_DIR"] = str(data_dir)
    import django

    django.setup()


# --------------------------------------------------------------------------------------------
# Synthetic data (child process)
# --------------------------------------------------------------------------------------------

GEOS = {"AMER": 0.50, "EMEA": 0.28, "APJ": 0.12, "LATAM": 0.05, "PubSec": 0.05}
TICKETS_PER_MONTH = {"Digital": 0.3, "Scale": 1.0, "Growth": 3.0, "Strategic": 6.0, "PubSec": 4.0}


def _strings(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(values.astype(object), pa.string(), mask=null)


def _dates(days_before: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    dates = np.datetime64(AS_OF, "D") - days_before.astype("timedelta64[D]")
    return pa.array(dates, pa.date32(), mask=null)


def synthetic_accounts(n: int, with_plans: bool) -> pa.Table:
    """Accounts like csops.customers.synthetic's, vectorised: ARR drives segment, tier and seats."""
    from csops.health.features import ACCOUNT_FEATURES

    rng = np.random.default_rng(SEED)
    geo = rng.choice(list(GEOS), n, p=list(GEOS.values()))
    arr = np.round(np.clip(rng.lognormal(np.log(40_000), 1.25, n), 1_200, 25_000_000), -2)
    segment = np.select(
        [geo == "PubSec", arr < 30_000, arr < 150_000, arr < 500_000],
        ["PubSec", "Digital", "Scale", "Growth"],
        "Strategic",
    )
    ultimate = rng.random(n) < np.minimum(0.85, 0.2 + arr / 1_000_000)
    priority = np.select(
        [segment == "Strategic", segment == "Scale", segment == "Digital"],
        [np.where(rng.random(n) < 0.7, "P1", "P2"), "P3", "P4"],
        "P2",
    )
    priority = np.where(rng.random(n) < 0.04, "P3", priority)  # child accounts
    seats = np.maximum(5, arr / np.where(ultimate, 1188, 348)).astype(np.int64)
    # CSM-owned segments have a sentiment; a few others too (imported from the CRM).
    has_csm = np.isin(segment, ["Growth", "Strategic", "PubSec"]) | (rng.random(n) < 0.02)
    sentiment = rng.choice(["green", "yellow", "red"], n, p=[0.6, 0.28, 0.12])
    data = {
        "account_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "segment": _strings(segment),
        "geo": _strings(geo),
        "tier": _strings(np.where(ultimate, "ultimate", "premium")),
        "deployment": _strings(np.where(rng.random(n) < 0.55, "saas", "self_managed")),
        "csm_priority": _strings(priority),
        "arr": pa.array(arr),
        "account_licensed_users": pa.array(seats),
        "contract_start": _dates(rng.integers(5, 3 * 365 + 1, n)),
        "csm_sentiment": _strings(sentiment, ~has_csm),
        "csm_sentiment_date": _dates(rng.integers(0, 151, n), ~has_csm),
    }
    if with_plans:
        met = rng.random((2, n))
        data |= {
            "last_meeting_date": _dates(rng.integers(0, 120, n), rng.random(n) < 0.2),
            "dev_lead_met_90d": pa.array(met[0] < 0.6, mask=met[0] > 0.9),
            "security_lead_met_90d": pa.array(met[1] < 0.4, mask=met[1] > 0.85),
            "success_plan_status": _strings(
                rng.choice(["active", "draft", "closed"], n, p=[0.5, 0.3, 0.2]), rng.random(n) < 0.3
            ),
        }
    for name, kind in ACCOUNT_FEATURES.items():
        data.setdefault(name, pa.nulls(n, kind))
    return pa.table(data, schema=pa.schema(ACCOUNT_FEATURES.items()))


def synthetic_tickets(accounts: pa.Table) -> pa.Table:
    """Support aggregates for the accounts that have ever opened a ticket."""
    from csops.health.features import TICKET_FEATURES

    rng = np.random.default_rng(SEED + 1)
    segment = accounts["segment"].to_numpy(zero_copy_only=False).astype(str)
    n = len(segment)
    rate = np.select([segment == s for s in TICKETS_PER_MONTH], list(TICKETS_PER_MONTH.values()), 1.0)
    counts = {
        "tickets_30d": rng.poisson(rate * rng.gamma(1.0, 1.0, n)),  # a long tail of busy accounts
        "emergency_open": rng.poisson(0.02, n),
        "emergency_closed_7d": rng.poisson(0.04, n),
    }
    keep = (sum(counts.values()) > 0) | (rng.random(n) < 0.3)
    schema = pa.schema([("account_id", pa.int64()), *TICKET_FEATURES.items()])
    return pa.table(
        {"account_id": accounts["account_id"].filter(pa.array(keep)),
         **{name: pa.array(values[keep].astype(np.int64)) for name, values in counts.items()}},
        schema=schema,
    )


def build_store(path: Path, accounts: int, weeks: int, with_plans: bool) -> None:
    """Child-process mode: write the three store tables into a fresh DuckDB file."""
    _setup_django(path.parent / "data")
    import ibis

    from csops.usage.store import USAGE_SCHEMA, replace_table
    from csops.usage.synthetic import weekly_usage

    con = ibis.duckdb.connect(str(path))
    table = synthetic_accounts(accounts, with_plans)
    replace_table(con, "health_accounts", table)
    replace_table(con, "health_tickets", synthetic_tickets(table))
    con.create_table("usage_snapshots", schema=ibis.schema(USAGE_SCHEMA), overwrite=True)
    ids = table["account_id"].to_numpy()
    seats = table["account_licensed_users"].to_numpy()
    starts = table["contract_start"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    top_tier = pc.equal(table["tier"], "ultimate").to_numpy(zero_copy_only=False)
    for start in range(0, accounts, CHUNK):
        window = slice(start, start + CHUNK)
        chunk = weekly_usage(ids[window], seats[window], starts[window], top_tier[window], AS_OF, weeks, SEED)
        con.con.register("usage_chunk", chunk)
        con.con.execute("INSERT INTO usage_snapshots SELECT * FROM usage_chunk")
        con.con.unregister("usage_chunk")
    con.con.execute("CHECKPOINT")
    con.disconnect()


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes vs KiB


def gb(size: float) -> str:
    return f"{size / 1024**3:.1f} GB" if size >= 1024**3 else f"{size / 1024**2:.0f} MB"


class RssWatch:
    """Samples the resident set every few milliseconds while a block runs: its peak increase."""

    def __init__(self) -> None:
        self.start = self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssWatch:
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def increase(self) -> int:
        return self.peak - self.start


def timed(run, times: int) -> tuple[pa.Table, list[float], list[int]]:
    """Run `times` times; the last result, each run's wall seconds and RSS increase."""
    seconds, increases, result = [], [], None
    for _ in range(times):
        result = None  # let the previous result go before measuring again
        with RssWatch() as watch:
            started = time.perf_counter()
            result = run()
            seconds.append(time.perf_counter() - started)
        increases.append(watch.increase)
    return result, seconds, increases


# --------------------------------------------------------------------------------------------
# Baseline 1: the PROVE scorecard written by hand in DuckDB SQL
# --------------------------------------------------------------------------------------------

# Colour codes 0 red, 1 yellow, 2 green; points per colour 25/62/100; N/A measures give their
# weight to the rest of their group, empty groups theirs to the other groups.
HAND_SQL = """
WITH
-- Each account's newest snapshot of its health instance on or before the scoring date: the newest
-- date, then that date's row (one per account: the synthetic data has one included instance).
newest AS (
    SELECT account_id, max(snapshot_date) AS usage_date
    FROM usage_snapshots
    WHERE included_in_health AND snapshot_date <= DATE '{as_of}'
    GROUP BY account_id
),
latest_usage AS (
    SELECT n.usage_date, u.* EXCLUDE (instance_id, included_in_health, snapshot_date),
        coalesce(u.scans_sast, 0) + coalesce(u.scans_dast, 0) + coalesce(u.scans_dependency, 0)
            + coalesce(u.scans_container, 0) + coalesce(u.scans_secret, 0) AS scans,
        coalesce(u.scans_sast > 0, false)::INT + coalesce(u.scans_dast > 0, false)::INT
            + coalesce(u.scans_dependency > 0, false)::INT + coalesce(u.scans_container > 0, false)::INT
            + coalesce(u.scans_secret > 0, false)::INT AS scanner_types
    FROM newest n
    JOIN usage_snapshots u ON u.account_id = n.account_id AND u.snapshot_date = n.usage_date
    WHERE u.included_in_health
),
features AS (
    SELECT
        a.*,
        coalesce(t.tickets_30d, 0) AS tickets_30d,
        coalesce(t.emergency_open, 0) AS emergency_open,
        coalesce(t.emergency_closed_7d, 0) AS emergency_closed_7d,
        u.* EXCLUDE (account_id),
        date_diff('day', a.contract_start, DATE '{as_of}') / 30.4375 AS contract_months,
        -- the scorecard's two N/A rules
        date_diff('day', a.contract_start, DATE '{as_of}') < 30 AS is_new_account,
        u.usage_date IS NULL OR date_diff('day', u.usage_date, DATE '{as_of}') > 60 AS no_recent_usage
    FROM health_accounts a
    LEFT JOIN health_tickets t USING (account_id)
    LEFT JOIN latest_usage u USING (account_id)
),
measure_values AS (
    SELECT
        *,
        billable_users / nullif(coalesce(licensed_users, account_licensed_users), 0)::DOUBLE
            AS license_utilization__value,
        unique_active_users / nullif(billable_users, 0)::DOUBLE AS user_engagement__value,
        git_operation_users / nullif(billable_users, 0)::DOUBLE AS scm__value,
        pipeline_users / nullif(billable_users, 0)::DOUBLE AS ci__value,
        scanner_users / nullif(billable_users, 0)::DOUBLE AS scanner_users_share,
        scans / nullif(ci_pipelines, 0)::DOUBLE AS scans_per_pipeline,
        deploying_users / nullif(billable_users, 0)::DOUBLE AS deploying_users_share,
        deployments / nullif(deploying_users, 0)::DOUBLE AS deployments_per_user,
        successful_deployments / nullif(deployments, 0)::DOUBLE AS deployment_success,
        tickets_30d::DOUBLE AS support_tickets__value,
        (emergency_open + emergency_closed_7d)::DOUBLE AS emergency_tickets__value,
        date_diff('day', last_meeting_date, DATE '{as_of}')::DOUBLE AS meeting_cadence__value
    FROM features
),
raw_colors AS (
    SELECT
        *,
        -- licence utilisation: thresholds depend on contract age (< 6 months, 6-9, over 9)
        CASE
            WHEN license_utilization__value IS NULL THEN NULL
            WHEN license_utilization__value < 0.10 THEN 0
            WHEN license_utilization__value < 0.51 THEN CASE WHEN contract_months < 6 THEN 1 ELSE 0 END
            WHEN license_utilization__value <= 0.75 THEN
                CASE WHEN contract_months < 6 THEN 2 WHEN contract_months <= 9 THEN 1 ELSE 0 END
            ELSE 2
        END AS license_utilization__raw,
        CASE WHEN user_engagement__value IS NULL THEN NULL
             WHEN user_engagement__value >= 0.80 THEN 2 WHEN user_engagement__value >= 0.50 THEN 1
             ELSE 0 END AS user_engagement__raw,
        CASE WHEN scm__value IS NULL THEN NULL
             WHEN scm__value >= 0.50 THEN 2 WHEN scm__value >= 0.25 THEN 1
             ELSE 0 END AS scm__raw,
        CASE WHEN ci__value IS NULL THEN NULL
             WHEN ci__value >= 0.33 THEN 2 WHEN ci__value >= 0.25 THEN 1
             ELSE 0 END AS ci__raw,
        -- DevSecOps parts
        CASE WHEN scanner_users_share IS NULL THEN NULL
             WHEN scanner_users_share >= 0.20 THEN 2 WHEN scanner_users_share > 0.05 THEN 1
             ELSE 0 END AS scanner_users_share__color,
        CASE WHEN scans_per_pipeline IS NULL THEN NULL
             WHEN scans_per_pipeline > 0.5 THEN 2 WHEN scans_per_pipeline >= 0.1 THEN 1
             ELSE 0 END AS scans_per_pipeline__color,
        CASE WHEN scanner_types IS NULL THEN NULL
             WHEN scanner_types >= 3 THEN 2 WHEN scanner_types >= 2 THEN 1
             ELSE 0 END AS scanner_types_used__color,
        -- CD parts
        CASE WHEN deploying_users_share IS NULL THEN NULL
             WHEN deploying_users_share > 0.12 THEN 2 WHEN deploying_users_share >= 0.05 THEN 1
             ELSE 0 END AS deploying_users_share__color,
        CASE WHEN deployments_per_user IS NULL THEN NULL
             WHEN deployments_per_user > 7 THEN 2 WHEN deployments_per_user >= 2 THEN 1
             ELSE 0 END AS deployments_per_user__color,
        CASE WHEN deployment_success IS NULL THEN NULL
             WHEN deployment_success > 0.80 THEN 2 WHEN deployment_success >= 0.25 THEN 1
             ELSE 0 END AS deployment_success__color,
        CASE csm_sentiment WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2
             END AS csm_sentiment__raw,
        CASE success_plan_status WHEN 'active' THEN 2 WHEN 'draft' THEN 1 ELSE 0 END AS roi__raw,
        CASE WHEN support_tickets__value IS NULL THEN NULL
             WHEN support_tickets__value <= 5 THEN 2 WHEN support_tickets__value <= 15 THEN 1
             ELSE 0 END AS support_tickets__raw,
        CASE WHEN emergency_open > 0 THEN 0 WHEN emergency_closed_7d > 0 THEN 1
             ELSE 2 END AS emergency_tickets__raw,
        CASE WHEN csm_priority = 'P1' THEN
                CASE WHEN meeting_cadence__value <= 35 THEN 2 WHEN meeting_cadence__value <= 60 THEN 1
                     ELSE 0 END
             ELSE
                CASE WHEN meeting_cadence__value <= 65 THEN 2 WHEN meeting_cadence__value <= 90 THEN 1
                     ELSE 0 END
        END AS meeting_cadence__raw,
        CASE WHEN dev_lead_met_90d AND security_lead_met_90d THEN 2
             WHEN dev_lead_met_90d OR security_lead_met_90d THEN 1
             ELSE 0 END AS persona_engagement__raw
    FROM measure_values
),
composites AS (
    -- green if at least 2 of 3 parts are green, red if at least 2 are red, else yellow
    SELECT
        *,
        coalesce(scanner_users_share__color = 2, false)::INT
            + coalesce(scans_per_pipeline__color = 2, false)::INT
            + coalesce(scanner_types_used__color = 2, false)::INT AS devsecops__greens,
        coalesce(scanner_users_share__color = 0, false)::INT
            + coalesce(scans_per_pipeline__color = 0, false)::INT
            + coalesce(scanner_types_used__color = 0, false)::INT AS devsecops__reds,
        coalesce(deploying_users_share__color = 2, false)::INT
            + coalesce(deployments_per_user__color = 2, false)::INT
            + coalesce(deployment_success__color = 2, false)::INT AS cd__greens,
        coalesce(deploying_users_share__color = 0, false)::INT
            + coalesce(deployments_per_user__color = 0, false)::INT
            + coalesce(deployment_success__color = 0, false)::INT AS cd__reds
    FROM raw_colors
),
composite_colors AS (
    SELECT
        *,
        CASE WHEN scanner_users_share__color IS NULL AND scans_per_pipeline__color IS NULL
                  AND scanner_types_used__color IS NULL THEN NULL
             ELSE devsecops__greens::DOUBLE END AS devsecops__value,
        CASE WHEN scanner_users_share__color IS NULL AND scans_per_pipeline__color IS NULL
                  AND scanner_types_used__color IS NULL THEN NULL
             WHEN devsecops__greens >= 2 THEN 2 WHEN devsecops__reds >= 2 THEN 0
             ELSE 1 END AS devsecops__raw,
        CASE WHEN deploying_users_share__color IS NULL AND deployments_per_user__color IS NULL
                  AND deployment_success__color IS NULL THEN NULL
             ELSE cd__greens::DOUBLE END AS cd__value,
        CASE WHEN deploying_users_share__color IS NULL AND deployments_per_user__color IS NULL
                  AND deployment_success__color IS NULL THEN NULL
             WHEN cd__greens >= 2 THEN 2 WHEN cd__reds >= 2 THEN 0
             ELSE 1 END AS cd__raw
    FROM composites
),
na_reasons AS (
    -- why a measure is N/A: the first rule that applies (scorecard rules, then the measure's own)
    SELECT
        *,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN no_recent_usage THEN 'no usage data in the last 60 days'
             WHEN license_utilization__raw IS NULL THEN 'no data' END AS license_utilization__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN no_recent_usage THEN 'no usage data in the last 60 days'
             WHEN user_engagement__raw IS NULL THEN 'no data' END AS user_engagement__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN no_recent_usage THEN 'no usage data in the last 60 days'
             WHEN scm__raw IS NULL THEN 'no data' END AS scm__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN no_recent_usage THEN 'no usage data in the last 60 days'
             WHEN ci__raw IS NULL THEN 'no data' END AS ci__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN no_recent_usage THEN 'no usage data in the last 60 days'
             WHEN tier != 'ultimate' THEN 'top tier only'
             WHEN devsecops__raw IS NULL THEN 'no data' END AS devsecops__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN no_recent_usage THEN 'no usage data in the last 60 days'
             WHEN cd__raw IS NULL THEN 'no data' END AS cd__na,
        CASE WHEN segment = 'Digital' THEN 'not measured for Digital'  -- exempt from the new-account rule
             WHEN date_diff('day', csm_sentiment_date, DATE '{as_of}') > 120
                 THEN 'sentiment older than 120 days'
             WHEN csm_sentiment__raw IS NULL THEN 'no data' END AS csm_sentiment__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN segment IN ('Scale', 'Digital') THEN 'not measured for Scale and Digital'
             WHEN success_plan_status IS NULL THEN 'no success plan data yet'
             WHEN roi__raw IS NULL THEN 'no data' END AS roi__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN support_tickets__value = 0 THEN 'no support tickets in the last 30 days'
             WHEN support_tickets__raw IS NULL THEN 'no data' END AS support_tickets__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN emergency_tickets__raw IS NULL THEN 'no data' END AS emergency_tickets__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN segment IN ('Scale', 'Digital') THEN 'not measured for Scale and Digital'
             WHEN csm_priority NOT IN ('P1', 'P2') THEN 'P1 and P2 accounts only'
             WHEN last_meeting_date IS NULL THEN 'no call or meeting logged'
             WHEN meeting_cadence__raw IS NULL THEN 'no data' END AS meeting_cadence__na,
        CASE WHEN is_new_account THEN 'new account (first 30 days)'
             WHEN segment IN ('Growth', 'Scale', 'Digital') THEN 'not measured for Growth, Scale and Digital'
             WHEN dev_lead_met_90d IS NULL THEN 'no meeting attendance logged'
             WHEN persona_engagement__raw IS NULL THEN 'no data' END AS persona_engagement__na
    FROM composite_colors
),
final_colors AS (
    -- an N/A measure has no colour and scores no points
    SELECT
        *,
        CASE WHEN license_utilization__na IS NULL THEN license_utilization__raw END AS license_utilization__c,
        CASE WHEN user_engagement__na IS NULL THEN user_engagement__raw END AS user_engagement__c,
        CASE WHEN scm__na IS NULL THEN scm__raw END AS scm__c,
        CASE WHEN ci__na IS NULL THEN ci__raw END AS ci__c,
        CASE WHEN devsecops__na IS NULL THEN devsecops__raw END AS devsecops__c,
        CASE WHEN cd__na IS NULL THEN cd__raw END AS cd__c,
        CASE WHEN csm_sentiment__na IS NULL THEN csm_sentiment__raw END AS csm_sentiment__c,
        CASE WHEN roi__na IS NULL THEN roi__raw END AS roi__c,
        CASE WHEN support_tickets__na IS NULL THEN support_tickets__raw END AS support_tickets__c,
        CASE WHEN emergency_tickets__na IS NULL THEN emergency_tickets__raw END AS emergency_tickets__c,
        CASE WHEN meeting_cadence__na IS NULL THEN meeting_cadence__raw END AS meeting_cadence__c,
        CASE WHEN persona_engagement__na IS NULL THEN persona_engagement__raw END AS persona_engagement__c
    FROM na_reasons
),
points AS (
    SELECT
        *,
        CASE license_utilization__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END
            AS license_utilization__p,
        CASE user_engagement__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS user_engagement__p,
        CASE scm__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS scm__p,
        CASE ci__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS ci__p,
        CASE devsecops__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS devsecops__p,
        CASE cd__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS cd__p,
        CASE csm_sentiment__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS csm_sentiment__p,
        CASE roi__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS roi__p,
        CASE support_tickets__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS support_tickets__p,
        CASE meeting_cadence__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END AS meeting_cadence__p,
        CASE persona_engagement__c WHEN 2 THEN 100.0 WHEN 1 THEN 62.0 WHEN 0 THEN 25.0 END
            AS persona_engagement__p
    FROM final_colors
),
group_weights AS (
    -- each group's weight is the sum of its scored (not N/A) measures' weights
    SELECT
        *,
        30 * (license_utilization__p IS NOT NULL)::INT + 10 * (user_engagement__p IS NOT NULL)::INT
            + 15 * (scm__p IS NOT NULL)::INT + 15 * (ci__p IS NOT NULL)::INT
            + 15 * (devsecops__p IS NOT NULL)::INT + 15 * (cd__p IS NOT NULL)::INT AS product__w,
        100 * (csm_sentiment__p IS NOT NULL)::INT AS risk__w,
        100 * (roi__p IS NOT NULL)::INT AS outcomes__w,
        100 * (support_tickets__p IS NOT NULL)::INT AS voice__w,
        50 * (meeting_cadence__p IS NOT NULL)::INT + 50 * (persona_engagement__p IS NOT NULL)::INT
            AS engagement__w
    FROM points
),
group_scores AS (
    SELECT
        *,
        (30 * coalesce(license_utilization__p, 0) + 10 * coalesce(user_engagement__p, 0)
            + 15 * coalesce(scm__p, 0) + 15 * coalesce(ci__p, 0)
            + 15 * coalesce(devsecops__p, 0) + 15 * coalesce(cd__p, 0)) / nullif(product__w, 0) AS product__s,
        100 * csm_sentiment__p / nullif(risk__w, 0) AS risk__s,
        100 * roi__p / nullif(outcomes__w, 0) AS outcomes__s,
        100 * support_tickets__p / nullif(voice__w, 0) AS voice__s,
        (50 * coalesce(meeting_cadence__p, 0) + 50 * coalesce(persona_engagement__p, 0))
            / nullif(engagement__w, 0) AS engagement__s
    FROM group_weights
),
overall_weight AS (
    -- groups with no scored measure give their weight to the others
    SELECT
        *,
        50 * (product__s IS NOT NULL)::INT + 25 * (risk__s IS NOT NULL)::INT
            + 10 * (outcomes__s IS NOT NULL)::INT + 5 * (voice__s IS NOT NULL)::INT
            + 10 * (engagement__s IS NOT NULL)::INT AS overall__w
    FROM group_scores
),
scored AS (
    SELECT
        *,
        (50 * coalesce(product__s, 0) + 25 * coalesce(risk__s, 0) + 10 * coalesce(outcomes__s, 0)
            + 5 * coalesce(voice__s, 0) + 10 * coalesce(engagement__s, 0)) / nullif(overall__w, 0) AS score,
        -- a measure's share of the overall score: its points x its weight in its group x its group's
        50 / nullif(overall__w, 0) / nullif(product__w, 0) AS product__share,
        25 / nullif(overall__w, 0) / nullif(risk__w, 0) AS risk__share,
        10 / nullif(overall__w, 0) / nullif(outcomes__w, 0) AS outcomes__share,
        5 / nullif(overall__w, 0) / nullif(voice__w, 0) AS voice__share,
        10 / nullif(overall__w, 0) / nullif(engagement__w, 0) AS engagement__share
    FROM overall_weight
),
banded AS (
    SELECT
        *,
        CASE WHEN score >= 75 THEN 'green' WHEN score >= 50 THEN 'yellow' WHEN score IS NOT NULL THEN 'red'
             END AS band_color
    FROM scored
)
SELECT
    account_id,
    score,
    CASE WHEN csm_sentiment__c = 0 THEN 'red' ELSE band_color END AS color,
    band_color,
    CASE WHEN csm_sentiment__c = 0 THEN 'CSM sentiment is red' END AS override,
    (coalesce(scm__c = 2, false)::INT + coalesce(ci__c = 2, false)::INT
        + coalesce(cd__c = 2, false)::INT + coalesce(devsecops__c = 2, false)::INT)::BIGINT AS adoption,
    product__s AS group_0__score,
    risk__s AS group_1__score,
    outcomes__s AS group_2__score,
    voice__s AS group_3__score,
    engagement__s AS group_4__score,
    license_utilization__value,
    license_utilization__c::TINYINT AS license_utilization__color,
    license_utilization__na,
    false AS license_utilization__stale,
    coalesce(license_utilization__p * 30 * product__share, 0) AS license_utilization__contribution,
    user_engagement__value,
    user_engagement__c::TINYINT AS user_engagement__color,
    user_engagement__na,
    false AS user_engagement__stale,
    coalesce(user_engagement__p * 10 * product__share, 0) AS user_engagement__contribution,
    scm__value,
    scm__c::TINYINT AS scm__color,
    scm__na,
    false AS scm__stale,
    coalesce(scm__p * 15 * product__share, 0) AS scm__contribution,
    ci__value,
    ci__c::TINYINT AS ci__color,
    ci__na,
    false AS ci__stale,
    coalesce(ci__p * 15 * product__share, 0) AS ci__contribution,
    devsecops__value,
    devsecops__c::TINYINT AS devsecops__color,
    devsecops__na,
    false AS devsecops__stale,
    coalesce(devsecops__p * 15 * product__share, 0) AS devsecops__contribution,
    cd__value,
    cd__c::TINYINT AS cd__color,
    cd__na,
    false AS cd__stale,
    coalesce(cd__p * 15 * product__share, 0) AS cd__contribution,
    NULL::DOUBLE AS csm_sentiment__value,
    csm_sentiment__c::TINYINT AS csm_sentiment__color,
    csm_sentiment__na,
    coalesce(date_diff('day', csm_sentiment_date, DATE '{as_of}') > 90, false) AS csm_sentiment__stale,
    coalesce(csm_sentiment__p * 100 * risk__share, 0) AS csm_sentiment__contribution,
    NULL::DOUBLE AS roi__value,
    roi__c::TINYINT AS roi__color,
    roi__na,
    false AS roi__stale,
    coalesce(roi__p * 100 * outcomes__share, 0) AS roi__contribution,
    support_tickets__value,
    support_tickets__c::TINYINT AS support_tickets__color,
    support_tickets__na,
    false AS support_tickets__stale,
    coalesce(support_tickets__p * 100 * voice__share, 0) AS support_tickets__contribution,
    emergency_tickets__value,
    emergency_tickets__c::TINYINT AS emergency_tickets__color,
    emergency_tickets__na,
    false AS emergency_tickets__stale,
    0.0::DOUBLE AS emergency_tickets__contribution,  -- weight 0: shown, not scored
    meeting_cadence__value,
    meeting_cadence__c::TINYINT AS meeting_cadence__color,
    meeting_cadence__na,
    false AS meeting_cadence__stale,
    coalesce(meeting_cadence__p * 50 * engagement__share, 0) AS meeting_cadence__contribution,
    NULL::DOUBLE AS persona_engagement__value,
    persona_engagement__c::TINYINT AS persona_engagement__color,
    persona_engagement__na,
    false AS persona_engagement__stale,
    coalesce(persona_engagement__p * 50 * engagement__share, 0) AS persona_engagement__contribution
FROM banded
"""


def hand_sql(con, as_of: dt.date) -> pa.Table:
    return con.con.execute(HAND_SQL.format(as_of=as_of.isoformat())).to_arrow_table()


# --------------------------------------------------------------------------------------------
# Baseline 2: the PROVE scorecard in vectorised pandas
# --------------------------------------------------------------------------------------------

POINTS = {2: 100.0, 1: 62.0, 0: 25.0}


def _ratio(numerator, denominator) -> np.ndarray:
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator == 0, np.nan, numerator / denominator)


def _grade(value: np.ndarray, green: np.ndarray, yellow: np.ndarray) -> np.ndarray:
    """Colour code 2/1/0 for green/yellow/other, NaN where the value is missing."""
    return np.select([np.isnan(value), green, yellow], [np.nan, 2.0, 1.0], 0.0)


def _first_reason(cases: list[tuple[np.ndarray, str]], n: int) -> np.ndarray:
    reasons = np.full(n, None, dtype=object)
    for condition, reason in reversed(cases):  # the first rule that applies wins
        reasons[np.asarray(condition, bool)] = reason
    return reasons


def _composite(parts: list[np.ndarray], need: int) -> tuple[np.ndarray, np.ndarray]:
    greens = sum((p == 2).astype(int) for p in parts)
    reds = sum((p == 0).astype(int) for p in parts)
    present = sum((~np.isnan(p)).astype(int) for p in parts)
    color = np.select([present == 0, greens >= need, reds >= need], [np.nan, 2.0, 0.0], 1.0)
    return np.where(present == 0, np.nan, greens.astype(float)), color


def pandas_scores(con, as_of: dt.date, limit: int | None) -> pa.Table:
    """Read the store's tables into pandas and score them there (reading included)."""
    import pandas as pd

    from csops.usage.store import SCAN_TYPES, USAGE_COUNTERS

    where = f"WHERE account_id <= {limit}" if limit else ""

    def load(sql: str) -> pd.DataFrame:
        return con.con.execute(sql).to_arrow_table().to_pandas(date_as_object=False)

    accounts = load(f"SELECT * FROM health_accounts {where}")
    tickets = load(f"SELECT * FROM health_tickets {where}")
    usage = load(
        "SELECT account_id, included_in_health, snapshot_date, "
        f"{', '.join(USAGE_COUNTERS)} FROM usage_snapshots {where}"
    )
    today = pd.Timestamp(as_of)

    # latest included snapshot per account on or before the scoring date
    usage = usage[usage["included_in_health"] & (usage["snapshot_date"] <= today)]
    newest = usage.groupby("account_id", sort=False)["snapshot_date"].transform("max")
    latest = usage[usage["snapshot_date"] == newest].drop(columns="included_in_health")
    latest = latest.rename(columns={"snapshot_date": "usage_date"})
    latest["scans"] = sum(latest[s] for s in SCAN_TYPES)
    latest["scanner_types"] = sum((latest[s] > 0).astype(int) for s in SCAN_TYPES)
    del usage, newest

    f = accounts.merge(tickets, how="left", on="account_id").merge(latest, how="left", on="account_id")
    for name in ("tickets_30d", "emergency_open", "emergency_closed_7d"):
        f[name] = f[name].fillna(0)
    n = len(f)

    def col(name: str) -> np.ndarray:
        return f[name].to_numpy(dtype=float, na_value=np.nan)

    def days_since(name: str) -> np.ndarray:
        return (today - f[name]).dt.days.to_numpy(dtype=float, na_value=np.nan)

    def one_of(name: str, *values: str) -> np.ndarray:
        return f[name].isin(values).to_numpy()

    def none_of(name: str, *values: str) -> np.ndarray:  # SQL semantics: null is not "not in"
        return f[name].notna().to_numpy() & ~one_of(name, *values)

    billable = col("billable_users")
    licensed = f["licensed_users"].fillna(f["account_licensed_users"]).to_numpy(float, na_value=np.nan)
    contract_days = days_since("contract_start")
    months = contract_days / 30.4375

    values, raw = {}, {}
    v = values["license_utilization"] = _ratio(col("billable_users"), licensed)
    raw["license_utilization"] = np.select(
        [np.isnan(v), v < 0.10, v < 0.51, v <= 0.75],
        [np.nan, 0.0, np.where(months < 6, 1.0, 0.0), np.select([months < 6, months <= 9], [2.0, 1.0], 0.0)],
        2.0,
    )
    v = values["user_engagement"] = _ratio(col("unique_active_users"), billable)
    raw["user_engagement"] = _grade(v, v >= 0.80, v >= 0.50)
    v = values["scm"] = _ratio(col("git_operation_users"), billable)
    raw["scm"] = _grade(v, v >= 0.50, v >= 0.25)
    v = values["ci"] = _ratio(col("pipeline_users"), billable)
    raw["ci"] = _grade(v, v >= 0.33, v >= 0.25)
    share, per_pipeline, types = (
        _ratio(col("scanner_users"), billable),
        _ratio(col("scans"), col("ci_pipelines")),
        col("scanner_types"),
    )
    values["devsecops"], raw["devsecops"] = _composite(
        [
            _grade(share, share >= 0.20, share > 0.05),
            _grade(per_pipeline, per_pipeline > 0.5, per_pipeline >= 0.1),
            _grade(types, types >= 3, types >= 2),
        ],
        2,
    )
    share, per_user, success = (
        _ratio(col("deploying_users"), billable),
        _ratio(col("deployments"), col("deploying_users")),
        _ratio(col("successful_deployments"), col("deployments")),
    )
    values["cd"], raw["cd"] = _composite(
        [
            _grade(share, share > 0.12, share >= 0.05),
            _grade(per_user, per_user > 7, per_user >= 2),
            _grade(success, success > 0.80, success >= 0.25),
        ],
        2,
    )
    values["csm_sentiment"] = np.full(n, np.nan)
    raw["csm_sentiment"] = np.select(
        [one_of("csm_sentiment", "red"), one_of("csm_sentiment", "yellow"), one_of("csm_sentiment", "green")],
        [0.0, 1.0, 2.0],
        np.nan,
    )
    values["roi"] = np.full(n, np.nan)
    raw["roi"] = np.select(
        [one_of("success_plan_status", "active"), one_of("success_plan_status", "draft")], [2.0, 1.0], 0.0
    )
    v = values["support_tickets"] = col("tickets_30d")
    raw["support_tickets"] = _grade(v, v <= 5, v <= 15)
    emergency_open, emergency_closed = col("emergency_open"), col("emergency_closed_7d")
    values["emergency_tickets"] = emergency_open + emergency_closed
    raw["emergency_tickets"] = np.select([emergency_open > 0, emergency_closed > 0], [0.0, 1.0], 2.0)
    v = values["meeting_cadence"] = days_since("last_meeting_date")
    raw["meeting_cadence"] = np.where(
        one_of("csm_priority", "P1"),
        np.select([v <= 35, v <= 60], [2.0, 1.0], 0.0),
        np.select([v <= 65, v <= 90], [2.0, 1.0], 0.0),
    )
    values["persona_engagement"] = np.full(n, np.nan)
    dev, security = f["dev_lead_met_90d"].astype("boolean"), f["security_lead_met_90d"].astype("boolean")
    raw["persona_engagement"] = np.select(
        [(dev & security).fillna(False).to_numpy(bool), (dev | security).fillna(False).to_numpy(bool)],
        [2.0, 1.0],
        0.0,
    )

    new = contract_days < 30
    usage_age = days_since("usage_date")
    no_usage = np.isnan(usage_age) | (usage_age > 60)
    new_rule = (new, "new account (first 30 days)")
    usage_rule = (no_usage, "no usage data in the last 60 days")
    scale_digital = (one_of("segment", "Scale", "Digital"), "not measured for Scale and Digital")
    own = {
        "devsecops": [(none_of("tier", "ultimate"), "top tier only")],
        "csm_sentiment": [
            (one_of("segment", "Digital"), "not measured for Digital"),
            (days_since("csm_sentiment_date") > 120, "sentiment older than 120 days"),
        ],
        "roi": [scale_digital, (f["success_plan_status"].isna().to_numpy(), "no success plan data yet")],
        "support_tickets": [(values["support_tickets"] == 0, "no support tickets in the last 30 days")],
        "meeting_cadence": [
            scale_digital,
            (none_of("csm_priority", "P1", "P2"), "P1 and P2 accounts only"),
            (f["last_meeting_date"].isna().to_numpy(), "no call or meeting logged"),
        ],
        "persona_engagement": [
            (one_of("segment", "Growth", "Scale", "Digital"), "not measured for Growth, Scale and Digital"),
            (f["dev_lead_met_90d"].isna().to_numpy(), "no meeting attendance logged"),
        ],
    }
    usage_measures = {"license_utilization", "user_engagement", "scm", "ci", "devsecops", "cd"}
    groups = [
        (50, {"license_utilization": 30, "user_engagement": 10, "scm": 15, "ci": 15,
              "devsecops": 15, "cd": 15}),
        (25, {"csm_sentiment": 100}),
        (10, {"roi": 100}),
        (5, {"support_tickets": 100, "emergency_tickets": 0}),
        (10, {"meeting_cadence": 50, "persona_engagement": 50}),
    ]
    na, color, points = {}, {}, {}
    for key in raw:
        cases = [] if key == "csm_sentiment" else [new_rule]
        cases += [usage_rule] if key in usage_measures else []
        cases += [*own.get(key, []), (np.isnan(raw[key]), "no data")]
        na[key] = _first_reason(cases, n)
        color[key] = np.where(pd.isna(na[key]), raw[key], np.nan)
        points[key] = np.select([color[key] == c for c in POINTS], list(POINTS.values()), np.nan)

    group_weight, group_score = [], []
    for _, measures in groups:
        scored = {k: w for k, w in measures.items() if w > 0}
        weight = sum(np.where(np.isnan(points[k]), 0.0, w) for k, w in scored.items())
        total = sum(np.nan_to_num(points[k] * w) for k, w in scored.items())
        group_weight.append(weight)
        group_score.append(_ratio(total, weight))
    pairs = list(zip(group_score, (w for w, _ in groups), strict=True))
    overall_weight = sum(np.where(np.isnan(s), 0.0, w) for s, w in pairs)
    score = _ratio(sum(np.nan_to_num(s * w) for s, w in pairs), overall_weight)
    band = np.select([score >= 75, score >= 50, ~np.isnan(score)], ["green", "yellow", "red"], "")
    band = np.where(band == "", None, band).astype(object)
    red_sentiment = color["csm_sentiment"] == 0  # the measure's colour: N/A sentiment never overrides

    out = {
        "account_id": pa.array(f["account_id"].to_numpy()),
        "score": pa.array(score, from_pandas=True),
        "color": pa.array(np.where(red_sentiment, "red", band), pa.string()),
        "band_color": pa.array(band, pa.string()),
        "override": pa.array(np.where(red_sentiment, "CSM sentiment is red", None), pa.string()),
        "adoption": pa.array(sum((color[k] == 2).astype(np.int64) for k in ("scm", "ci", "cd", "devsecops"))),
        **{f"group_{i}__score": pa.array(s, from_pandas=True) for i, s in enumerate(group_score)},
    }
    stale = {"csm_sentiment": days_since("csm_sentiment_date") > 90}
    for (group_w, measures), weight in zip(groups, group_weight, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            share = _ratio(_ratio(np.full(n, float(group_w)), overall_weight), weight)
        for key, w in measures.items():
            contribution = np.nan_to_num(points[key] * w * share) if w > 0 else np.zeros(n)
            out |= {
                f"{key}__value": pa.array(values[key], pa.float64(), from_pandas=True),
                f"{key}__color": pa.array(color[key], pa.float64(), from_pandas=True).cast(pa.int8()),
                f"{key}__na": pa.array(na[key], pa.string()),
                f"{key}__stale": pa.array(stale.get(key, np.zeros(n, bool))),
                f"{key}__contribution": pa.array(contribution),
            }
    return pa.table(out)


# --------------------------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------------------------


def _equal(left: pa.ChunkedArray, right: pa.ChunkedArray) -> np.ndarray:
    """Per row: both null, or equal (floats within TOLERANCE)."""
    left_null = left.is_null().to_numpy(zero_copy_only=False)
    right_null = right.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(left.type) or pa.types.is_floating(right.type):
        a = left.cast(pa.float64()).fill_null(0.0).to_numpy()
        b = right.cast(pa.float64()).fill_null(0.0).to_numpy()
        same = np.abs(a - b) <= TOLERANCE
    else:
        if pa.types.is_integer(left.type) and pa.types.is_integer(right.type):
            left, right = left.cast(pa.int64()), right.cast(pa.int64())
        same = pc.fill_null(pc.equal(left, right), False).to_numpy(zero_copy_only=False)
    return (left_null & right_null) | (~left_null & ~right_null & same)


def compare(label: str, engine: pa.Table, other: pa.Table, limit: int | None = None) -> list[str]:
    """Problems found comparing the engine's rows with a baseline's, account by account."""
    if limit:
        engine = engine.filter(pc.less_equal(engine["account_id"], limit))
    engine, other = engine.sort_by("account_id"), other.sort_by("account_id")
    if engine.num_rows != other.num_rows:
        return [f"{label}: {engine.num_rows:,} rows from the engine, {other.num_rows:,} from {label}"]
    problems = []
    for name, table in (("engine", engine), (label, other)):
        if pc.count_distinct(table["account_id"]).as_py() != table.num_rows:
            problems.append(f"{label}: the {name} result has duplicate account_id rows")
    if not _equal(engine["account_id"], other["account_id"]).all():
        return [*problems, f"{label}: the engine and {label} score different sets of accounts"]
    missing = [c for c in engine.column_names if c not in other.column_names]
    if missing:
        problems.append(f"{label}: columns missing from the baseline: {', '.join(missing)}")
    differ = {}
    for name in engine.column_names:
        if name in other.column_names:
            same = _equal(engine[name], other[name])
            if not same.all():
                differ[name] = np.flatnonzero(~same)
    if not differ:
        return problems
    for name, rows in differ.items():
        problems.append(f"{label}: {name} differs for {len(rows):,} accounts")
    rows = sorted({int(r) for found in differ.values() for r in found[:3]})[:3]
    for row in rows:
        shown = ["account_id", "score", "color", *[c for c in differ if c not in ("score", "color")]]
        mine = {c: engine[c][row].as_py() for c in shown}
        theirs = {c: other[c][row].as_py() for c in shown if c in other.column_names}
        problems.append(f"  account {mine['account_id']}:\n    engine: {mine}\n    {label}: {theirs}")
    return problems


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--with-plans", action="store_true",
                        help="fill the meeting, persona and success-plan columns (null by default)")
    parser.add_argument("--keep", type=Path, help="build the store in this directory and keep it")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.build:
        build_store(args.build, args.accounts, args.weeks, args.with_plans)
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="csops-bench-health-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace, work: Path) -> int:
    path = work / "store.duckdb"
    started = time.perf_counter()
    if not path.exists():
        command = [sys.executable, __file__, "--build", str(path), "--accounts", str(args.accounts),
                   "--weeks", str(args.weeks), *(["--with-plans"] if args.with_plans else [])]
        subprocess.run(command, check=True)
        os.sync()  # so the store's write-back does not overlap the first timed run
    setup = time.perf_counter() - started

    _setup_django(work / "data")
    import ibis
    import yaml

    import csops
    from csops.health.engine import score_table
    from csops.health.features import feature_table
    from csops.health.scorecard import build

    defaults = Path(csops.__file__).parent / "defaults" / "scorecards.yaml"
    scorecard = build(yaml.safe_load(defaults.read_text())[0])
    con = ibis.duckdb.connect(str(path))
    count = {t: con.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
             for t in ("health_accounts", "health_tickets", "usage_snapshots")}
    accounts, usage_rows = count["health_accounts"], count["usage_snapshots"]
    threads = con.con.execute("SELECT current_setting('threads')").fetchone()[0]
    say(f"setup (not timed): {setup:.1f} s; {accounts:,} accounts, {count['health_tickets']:,} with "
        f"tickets, {usage_rows:,} usage rows ({args.weeks} weeks), store {gb(path.stat().st_size)}; "
        f"DuckDB {threads} threads; as of {AS_OF}; RSS before scoring {gb(rss_bytes())}")

    def engine() -> pa.Table:
        return score_table(scorecard, feature_table(con, AS_OF), AS_OF).to_pyarrow()

    scores, engine_s, engine_rss = timed(engine, 2)
    peak = peak_rss_bytes()
    say(f"engine runs: {', '.join(f'{s:.2f} s' for s in engine_s)}; RSS increase "
        f"{', '.join(gb(r) for r in engine_rss)}; peak RSS so far {gb(peak)}")

    manual, sql_s, sql_rss = timed(lambda: hand_sql(con, AS_OF), 2)
    say(f"hand SQL runs: {', '.join(f'{s:.2f} s' for s in sql_s)}; RSS increase "
        f"{', '.join(gb(r) for r in sql_rss)}")
    problems = compare("hand SQL", scores, manual)
    del manual

    sample = PANDAS_SAMPLE if accounts > PANDAS_SAMPLE else None
    frame, pandas_s, pandas_rss = timed(lambda: pandas_scores(con, AS_OF, sample), 1)
    pandas_note = ""
    if sample:
        estimate = pandas_s[0] * accounts / sample
        if estimate <= 90:
            problems += compare(f"pandas ({sample:,}-account sample)", scores, frame, sample)
            frame, pandas_s, pandas_rss = timed(lambda: pandas_scores(con, AS_OF, None), 1)
            sample = None
        else:
            pandas_note = (f" (EXTRAPOLATED: measured {pandas_s[0]:.1f} s on the first {sample:,} accounts, "
                           f"x {accounts / sample:.1f})")
            pandas_s = [estimate]
    problems += compare("pandas" + (f" ({sample:,}-account sample)" if sample else ""), scores, frame, sample)
    del frame

    best, best_sql, best_pandas = min(engine_s), min(sql_s), pandas_s[0]
    ratio = best / best_sql
    say("")
    say(f"health: {accounts:,} accounts ({usage_rows:,} usage rows) scored in {best:.1f} s "
        f"(best of 2; first run {engine_s[0]:.1f} s warms caches), peak RSS {gb(peak)} "
        f"(+{gb(max(engine_rss))} during a run)")
    say(f"baseline hand SQL (DuckDB): {best_sql:.1f} s (best of 2, +{gb(max(sql_rss))} RSS) "
        f"-> ratio engine/SQL {ratio:.2f}x")
    say(f"baseline pandas: {best_pandas:.1f} s{pandas_note} (+{gb(pandas_rss[0])} RSS"
        f"{' on the sample' if pandas_note else ''}) -> ratio engine/pandas {best / best_pandas:.2f}x")

    def mark(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    say(f"target: <= {TARGET_SECONDS:.0f} s {mark(best <= TARGET_SECONDS)}, "
        f"<= {TARGET_RATIO}x hand SQL {mark(ratio <= TARGET_RATIO)}, "
        f"<= {TARGET_RSS_GB:.0f} GB {mark(peak <= TARGET_RSS_GB * 1024**3)}")
    if problems:
        say("CORRECTNESS: FAILED")
        for problem in problems:
            say(problem)
        return 1
    checked = f"the first {sample:,} accounts (the pandas sample)" if sample else f"all {accounts:,} accounts"
    say(f"correctness: OK, engine = hand SQL on all {len(scores.column_names)} output columns for all "
        f"{scores.num_rows:,} accounts, engine = pandas on {checked} (floats within {TOLERANCE:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
