"""Reading and validating import files (CSV or Parquet) before anything is written.

Every row is parsed and checked first; the writes happen in `actions.import_records`.
Column headers are matched loosely (case, spaces, underscores and a trailing Salesforce
`__c` are ignored), through built-in Salesforce aliases and the admin's configured mappings.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.db import models

from csops.core.bulk import paused_gc
from csops.core.models import User
from csops.customers import parsing
from csops.customers.models import (
    Account,
    Color,
    Contact,
    CustomFieldDefinition,
    Deployment,
    ForecastCategory,
    Geo,
    ImportMapping,
    LifecycleStage,
    Opportunity,
    OpportunityType,
    Persona,
    Priority,
    RiskImpact,
    RiskReason,
    SalesSegment,
    Segment,
    Severity,
    SupportTicket,
    Tier,
)
from csops.usage.store import USAGE_COUNTERS

KINDS = ["accounts", "contacts", "opportunities", "tickets", "usage"]  # apps may register more
CHUNK = 900  # stays under SQLite's limit on query parameters
EXTRA = "\x00extra"  # where a CSV row keeps cells beyond the header


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, format, missing columns)."""


@dataclass(frozen=True)
class Column:
    field: str
    parser: Callable[[dict], parsing.Parser]  # built per import, from the lookup tables
    required: bool = False
    aliases: tuple[str, ...] = ()


@dataclass
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        column = f", column {self.column}" if self.column else ""
        return f"line {self.line}{column}: {self.reason}"


@dataclass
class ValidatedRow:
    line: int
    raw: dict[str, Any]
    values: dict[str, Any]


@dataclass
class Validation:
    kind: str
    columns: list[str]
    rows: list[ValidatedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)
    ignored_columns: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # field → the file's column

    def error(self, line: int, column: str, reason: str) -> None:
        self.errors.append(RowError(line, column, reason))
        self.bad_lines.add(line)

    @property
    def valid_rows(self) -> list[ValidatedRow]:
        return [r for r in self.rows if r.line not in self.bad_lines]


def constant(parser: parsing.Parser) -> Callable[[dict], parsing.Parser]:
    return lambda tables: parser


def reference(table: str, what: str) -> Callable[[dict], parsing.Parser]:
    return lambda tables: parsing.lookup(tables[table], what)


def text_of(model: type[models.Model], name: str) -> Callable[[dict], parsing.Parser]:
    return constant(parsing.text(model._meta.get_field(name).max_length))


ACCOUNT_REF = ("account_external_id", "accountid", "account", "accountcrmid")

