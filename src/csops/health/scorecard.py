"""A scorecard definition (from YAML) checked and turned into plain dataclasses.

Everything a CS Ops admin can change lives in the definition: groups and weights, measures and
their expressions, thresholds, the licence matrix, composites, N/A rules, overrides, bands.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from csops.health.expressions import ExpressionError, parse
from csops.health.features import FEATURES
from csops.health.models import Scorecard as ScorecardRow

COLORS = ("red", "yellow", "green")  # index = colour code: 0 red, 1 yellow, 2 green
FORMATS = ("percent", "number", "days", "color")


class ScorecardError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    when: str
    reason: str = ""


@dataclass(frozen=True)
class Matrix:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (condition on value, colour per column)


@dataclass(frozen=True)
class Measure:
    key: str
    name: str
    weight: float
    value: str | None = None
    format: str = "number"
    green: str | None = None
    yellow: str | None = None
    matrix: Matrix | None = None
    color: str | None = None  # an expression that already gives 'green'/'yellow'/'red'
    parts: tuple[Measure, ...] = ()
    green_at_least: int = 0
    na_when: tuple[Condition, ...] = ()
    stale_when: str | None = None


@dataclass(frozen=True)
class Group:
    name: str
    weight: float
    measures: tuple[Measure, ...]


@dataclass(frozen=True)
class NaRule:
    when: str
    reason: str
    measures: tuple[str, ...] = ()  # empty: every measure
    exempt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Override:
    """Force the overall colour, when a condition holds or when a measure has a given colour."""

    when: str | None
    color: str
    reason: str
    measure: str | None = None
    measure_color: str | None = None


@dataclass(frozen=True)
class Scorecard:
    name: str
    groups: tuple[Group, ...]
    bands: dict[str, float] = field(default_factory=lambda: {"green": 75, "yellow": 50})
    color_scores: dict[str, float] = field(default_factory=lambda: {"green": 100, "yellow": 62, "red": 25})
    na_rules: tuple[NaRule, ...] = ()
    overrides: tuple[Override, ...] = ()
    adoption_measures: tuple[str, ...] = ()
    adoption_success_at: int = 3

    @property
    def measures(self) -> list[Measure]:
        return [m for g in self.groups for m in g.measures]


def fingerprint(scorecard: Scorecard) -> str:
    """Changes whenever anything in the scorecard does: a cache key for its compiled SQL."""
    return hashlib.sha1(repr(scorecard).encode(), usedforsecurity=False).hexdigest()


def _require(data: dict, key: str, where: str) -> Any:
    if key not in data or data[key] in (None, ""):
        raise ScorecardError(f"{where}: '{key}' is required")
    return data[key]


def _expr(text: Any, where: str, names: set[str]) -> str:
    try:
        parse(text, names)
    except ExpressionError as exc:
        raise ScorecardError(f"{where}: {exc}") from None
    return str(text)


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScorecardError(f"{where}: weight must be a number >= 0")
    return float(value)


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ScorecardError(
            f"{where}: unknown field '{sorted(unknown)[0]}' (allowed: {', '.join(sorted(allowed))})"
        )


MEASURE_FIELDS = {
    "key",
    "name",
    "weight",
    "value",
    "format",
    "green",
    "yellow",
    "matrix",
    "color",
    "composite",
    "na_when",
    "stale_when",
    "description",
}


def _measure(data: dict, where: str, weighted: bool = True) -> Measure:
    if not isinstance(data, dict):
        raise ScorecardError(f"{where}: expected a mapping")
    _check_keys(data, MEASURE_FIELDS, where)
    key = _require(data, "key", where)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", str(key)):
        raise ScorecardError(f"{where}: key {key!r}: use lower-case letters, digits and _")
    where = f"{where} ({key})"
    names = set(FEATURES)
    value = _expr(data["value"], f"{where}: value", names) if data.get("value") is not None else None
    with_value = names | {"value"}
    kinds = [k for k in ("green", "matrix", "color", "composite") if k in data]
    if len(kinds) != 1:
        raise ScorecardError(
            f"{where}: give exactly one of green/yellow thresholds, matrix, color or composite"
        )
    if kinds[0] in ("green", "matrix") and value is None:
        raise ScorecardError(f"{where}: thresholds and matrices need a 'value'")
    matrix = None
    if "matrix" in data:
        matrix = _matrix(data["matrix"], f"{where}: matrix", with_value)
    parts: tuple[Measure, ...] = ()
    green_at_least = 0
    if "composite" in data:
        composite = data["composite"]
        if not isinstance(composite, dict) or not isinstance(composite.get("parts"), list):
            raise ScorecardError(f"{where}: composite needs 'parts' (a list of measures)")
        parts = tuple(
            _measure(p, f"{where}: part {i + 1}", weighted=False) for i, p in enumerate(composite["parts"])
        )
        green_at_least = composite.get("green_at_least", len(parts))
        if not isinstance(green_at_least, int) or not 1 <= green_at_least <= len(parts):
            raise ScorecardError(f"{where}: green_at_least must be between 1 and {len(parts)}")
    fmt = data.get("format", "color" if "color" in data else "number")
    if fmt not in FORMATS:
        raise ScorecardError(f"{where}: format must be one of {', '.join(FORMATS)}")
    return Measure(
        key=key,
        name=str(data.get("name") or key.replace("_", " ").capitalize()),
        weight=_weight(data.get("weight", 0 if not weighted else None), where) if weighted else 0.0,
        value=value,
        format=fmt,
        green=_expr(data["green"], f"{where}: green", with_value) if "green" in data else None,
        yellow=_expr(data["yellow"], f"{where}: yellow", with_value) if "yellow" in data else None,
        matrix=matrix,
        color=_expr(data["color"], f"{where}: color", names) if "color" in data else None,
        parts=parts,
        green_at_least=green_at_least,
        na_when=tuple(
            _condition(c, f"{where}: na_when {i + 1}", with_value)
            for i, c in enumerate(data.get("na_when") or [])
        ),
        stale_when=_expr(data["stale_when"], f"{where}: stale_when", names)
        if data.get("stale_when")
        else None,
    )


def _condition(data: Any, where: str, names: set[str]) -> Condition:
    if not isinstance(data, dict):
        raise ScorecardError(f"{where}: expected a mapping with 'when' and 'reason'")
    _check_keys(data, {"when", "reason"}, where)
    return Condition(_expr(_require(data, "when", where), where, names), str(_require(data, "reason", where)))


def _matrix(data: Any, where: str, names: set[str]) -> Matrix:
    if not isinstance(data, dict) or not data.get("columns") or not data.get("rows"):
        raise ScorecardError(f"{where}: needs 'columns' (conditions) and 'rows'")
    columns = tuple(_expr(c, f"{where}: column {i + 1}", names) for i, c in enumerate(data["columns"]))
    rows = []
    for i, row in enumerate(data["rows"]):
        colors = tuple(row.get("colors") or ())
        if len(colors) != len(columns) or any(c not in COLORS for c in colors):
            raise ScorecardError(f"{where}: row {i + 1}: give one of {'/'.join(COLORS)} per column")
        rows.append(
            (_expr(_require(row, "when", f"{where}: row {i + 1}"), f"{where}: row {i + 1}", names), colors)
        )
    return Matrix(columns, tuple(rows))


SCORECARD_FIELDS = {"name", "description", "active", *ScorecardRow.DEFINITION}


def build(data: dict) -> Scorecard:
    """Check a scorecard definition and return it; errors name the place."""
    where = f"scorecard {data.get('name')!r}"
    _check_keys(data, SCORECARD_FIELDS, where)
    names = set(FEATURES)
    groups = []
    keys: set[str] = set()
    for gi, group in enumerate(data.get("groups") or []):
        gwhere = f"{where}: group {gi + 1}"
        _check_keys(group, {"name", "weight", "measures"}, gwhere)
        measures = tuple(
            _measure(m, f"{gwhere}: measure {mi + 1}") for mi, m in enumerate(group.get("measures") or [])
        )
        if not measures:
            raise ScorecardError(f"{gwhere}: a group needs at least one measure")
        for measure in measures:
            for key in (measure.key, *(p.key for p in measure.parts)):
                if key in keys:
                    raise ScorecardError(f"{gwhere}: duplicate measure key {key!r}")
                keys.add(key)
        groups.append(
            Group(str(_require(group, "name", gwhere)), _weight(group.get("weight"), gwhere), measures)
        )
    if not groups:
        raise ScorecardError(f"{where}: at least one group is required")
    bands = data.get("bands") or {"green": 75, "yellow": 50}
    if set(bands) != {"green", "yellow"} or not 0 <= bands["yellow"] <= bands["green"] <= 100:
        raise ScorecardError(f"{where}: bands need green >= yellow, both 0-100")
    color_scores = data.get("color_scores") or {"green": 100, "yellow": 62, "red": 25}
    if set(color_scores) != set(COLORS):
        raise ScorecardError(f"{where}: color_scores needs green, yellow and red")
    top_keys = {m.key for g in groups for m in g.measures}
    na_rules = []
    for i, rule in enumerate(data.get("na_rules") or []):
        rwhere = f"{where}: na_rules {i + 1}"
        _check_keys(rule, {"when", "reason", "measures", "except"}, rwhere)
        for key in [*(rule.get("measures") or []), *(rule.get("except") or [])]:
            if key not in top_keys:
                raise ScorecardError(f"{rwhere}: unknown measure {key!r}")
        na_rules.append(
            NaRule(
                _expr(_require(rule, "when", rwhere), rwhere, names),
                str(_require(rule, "reason", rwhere)),
                tuple(rule.get("measures") or ()),
                tuple(rule.get("except") or ()),
            )
        )
    overrides = []
    for i, rule in enumerate(data.get("overrides") or []):
        owhere = f"{where}: overrides {i + 1}"
        _check_keys(rule, {"when", "measure", "is", "color", "reason"}, owhere)
        if rule.get("color") not in COLORS:
            raise ScorecardError(f"{owhere}: color must be one of {', '.join(COLORS)}")
        if ("when" in rule) == ("measure" in rule):
            raise ScorecardError(f"{owhere}: give either 'when' or 'measure' with 'is'")
        if "measure" in rule:
            if rule["measure"] not in top_keys:
                raise ScorecardError(f"{owhere}: unknown measure {rule['measure']!r}")
            if rule.get("is") not in COLORS:
                raise ScorecardError(f"{owhere}: 'is' must be one of {', '.join(COLORS)}")
        when = _expr(rule["when"], owhere, names) if "when" in rule else None
        overrides.append(
            Override(
                when,
                rule["color"],
                str(_require(rule, "reason", owhere)),
                rule.get("measure"),
                rule.get("is"),
            )
        )
    adoption = data.get("adoption") or {}
    for key in adoption.get("measures") or []:
        if key not in top_keys:
            raise ScorecardError(f"{where}: adoption: unknown measure {key!r}")
    return Scorecard(
        name=str(_require(data, "name", where)),
        groups=tuple(groups),
        bands=dict(bands),
        color_scores={k: float(v) for k, v in color_scores.items()},
        na_rules=tuple(na_rules),
        overrides=tuple(overrides),
        adoption_measures=tuple(adoption.get("measures") or ()),
        adoption_success_at=int(adoption.get("success_at", 3)),
    )
