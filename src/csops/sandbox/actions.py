"""Writes of the sandbox app: a cleanup run (plan, then act), its record, the inventory the report
reads, and the owners' expiry emails."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from csops.core import audit
from csops.core.bulk import insert_rows
from csops.core.models import User
from csops.programs.outbox import queue_plain
from csops.sandbox import rules
from csops.sandbox.ec2 import ERRORS, Ec2
from csops.sandbox.models import RunStatus, SandboxAction, SandboxInstance, SandboxPolicy, SandboxRun

Progress = Callable[[str], None]


class PolicyMissing(ValueError):
    pass


@dataclass
class Planned:
    ec2: Ec2
    instance: rules.Instance
    decision: rules.Decision
    outcome: str = "planned"
    error: str = ""
    snapshots: tuple[str, ...] = ()


def policy_named(name: str) -> SandboxPolicy:
    found = SandboxPolicy.objects.filter(name=name).first()
    if found is None:
        known = ", ".join(SandboxPolicy.objects.values_list("name", flat=True)) or "none configured"
        raise PolicyMissing(f"no sandbox policy {name!r} (known: {known}); see sandbox_policies.yaml")
    return found


def plan(policy: SandboxPolicy, today: dt.date) -> list[Planned]:
    """Every instance of the policy's regions with today's decision. Termination protection is
    asked (one call per instance: EC2 has no batch for it) only of instances something would be
    done to, so a quiet account costs one describe per region."""
    planned = []
    for region in policy.regions:
        ec2 = Ec2(region)
        instances = ec2.instances()
        decisions = {i.id: rules.evaluate(i, policy, today) for i in instances}
        acting = [i for i in instances if decisions[i.id].changes]
        asked = ec2.protection([i.id for i in acting])
        for instance in acting:
            answer = asked[instance.id]
            if isinstance(answer, Exception):
                decisions[instance.id] = rules.Decision(
                    rules.NONE,
                    f"left alone: termination protection unreadable ({answer})",
                    "active",
                    problems=[f"could not read termination protection: {answer}"],
                )
                continue
            instance.protected = answer
            decisions[instance.id] = rules.evaluate(instance, policy, today)
        planned.extend(Planned(ec2, i, decisions[i.id]) for i in instances)
    return planned


def describe(item: Planned) -> str:
    decision, instance = item.decision, item.instance
    name = instance.tags.get("Name", "") or "(no name)"
    tags = f" tags {decision.set_tags}" if decision.set_tags else ""
    return f"{instance.region} {instance.id} {name[:40]:40} {decision.action:18} {decision.reason}{tags}"


def run_cleanup(
    *,
    policy_name: str = "default",
    today: dt.date | None = None,
    dry_run: bool = False,
    actor: User | None = None,
    progress: Progress | None = None,
) -> SandboxRun:
    """Evaluate the policy over every instance, print the plan, then (unless a dry run, or more
    terminations than the policy allows) act on it; every decision that changes or reports
    something is recorded with the tags before and after."""
    say = progress or (lambda line: None)
    policy = policy_named(policy_name)
    today = today or timezone.localdate()
    planned = plan(policy, today)
    counts = Counter(p.decision.action for p in planned)
    terminations = sum(counts[a] for a in rules.TERMINATING)
    say(f"Plan for {today} ({len(planned)} instances in {', '.join(policy.regions)}):")
    for item in planned:
        if item.decision.changes or item.decision.problems:
            say(f"  {describe(item)}")
    say("  " + (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no instances"))
    status, message = (RunStatus.PLANNED, "Dry run: nothing changed.") if dry_run else (RunStatus.DONE, "")
    if not dry_run and terminations > policy.max_terminations:
        status = RunStatus.REFUSED
        message = (
            f"{terminations} terminations planned, more than the policy's maximum of "
            f"{policy.max_terminations}: nothing was done. Check the plan, then raise "
            "max_terminations or terminate by hand."
        )
    if status == RunStatus.DONE:
        _act(planned, say)
        failed = sum(p.outcome == "failed" for p in planned)
        if failed:
            status, message = RunStatus.PARTLY, f"{failed} action(s) failed; the others were done."
    elif status == RunStatus.REFUSED:
        for item in planned:
            if item.decision.changes:
                item.outcome = "skipped"
    say(message or "Done.")
    run = _record(policy, today, dry_run, status, message, counts, planned, actor)
    if status in (RunStatus.DONE, RunStatus.PARTLY):
        queued = notify_owners(policy, planned)
        if queued:
            say(f"{queued} owner email(s) queued: instances expiring within {policy.notify_days} days.")
    return run


def _act(planned: list[Planned], say: Progress) -> None:
    """Tags, then stops, then snapshots (waited for), then terminations, region by region."""
    by_region: dict[str, list[Planned]] = defaultdict(list)
    for item in planned:
        if item.decision.changes:
            by_region[item.instance.region].append(item)
    for items in by_region.values():
        ec2 = items[0].ec2
        _tag(ec2, items)
        stopping = [p for p in items if p.decision.action == rules.STOP and p.outcome != "failed"]
        _settle(stopping, ec2.stop([p.instance.id for p in stopping]))
        _snapshot(ec2, [p for p in items if p.decision.action == rules.SNAPSHOT_TERMINATE])
        ending = [p for p in items if p.decision.action in rules.TERMINATING and p.outcome != "failed"]
        _settle(ending, ec2.terminate([p.instance.id for p in ending]))
        leftovers = [
            v.id
            for p in ending
            if p.outcome == "done"
            for v in p.instance.volumes
            if not v.delete_on_termination
        ]
        if leftovers:
            say(f"  deleting {len(leftovers)} volume(s) kept after termination")
            for volume, reason in ec2.delete_volumes(leftovers).items():
                say(f"  volume {volume} not deleted: {reason}")
        for item in items:
            if item.outcome == "planned":
                item.outcome = "done"


def _tag(ec2: Ec2, items: list[Planned]) -> None:
    """One create_tags call per distinct set of tags (the new instances of a day share theirs)."""
    groups: dict[tuple, list[Planned]] = defaultdict(list)
    for item in items:
        if item.decision.set_tags:
            groups[tuple(sorted(item.decision.set_tags.items()))].append(item)
    for tags, group in groups.items():
        _settle(group, ec2.tag([p.instance.id for p in group], dict(tags)), done=False)


def _snapshot(ec2: Ec2, items: list[Planned]) -> None:
    taken: list[str] = []
    for item in items:
        if item.outcome == "failed":
            continue
        try:
            item.snapshots = tuple(ec2.snapshot(item.instance))
        except ERRORS as exc:
            item.outcome, item.error = "failed", f"snapshot: {exc}"
            continue
        taken.extend(item.snapshots)
    try:
        ec2.wait_for_snapshots(taken)
    except ERRORS as exc:  # without finished snapshots nothing is terminated
        for item in items:
            if item.outcome != "failed":
                item.outcome, item.error = "failed", f"snapshots did not complete: {exc}"


def _settle(items: list[Planned], failed: dict[str, str], *, done: bool = True) -> None:
    for item in items:
        if item.instance.id in failed:
            item.outcome, item.error = "failed", failed[item.instance.id]
        elif done:
            item.outcome = "done"


@transaction.atomic
def _record(policy, today, dry_run, status, message, counts, planned, actor) -> SandboxRun:
    run = SandboxRun.objects.create(
        policy=policy.name,
        today=today,
        dry_run=dry_run,
        status=status,
        message=message,
        instances=len(planned),
        api_calls=sum({id(p.ec2): p.ec2.calls for p in planned}.values()),
        counts=dict(counts),
        actor=actor if actor and actor.pk else None,
        finished_at=timezone.now(),
    )
    rows = [
        {
            "run_id": run.pk,
            "instance_id": p.instance.id,
            "region": p.instance.region,
            "name": p.instance.tags.get(policy.name_tag, "")[:255],
            "action": p.decision.action if p.decision.changes else "report",
            "reason": p.decision.reason[:300],
            "tags_before": p.instance.tags,
            "tags_after": {**p.instance.tags, **p.decision.set_tags}
            if p.outcome == "done"
            else p.instance.tags,
            "outcome": p.outcome if p.decision.changes else "done",
            "error": "; ".join(filter(None, [p.error, *p.decision.problems])),
            "snapshots": list(p.snapshots),
            "at": timezone.now(),
        }
        for p in planned
        if p.decision.changes or p.decision.problems
    ]
    for start in range(0, len(rows), 2000):
        insert_rows(SandboxAction, rows[start : start + 2000])
    _inventory(policy, planned)
    audit.record(
        actor=actor,
        verb="create",
        obj=run,
        source="sandbox",
        changes={
            "status": [None, status],
            "counts": [None, dict(counts)],
            "dry_run": [None, dry_run],
        },
    )
    return run


def _inventory(policy: SandboxPolicy, planned: list[Planned]) -> None:
    """The instances as they are after the run: terminated ones leave the inventory."""
    now = timezone.now()
    seen = {}
    for p in planned:
        if p.outcome == "done" and p.decision.action in rules.TERMINATING:
            continue
        done = p.outcome == "done"
        tags = {**p.instance.tags, **p.decision.set_tags} if done else p.instance.tags
        state = "stopped" if done and p.decision.action == rules.STOP else p.instance.state
        seen[p.instance.id] = SandboxInstance(
            instance_id=p.instance.id,
            region=p.instance.region,
            name=tags.get(policy.name_tag, "")[:255],
            instance_type=p.instance.instance_type,
            state=state,
            category=p.decision.category,
            expiration=p.decision.expiration,
            owner=tags.get(policy.owner_tag, "")[:255],
            protected=p.instance.protected,
            problems=p.decision.problems,
            tags=tags,
            launched_at=p.instance.launched_at,
            last_seen=now,
        )
    SandboxInstance.objects.filter(region__in=policy.regions).exclude(instance_id__in=list(seen)).delete()
    existing = dict(
        SandboxInstance.objects.filter(instance_id__in=list(seen)).values_list("instance_id", "pk")
    )
    for instance_id, row in seen.items():
        row.pk = existing.get(instance_id)
    _update([r for r in seen.values() if r.pk])
    SandboxInstance.objects.bulk_create([r for r in seen.values() if not r.pk], batch_size=1000)


def _update(rows: list[SandboxInstance]) -> None:
    """Every field but the id of each row, by primary key: one prepared UPDATE run for all rows
    (Django's bulk_update builds a CASE per field and row, seconds for 10,000 instances)."""
    if not rows:
        return
    meta, quote = SandboxInstance._meta, connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if f.name not in ("id", "instance_id")]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{quote(f.column)} = %s' for f in fields)} "
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    params = [[f.get_db_prep_save(getattr(r, f.attname), connection) for f in fields] + [r.pk] for r in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


EXTEND_HOW = """To keep it longer, edit its {expiration} tag to a later date (YYYY-MM-DD): a month or two
for a prospect's proof of concept. To keep it for good, turn on termination protection and add a
{reason} tag saying why it is permanent and what it is for. Otherwise, on expiry it is stopped, and
{grace} days later its volumes are snapshotted and it is terminated."""


def notify_owners(policy: SandboxPolicy, planned: list[Planned]) -> int:
    """Email each owner (the owner tag, an address) of an instance expiring within the policy's
    notice, once per instance and expiration date."""
    queued = 0
    for p in planned:
        owner = p.instance.tags.get(policy.owner_tag, "").strip()
        if p.decision.category != "expiring" or "@" not in owner:
            continue
        name = p.instance.tags.get(policy.name_tag, p.instance.id)
        text = (
            f"Your sandbox instance {name} ({p.instance.id}, {p.instance.region}) expires on "
            f"{p.decision.expiration}.\n\n"
            + EXTEND_HOW.format(
                expiration=policy.expiration_tag, reason=policy.permanent_reason_tag, grace=policy.grace_days
            )
            + "\n"
        )
        queued += queue_plain(
            key=f"sandbox-expiry:{p.instance.id}:{p.decision.expiration}",
            kind="notification",
            to=[owner],
            subject=f"Sandbox instance {name} expires on {p.decision.expiration}",
            text=text,
        )
    return queued
