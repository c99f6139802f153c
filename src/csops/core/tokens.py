"""API bearer tokens: the secret is shown once; only its SHA-256 is kept."""

from __future__ import annotations

import hashlib

from django.utils import timezone

from csops.core.models import ApiToken, User

PREFIX = "csops_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate(secret: str) -> User | None:
    token = (ApiToken.objects.select_related("user")
             .filter(digest=digest(secret), revoked_at__isnull=True).first())
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute so reads stay reads.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