SPECS: dict[str, list[Column]] = {
    "accounts": [
        Column("external_id", text_of(Account, "external_id"), True, ("id", "accountid", "crmid")),
        Column("name", text_of(Account, "name"), True, ("accountname",)),
        Column(
            "parent", constant(parsing.text(64)), False, ("parentid", "parentaccountid", "parent_external_id")
        ),
        Column("segment", reference("segment", "segment"), False, ("accountsegment", "cssegment")),
        Column("geo", reference("geo", "geo"), False, ("region", "accountgeo")),
        Column("industry", text_of(Account, "industry")),
        Column("employees", constant(parsing.integer()), False, ("numberofemployees",)),
        Column("sales_segment", constant(parsing.choice(SalesSegment))),
        Column("arr", constant(parsing.decimal(minimum=0)), False, ("annualrecurringrevenue",)),
        Column("lam", constant(parsing.decimal(max_digits=16, minimum=0)), False,
               ("landedaddressablemarket",)),
        Column("tier", constant(parsing.choice(Tier)), False, ("producttier", "plan")),
        Column("deployment", constant(parsing.choice(Deployment)), False, ("deploymenttype",)),
        Column("lifecycle_stage", constant(parsing.choice(LifecycleStage)), False, ("lifecycle",)),
        Column("csm_priority", constant(parsing.choice(Priority)), False, ("priority",)),
        Column("contract_start", constant(parsing.date), False, ("contractstartdate",)),
        Column("renewal_date", constant(parsing.date), False, ("nextrenewaldate",)),
        Column("licensed_users", constant(parsing.integer()), False, ("licenses", "seats")),
        Column("ae", reference("user", "user"), False, ("accountowner", "owner", "owneremail")),
        Column("sa", reference("user", "user"), False, ("solutionsarchitect",)),
        Column("csm", reference("user", "user"), False, ("tam", "customersuccessmanager")),
        Column("cse", reference("user", "user"), False, ("customersuccessengineer",)),
        Column("renewals_manager", reference("user", "user"), False, ("renewalmanager",)),
        Column("csm_sentiment", constant(parsing.choice(Color)), False, ("sentiment",)),
        Column("csm_sentiment_date", constant(parsing.date), False, ("sentimentdate",)),
        Column("cs_project_url", constant(parsing.url), False, ("projecturl",)),
        Column("slack_channel", text_of(Account, "slack_channel"), False, ("slack",)),
    ],
    "contacts": [
        Column("external_id", text_of(Contact, "external_id"), True, ("id", "contactid")),
        Column("account", reference("account", "account"), True, ACCOUNT_REF),
        Column("first_name", text_of(Contact, "first_name")),
        Column("last_name", text_of(Contact, "last_name"), True),
        Column("email", constant(parsing.email)),
        Column("title", text_of(Contact, "title")),
        Column("phone", text_of(Contact, "phone")),
        Column("persona", reference("persona", "persona")),
        Column("email_opt_out", constant(parsing.boolean), False, ("hasoptedoutofemail", "optout")),
    ],
    "opportunities": [
        Column("external_id", text_of(Opportunity, "external_id"), True, ("id", "opportunityid")),
        Column("account", reference("account", "account"), True, ACCOUNT_REF),
        Column("name", text_of(Opportunity, "name"), True, ("opportunityname",)),
        Column("type", constant(parsing.choice(OpportunityType)), True, ("opportunitytype",)),
        Column("arr_basis", constant(parsing.decimal(minimum=0))),
        Column("net_arr", constant(parsing.decimal())),
        Column("close_date", constant(parsing.date), True),
        Column("stage", text_of(Opportunity, "stage"), True, ("stagename",)),
        Column(
            "forecast_category", constant(parsing.choice(ForecastCategory)), False, ("forecastcategoryname",)
        ),
        Column("risk_impact", reference("risk_impact", "risk impact")),
        Column("risk_reason", reference("risk_reason", "risk reason")),
        Column("renewal_due", constant(parsing.date), False, ("contractenddate", "renewalduedate")),
        Column("renewal_dri", reference("user", "user"), False, ("renewaldri", "renewalowner")),
        Column("next_step", text_of(Opportunity, "next_step"), False, ("nextstep",)),
        Column("next_step_date", constant(parsing.date), False, ("nextstepdate",)),
    ],
    "tickets": [
        Column("external_id", text_of(SupportTicket, "external_id"), True, ("id", "ticketid", "casenumber")),
        Column("account", reference("account", "account"), True, ACCOUNT_REF),
        Column("subject", text_of(SupportTicket, "subject"), True),
        Column("severity", constant(parsing.choice(Severity)), True, ("priority",)),
        Column("is_emergency", constant(parsing.boolean), False, ("emergency",)),
        Column("opened_at", constant(parsing.datetime), True, ("createddate", "opened")),
        Column("closed_at", constant(parsing.datetime), False, ("closeddate", "closed")),
    ],
    "usage": [
        Column("account", reference("account", "account"), True, ACCOUNT_REF),
        Column("instance_id", constant(parsing.text(100)), True,
               ("instance", "instanceid", "uuid", "namespace")),
        Column("included_in_health", constant(parsing.boolean), False, ("included", "inhealth")),
        Column("snapshot_date", constant(parsing.date), True, ("date", "pingdate", "snapshot")),
        *[Column(name, constant(parsing.integer())) for name in USAGE_COUNTERS],
    ],
}

MODELS: dict[str, type[models.Model]] = {
    "accounts": Account,
    "contacts": Contact,
    "opportunities": Opportunity,
    "tickets": SupportTicket,
}


