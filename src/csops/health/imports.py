"""Renewal outcomes can be imported like any CRM data: `csops import outcomes FILE`."""

from csops.customers import parsing
from csops.customers.imports import ACCOUNT_REF, Column, constant, reference, register_kind
from csops.health.models import Outcome, OutcomeKind


def register() -> None:
    register_kind(
        "outcomes",
        [
            Column("external_id", constant(parsing.text(64)), True, ("id", "outcomeid", "opportunityid")),
            Column("account", reference("account", "account"), True, ACCOUNT_REF),
            Column("kind", constant(parsing.choice(OutcomeKind)), True, ("outcome", "result")),
            Column("date", constant(parsing.date), True, ("closedate", "outcomedate", "renewaldate")),
            Column("arr_before", constant(parsing.decimal(minimum=0)), False, ("arrbasis",)),
            Column("arr_after", constant(parsing.decimal(minimum=0)), False, ("newarr",)),
        ],
        Outcome,
    )
