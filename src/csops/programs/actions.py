"""Writes to programs: enrolments (the journeys' steps and sending come with the programs engine)."""

from __future__ import annotations

from django.db import transaction

from csops.core import audit
from csops.programs.models import Enrolment, Program

BATCH = 2000


def enrol_contacts(*, program_name: str, rows: list[dict], source_ref: str, source: str = "rule") -> int:
    """Enrol each row's contact (account_id, contact_id, key) once: a key already enrolled is left
    alone, so re-running, or two runners racing, never enrols anyone twice. Returns how many are new."""
    program = Program.objects.get(name=program_name)
    made = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        with transaction.atomic():
            keys = [row["key"] for row in batch]
            before = set(Enrolment.objects.filter(key__in=keys).values_list("key", flat=True))
            Enrolment.objects.bulk_create(
                [
                    Enrolment(
                        program=program,
                        account_id=row["account_id"],
                        contact_id=row["contact_id"],
                        key=row["key"],
                        source=source,
                        source_ref=source_ref,
                    )
                    for row in batch
                    if row["key"] not in before
                ],
                ignore_conflicts=True,
            )
            new = Enrolment.objects.filter(key__in=set(keys) - before).values_list("pk", "key")
            audit.record_many(
                audit.entry(
                    actor=None,
                    verb="create",
                    obj=Enrolment(pk=pk, key=key, program=program),
                    source=source,
                    changes={"program": [None, program.name], "by": [None, source_ref]},
                )
                for pk, key in new
            )
            made += len(new)
    return made
