"""A rule definition (from YAML) checked and turned into plain dataclasses.

A rule names its audience (`when`: conditions in the expression language, all of which must
hold) and its actions (create or close a CTA, set an account field, enrol in a program, notify).
Errors name the rule, the condition or action, and the field.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from croniter import croniter

PRIORITIES = ("low", "medium", "high", "urgent")
TEAM_ROLES = ("csm", "cse", "ae", "sa", "renewals_manager", "csm_manager")
SETTABLE_FIELDS = ("lifecycle_stage", "csm_priority")
EVERY = re.compile(r"every\s+(\d+)\s+minutes?", re.IGNORECASE)


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    cron: str | None = None
    every_minutes: int | None = None

    def __str__(self) -> str:
        return self.cron or f"every {self.every_minutes} minutes"


@dataclass(frozen=True)
class CreateCta:
    type: str
    reason: str
    priority: str = "medium"
    playbook: str | None = None
    owner: tuple[str, ...] = ("csm", "cse")
    name: str = "{account} - {reason}"
    due_in_days: int = 7
    due: str | None = None  # an expression giving a date, e.g. add_days(renewal_date, -90)
    once_per: str | None = None  # an expression; one CTA per account and value, ever
    cooldown_days: int = 30
    kind: str = "create_cta"


@dataclass(frozen=True)
class CloseCta:
    status: str
    type: str | None = None
    reason: str | None = None
    raised_by: str | None = None  # a rule's name
    kind: str = "close_cta"


@dataclass(frozen=True)
class SetField:
    field: str
    value: Any
    kind: str = "set_field"


@dataclass(frozen=True)
class Enrol:
    program: str
    kind: str = "enrol"


@dataclass(frozen=True)
class Notify:
    to: tuple[str, ...]
    via: str = "email"  # or slack
    subject: str = "{rule}: {count} account(s)"
    once_per: str | None = None
    kind: str = "notify"


Action = CreateCta | CloseCta | SetField | Enrol | Notify


@dataclass(frozen=True)
class RuleDefinition:
    name: str
    schedule: Schedule
    enabled: bool
    when: tuple[str, ...]
    actions: tuple[Action, ...]


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise RuleError(
            f"{where}: unknown field '{sorted(unknown)[0]}' (allowed: {', '.join(sorted(allowed))})"
        )


def _require(data: dict, key: str, where: str) -> Any:
    if data.get(key) in (None, "", []):
        raise RuleError(f"{where}: '{key}' is required")
    return data[key]


def _whole(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RuleError(f"{where}: give a whole number >= {minimum}")
    return value


def parse_schedule(text: Any, where: str) -> Schedule:
    text = str(text or "").strip()
    if match := EVERY.fullmatch(text):
        minutes = int(match.group(1))
        if not 1 <= minutes <= 1440:
            raise RuleError(f"{where}: every N minutes needs N from 1 to 1440")
        return Schedule(every_minutes=minutes)
    if croniter.is_valid(text):
        return Schedule(cron=text)
    raise RuleError(f"{where}: {text!r} is neither a cron expression nor 'every N minutes'")


def template_fields(template: str, where: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise RuleError(f"{where}: {exc}") from None


def _owner(value: Any, where: str) -> tuple[str, ...]:
    candidates = tuple(value) if isinstance(value, list) else (value,)
    for candidate in candidates:
        if not isinstance(candidate, str) or not (
            candidate in TEAM_ROLES or candidate.startswith(("pool:", "user:"))
        ):
            raise RuleError(
                f"{where}: owner {candidate!r}: use a team role ({', '.join(TEAM_ROLES)}), "
                "pool:<username> or user:<username>"
            )
    return candidates


def _create_cta(data: dict, where: str) -> CreateCta:
    _check_keys(
        data,
        {
            "type",
            "reason",
            "priority",
            "playbook",
            "owner",
            "name",
            "due_in_days",
            "due",
            "once_per",
            "cooldown_days",
        },
        where,
    )
    priority = data.get("priority", "medium")
    if priority not in PRIORITIES:
        raise RuleError(f"{where}: priority must be one of {', '.join(PRIORITIES)}")
    name = str(data.get("name") or CreateCta.name)
    template_fields(name, f"{where}: name")
    return CreateCta(
        type=str(_require(data, "type", where)),
        reason=str(_require(data, "reason", where)),
        priority=priority,
        playbook=data.get("playbook"),
        owner=_owner(data.get("owner", ["csm", "cse"]), where),
        name=name,
        due_in_days=_whole(data.get("due_in_days", 7), f"{where}: due_in_days"),
        due=data.get("due"),
        once_per=data.get("once_per"),
        cooldown_days=_whole(data.get("cooldown_days", 30), f"{where}: cooldown_days"),
    )


def _close_cta(data: dict, where: str) -> CloseCta:
    _check_keys(data, {"status", "type", "reason", "raised_by"}, where)
    if not any(data.get(k) for k in ("type", "reason", "raised_by")):
        raise RuleError(f"{where}: say which CTAs to close: type, reason or raised_by")
    return CloseCta(
        status=str(_require(data, "status", where)),
        type=data.get("type"),
        reason=data.get("reason"),
        raised_by=data.get("raised_by"),
    )


def _set_field(data: dict, where: str) -> SetField:
    _check_keys(data, {"field", "value"}, where)
    field = _require(data, "field", where)
    if field not in SETTABLE_FIELDS:
        raise RuleError(f"{where}: field must be one of {', '.join(SETTABLE_FIELDS)}")
    if "value" not in data:
        raise RuleError(f"{where}: 'value' is required")
    return SetField(field=field, value=data["value"])


def _enrol(data: dict, where: str) -> Enrol:
    _check_keys(data, {"program"}, where)
    return Enrol(program=str(_require(data, "program", where)))


def _notify(data: dict, where: str) -> Notify:
    _check_keys(data, {"to", "via", "subject", "once_per"}, where)
    via = data.get("via", "email")
    if via not in ("email", "slack"):
        raise RuleError(f"{where}: via must be email or slack")
    to = data.get("to", ["csm"] if via == "email" else [])
    to = tuple(to) if isinstance(to, list) else (to,)
    for recipient in to:
        if not isinstance(recipient, str) or not (
            recipient in TEAM_ROLES or recipient == "admins" or "@" in recipient
        ):
            raise RuleError(
                f"{where}: to {recipient!r}: use a team role ({', '.join(TEAM_ROLES)}), admins or an address"
            )
    if via == "email" and not to:
        raise RuleError(f"{where}: an email notification needs 'to'")
    subject = str(data.get("subject") or Notify.subject)
    unknown = set(template_fields(subject, f"{where}: subject")) - {"rule", "count"}
    if unknown:
        raise RuleError(f"{where}: subject: unknown placeholder {{{sorted(unknown)[0]}}} (use rule, count)")
    return Notify(to=to, via=via, subject=subject, once_per=data.get("once_per"))


ACTIONS = {
    "create_cta": _create_cta,
    "close_cta": _close_cta,
    "set_field": _set_field,
    "enrol": _enrol,
    "notify": _notify,
}


def _action(data: Any, where: str) -> Action:
    if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in ACTIONS:
        raise RuleError(f"{where}: an action is one of {', '.join(ACTIONS)} with its settings")
    kind, settings = next(iter(data.items()))
    if not isinstance(settings, dict):
        raise RuleError(f"{where} ({kind}): expected a mapping of settings")
    return ACTIONS[kind](settings, f"{where} ({kind})")


def build(data: dict) -> RuleDefinition:
    """Check a rule's shape and return it; `csops.rules.compiler.check` checks it against the data."""
    where = f"rule {data.get('name')!r}"
    _check_keys(data, {"name", "description", "schedule", "enabled", "when", "actions"}, where)
    name = str(_require(data, "name", where))
    when = data.get("when") or []
    if isinstance(when, str):
        when = [when]
    if not isinstance(when, list) or not when or not all(isinstance(c, str | bool) for c in when):
        raise RuleError(f"{where}: when: give a list of conditions (all must hold)")
    actions = data.get("actions") or []
    if not isinstance(actions, list) or not actions:
        raise RuleError(f"{where}: actions: give at least one action")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"{where}: enabled must be true or false")
    return RuleDefinition(
        name=name,
        schedule=parse_schedule(data.get("schedule", "30 4 * * *"), f"{where}: schedule"),
        enabled=enabled,
        when=tuple(str(c).lower() if isinstance(c, bool) else c for c in when),
        actions=tuple(_action(a, f"{where}: action {i + 1}") for i, a in enumerate(actions)),
    )

