"""Reads for the governance pages: change requests, the changelog and configuration history."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from csops.core.configuration import REGISTRY, ConfigKind, dump_object
from csops.core.models import ConfigVersion
from csops.governance.models import ChangeRequest, Review, Status


def change_requests() -> QuerySet[ChangeRequest]:
    return ChangeRequest.objects.select_related(
        "author", "applied_by", "ops_request", "config_change"
    ).prefetch_related(
        "items", Prefetch("reviews", queryset=Review.objects.select_related("reviewer"))
    )


def changelog() -> QuerySet[ChangeRequest]:
    """Every applied change, newest first: what, why, author, reviewers, request."""
    return change_requests().filter(status=Status.APPLIED).order_by("-applied_at", "-number")


def kinds() -> list[ConfigKind]:
    return sorted(REGISTRY.values(), key=lambda k: (k.order, k.name))


def config_kind(name: str) -> ConfigKind | None:
    return REGISTRY.get(name)


def objects_of(kind: ConfigKind) -> list[tuple[str, dict]]:
    rows = kind.model.objects.all()
    return [(getattr(o, kind.key), dump_object(kind, o)) for o in rows]


def current(kind: ConfigKind, key: str) -> dict | None:
    obj = kind.model.objects.filter(**{kind.key: key}).first()
    return dump_object(kind, obj) if obj else None


def versions(kind: str, key: str) -> QuerySet[ConfigVersion]:
    return ConfigVersion.objects.filter(kind=kind, key=key).select_related(
        "change", "change__actor", "change__change_request"
    ).order_by("-version")


def open_changes_for(kind: str, key: str) -> QuerySet[ChangeRequest]:
    return ChangeRequest.objects.filter(
        status__in=[Status.OPEN, Status.CHANGES_REQUESTED], items__kind=kind, items__key=key
    ).select_related("author")
