"""Every write to customer data: one function per verb, transactional, audited."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from csops.core import audit
from csops.core.actions import create_object, delete_object, update_object
from csops.core.bulk import paused_gc
from csops.core.models import User
from csops.core.signals import account_data_changed
from csops.customers.imports import (
    FOREIGN_KEYS,
    MODELS,
    RowError,
    ValidatedRow,
    Validation,
    existing_ids,
    validate_rows,
)
from csops.customers.models import Account, Contact, Geo, ImportRun, Opportunity, SupportTicket
from csops.customers.synthetic import Dataset, Person

BATCH = 1000


def create_account(*, actor: User | None, source: str = "web", **fields: Any) -> Account:
    return create_object(Account, actor=actor, source=source, **fields)


def update_account(account: Account, *, actor: User | None, source: str = "web",
                   **fields: Any) -> Account:
    return update_object(account, actor=actor, source=source, **fields)


def delete_account(account: Account, *, actor: User | None, source: str = "web") -> None:
    delete_object(account, actor=actor, source=source)


def create_contact(*, actor: User | None, source: str = "web", **fields: Any) -> Contact:
    return create_object(Contact, actor=actor, source=source, **fields)


def update_contact(contact: Contact, *, actor: User | None, source: str = "web",
                   **fields: Any) -> Contact:
    return update_object(contact, actor=actor, source=source, **fields)


def delete_contact(contact: Contact, *, actor: User | None, source: str = "web") -> None:
    delete_object(contact, actor=actor, source=source)


def create_opportunity(*, actor: User | None, source: str = "web", **fields: Any) -> Opportunity:
    return create_object(Opportunity, actor=actor, source=source, **fields)


def update_opportunity(opportunity: Opportunity, *, actor: User | None, source: str = "web",
                       **fields: Any) -> Opportunity:
    return update_object(opportunity, actor=actor, source=source, **fields)


def delete_opportunity(opportunity: Opportunity, *, actor: User | None, source: str = "web") -> None:
    delete_object(opportunity, actor=actor, source=source)


def create_ticket(*, actor: User | None, source: str = "web", **fields: Any) -> SupportTicket:
    return create_object(SupportTicket, actor=actor, source=source, **fields)


def update_ticket(ticket: SupportTicket, *, actor: User | None, source: str = "web",
                  **fields: Any) -> SupportTicket:
    return update_object(ticket, actor=actor, source=source, **fields)


def delete_ticket(ticket: SupportTicket, *, actor: User | None, source: str = "web") -> None:
    delete_object(ticket, actor=actor, source=source)


# --- import ----------------------------------------------------------------------------------

class ImportRejected(Exception):
    """The file has bad rows and --partial was not given: nothing was written."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(f"{len(errors)} error(s); nothing was imported")


def _assign(obj: models.Model, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "parent":
            continue
        if name == "custom_fields":
            obj.custom_fields = {**(obj.custom_fields or {}), **value}
        elif name in FOREIGN_KEYS:
            setattr(obj, f"{name}_id", value)
        else:
            setattr(obj, name, value)


def _plan_rows(validation: Validation) -> tuple[list, list, int]:
    """Split valid rows into creations and updates, applying model rules to the merged row."""
    model = MODELS[validation.kind]
    rows = validation.valid_rows
    pks = existing_ids(model, [r.values["external_id"] for r in rows])
    existing = {}
    for start in range(0, len(pks), 900):
        chunk = list(pks.values())[start:start + 900]
        existing.update({o.external_id: o for o in model.objects.filter(pk__in=chunk)})
    creates: list[tuple[ValidatedRow, models.Model]] = []
    updates: list[tuple[ValidatedRow, models.Model, dict]] = []
    unchanged = 0
    for row in rows:
        obj = existing.get(row.values["external_id"])
        before = audit.snapshot(obj) if obj else None
        obj = obj or model()
        _assign(obj, row.values)
        try:
            obj.clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                column = validation.headers.get(name, name)
                validation.error(row.line, column, " ".join(messages))
            continue
        if before is None:
            creates.append((row, obj))
            continue
        changes = audit.diff(before, audit.snapshot(obj))
        if changes:
            updates.append((row, obj, changes))
        else:
            unchanged += 1
    return creates, updates, unchanged


def _link_parents(rows: list[ValidatedRow]) -> None:
    wanted = [r for r in rows if r.values.get("parent")]
    if not wanted:
        return
    ids = existing_ids(Account, sorted({r.values["parent"] for r in wanted}
                                       | {r.values["external_id"] for r in wanted}))
    children = []
    for row in wanted:
        child = Account(pk=ids[row.values["external_id"]], parent_id=ids[row.values["parent"]])
        children.append(child)
    Account.objects.bulk_update(children, ["parent"], batch_size=BATCH)


def record_import_run(validation: Validation, *, actor: User | None, file_name: str, partial: bool,
                      created: int, updated: int, unchanged: int = 0, started: float,
                      source: str = "import") -> ImportRun:
    """The import's run, for the import page and the audit trail (inside the import's transaction)."""
    run = ImportRun.objects.create(
        kind=validation.kind, file_name=file_name[:255], actor=actor if actor and actor.pk else None,
        partial=partial, rows=len(validation.rows), created=created, updated=updated,
        unchanged=unchanged, failed=len(validation.bad_lines), seconds=round(time.monotonic() - started, 3),
    )
    audit.record(actor=actor, verb="create", obj=run, source=source, changes={
        "created": [None, run.created], "updated": [None, run.updated], "failed": [None, run.failed],
    })
    return run


def write_error_file(validation: Validation, path: Path) -> None:
    by_line: dict[int, list[str]] = {}
    for error in validation.errors:
        by_line.setdefault(error.line, []).append(
            f"{error.column}: {error.reason}" if error.column else error.reason
        )
    raw_by_line = {r.line: r.raw for r in validation.rows}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "errors", *validation.columns])
        for line in sorted(by_line):
            raw = raw_by_line.get(line, {})
            writer.writerow([line, "; ".join(by_line[line]),
                             *(raw.get(c, "") for c in validation.columns)])