# What a kind registered by another app adds to the common machinery (see `register_kind`).
TableBuilder = Callable[[dict[str, str], list[tuple[int, dict]]], dict[str, dict]]
EXTRA_TABLES: dict[str, TableBuilder] = {}
CHECKS: dict[str, Callable[[Validation], None]] = {}
WRITERS: dict[str, Callable[..., Any]] = {}


def register_kind(
    name: str,
    columns: list[Column],
    model: type[models.Model] | None = None,
    *,
    tables: TableBuilder | None = None,
    check: Callable[[Validation], None] | None = None,
    writer: Callable[..., Any] | None = None,
) -> None:
    """Let another app add an import kind with the same validation and upsert machinery.

    `tables` builds the lookup tables its reference columns need (from the header mapping and
    the rows), `check` runs whole-file checks after the rows are parsed, and `writer` replaces
    `actions.import_records` (same arguments) when rows need more than one table.
    """
    SPECS[name] = columns
    if model is not None:
        MODELS[name] = model
    if name not in KINDS:
        KINDS.append(name)
    for registry, hook in ((EXTRA_TABLES, tables), (CHECKS, check), (WRITERS, writer)):
        if hook is not None:
            registry[name] = hook


def uploadable_kinds() -> list[str]:
    """Kinds the upload page offers: those written to the application database."""
    return [kind for kind in KINDS if kind in MODELS or kind in WRITERS]


FOREIGN_KEYS = {
    "segment",
    "geo",
    "ae",
    "sa",
    "csm",
    "cse",
    "renewals_manager",
    "renewal_dri",
    "account",
    "persona",
    "risk_impact",
    "risk_reason",
}


def normalize_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.strip().lower().removesuffix("__c"))


def name_table(model: type[models.Model]) -> dict[str, int]:
    return {name.lower(): pk for pk, name in model.objects.values_list("pk", "name")}


def user_table() -> dict[str, int]:
    """People by username, e-mail or full name, without regard to case."""
    table: dict[str, int] = {}
    for pk, username, email, first, last in User.objects.values_list(
        "pk", "username", "email", "first_name", "last_name"
    ):
        for key in (username, email, f"{first} {last}".strip()):
            if key:
                table.setdefault(key.lower(), pk)
    return table


