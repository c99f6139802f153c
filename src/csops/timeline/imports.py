"""Activities can be imported like any CRM data: `csops import activities FILE`.

Salesforce Task and Event exports work as they are (Id, AccountId, WhoId, Subject, ActivityDate,
Description, Type). Rows are upserted by their external id, after every row has been checked:
the account, the activity type, the author, the customer attendees (each a contact of that
account) and the CTA (one of that account's).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from csops.cockpit.models import Cta
from csops.customers import parsing
from csops.customers.imports import (
    ACCOUNT_REF,
    CHUNK,
    Column,
    Validation,
    constant,
    name_table,
    reference,
    register_kind,
    text_of,
    user_table,
    validate_rows,
)
from csops.customers.models import Contact
from csops.timeline.models import Activity, ActivityType, Sentiment

ATTENDEE_SEPARATOR = ";"


def contact_ids(value: Any) -> list[str]:
    """Contact CRM ids separated by ';' (or a list, from the API); checked against the account later."""
    items = value if isinstance(value, list | tuple) else str(value).split(ATTENDEE_SEPARATOR)
    ids = [str(item).strip() for item in items if str(item).strip()]
    too_long = [i for i in ids if len(i) > 64]
    if too_long:
        raise ValueError(f"not a contact id: {too_long[0][:20]!r}…")
    return list(dict.fromkeys(ids))


COLUMNS = [
    Column("external_id", text_of(Activity, "external_id"), True, ("id", "activityid", "taskid", "eventid")),
    Column("account", reference("account", "account"), True, ACCOUNT_REF),
    Column(
        "type", reference("activity_type", "activity type"), True, ("activitytype", "tasktype", "eventtype")
    ),
    Column("subject", text_of(Activity, "subject"), True, ("title",)),
    Column("date", constant(parsing.date), True, ("activitydate",)),
    Column("notes", constant(parsing.text(100_000)), False, ("description", "comments")),
    Column("sentiment", constant(parsing.choice(Sentiment))),
    Column(
        "external_attendees",
        constant(contact_ids),
        False,
        ("customerattendees", "attendees", "contacts", "contactids", "whoid"),
    ),
    Column("author", reference("user", "user"), False, ("loggedby", "assignedto", "owner", "ownername")),
    Column("cta", constant(parsing.integer(minimum=1)), False, ("ctaid",)),
]


def _tables(header_to_field: dict[str, str], rows: list[tuple[int, dict]]) -> dict[str, dict]:
    tables: dict[str, dict] = {"activity_type": name_table(ActivityType)}
    if "author" in header_to_field.values():
        tables["user"] = user_table()
    return tables


def _check(result: Validation) -> None:
    """References that depend on the row's account: attendees are its contacts, the CTA is its."""
    _check_attendees(result)
    _check_ctas(result)


def _check_attendees(result: Validation) -> None:
    column = result.headers.get("external_attendees", "")
    wanted = sorted({cid for row in result.rows for cid in row.values.get("external_attendees", ())})
    contacts: dict[str, tuple[int, int]] = {}
    for start in range(0, len(wanted), CHUNK):
        for external_id, pk, account_id in Contact.objects.filter(
            external_id__in=wanted[start : start + CHUNK]
        ).values_list("external_id", "pk", "account_id"):
            contacts[external_id] = (pk, account_id)
    for row in result.rows:
        ids = row.values.get("external_attendees")
        if ids is None:
            continue
        pks = []
        for contact_id in ids:
            found = contacts.get(contact_id)
            if found is None:
                result.error(row.line, column, f"unknown contact {contact_id!r}")
            elif "account" in row.values and found[1] != row.values["account"]:
                result.error(row.line, column, f"contact {contact_id!r} is not a contact of this account")
            else:
                pks.append(found[0])
        row.values["external_attendees"] = pks


def _check_ctas(result: Validation) -> None:
    column = result.headers.get("cta", "")
    wanted = sorted({row.values["cta"] for row in result.rows if "cta" in row.values})
    accounts: dict[int, int] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        accounts.update(Cta.objects.filter(pk__in=chunk).values_list("pk", "account_id"))
    for row in result.rows:
        cta = row.values.get("cta")
        if cta is None:
            continue
        if cta not in accounts:
            result.error(row.line, column, f"unknown CTA {cta}")
        elif "account" in row.values and accounts[cta] != row.values["account"]:
            result.error(row.line, column, f"CTA {cta} is on another account")


API_REQUIRED = ("account", "type", "subject", "date")


def parse_activity(data: dict[str, Any]) -> dict[str, Any]:
    """Check an API body exactly as an import row; a bad field raises ValidationError naming it.

    The external id, required in a file (it is what a re-import matches on), is optional here."""
    validation = validate_rows("activities", list(data), [(1, data)], update=True)
    errors: dict[str, list[str]] = {}
    for error in validation.errors:
        errors.setdefault(error.column or "__all__", []).append(error.reason)
    values = validation.rows[0].values if validation.rows else {}
    for name in API_REQUIRED:
        if name not in values and validation.headers.get(name, name) not in errors:
            errors[name] = ["required"]
    if errors:
        raise ValidationError(errors)
    return values


def register() -> None:
    from csops.timeline.actions import import_activities

    register_kind("activities", COLUMNS, Activity, tables=_tables, check=_check, writer=import_activities)
