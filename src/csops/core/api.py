"""What every domain's API shares: authentication, permission checks, errors, filters."""

from __future__ import annotations

from typing import Any

import pydantic
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination
from ninja.security import HttpBearer, django_auth

from csops.core import tokens
from csops.core.permissions import has_perm


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = tokens.authenticate(token)
        if user is not None:
            request.user = user
        return user


AUTH = [BearerToken(), django_auth]
MAX_PAGE = 1000
MAX_OFFSET = 10**12


def require(request: HttpRequest, perm: str) -> None:
    if not has_perm(request.user, perm):
        raise HttpError(403, f"You need the '{perm}' permission.")


def filter_schema(filterset_class, name: str) -> type[pydantic.BaseModel]:
    """Query parameters for the OpenAPI spec, from the same filterset the HTML list uses."""
    fields: dict[str, Any] = {
        filter_name: (list[str] | None if _is_multiple(f) else str | None,
                      pydantic.Field(None, description=str(f.label or filter_name)))
        for filter_name, f in filterset_class.base_filters.items()
    }
    return pydantic.create_model(name, **fields)


def _is_multiple(django_filter) -> bool:
    return "Multiple" in type(django_filter).__name__


def filtered(request: HttpRequest, filterset_class, queryset):
    filterset = filterset_class(request.GET, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        return [{"loc": [field], "msg": " ".join(messages)}
                for field, messages in exc.message_dict.items()]
    return [{"loc": [], "msg": " ".join(exc.messages)}]


class Pagination(LimitOffsetPagination):
    """limit/offset with bounds: a huge offset would overflow SQLite's 64-bit integers (a 500)."""

    class Input(Schema):
        limit: int = Field(100, ge=1, le=MAX_PAGE, description=f"Rows per page, at most {MAX_PAGE}.")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE, **kwargs)
