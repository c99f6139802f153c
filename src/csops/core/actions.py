"""Generic writes every domain's actions build on: validate, save, audit, in one transaction."""

from __future__ import annotations

import secrets
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from csops.core import audit
from csops.core.models import ApiToken, User
from csops.core.signals import account_data_changed
from csops.core.tokens import PREFIX, digest

M = TypeVar("M", bound=models.Model)


def _announce(obj: models.Model) -> None:
    """Tell whoever listens (rules) that an account's data changed: the account itself, or an
    object of one (contact, opportunity, ticket, activity, CTA…)."""
    account_id = obj.pk if obj._meta.label == "customers.Account" else getattr(obj, "account_id", None)
    if account_id is not None:
        account_data_changed.send(sender=type(obj), account_ids=[account_id])


@transaction.atomic
def create_object(model: type[M], *, actor: User | None, source: str = "web",
                  **fields: Any) -> M:
    obj = model(**fields)
    obj.full_clean()
    obj.save()
    audit.record(actor=actor, verb="create", obj=obj, changes=audit.diff({}, audit.snapshot(obj)),
                 source=source)
    _announce(obj)
    return obj


@transaction.atomic
def update_object(obj: M, *, actor: User | None, source: str = "web", **fields: Any) -> M:
    """Apply `fields`; a call that changes nothing writes nothing, so retries are harmless."""
    before = audit.snapshot(obj)
    for name, value in fields.items():
        setattr(obj, name, value)
    changes = audit.diff(before, audit.snapshot(obj))
    if not changes:
        return obj
    obj.full_clean()
    obj.save()
    audit.record(actor=actor, verb="update", obj=obj, changes=changes, source=source)
    _announce(obj)
    return obj


@transaction.atomic
def delete_object(obj: models.Model, *, actor: User | None, source: str = "web") -> None:
    before, pk = audit.snapshot(obj), obj.pk
    obj.delete()
    obj.pk = pk
    audit.record(actor=actor, verb="delete", obj=obj, changes=audit.diff(before, {}),
                 source=source)
    if obj._meta.label != "customers.Account":
        _announce(obj)


@transaction.atomic
def create_token(user: User, *, actor: User | None, name: str = "") -> tuple[ApiToken, str]:
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=secret[:12], digest=digest(secret))
    audit.record(actor=actor, verb="create", obj=token, changes={"user": [None, user.username]},
                 source="cli")
    return token, secret



@transaction.atomic
def revoke_token(token: ApiToken, *, actor: User | None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=actor, verb="update", obj=token,
                     changes={"revoked_at": [None, token.revoked_at.isoformat()]}, source="cli")


DEMO_LOGINS = (
    ("admin", "CS Ops admin: configuration, import, everything", {"role": "admin", "function": "cs_ops"}),
    ("reviewer", "Second CS Ops admin: reviews admin's changes", {"role": "admin", "function": "cs_ops"}),
    ("csm.amer.1", "CSM with a book of AMER accounts", {"role": "csm", "function": "csm"}),
    ("ae.amer.1", "Account owner (AE): opportunities", {"role": "account_owner", "function": "ae"}),
    ("cs-manager.amer", "Leader: read-only", {"role": "viewer", "function": "leader"}),
)


@transaction.atomic
def set_demo_logins(password: str) -> list[tuple[str, str]]:
    """One login per role for the demo, all with `password`; re-running resets it."""
    logins = []
    for username, description, fields in DEMO_LOGINS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.first_name, user.last_name = username.split(".")[0].title(), "Demo"
            user.email = f"{username}@example.com"
        user.role, user.function = fields["role"], fields["function"]
        user.is_staff = user.is_superuser = fields["role"] == "admin"
        user.set_password(password)
        user.save()
        logins.append((username, description))
    return logins
