"""Peer-reviewed configuration changes (seed 001): a change to configuration objects is proposed
as a change request with its diff, reviewed by another CS Ops admin where the kind requires it,
and applied as one new version. Applied change requests are the changelog."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from csops.core import audit
from csops.core.configuration import (
    REGISTRY,
    ConfigError,
    ObjectDiff,
    apply_configuration,
    apply_objects,
    dump_object,
)
from csops.core.models import ConfigChange, ConfigVersion, User
from csops.core.permissions import has_perm
from csops.governance.models import (
    MANDATORY_REVIEW,
    ChangeRequest,
    ProposedObject,
    Review,
    ReviewLevel,
    ReviewPolicy,
    Status,
    Verdict,
)
from csops.requests.models import OpsRequest

TITLE_MAX = ChangeRequest._meta.get_field("title").max_length


def review_levels(kinds) -> dict[str, str]:
    """Each kind's review level, in one query: mandatory, else its policy, else optional."""
    kinds = set(kinds)
    chosen = ReviewPolicy.objects.filter(name__in=kinds - MANDATORY_REVIEW).values_list("name", "review")
    policies = dict(chosen)
    return {k: ReviewLevel.REQUIRED if k in MANDATORY_REVIEW else policies.get(k, ReviewLevel.OPTIONAL)
            for k in kinds}


def review_level(kind: str) -> str:
    return review_levels([kind])[kind]


def needs_review(kinds) -> bool:
    return ReviewLevel.REQUIRED in review_levels(kinds).values()


def _require_admin(user: User, what: str) -> None:
    if not has_perm(user, "manage_config"):
        raise ValidationError({"author": f"Only CS Ops admins {what}."})


