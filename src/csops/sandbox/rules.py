"""The cleanup rules as a pure function of an instance, the policy and today's date: no AWS call, no
database, so every rule is tested directly and a dry run plans exactly what a real run does.

Dates in tags are read as ISO (2026-12-19), with slashes (2026/12/19), or in Cloud Custodian's
mark-for-op form ("Resource does not meet policy: stop@2026/12/19", an hour and zone may follow),
so a team already using Custodian can switch; they are written as the policy's `date_format` says."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

# What a run does to an instance, weakest first: a stronger rule's action wins.
NONE, TAG, STOP, SNAPSHOT_TERMINATE, TERMINATE = "none", "tag", "stop", "snapshot_terminate", "terminate"
STRENGTH = {NONE: 0, TAG: 1, STOP: 2, SNAPSHOT_TERMINATE: 3, TERMINATE: 3}
TERMINATING = (SNAPSHOT_TERMINATE, TERMINATE)

# The report's groups.
CATEGORIES = {
    "new": "New (tagged this run)",
    "active": "Active",
    "expiring": "Expiring soon",
    "awaiting": "Stopped, awaiting termination",
    "terminating": "To terminate",
    "permanent": "Permanent",
    "unnamed": "Unnamed",
    "bad_tag": "Tag not understood",
    "excluded": "Excluded",
}
RUNNING = ("pending", "running")
STOPPED = ("stopping", "stopped")

_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


@dataclass
class Volume:
    id: str
    delete_on_termination: bool = True


@dataclass
class Instance:
    id: str
    region: str
    state: str
    instance_type: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    launched_at: dt.datetime | None = None
    volumes: list[Volume] = field(default_factory=list)
    protected: bool | None = None  # termination protection; None until asked


@dataclass
class Decision:
    action: str
    reason: str
    category: str
    set_tags: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    expiration: dt.date | None = None

    @property
    def changes(self) -> bool:
        return self.action != NONE


def parse_date(value: str | None) -> dt.date | None:
    """A tag's date; ValueError when there is a value but no date in it."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if "@" in text:  # Custodian: "<message>: <op>@<date>[ <hhmm> <zone>]"
        text = text.rsplit("@", 1)[1]
    found = _DATE.match(text.strip())
    if not found:
        raise ValueError(f"not a date: {value!r}")
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None


def format_date(day: dt.date, style: str, op: str | None = None) -> str:
    """ISO, or Custodian's date (with `op`, its whole mark-for-op value)."""
    if style != "custodian":
        return day.isoformat()
    return f"Sandbox expiry: {op}@{day:%Y/%m/%d}" if op else f"{day:%Y/%m/%d}"


def _excluded(instance: Instance, policy: Any) -> bool:
    if instance.id in (policy.exclude_ids or []):
        return True
    return any(
        key in instance.tags and (wanted == "*" or instance.tags[key] == wanted)
        for key, wanted in (policy.exclude_tags or {}).items()
    )


def evaluate(instance: Instance, policy: Any, today: dt.date) -> Decision:
    """What the policy does to `instance` today, and why. Termination protection, when known, makes
    it permanent: never touched."""
    tags, style = instance.tags, policy.date_format
    if _excluded(instance, policy):
        return Decision(NONE, "excluded by the policy", "excluded")
    if instance.protected:
        problems = (
            []
            if tags.get(policy.permanent_reason_tag, "").strip()
            else [f"termination protection without a {policy.permanent_reason_tag} tag saying why"]
        )
        return Decision(NONE, "termination protection: permanent", "permanent", problems=problems)

    decision = Decision(NONE, "nothing to do", "active")
    if not tags.get(policy.name_tag, "").strip():
        decision.category = "unnamed"
        if policy.unnamed_tag not in tags:
            decision.set_tags[policy.unnamed_tag] = format_date(today, "iso")
            decision.action, decision.reason = TAG, f"no {policy.name_tag} tag: tagged unnamed"
        if instance.state in RUNNING:
            decision.action, decision.reason = STOP, f"no {policy.name_tag} tag: stopped and tagged unnamed"

    discovered, expiration_text = tags.get(policy.discovered_tag), tags.get(policy.expiration_tag)
    if discovered is None and expiration_text is None:
        expires = today + dt.timedelta(days=policy.expiry_days)
        decision.set_tags[policy.discovered_tag] = format_date(today, style)
        decision.set_tags[policy.expiration_tag] = format_date(expires, style, op="terminate")
        decision.expiration = expires
        if decision.action == NONE:
            decision.action, decision.reason = TAG, f"first seen: expires on {expires}"
        if decision.category == "active":
            decision.category = "new"
        return decision
    try:
        expiration = parse_date(expiration_text)
        if expiration is None:
            raise ValueError(f"no {policy.expiration_tag} tag (only {policy.discovered_tag})")
        stopped_on = parse_date(tags.get(policy.stopped_tag))
    except ValueError as exc:
        # Never terminate on a value we cannot read: report it and leave the instance alone.
        return Decision(NONE, f"left alone: {exc}", "bad_tag", problems=[str(exc)])
    decision.expiration = expiration
    if expiration > today:
        if decision.category == "active" and (expiration - today).days <= policy.notify_days:
            decision.category = "expiring"
        if decision.action == NONE:
            decision.reason = f"expires on {expiration}"
        return decision
    return _expired(decision, instance, policy, today, expiration_text or "", stopped_on)


def _expired(
    decision: Decision,
    instance: Instance,
    policy: Any,
    today: dt.date,
    expiration_text: str,
    stopped_on: dt.date | None,
) -> Decision:
    """Expiration reached: stop, wait the grace period, snapshot and terminate."""
    # The stop recorded is for this expiration only if the owner has not edited the date since.
    same_expiry = stopped_on is not None and instance.tags.get(policy.stopped_expiry_tag) == expiration_text
    if decision.category != "unnamed":
        decision.category = "awaiting"
    running = instance.state in RUNNING
    if running and same_expiry:
        reason = f"running again since its expiry stop on {stopped_on}, expiration not extended"
        return _stronger(decision, TERMINATE, reason, "terminating")
    if not running and instance.state not in STOPPED:
        decision.reason = f"expired, {instance.state}"
        return decision
    if not same_expiry:
        decision.set_tags.update(
            {policy.stopped_tag: format_date(today, "iso"), policy.stopped_expiry_tag: expiration_text}
        )
        if running:
            reason = f"expired on {decision.expiration}: stopped, {policy.grace_days} days before termination"
            return _stronger(decision, STOP, reason)
        reason = f"expired on {decision.expiration} and stopped: {policy.grace_days} days' grace from today"
        return _stronger(decision, TAG, reason)
    ends = stopped_on + dt.timedelta(days=policy.grace_days)
    if today >= ends:
        reason = f"stopped since {stopped_on} after expiring on {decision.expiration}: snapshot and terminate"
        return _stronger(decision, SNAPSHOT_TERMINATE, reason, "terminating")
    decision.reason = f"stopped on {stopped_on}: terminates on {ends} unless the expiration is extended"
    return decision


def _stronger(decision: Decision, action: str, reason: str, category: str | None = None) -> Decision:
    if STRENGTH[action] >= STRENGTH[decision.action]:
        decision.action, decision.reason = action, reason
        if category:
            decision.category = category
    return decision
