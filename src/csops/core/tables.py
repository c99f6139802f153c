"""Table declarations for list pages and CSV exports: one column list serves both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class Column:
    accessor: str  # dotted path from the row, e.g. "segment.name"
    label: str
    sort: str | None = None  # order_by expression; None when the column does not sort
    link: bool = False  # render as a link to the row's detail page
    numeric: bool = False
    display: Callable[[Any], str] | None = None
    pill: bool = False  # render as a coloured badge: the value is its colour (red, yellow, green)

    def value(self, row: models.Model) -> Any:
        value: Any = row
        for part in self.accessor.split("."):
            if value is None:
                return None
            value = getattr(value, part)
            if callable(value) and not isinstance(value, models.Model):
                value = value()
        return value

    def text(self, row: models.Model) -> str:
        value = self.value(row)
        if value is None:
            return ""
        return self.display(value) if self.display else str(value)


def rows_for(columns: list[Column], objects) -> list[dict]:
    return [{"object": obj, "cells": [(c, c.value(obj), c.text(obj)) for c in columns]}
            for obj in objects]
