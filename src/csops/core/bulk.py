"""Helpers for bulk work over many rows."""

import functools
import gc
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone


def paused_gc(function):
    """Run `function` with the cyclic garbage collector paused.

    A bulk import holds a few hundred thousand live objects that contain no reference cycles;
    full collections triggered by their allocation cost about a third of an import's time.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def insert_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    skip_conflicts_on: str | None = None,
    returning: tuple[str, ...] = (),
) -> list[tuple]:
    """Insert rows (column attribute name, e.g. account_id: value; the other fields get their
    defaults) without building a model instance per row.

    PostgreSQL gets one array per column (INSERT … SELECT FROM unnest), SQLite multi-row VALUES.
    With `skip_conflicts_on` a row whose value of that unique field exists is left out by the
    database (ON CONFLICT DO NOTHING), and `returning` gives the rows actually inserted: which
    ones are new, without a second query and whatever runs beside.
    """
    if not rows:
        return []
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = set().union(*(row.keys() for row in rows))
    # A callable default (a random public id, say) is a value per row, not one for the batch.
    per_row = [f for f in fields if f.attname not in given and f.has_default() and callable(f.default)]
    if per_row:
        rows = [{**row, **{f.attname: f.get_default() for f in per_row}} for row in rows]
        given |= {f.attname for f in per_row}
    constant = {}
    for field in fields:
        if field.attname not in given:
            stamped = getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)
            constant[field] = field.get_db_prep_save(now if stamped else field.get_default(), connection)
    varying = [f for f in fields if f not in constant]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [*constant, *varying])
    suffix = ""
    if skip_conflicts_on:
        suffix = f" ON CONFLICT ({quote(model._meta.get_field(skip_conflicts_on).column)}) DO NOTHING"
    if returning:
        suffix += " RETURNING " + ", ".join(quote(model._meta.get_field(name).column) for name in returning)
    insert = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
    inserted: list[tuple] = []
    with _cursor() as cursor:
        for values_sql, params in _statements(rows, constant, varying):
            cursor.execute(insert + values_sql + suffix, params)
            if returning:
                inserted += cursor.fetchall()
    return inserted


def _cursor():
    """Django's PostgreSQL cursor binds parameters on the client, quoting every array element as
    text; a plain psycopg cursor on the same connection (and transaction) sends them in binary."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        import psycopg

        return psycopg.Cursor(connection.connection)
    return connection.cursor()


def _statements(rows: list[dict], constant: dict, varying: list):
    """(SQL after the column list, parameters) per statement."""
    names = [f.attname for f in varying]
    prepared = [[row.get(name) for name in names] for row in rows]
    for index, field in enumerate(varying):
        if field.get_internal_type() not in AS_IS:
            adapt = field.get_db_prep_save
            db = connections[DEFAULT_DB_ALIAS]
            for values in prepared:
                values[index] = adapt(values[index], db)
    if connection.vendor == "postgresql":
        types = [f.db_type(connection) for f in varying]
        # %b: binary parameters, not text that psycopg quotes element by element
        fixed = ", ".join(f"%b::{f.db_type(connection)}" for f in constant)
        arrays = ", ".join(f"%b::{kind}[]" for kind in types)
        for start in range(0, len(rows), 10_000):
            chunk = prepared[start : start + 10_000]
            params = [*constant.values(), *(list(column) for column in zip(*chunk, strict=True))]
            yield f"SELECT {fixed}{', ' if fixed else ''}u.* FROM unnest({arrays}) AS u", params
        return
    width = len(constant) + len(varying)
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    per_statement = max(1, MAX_PARAMETERS // width)
    for start in range(0, len(rows), per_statement):
        chunk = prepared[start : start + per_statement]
        params = [value for row in chunk for value in (*constant.values(), *row)]
        yield "VALUES " + ", ".join([placeholder] * len(chunk)), params


# Values both drivers take as Python gives them; the others (dates, times, JSON) are adapted by
# their field, e.g. an aware datetime to SQLite's UTC text.
AS_IS = {
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "ForeignKey", "IntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "TextField", "OneToOneField",
}
# SQLite refuses statements with more than 32,766 parameters.
MAX_PARAMETERS = 32_000