def _check_text(title: str, why: str) -> tuple[str, str]:
    title, why = (title or "").strip(), (why or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Say what this change does."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"At most {TITLE_MAX} characters ({len(title)} given)."
    if not why:
        errors["why"] = "Say why: the changelog keeps the reason with every change."
    if errors:
        raise ValidationError(errors)
    return title, why


def validate(diffs: list[ObjectDiff]) -> list[ObjectDiff]:
    """The diffs as they would be applied now (values normalised), or ConfigError naming the
    object and field; nothing is written."""
    try:
        result = apply_objects(diffs, actor=None, message="", source="", dry_run=True)
    except ConfigError as exc:
        raise ValidationError({"definition": str(exc)}) from exc
    if not result.diffs:
        raise ValidationError({"definition": "No changes: the configuration already matches."})
    return result.diffs


@transaction.atomic
def propose(
    diffs: list[ObjectDiff],
    *,
    author: User,
    title: str,
    why: str,
    ops_request: OpsRequest | None = None,
    ask_review: bool = False,
    source: str = "web",
) -> ChangeRequest:
    """Open a change request. Where no kind in it requires review and the author did not ask for
    one, it is applied at once; otherwise it waits for another admin's approval."""
    _require_admin(author, "change the configuration")
    title, why = _check_text(title, why)
    diffs = validate(diffs)
    required = needs_review(d.kind for d in diffs)
    number = (ChangeRequest.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    change = ChangeRequest.objects.create(
        number=number, title=title, why=why, author=author, ops_request=ops_request,
        review_required=required or ask_review, source=source[:300],
    )
    _store(change, diffs)
    audit.record(actor=author, verb="create", obj=change, changes={"title": [None, title]}, source="config")
    if not change.review_required:
        _apply(change, by=author)
    elif any(d.kind == "rules" for d in diffs):
        _preview_rules_later(change)
    return change


def _store(change: ChangeRequest, diffs: list[ObjectDiff]) -> None:
    ProposedObject.objects.bulk_create(
        ProposedObject(change_request=change, kind=d.kind, key=d.key, verb=d.verb, before=d.before,
                       after=d.after)
        for d in diffs
    )


def proposed_diffs(change: ChangeRequest) -> list[ObjectDiff]:
    return [
        ObjectDiff(o.kind, o.key, o.verb, audit.diff(o.before or {}, o.after or {}), o.before, o.after)
        for o in change.items.all()
    ]


def _apply(change: ChangeRequest, *, by: User) -> None:
    try:
        result = apply_objects(
            proposed_diffs(change), actor=change.author, message=f"!{change.number} {change.title}",
            source=f"change request !{change.number}",
        )
    except ConfigError as exc:
        raise ValidationError({"definition": f"Cannot apply !{change.number}: {exc}"}) from exc
    change.status, change.applied_at, change.applied_by = Status.APPLIED, timezone.now(), by
    change.config_change = result.change
    change.save(update_fields=["status", "applied_at", "applied_by", "config_change", "updated_at"])


def _locked(change: ChangeRequest) -> ChangeRequest:
    return ChangeRequest.objects.select_for_update().get(pk=change.pk)


@transaction.atomic
def review(change: ChangeRequest, *, reviewer: User, verdict: str, body: str = "") -> Review:
    """A verdict or comment. An approval by another admin applies the change, in the same
    transaction: if it can no longer be applied, nothing is recorded and the error says why."""
    change = _locked(change)
    body = (body or "").strip()
    if verdict not in {Verdict.APPROVE, Verdict.REQUEST_CHANGES, Verdict.REJECT, Verdict.COMMENT}:
        raise ValidationError({"verdict": f"Not a review verdict: {verdict!r}."})
    if verdict == Verdict.COMMENT:
        if not has_perm(reviewer, "manage_config") and reviewer != change.author:
            raise ValidationError({"verdict": "Only CS Ops admins comment on configuration changes."})
    else:
        _require_admin(reviewer, "review configuration changes")
        if not change.is_open:
            raise ValidationError({"verdict": f"!{change.number} is {change.get_status_display().lower()}."})
        if reviewer == change.author:
            raise ValidationError({"verdict": "You cannot review your own change: ask another CS Ops admin."})
    if verdict != Verdict.APPROVE and not body:
        raise ValidationError({"body": "Write what the author should know."})
    if verdict == Verdict.APPROVE:
        _apply(change, by=reviewer)
    elif verdict == Verdict.REQUEST_CHANGES:
        _set_status(change, Status.CHANGES_REQUESTED)
    elif verdict == Verdict.REJECT:
        _set_status(change, Status.REJECTED)
    return Review.objects.create(change_request=change, reviewer=reviewer, verdict=verdict, body=body)


def _set_status(change: ChangeRequest, status: str) -> None:
    change.status = status
    change.save(update_fields=["status", "updated_at"])


@transaction.atomic
def apply_change(change: ChangeRequest, *, actor: User) -> ChangeRequest:
    """Apply an open change whose kinds need no review (the author asked for an optional one)."""
    change = _locked(change)
    _require_admin(actor, "apply configuration changes")
    if not change.is_open:
        raise ValidationError({"status": f"!{change.number} is {change.get_status_display().lower()}."})
    required = needs_review(o.kind for o in change.items.all())
    if required:
        raise ValidationError({"status": f"!{change.number} needs another admin's approval to take effect."})
    _apply(change, by=actor)
    return change


@transaction.atomic
def revise(change: ChangeRequest, diffs: list[ObjectDiff], *, author: User, why: str = "",
           note: str = "") -> ChangeRequest:
    """The author replaces the proposal; earlier approvals and requests for changes no longer apply."""
    change = _locked(change)
    if author != change.author:
        raise ValidationError({"author": "Only the author revises a change request."})
    if not change.is_open:
        raise ValidationError({"status": f"!{change.number} is {change.get_status_display().lower()}."})
    diffs = validate(diffs)
    change.items.all().delete()
    _store(change, diffs)
    if why.strip():
        change.why = why.strip()
    change.status = Status.OPEN
    change.review_required = change.review_required or needs_review(d.kind for d in diffs)
    change.impact = change.impact_at = None
    change.save()
    Review.objects.create(change_request=change, reviewer=author, verdict=Verdict.REVISE, body=note.strip())
    if any(d.kind == "rules" for d in diffs):
        _preview_rules_later(change)
    return change


@transaction.atomic
def withdraw(change: ChangeRequest, *, actor: User, body: str = "") -> ChangeRequest:
    change = _locked(change)
    if actor != change.author:
        raise ValidationError({"author": "Only the author withdraws a change request."})
    if not change.is_open:
        raise ValidationError({"status": f"!{change.number} is {change.get_status_display().lower()}."})
    _set_status(change, Status.WITHDRAWN)
    Review.objects.create(change_request=change, reviewer=actor, verdict=Verdict.WITHDRAW, body=body.strip())
    return change


# Building diffs from what an admin wrote.


def object_diff(kind: str, key: str, after: dict | None) -> ObjectDiff:
    """The change of one object from its current state to `after` (None removes it)."""
    config_kind = REGISTRY[kind]
    obj = config_kind.model.objects.filter(**{config_kind.key: key}).first()
    before = dump_object(config_kind, obj) if obj else None
    if before is None and after is None:
        raise ValidationError({"definition": f"There is no {kind} {key!r} to remove."})
    verb = "create" if before is None else "delete" if after is None else "update"
    return ObjectDiff(kind, key, verb, audit.diff(before or {}, after or {}), before, after)


def parse_object(kind: str, text: str, *, key: str | None = None) -> ObjectDiff:
    """An object's new definition written as YAML (a mapping, as in `<kind>.yaml`)."""
    if kind not in REGISTRY:
        raise ValidationError({"kind": f"No configuration kind {kind!r}."})
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise ValidationError({"definition": f"Not valid YAML{where}: {problem}"}) from exc
    if not isinstance(data, dict):
        raise ValidationError({"definition": "Write the object as a YAML mapping (field: value lines)."})
    name_field = REGISTRY[kind].key
    name = data.get(name_field)
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"definition": f"'{name_field}' is required."})
    if key is not None and name != key:
        raise ValidationError({"definition": f"To rename {key!r}, add the new object and remove this one."})
    current = REGISTRY[kind].model.objects.filter(**{name_field: name}).first()
    if key is None and current is not None:
        raise ValidationError({"definition": f"{kind} {name!r} exists already: edit it instead."})
    if current is not None and hasattr(current, "position") and "position" not in data:
        data["position"] = current.position
    return object_diff(kind, name, data)