def existing_ids(model: type[models.Model], external_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(external_ids), CHUNK):
        chunk = external_ids[start : start + CHUNK]
        found.update(model.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    return found


# --- reading -------------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The header and (line number, row) pairs; Parquet rows are numbered as a CSV would be."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise ImportFileError(f"{path.name}: not a readable Parquet file: {exc}") from exc
        return table.column_names, ((i + 2, row) for i, row in enumerate(table.to_pylist()))
    return read_csv_bytes(path.read_bytes(), path.name)


def read_csv_bytes(data: bytes, name: str) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    try:
        text = codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"{name}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise ImportFileError(f"{name}: binary data is not a CSV file")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise ImportFileError(f"{name}: the file is empty")

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        line = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                yield (
                    line,
                    dict(zip(header, cells, strict=False))
                    | ({EXTRA: cells[len(header) :]} if len(cells) > len(header) else {}),
                )
            line = reader.line_num + 1

    return header, rows()


# --- mapping headers to fields ---------------------------------------------------------------


def map_columns(
    kind: str,
    header: list[str],
    *,
    update: bool = False,
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Header → field, header → custom field name, and the headers ignored."""
    spec = SPECS[kind]
    known: dict[str, str] = {}
    for column in spec:
        model = MODELS.get(kind)
        verbose = str(model._meta.get_field(column.field).verbose_name) if model else column.field
        for name in (column.field, verbose, *column.aliases):
            known.setdefault(normalize_header(name), column.field)
    configured = {}
    mapping = ImportMapping.objects.filter(name=kind).first()
    if mapping:
        configured = {normalize_header(src): dst for src, dst in mapping.columns.items()}
    custom = {}
    if kind == "accounts":
        for definition in CustomFieldDefinition.objects.all():
            for name in (definition.name, definition.label, f"custom_{definition.name}"):
                custom.setdefault(normalize_header(name), definition.name)

    to_field: dict[str, str] = {}
    to_custom: dict[str, str] = {}
    ignored: list[str] = []
    for header_name in header:
        norm = normalize_header(header_name)
        target = configured.get(norm) or known.get(norm)
        if target:
            if target in to_field.values():
                other = next(h for h, f in to_field.items() if f == target)
                raise ImportFileError(f"line 1: columns {other!r} and {header_name!r} both map to {target!r}")
            to_field[header_name] = target
        elif norm in custom:
            to_custom[header_name] = custom[norm]
        else:
            ignored.append(header_name)
    for column in spec:
        if column.required and not update and column.field not in to_field.values():
            raise ImportFileError(f"line 1: missing required column {column.field!r}")
    return to_field, to_custom, ignored


# --- validating ---------------------------------------------------------------------------------


def _lookup_tables(
    kind: str, header_to_field: dict[str, str], rows: list[tuple[int, dict]]
) -> dict[str, dict]:
    fields = set(header_to_field.values())
    tables: dict[str, dict] = {}
    if fields & {"ae", "sa", "csm", "cse", "renewals_manager", "renewal_dri"}:
        tables["user"] = user_table()
    for name, model in (
        ("segment", Segment),
        ("geo", Geo),
        ("persona", Persona),
        ("risk_impact", RiskImpact),
        ("risk_reason", RiskReason),
    ):
        if name in fields:
            tables[name] = name_table(model)
    if "account" in fields:
        header = next(h for h, f in header_to_field.items() if f == "account")
        wanted = sorted({str(row.get(header) or "").strip() for _, row in rows} - {""})
        tables["account"] = {k.lower(): v for k, v in existing_ids(Account, wanted).items()}
    if kind in EXTRA_TABLES:
        tables.update(EXTRA_TABLES[kind](header_to_field, rows))
    return tables


def validate(kind: str, path: Path) -> Validation:
    if kind not in SPECS:
        raise ImportFileError(f"unknown kind {kind!r} (use one of: {', '.join(KINDS)})")
    header, row_iter = read_rows(path)
    return validate_rows(kind, header, list(row_iter))


@paused_gc
def validate_rows(
    kind: str, header: list[str], rows: list[tuple[int, dict]], *, update: bool = False
) -> Validation:
    """Parse and check rows; `update` checks only the given columns of existing records."""
    to_field, to_custom, ignored = map_columns(kind, header, update=update)
    tables = _lookup_tables(kind, to_field, rows)
    columns = {c.field: c for c in SPECS[kind]}
    parsers = {h: columns[f].parser(tables) for h, f in to_field.items()}
    required = {h for h, f in to_field.items() if columns[f].required}
    custom_parsers = _custom_parsers() if to_custom else {}
    result = Validation(
        kind=kind, columns=header, ignored_columns=ignored, headers={f: h for h, f in to_field.items()}
    )

    for line, raw in rows:
        if EXTRA in raw:
            cells = len(header) + len(raw[EXTRA])
            result.error(line, "", f"{cells} cells, the header has {len(header)}")
            continue
        values: dict[str, Any] = {}
        for header_name, parse in parsers.items():
            cell = raw.get(header_name)
            if parsing.is_blank(cell):
                if header_name in required:
                    result.error(line, header_name, "required")
                continue
            try:
                values[to_field[header_name]] = parse(cell)
            except ValueError as exc:
                result.error(line, header_name, str(exc))
        custom = {}
        for header_name, name in to_custom.items():
            cell = raw.get(header_name)
            if not parsing.is_blank(cell):
                try:
                    custom[name] = custom_parsers[name](cell)
                except ValueError as exc:
                    result.error(line, header_name, str(exc))
        if custom:
            values["custom_fields"] = custom
        result.rows.append(ValidatedRow(line, raw, values))
    _check_unique(result, UNIQUE_IN_FILE.get(kind, ("external_id",)))
    if kind == "accounts":
        _check_accounts(result, to_field, update=update)
    if kind in CHECKS:
        CHECKS[kind](result)
    return result


# What identifies a row within one file, when it is not the external id.
UNIQUE_IN_FILE = {"usage": ("account", "instance_id", "snapshot_date")}


def _check_unique(result: Validation, fields: tuple[str, ...]) -> None:
    """A second row with the same identity is an error on that row, naming the first."""
    first_seen: dict[tuple, int] = {}
    column = result.headers.get(fields[-1] if len(fields) > 1 else fields[0], "")
    for row in result.rows:
        key = tuple(row.values.get(f) for f in fields)
        if None in key:
            continue
        if key in first_seen:
            what = f"id {key[0]!r}" if len(fields) == 1 else "row"
            result.error(row.line, column, f"duplicate {what} (first on line {first_seen[key]})")
        else:
            first_seen[key] = row.line


def model_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Parsed values as model attributes: references become `<field>_id`."""
    fields = {}
    for name, value in values.items():
        if name == "parent":
            fields["parent_id"] = existing_ids(Account, [value]).get(value) if value else None
        elif name in FOREIGN_KEYS:
            fields[f"{name}_id"] = value
        else:
            fields[name] = value
    return fields


def _custom_parsers() -> dict[str, parsing.Parser]:
    parsers: dict[str, parsing.Parser] = {}
    by_type = {
        "text": parsing.text(1000),
        "integer": parsing.integer(minimum=None),
        "decimal": lambda v: str(parsing.decimal(max_digits=20, places=4)(v)),
        "date": lambda v: parsing.date(v).isoformat(),
        "boolean": parsing.boolean,
        "url": parsing.url,
    }
    for definition in CustomFieldDefinition.objects.all():
        if definition.type == "choice":
            options = {str(c).lower(): c for c in definition.choices}

            def parse(value, options=options):
                try:
                    return options[str(value).strip().lower()]
                except KeyError:
                    raise ValueError(
                        f"unknown value {value!r} (allowed: {', '.join(map(str, options.values()))})"
                    ) from None

            parsers[definition.name] = parse
        else:
            parsers[definition.name] = by_type[definition.type]
    return parsers


def segment_for_arr(segments: list[Segment], arr) -> Segment | None:
    return next((s for s in segments if s.arr_min <= arr and (s.arr_max is None or arr < s.arr_max)), None)


def sales_segment_for(employees: int) -> str:
    if employees > 2000:
        return SalesSegment.LARGE
    return SalesSegment.MID_MARKET if employees > 100 else SalesSegment.SMB


def _check_accounts(result: Validation, to_field: dict[str, str], *, update: bool) -> None:
    """Checks that need the whole file: parents, derived segments and model rules."""
    header_of = {f: h for h, f in to_field.items()}
    in_file = {r.values["external_id"] for r in result.rows if "external_id" in r.values}
    parents = sorted({r.values["parent"] for r in result.rows if r.values.get("parent")} - in_file)
    known_parents = set(existing_ids(Account, parents))
    auto_segments = [s for s in Segment.objects.all() if s.csm_model != "separate"]
    known = set(existing_ids(Account, sorted(in_file)))
    for row in result.rows:
        values = row.values
        parent = values.get("parent")
        if parent and parent not in in_file and parent not in known_parents:
            result.error(row.line, header_of["parent"], f"unknown parent account {parent!r}")
        if parent and parent == values.get("external_id"):
            result.error(row.line, header_of["parent"], "an account cannot be its own parent")
        new = values.get("external_id") not in known
        if not update and "segment" not in values and (new or "arr" in values):
            # A blank segment follows the ARR ranges (a known account's only when the row gives
            # its ARR: a file without the column must not move it); PubSec-like ones never.
            segment = segment_for_arr(auto_segments, values.get("arr", 0))
            if segment is None:
                result.error(
                    row.line,
                    header_of.get("segment", header_of.get("arr", "")),
                    "no segment covers this ARR; give a segment",
                )
            else:
                values["segment"] = segment.pk
        if "sales_segment" not in values and values.get("employees") is not None:
            values["sales_segment"] = sales_segment_for(values["employees"])
