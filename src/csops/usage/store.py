"""The analytics store: an Ibis connection to DuckDB (default), PostgreSQL or Spark.

Product usage lives here, not in the application database: it is large, append-mostly and
read set-wise. The account attributes the health engine needs are copied here in bulk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from django.conf import settings
from ibis.backends import BaseBackend

_local = threading.local()

# Service Ping style counters, each over the 28 days before the snapshot date.
USAGE_COUNTERS = (
    "billable_users",
    "licensed_users",
    "unique_active_users",
    "git_operation_users",
    "pipeline_users",
    "ci_pipelines",
    "deploying_users",
    "deployments",
    "successful_deployments",
    "failed_deployments",
    "scanner_users",
    "scans_sast",
    "scans_dast",
    "scans_dependency",
    "scans_container",
    "scans_secret",
)
SCAN_TYPES = ("scans_sast", "scans_dast", "scans_dependency", "scans_container", "scans_secret")

USAGE_SCHEMA = pa.schema(
    [
        ("account_id", pa.int64()),
        ("instance_id", pa.string()),
        ("included_in_health", pa.bool_()),
        ("snapshot_date", pa.date32()),
        *[(name, pa.int32()) for name in USAGE_COUNTERS],
    ]
)


def connect(url: str | None = None) -> BaseBackend:
    """The store for `url` (default CSOPS_ANALYTICS_URL), one connection per thread."""
    url = url or settings.ANALYTICS_URL
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    if url not in cache:
        cache[url] = _open(url)
    return cache[url]


def _open(url: str) -> BaseBackend:
    # Not urlparse: it rejects the documented spark://local[2] (brackets are for IPv6 hosts).
    scheme = url.partition("://")[0]
    if scheme == "duckdb":
        path = url.removeprefix("duckdb://") or ":memory:"
        return ibis.duckdb.connect(path, threads=2)
    if scheme in ("postgres", "postgresql"):
        con = ibis.connect(url.replace("postgres://", "postgresql://", 1))
        # PostgreSQL inlines the scoring stages into one huge expression per row; its LLVM JIT
        # would then spend minutes and gigabytes compiling it, deaf to cancellation.
        con.raw_sql("SET jit = off").close()
        return con
    if scheme == "spark":
        from pyspark.sql import SparkSession

        session = (
            SparkSession.builder.master(url.removeprefix("spark://") or "local[2]")
            .appName("csops")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            # Ibis moves data between pandas and Spark; without Arrow, Spark turns nullable integer
            # columns into nulls and missing strings into 'NaN'. Fail rather than fall back.
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
            .getOrCreate()
        )
        return ibis.pyspark.connect(session)
    raise ValueError(
        f"CSOPS_ANALYTICS_URL: unsupported store {url!r} (use duckdb://, postgres:// or spark://)"
    )


_work = threading.RLock()


@contextmanager
def exclusive(con: BaseBackend) -> Iterator[None]:
    """One scoring or rule run at a time on a store: runs share working tables (the synced
    accounts, the features). A DuckDB file belongs to one process, so a lock in the process
    serialises them; a PostgreSQL store takes an advisory lock, which serialises workers too."""
    with _work:
        if con.name != "postgres":
            yield
            return
        con.raw_sql(f"SELECT pg_advisory_lock({WORK_LOCK})").close()
        try:
            yield
        finally:
            con.raw_sql(f"SELECT pg_advisory_unlock({WORK_LOCK})").close()


WORK_LOCK = 7_263_101  # an arbitrary number, the same in every csops process


def close_all() -> None:
    for connection in getattr(_local, "connections", {}).values():
        connection.disconnect()
    _local.connections = {}


def _spark_frame(con: BaseBackend, data: pa.Table):
    """Spark 4 reads Arrow itself. Ibis would go through pandas, which loses nulls in integer
    columns and fails on chunked strings."""
    return con._session.createDataFrame(data)


def replace_table(con: BaseBackend, name: str, data: pa.Table) -> None:
    if con.name == "pyspark":
        _spark_frame(con, data).write.saveAsTable(name, format="parquet", mode="overwrite")
        return
    con.create_table(name, data, overwrite=True)


def append(con: BaseBackend, name: str, data: pa.Table, schema: pa.Schema | None = None) -> None:
    if name not in con.list_tables():
        con.create_table(name, schema=ibis.schema(schema or data.schema))
    if con.name == "pyspark":
        _spark_frame(con, data).write.saveAsTable(name, format="parquet", mode="append")
        return
    con.insert(name, data)


def upsert(con: BaseBackend, name: str, data: pa.Table, keys: tuple[str, ...]) -> None:
    """Replace the rows of `name` that share `keys` with a row of `data`, then add `data`."""
    if con.name == "pyspark":
        raise ValueError(f"updating {name} needs a DuckDB or PostgreSQL store; load Spark tables with Spark")
    if name not in con.list_tables():
        con.create_table(name, schema=ibis.schema(data.schema))
    incoming = f"{name}_incoming"
    con.create_table(incoming, data, overwrite=True, temp=True)
    matches = " AND ".join(f"i.{key} = {name}.{key}" for key in keys)
    con.raw_sql(f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM {incoming} i WHERE {matches})")
    con.insert(name, con.table(incoming))
    con.drop_table(incoming, force=True)


@dataclass(frozen=True)
class Compiled:
    sql: str
    schema: pa.Schema | None  # None for a scalar


_compiled: dict[tuple, Compiled] = {}


def compiled(con: BaseBackend, key: tuple, build: Callable[[], ir.Expr]) -> Compiled:
    """The SQL of the expression `build()` makes, compiled once per process and key.

    Building and compiling a scorecard's or a rule's Ibis expression takes tenths of a second;
    running it over a handful of accounts takes milliseconds, so re-evaluating one account would
    otherwise spend almost all its time in Python. The key must name everything the SQL depends
    on (definitions, date, which tables); values that vary from call to call belong in tables.
    """
    full_key = (con.name, *key)
    found = _compiled.get(full_key)
    if found is None:
        if len(_compiled) > 1000:
            _compiled.clear()
        expr = build()
        schema = expr.schema().to_pyarrow() if isinstance(expr, ir.Table) else None
        found = _compiled[full_key] = Compiled(str(con.compile(expr)), schema)
    return found


def query(con: BaseBackend, compiled: Compiled) -> pa.Table:
    """Run compiled SQL; the result has the types Ibis gives the expression, whatever the backend."""
    if con.name == "duckdb":
        cursor = con.con.execute(compiled.sql)
        # to_arrow_table since DuckDB 1.4 (fetch_arrow_table warns there); older ones lack it
        result = cursor.to_arrow_table() if hasattr(cursor, "to_arrow_table") else cursor.fetch_arrow_table()
    else:
        result = con.sql(compiled.sql).to_pyarrow()
    return result.cast(compiled.schema) if compiled.schema is not None else result


def scalar(con: BaseBackend, compiled: Compiled):
    return query(con, compiled).column(0)[0].as_py()


def create_table_as(con: BaseBackend, name: str, compiled: Compiled) -> ir.Table:
    if con.name == "duckdb":
        con.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS {compiled.sql}')
        return con.table(name)
    return con.create_table(name, con.sql(compiled.sql), overwrite=True)