def restore_diff(version: ConfigVersion) -> ObjectDiff:
    return object_diff(version.kind, version.key, version.data)


def describe(diffs: list[ObjectDiff]) -> str:
    """A change's objects in a few words: "change rules 'X'", "add 2, change 1 (geos, rules)"."""
    verbs = {"create": "add", "update": "change", "delete": "remove"}
    if len(diffs) == 1:
        return f"{verbs[diffs[0].verb]} {diffs[0].kind} {diffs[0].key!r}"
    counts = [f"{verbs[v]} {n}" for v in verbs if (n := sum(d.verb == v for d in diffs))]
    return f"{', '.join(counts)} ({', '.join(sorted({d.kind for d in diffs}))})"


def propose_directory(
    directory: Path, *, author: User | None, why: str, ops_request: OpsRequest | None = None,
    ask_review: bool = False,
) -> ChangeRequest | None:
    """`csops config apply DIR`: the directory's differences from the database as one change
    request (None when there are none). The very first configuration, with nobody yet to review
    it, is applied directly."""
    if not ConfigChange.objects.exists():
        apply_configuration(directory, actor=author, message=why or f"Bootstrap from {directory.name}")
        return None
    if author is None:
        raise ValidationError({"author": "Name the author (--as USERNAME): a CS Ops admin."})
    plan = apply_configuration(directory, actor=author, message=why, dry_run=True)
    if not plan.diffs:
        return None
    title = f"{directory.name}: {describe(plan.diffs)}"[:TITLE_MAX]
    return propose(plan.diffs, author=author, title=title, why=why, ops_request=ops_request,
                   ask_review=ask_review, source=str(directory))


def _preview_rules_later(change: ChangeRequest) -> None:
    from csops.governance import tasks

    transaction.on_commit(lambda: tasks.preview_impact.enqueue(change.number))


def _rule_data(data: dict | None) -> dict | None:
    from csops.rules.models import Rule

    return None if data is None else {"name": data["name"], **{f: data.get(f) for f in Rule.DEFINITION}}


def preview_impact(change: ChangeRequest) -> dict:
    """The impact of the rules in a change: dry-run counts of each rule's current definition and
    of the proposed one, over every account, kept on the change request."""
    from csops.rules.actions import dry_run_counts

    rules = [o for o in change.items.all() if o.kind == "rules"]
    if not rules:
        return {}
    counts = dry_run_counts([_rule_data(d) for o in rules for d in (o.before, o.after)])
    impact = {o.key: {"current": counts[2 * i], "proposed": counts[2 * i + 1]} for i, o in enumerate(rules)}
    ChangeRequest.objects.filter(pk=change.pk).update(impact=impact, impact_at=timezone.now())
    return impact
