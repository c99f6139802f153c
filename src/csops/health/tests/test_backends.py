"""The PROVE scorecard gives the same answer on every analytics store: DuckDB, PostgreSQL, Spark.

One small, deterministic data set (accounts covering every segment, tier, priority and sentiment
colour, ticket aggregates, twelve weeks of synthetic usage, some accounts without usage) is
loaded into each store the way the application loads it, and the scored tables must agree
exactly, floats to 1e-9.

PostgreSQL gets a throwaway database, so parallel workers and the Django test database never
collide; without a server the test is skipped, except on CI (CI=true), where it fails. Spark runs
in local mode; it is skipped only when there is no `java` on PATH.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from functools import cache

import numpy as np
import pyarrow as pa
import pytest
import yaml

from csops.core.configuration import default_directory
from csops.health.engine import score_table
from csops.health.features import ACCOUNT_FEATURES, TICKET_FEATURES, feature_table
from csops.health.scorecard import build
from csops.usage import store
from csops.usage.synthetic import weekly_usage

# PySpark 4.0 still passes copy= to pandas 3 when converting results.
pytestmark = pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")

AS_OF = dt.date(2026, 11, 23)
ACCOUNTS = 300
WEEKS = 12
SEED = 20261123
TOLERANCE = 1e-9

SEGMENTS = ("Strategic", "Growth", "Scale", "Digital", "PubSec", None)
GEOS = ("AMER", "EMEA", "APJ", "LATAM", "PubSec")
TIERS = ("free", "premium", "ultimate")
DEPLOYMENTS = ("saas", "self_managed")
PRIORITIES = ("P1", "P2", "P3", "P4", None)
SENTIMENTS = ("green", "yellow", "red", None)
PLANS = ("active", "draft", "closed", None)
# Ages in days that sit on either side of a PROVE boundary: the first 30 days, 6 and 9 months
# (months are 30.4375 days), 35/60/65/90 days since a meeting, 90/120 days since a sentiment.
EDGES = (10, 29, 30, 31, 35, 36, 60, 61, 65, 66, 90, 91, 120, 121, 182, 183, 273, 274)


def _days_ago(days: np.ndarray) -> np.ndarray:
    return np.datetime64(AS_OF, "D") - days.astype("timedelta64[D]")


def _dates(days: np.ndarray, missing: np.ndarray) -> pa.Array:
    return pa.array(_days_ago(days), pa.date32(), mask=missing)


@cache
def dataset() -> dict[str, pa.Table]:
    """health_accounts, health_tickets and usage_snapshots, the same on every call."""
    rng = np.random.default_rng(SEED)
    n = ACCOUNTS
    index = np.arange(n)
    ids = 1000 + 7 * index  # not 1..n, so nothing can lean on row numbers

    def pick(values: tuple, stride: int = 1) -> list:
        return [values[(i // stride) % len(values)] for i in range(n)]

    def some_edges(low: int, high: int) -> np.ndarray:
        days = rng.integers(low, high, n)
        days[: len(EDGES) * 3 : 3] = EDGES  # every boundary appears at least once
        return days

    contract_days = rng.integers(10, 3 * 365 + 1, n)
    contract_days[1 : len(EDGES) * 2 : 2] = EDGES
    licensed = rng.choice([0, 1, 5, 20, 100, 1000, 5000], n)
    licensed_missing = index % 37 == 5
    sentiment_days = some_edges(0, 200)
    sentiment_days[index % 23 == 3] = (AS_OF - dt.date(2019, 2, 1)).days  # years old
    meeting_days = some_edges(0, 150)
    met = rng.random((2, n)) < 0.55
    met_missing = index % 7 == 6
    accounts = pa.table(
        {
            "account_id": pa.array(ids, pa.int64()),
            "segment": pa.array(pick(SEGMENTS), pa.string()),
            "geo": pa.array(pick(GEOS, 2), pa.string()),
            "tier": pa.array(pick(TIERS, 6), pa.string()),  # crossed with every segment
            "deployment": pa.array(pick(DEPLOYMENTS, 3), pa.string()),
            "csm_priority": pa.array(pick(PRIORITIES, 2), pa.string()),
            "arr": pa.array(np.round(rng.uniform(0, 2_000_000, n), 2), pa.float64()),
            "account_licensed_users": pa.array(licensed, pa.int64(), mask=licensed_missing),
            "contract_start": _dates(contract_days, np.zeros(n, bool)),
            "csm_sentiment": pa.array(pick(SENTIMENTS, 3), pa.string()),
            "csm_sentiment_date": _dates(sentiment_days, index % 11 == 4),
            "last_meeting_date": _dates(meeting_days, index % 5 == 2),
            "dev_lead_met_90d": pa.array(met[0], pa.bool_(), mask=met_missing),
            "security_lead_met_90d": pa.array(met[1], pa.bool_(), mask=met_missing),
            "success_plan_status": pa.array(pick(PLANS, 5), pa.string()),
        },
        schema=pa.schema(ACCOUNT_FEATURES.items()),
    )

    with_tickets = index % 3 != 0  # a third have no tickets at all (left join gives nulls)
    ticket_counts = rng.choice([0, 1, 5, 6, 15, 16, 40], n)
    tickets = pa.table(
        {
            "account_id": pa.array(ids[with_tickets], pa.int64()),
            "tickets_30d": pa.array(ticket_counts[with_tickets], pa.int64()),
            "emergency_open": pa.array(rng.choice([0, 0, 0, 1, 2], n)[with_tickets], pa.int64()),
            "emergency_closed_7d": pa.array(rng.choice([0, 0, 1, 3], n)[with_tickets], pa.int64()),
        },
        schema=pa.schema([("account_id", pa.int64()), *TICKET_FEATURES.items()]),
    )

    # Every tenth account never sends usage; the newest week lies after AS_OF and must be ignored.
    reporting = index % 10 != 9
    usage = weekly_usage(
        ids[reporting],
        np.where(licensed_missing, 50, licensed)[reporting],
        _days_ago(contract_days)[reporting],
        (np.array(pick(TIERS, 6)) == "ultimate")[reporting],
        end=AS_OF + dt.timedelta(days=7),
        weeks=WEEKS + 1,
        seed=SEED,
    )
    return {"health_accounts": accounts, "health_tickets": tickets, "usage_snapshots": usage}


@cache
def prove_definition() -> dict:
    return yaml.safe_load((default_directory() / "scorecards.yaml").read_text())[0]


def score(con) -> pa.Table:
    """Load the data set into `con` like the application does, score it, sort by account."""
    for name, table in dataset().items():
        store.replace_table(con, name, table)
    scored = score_table(build(prove_definition()), feature_table(con, AS_OF), AS_OF)
    return scored.to_pyarrow().sort_by("account_id")


def _same(left, right, is_float: bool) -> bool:
    if is_float:
        left = None if left is None or math.isnan(left) else left
        right = None if right is None or math.isnan(right) else right
        if left is None or right is None:
            return left is None and right is None
        return math.isclose(left, right, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return left == right and type(left) is type(right)


def assert_identical(expected: pa.Table, actual: pa.Table, backend: str) -> None:
    assert actual.column_names == expected.column_names, f"{backend}: columns differ"
    assert actual.num_rows == expected.num_rows == ACCOUNTS, f"{backend}: row counts differ"
    ids = expected.column("account_id").to_pylist()
    assert actual.column("account_id").to_pylist() == ids, f"{backend}: accounts differ"
    problems = []
    for name in expected.column_names:
        kind = expected.schema.field(name).type
        if actual.schema.field(name).type != kind:
            problems.append(f"{name}: type {actual.schema.field(name).type} instead of {kind}")
            continue
        is_float = pa.types.is_floating(kind)
        pairs = zip(expected.column(name).to_pylist(), actual.column(name).to_pylist(), strict=True)
        wrong = [(ids[i], e, a) for i, (e, a) in enumerate(pairs) if not _same(e, a, is_float)]
        if wrong:
            shown = ", ".join(f"account {i}: duckdb {e!r} vs {a!r}" for i, e, a in wrong[:3])
            problems.append(f"{name}: {len(wrong)} rows differ ({shown})")
    assert not problems, f"{backend} differs from DuckDB:\n" + "\n".join(problems)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} CI must run this backend.")
    pytest.skip(reason)


# fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def duckdb_result() -> pa.Table:
    con = store._open("duckdb://")
    try:
        return score(con)
    finally:
        con.disconnect()


def _postgres_server() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/csops"
    return url.rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def postgres() -> Iterator:
    """An Ibis connection to a throwaway database, dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[dev]').")
    server = _postgres_server()
    try:
        admin = psycopg.connect(f"{server}/postgres", connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        _unavailable(f"no PostgreSQL answers at {server}/postgres ({str(exc).strip()}).")
    name = f"csops_analytics_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            con = store._open(f"{server}/{name}")
            try:
                yield con
            finally:
                con.disconnect()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def spark(tmp_path_factory) -> Iterator:
    """A local[2] Spark session (the store's own settings on top) for this module, then stopped."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java and there is no `java` on PATH.")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("csops-test-backends")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield store._open("spark://local[2]")  # the store's builder reuses (and configures) it
    finally:
        session.stop()


# tests -------------------------------------------------------------------------------------------
def test_data_set_exercises_the_scorecard(duckdb_result):
    """The comparison means something only if the data reach every branch."""
    result = duckdb_result.to_pydict()
    assert set(result["color"]) == {"green", "yellow", "red", None}
    assert "CSM sentiment is red" in result["override"]
    assert None in result["score"] and any(s is not None for s in result["score"])
    for key in (
        "license_utilization",
        "csm_sentiment",
        "roi",
        "support_tickets",
        "meeting_cadence",
        "persona_engagement",
        "devsecops",
        "cd",
        "scm",
        "ci",
    ):
        assert {0, 1, 2, None} <= set(result[f"{key}__color"]), key
    reasons = {
        r
        for key in ("license_utilization", "csm_sentiment", "meeting_cadence", "devsecops")
        for r in result[f"{key}__na"]
    }
    assert {
        "new account (first 30 days)",
        "no usage data in the last 60 days",
        "top tier only",
        "sentiment older than 120 days",
        "P1 and P2 accounts only",
    } <= reasons
    assert set(result["csm_sentiment__stale"]) == {True, False}
    assert set(result["adoption"]) >= {0, 1, 2, 3, 4}


def test_postgres_matches_duckdb(duckdb_result, postgres):
    assert_identical(duckdb_result, score(postgres), "PostgreSQL")


def test_spark_matches_duckdb(duckdb_result, spark):
    assert_identical(duckdb_result, score(spark), "Spark")
