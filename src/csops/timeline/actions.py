"""Writes to the timeline."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction

from csops.cockpit.models import Cta
from csops.core import audit
from csops.core.actions import create_object
from csops.core.bulk import paused_gc
from csops.core.models import User
from csops.customers.actions import ImportRejected, record_import_run, write_error_file
from csops.customers.imports import CHUNK, Validation
from csops.customers.models import Account, Contact, ImportRun
from csops.timeline.models import Activity, ActivityType
from csops.usage.synthetic import account_fit


@transaction.atomic
def log_activity(
    account: Account,
    *,
    author: User | None,
    type: ActivityType,
    subject: str,
    date: dt.date,
    notes: str = "",
    sentiment: str = "",
    internal_attendees: Sequence[User] = (),
    external_attendees: Sequence[Contact] = (),
    cta: Cta | None = None,
    external_id: str | None = None,
    source: str = "web",
) -> Activity:
    """Log an activity; external attendees must be the account's own contacts, and a linked CTA
    must be one of the account's CTAs. With an external id, logging it again returns the first."""
    if external_id and (known := Activity.objects.filter(external_id=external_id).first()):
        if known.account_id != account.pk:
            raise ValidationError({"external_id": f"{external_id!r} is an activity of another account."})
        return known
    strangers = [c for c in external_attendees if c.account_id != account.pk]
    if strangers:
        raise ValidationError({"external_attendees": f"{strangers[0]} is not a contact of {account}."})
    if cta is not None and cta.account_id != account.pk:
        raise ValidationError({"cta": f"The CTA {cta.name!r} is on another account, not {account}."})
    activity = create_object(
        Activity,
        actor=author,
        source=source,
        account=account,
        author=author,
        type=type,
        subject=subject,
        date=date,
        notes=notes,
        sentiment=sentiment,
        cta=cta,
        external_id=external_id or None,
    )
    activity.internal_attendees.set(internal_attendees)
    activity.external_attendees.set(external_attendees)
    return activity


# --- import ----------------------------------------------------------------------------------

IMPORT_BATCH = 1000
# Import column → model attribute.
IMPORTED = {
    "external_id": "external_id",
    "account": "account_id",
    "type": "type_id",
    "subject": "subject",
    "date": "date",
    "notes": "notes",
    "sentiment": "sentiment",
    "author": "author_id",
    "cta": "cta_id",
}
Attendees = Activity.external_attendees.through


@paused_gc
def import_activities(
    validation: Validation,
    *,
    actor: User | None,
    file_name: str,
    partial: bool = False,
    error_path: Path | None = None,
    source: str = "import",
) -> ImportRun:
    """Upsert validated activity rows by external id, with their customer attendees: all or
    nothing unless `partial`. Blank cells leave a known activity's value as it was."""
    started = time.monotonic()
    if validation.errors and not partial:
        raise ImportRejected(validation.errors)
    creates, updates, unchanged = _plan_activities(validation)
    with transaction.atomic():
        _write_creates(creates)
        _write_updates(updates)
        audit.record_many(
            [_created_entry(activity, attendees, actor, source) for activity, attendees in creates]
            + [audit.entry(actor=actor, verb="update", obj=a, changes=changes, source=source)
               for a, changes, _ in updates]
        )
        run = record_import_run(validation, actor=actor, file_name=file_name, partial=partial,
                                created=len(creates), updated=len(updates), unchanged=unchanged,
                                started=started, source=source)
    if validation.errors and error_path is not None:
        write_error_file(validation, error_path)
    return run


def _plan_activities(validation: Validation) -> tuple[list, list, int]:
    rows = validation.valid_rows
    existing = _known_activities([r.values["external_id"] for r in rows])
    creates: list[tuple[Activity, list[int]]] = []
    updates: list[tuple[Activity, dict, list[int] | None]] = []
    unchanged = 0
    for row in rows:
        fields = {IMPORTED[k]: v for k, v in row.values.items() if k in IMPORTED}
        attendees = row.values.get("external_attendees")
        activity = existing.get(row.values["external_id"])
        if activity is None:
            creates.append((Activity(**fields), attendees or []))
            continue
        before = audit.snapshot(activity)
        for name, value in fields.items():
            setattr(activity, name, value)
        changes = audit.diff(before, audit.snapshot(activity))
        if attendees is not None and set(attendees) != activity.attendee_ids:
            changes["external_attendees"] = (sorted(activity.attendee_ids), sorted(attendees))
        else:
            attendees = None
        if changes:
            updates.append((activity, changes, attendees))
        else:
            unchanged += 1
    return creates, updates, unchanged


