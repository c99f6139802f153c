"""The audit trail: a row per create, update and delete made through an action."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from csops.core.models import AuditEntry, User


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's concrete field values, JSON-ready, foreign keys as ids."""
    return {
        f.attname: json_value(getattr(obj, f.attname))
        for f in obj._meta.concrete_fields
        if not getattr(f, "auto_now", False) and not getattr(f, "auto_now_add", False)
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    keys = before.keys() | after.keys()
    return {
        k: (before.get(k), after.get(k)) for k in sorted(keys) if before.get(k) != after.get(k)
    }


def entry(*, actor: User | None, verb: str, obj: models.Model, changes: dict,
          source: str) -> AuditEntry:
    return AuditEntry(
        actor=actor if actor and actor.pk else None,
        verb=verb,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=changes,
        source=source,
    )


def record(*, actor: User | None, verb: str, obj: models.Model, changes: dict,
           source: str = "web") -> AuditEntry:
    audit_entry = entry(actor=actor, verb=verb, obj=obj, changes=changes, source=source)
    audit_entry.save()
    return audit_entry


def record_many(entries: Iterable[AuditEntry]) -> None:
    AuditEntry.objects.bulk_create(entries, batch_size=2000)
