"""ARR history can be imported like any CRM data: `csops import arr_history FILE`, one row per
account and month (a warehouse's monthly ARR table, or a finance export)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from csops.customers import parsing
from csops.customers.imports import (
    ACCOUNT_REF,
    Column,
    Validation,
    constant,
    existing_ids,
    reference,
    register_kind,
)
from csops.customers.models import Account

KIND = "arr_history"


def month(value: Any) -> dt.date:
    """A month as YYYY-MM or any date in it; stored as its first day."""
    raw = str(value).strip()
    if len(raw) == 7 and raw[4] == "-":
        raw = f"{raw}-01"
    try:
        return parsing.date(raw).replace(day=1)
    except ValueError:
        raise ValueError(f"not a month (use YYYY-MM or YYYY-MM-DD): {value!r}") from None


COLUMNS = [
    Column("account", reference("account", "account"), True, ACCOUNT_REF),
    Column("month", constant(month), True, ("snapshotmonth", "date", "period")),
    Column("arr", constant(parsing.decimal(minimum=0)), True, ("annualrecurringrevenue", "arrusd")),
    Column("parent", constant(parsing.text(64)), False, ("parentid", "parentaccountid", "ultimateparentid")),
    Column("segment", constant(parsing.text(100)), False, ("accountsegment",)),
    Column("geo", constant(parsing.text(100)), False, ("region",)),
    Column("csm", constant(parsing.text(150)), False, ("csmusername", "tam")),
    Column("renewal_date", constant(parsing.date), False, ("nextrenewaldate",)),
]


def _check(result: Validation) -> None:
    """A parent must be a known account (its CRM id); it becomes `parent_id` on the row."""
    wanted = sorted({r.values["parent"] for r in result.rows if r.values.get("parent")})
    known = existing_ids(Account, wanted)
    column = result.headers.get("parent", "")
    for row in result.rows:
        parent = row.values.pop("parent", None)
        if parent is None:
            continue
        if parent not in known:
            result.error(row.line, column, f"no account with CRM id {parent!r}")
        elif known[parent] == row.values.get("account"):
            row.values["parent_id"] = None  # the account is its own top level
        else:
            row.values["parent_id"] = known[parent]


def register() -> None:
    from csops.customers.imports import UNIQUE_IN_FILE
    from csops.renewals.actions import import_arr_history

    UNIQUE_IN_FILE[KIND] = ("account", "month")
    register_kind(KIND, COLUMNS, check=_check, writer=import_arr_history)