@paused_gc
def import_records(validation: Validation, *, actor: User | None, file_name: str,
                   partial: bool = False, error_path: Path | None = None,
                   audit_rows: bool = True, source: str = "import") -> ImportRun:
    """Upsert the validated rows by external id: all or nothing, unless `partial`."""
    started = time.monotonic()
    if validation.errors and not partial:
        raise ImportRejected(validation.errors)
    creates, updates, unchanged = _plan_rows(validation)
    if validation.errors and not partial:
        raise ImportRejected(validation.errors)
    model = MODELS[validation.kind]
    with transaction.atomic():
        model.objects.bulk_create([obj for _, obj in creates], batch_size=BATCH)
        if updates:
            fields = {name for _, _, changes in updates for name in changes}
            if hasattr(model, "updated_at"):
                fields.add("updated_at")
            model.objects.bulk_update([obj for _, obj, _ in updates], sorted(fields),
                                      batch_size=BATCH)
        if validation.kind == "accounts":
            _link_parents([row for row, _ in creates] + [row for row, _, _ in updates])
        if audit_rows:
            _audit_rows(model, creates, updates, actor, source)
        if source != "seed":
            _announce_rows(model, [obj for _, obj in creates] + [obj for _, obj, _ in updates])
        run = record_import_run(validation, actor=actor, file_name=file_name, partial=partial,
                                created=len(creates), updated=len(updates), unchanged=unchanged,
                                started=started, source=source)
    if validation.errors and error_path is not None:
        write_error_file(validation, error_path)
    return run


def _announce_rows(model, objects: list[models.Model]) -> None:
    if model is Account:
        ids = list(existing_ids(Account, [o.external_id for o in objects]).values())
    else:
        ids = sorted({o.account_id for o in objects})
    account_data_changed.send(sender=model, account_ids=ids)


def _audit_rows(model, creates, updates, actor, source) -> None:
    missing = [obj.external_id for _, obj in creates if obj.pk is None]
    if missing:
        ids = existing_ids(model, missing)
        for _, obj in creates:
            obj.pk = obj.pk or ids[obj.external_id]
    entries = [audit.entry(actor=actor, verb="create", obj=obj, source=source,
                           changes={k: [None, v] for k, v in audit.snapshot(obj).items()
                                    if v not in (None, "", {})})
               for _, obj in creates]
    entries += [audit.entry(actor=actor, verb="update", obj=obj, changes=changes, source=source)
                for _, obj, changes in updates]
    audit.record_many(entries)


# --- synthetic data ------------------------------------------------------------------------

@transaction.atomic
def ensure_people(people: list[Person]) -> int:
    """Create or update the seeded team; people keep any password they were given."""
    geos = dict(Geo.objects.values_list("name", "pk"))
    existing = {u.username: u for u in User.objects.filter(username__in=[p.username for p in people])}
    created = [User(username=p.username) for p in people if p.username not in existing]
    for user in created:
        user.set_unusable_password()
    User.objects.bulk_create(created, batch_size=BATCH)
    users = {u.username: u for u in User.objects.filter(username__in=[p.username for p in people])}
    for person in people:
        user = users[person.username]
        user.first_name, user.last_name = person.first_name, person.last_name
        user.email, user.function, user.role = person.email, person.function, person.role
        user.is_pool = person.is_pool
        user.geo_id = geos.get(person.geo) if person.geo else None
        user.pool = users.get(person.pool) if person.pool else None
        user.manager = users.get(person.manager) if person.manager else None
    User.objects.bulk_update(users.values(), ["first_name", "last_name", "email", "function", "role",
                                              "is_pool", "geo", "pool", "manager"], batch_size=BATCH)
    return len(created)


def seed_customers(dataset: Dataset, *, actor: User | None,
                   progress: Callable[[str], None] = lambda message: None) -> list[ImportRun]:
    """Write a generated data set through the import path, kind by kind."""
    if dataset.people:
        ensure_people(dataset.people)
    runs = []
    for kind in ("accounts", "contacts", "opportunities", "tickets"):
        rows = getattr(dataset, kind)
        if not rows:
            continue
        started = time.monotonic()
        validation = validate_rows(kind, list(rows[0]), [(i + 2, r) for i, r in enumerate(rows)])
        run = import_records(validation, actor=actor, file_name=f"synthetic {kind}",
                             audit_rows=False, source="seed")
        progress(f"{kind}: {run.created} created, {run.updated} updated, "
                 f"{run.unchanged} unchanged in {time.monotonic() - started:.1f}s")
        runs.append(run)
    return runs