def _known_activities(external_ids: list[str]) -> dict[str, Activity]:
    found: dict[str, Activity] = {}
    for start in range(0, len(external_ids), CHUNK):
        chunk = external_ids[start : start + CHUNK]
        for activity in Activity.objects.filter(external_id__in=chunk):
            activity.attendee_ids = set()
            found[activity.external_id] = activity
        for contact_id, external_id in Attendees.objects.filter(
            activity__external_id__in=chunk
        ).values_list("contact_id", "activity__external_id"):
            found[external_id].attendee_ids.add(contact_id)
    return found


def _write_creates(creates: list[tuple[Activity, list[int]]]) -> None:
    activities = [activity for activity, _ in creates]
    Activity.objects.bulk_create(activities, batch_size=IMPORT_BATCH)
    missing = [a for a in activities if a.pk is None]  # databases that return no ids from a bulk insert
    if missing:
        ids = dict(
            Activity.objects.filter(external_id__in=[a.external_id for a in missing]).values_list(
                "external_id", "pk"
            )
        )
        for activity in missing:
            activity.pk = ids[activity.external_id]
    Attendees.objects.bulk_create(
        [Attendees(activity_id=a.pk, contact_id=c) for a, people in creates for c in people],
        batch_size=IMPORT_BATCH,
    )


def _write_updates(updates: list[tuple[Activity, dict, list[int] | None]]) -> None:
    # Changes are keyed by attribute (account_id…), which bulk_update accepts as well.
    fields = sorted({name for _, changes, _ in updates for name in changes} - {"external_attendees"})
    if fields:
        Activity.objects.bulk_update([a for a, _, _ in updates], fields, batch_size=IMPORT_BATCH)
    replaced = [(a, people) for a, _, people in updates if people is not None]
    if replaced:
        Attendees.objects.filter(activity_id__in=[a.pk for a, _ in replaced]).delete()
        Attendees.objects.bulk_create(
            [Attendees(activity_id=a.pk, contact_id=c) for a, people in replaced for c in people],
            batch_size=IMPORT_BATCH,
        )


def _created_entry(activity: Activity, attendees: list[int], actor: User | None, source: str):
    changes = {k: [None, v] for k, v in audit.snapshot(activity).items() if v not in (None, "")}
    if attendees:
        changes["external_attendees"] = [None, sorted(attendees)]
    return audit.entry(actor=actor, verb="create", obj=activity, changes=changes, source=source)


def seed_activities(*, end: dt.date, seed: int = 1, days: int = 180) -> int:
    """Synthetic calls and meetings for CSM-managed accounts; well-fitting accounts meet more often.

    Re-running replaces the synthetic activities (those without an author)."""

    rng = random.Random(seed)
    types = {t.name: t for t in ActivityType.objects.filter(counts_as_meeting=True)}
    if not types:
        return 0
    accounts = list(
        Account.objects.filter(csm__isnull=False, csm__is_pool=False).values_list("pk", flat=True)
    )
    fits = (
        dict(zip(accounts, account_fit(np.array(accounts, np.int64), seed), strict=True)) if accounts else {}
    )
    contacts: dict[int, list[int]] = {}
    for contact_id, account_id in Contact.objects.filter(account_id__in=accounts).values_list(
        "pk", "account_id"
    ):
        contacts.setdefault(account_id, []).append(contact_id)
    activities, attendees = [], []
    for account_id in accounts:
        gap = 20 + (1 - fits[account_id]) * 80  # days between meetings
        day = end - dt.timedelta(days=rng.uniform(0, gap))
        while (end - day).days < days:
            kind = rng.choice(
                ["Cadence Call", "Cadence Call", "Customer Call", "In-Person Meeting", "Workshop"]
            )
            activities.append(
                Activity(
                    account_id=account_id,
                    type=types.get(kind, next(iter(types.values()))),
                    subject=f"{kind} with the team",
                    date=day,
                    sentiment=rng.choice(["green", "green", "yellow", "red"]),
                )
            )
            people = contacts.get(account_id, [])
            attendees.append(rng.sample(people, min(len(people), rng.randint(1, 3))) if people else [])
            day -= dt.timedelta(days=rng.uniform(0.6, 1.4) * gap)
    with transaction.atomic():
        Activity.objects.filter(author__isnull=True, account_id__in=accounts).delete()
        Activity.objects.bulk_create(activities, batch_size=2000)
        through = Activity.external_attendees.through
        through.objects.bulk_create(
            [
                through(activity_id=a.pk, contact_id=c)
                for a, people in zip(activities, attendees, strict=True)
                for c in people
            ],
            batch_size=5000,
        )
    return len(activities)
