"""Cell parsers shared by the import and the API: a raw value in, a model value out.

A parser raises ValueError with a reason a person can act on; the caller adds line and column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import models

Parser = Callable[[Any], Any]

TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}
_validate_email = EmailValidator()
_validate_url = URLValidator(schemes=["http", "https"])


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(max_length: int) -> Parser:
    def parse(value: Any) -> str:
        value = str(value).strip()
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return value
    return parse


def decimal(*, max_digits: int = 14, places: int = 2, minimum: Decimal | None = None) -> Parser:
    limit = Decimal(10) ** (max_digits - places)

    def parse(value: Any) -> Decimal:
        if isinstance(value, float | int | Decimal):
            number = Decimal(str(value))
        else:
            cleaned = re.sub(r"[\s,$€£]", "", str(value))
            try:
                number = Decimal(cleaned)
            except InvalidOperation:
                raise ValueError(f"not a number: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a number: {value!r}")
        # Checked before rounding too: quantizing a huge number overflows the decimal context.
        if abs(number) >= limit:
            raise ValueError(f"too large: {value!r}")
        number = number.quantize(Decimal(1).scaleb(-places))
        if abs(number) >= limit:
            raise ValueError(f"too large: {value!r}")
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum}")
        return number
    return parse


def integer(*, minimum: int | None = 0) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"not a whole number: {value!r}")
        if isinstance(value, int):
            number = value
        else:
            try:
                as_decimal = Decimal(re.sub(r"[\s,]", "", str(value)))
            except InvalidOperation:
                raise ValueError(f"not a whole number: {value!r}") from None
            if not as_decimal.is_finite() or as_decimal != as_decimal.to_integral_value():
                raise ValueError(f"not a whole number: {value!r}")
            number = int(as_decimal)
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum}")
        if abs(number) > 2**31 - 1:
            raise ValueError(f"too large: {value!r}")
        return number
    return parse


def date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = str(value).strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(raw[:10] if fmt == "%Y-%m-%d" else raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date (use YYYY-MM-DD): {value!r}")


def datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        raw = str(value).strip().replace("Z", "+00:00")
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"not a date-time (use ISO 8601): {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raw = str(value).strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ValueError(f"not yes/no: {value!r}")


def _fold(value: str) -> str:
    return re.sub(r"[\s_\-]", "", value.lower())


def choice(choices: type[models.TextChoices]) -> Parser:
    lookup = {}
    for value, label in choices.choices:
        lookup[_fold(value)] = value
        lookup[_fold(label)] = value

    def parse(value: Any) -> str:
        try:
            return lookup[_fold(str(value))]
        except KeyError:
            allowed = ", ".join(label for _, label in choices.choices)
            raise ValueError(f"unknown value {value!r} (allowed: {allowed})") from None
    return parse


def email(value: Any) -> str:
    raw = str(value).strip()
    try:
        _validate_email(raw)
    except ValidationError:
        raise ValueError(f"not an email address: {value!r}") from None
    return raw


def url(value: Any) -> str:
    raw = str(value).strip()
    try:
        _validate_url(raw)
    except ValidationError:
        raise ValueError(f"not a URL: {value!r}") from None
    return raw


def lookup(table: Mapping[str, Any], what: str) -> Parser:
    """A name (matched without regard to case) to the id of an existing row."""
    def parse(value: Any) -> Any:
        try:
            return table[str(value).strip().lower()]
        except KeyError:
            raise ValueError(f"unknown {what} {value!r}") from None
    return parse
