"""Triage policies, gitlab-triage style: each enabled policy selects the open requests its
conditions match in one query, then applies its actions to all of them at once. A re-run on the
same day changes nothing: a policy comments at most once per request per day, a label is added
once, and a closed request no longer matches."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet

from csops.core import audit
from csops.core.calendar import FULL_DAY_NAMES, business_today, business_zone
from csops.requests.actions import _move
from csops.requests.models import (
    INTERRUPT_LABEL,
    OpsRequest,
    RequestComment,
    RequestLabel,
    State,
    TriagePolicy,
)


@dataclass
class SummaryLine:
    pk: int
    title: str
    state: str
    assignee: str
    weight: int | None


@dataclass
class PolicyResult:
    policy: str
    skipped: str = ""
    matched: list[int] = field(default_factory=list)
    commented: list[int] = field(default_factory=list)
    labelled: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    summary: dict[str, list[SummaryLine]] = field(default_factory=dict)


@dataclass
class TriageReport:
    today: dt.date
    results: list[PolicyResult]

    def __getitem__(self, policy: str) -> PolicyResult:
        return next(r for r in self.results if r.policy == policy)

    def text(self) -> str:
        lines = [f"Triage report for {self.today.isoformat()}"]
        for r in self.results:
            if r.skipped:
                lines.append(f"- {r.policy}: skipped ({r.skipped})")
                continue
            lines.append(
                f"- {r.policy}: {len(r.matched)} matched, {len(r.commented)} commented, "
                f"{len(r.labelled)} labelled, {len(r.closed)} closed"
            )
            lines += [f"    #{pk} not closed: {why}" for pk, why in r.refused.items()]
            for workstream, rows in r.summary.items():
                lines.append(f"  {workstream} ({len(rows)} open)")
                lines += [
                    f"    #{x.pk} [{x.state}] {x.title} ({x.assignee}, weight {x.weight or '-'})"
                    for x in rows
                ]
        return "\n".join(lines)


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=business_zone())


def matching(policy: TriagePolicy, today: dt.date) -> QuerySet[OpsRequest]:
    """The open requests a policy's conditions select, as one query."""
    found = OpsRequest.objects.filter(closed_at__isnull=True)
    if policy.state:
        found = found.filter(state=policy.state)
    if policy.older_than_days is not None:
        # In its label for N days: it took the label on or before today - N (business days' dates).
        found = found.filter(
            state_changed_at__lt=_start_of(today - dt.timedelta(days=policy.older_than_days - 1))
        )
    if policy.weight_missing:
        found = found.filter(weight__isnull=True)
    if policy.assignee_missing:
        found = found.filter(assignee__isnull=True)
    for label in policy.labels:
        has = Q(team_label=label) | Q(requester_label=label)
        has |= Q(pk__in=RequestLabel.objects.filter(name=label).values("request"))
        if label == INTERRUPT_LABEL:
            has |= Q(interrupt=True)
        found = found.filter(has)
    return found


def _mentions(policy: TriagePolicy, request: OpsRequest) -> str:
    people = {
        "requester": request.requester,
        "assignee": request.assignee,
        "reviewer": request.reviewer,
        "lead": request.workstream.lead if request.workstream else None,
    }
    names = dict.fromkeys(f"@{people[m].username}" for m in policy.mention if people[m] is not None)
    return " ".join(names)


@transaction.atomic
def apply_policy(policy: TriagePolicy, today: dt.date) -> PolicyResult:
    result = PolicyResult(policy.name)
    selected = matching(policy, today)
    # The selection goes to the database as a subquery, never as a list of ids (SQLite caps those).
    subquery = selected.values("pk")
    requests = list(
        selected.select_related("requester", "assignee", "reviewer", "workstream__lead").order_by("pk")
    )
    result.matched = [r.pk for r in requests]
    if policy.comment.strip():
        todays = RequestComment.objects.filter(policy=policy.name, on=today, request__in=subquery)
        done = set(todays.values_list("request_id", flat=True))
        last = RequestComment.objects.aggregate(last=Max("pk"))["last"] or 0
        comments = [
            RequestComment(
                request=r,
                policy=policy.name,
                on=today,
                body=" ".join(x for x in (_mentions(policy, r), policy.comment.strip()) if x),
            )
            for r in requests
            if r.pk not in done
        ]
        RequestComment.objects.bulk_create(comments, ignore_conflicts=True)
        # ignore_conflicts returns no keys: read back what this run wrote, for the audit trail.
        written = todays.filter(pk__gt=last)
        audit.record_many(
            audit.entry(actor=None, verb="create", obj=c, changes={"body": [None, c.body]}, source="triage")
            for c in written
        )
        result.commented = [c.request_id for c in comments]
    if policy.label:
        have = set(
            RequestLabel.objects.filter(name=policy.label, request__in=subquery).values_list(
                "request_id", flat=True
            )
        )
        new = [RequestLabel(request=r, name=policy.label) for r in requests if r.pk not in have]
        RequestLabel.objects.bulk_create(new, ignore_conflicts=True)
        audit.record_many(
            audit.entry(
                actor=None,
                verb="update",
                obj=x.request,
                changes={"labels": [None, policy.label]},
                source="triage",
            )
            for x in new
        )
        result.labelled = [x.request_id for x in new]
    if policy.close:
        for request in requests:
            try:
                with transaction.atomic():
                    _move(
                        request,
                        State.WONT_DO,
                        actor=None,
                        note=f"Closed by triage policy {policy.name!r}.",
                        source="triage",
                    )
            except ValidationError as exc:
                result.refused[request.pk] = " ".join(exc.messages)
            else:
                result.closed.append(request.pk)
    if policy.summarise:
        by_workstream: dict[str, list[SummaryLine]] = defaultdict(list)
        for r in sorted(requests, key=lambda r: (r.workstream.name if r.workstream else "", r.pk)):
            by_workstream[r.workstream.name if r.workstream else "Not triaged"].append(
                SummaryLine(r.pk, r.title, r.get_state_display(), str(r.assignee or "unassigned"), r.weight)
            )
        result.summary = dict(by_workstream)
    return result


def run_triage(today: dt.date | None = None) -> TriageReport:
    """Apply every enabled triage policy, in name order, and report what each did."""
    today = today or business_today()
    weekday = FULL_DAY_NAMES[today.weekday()]
    results = []
    for policy in TriagePolicy.objects.filter(enabled=True).order_by("name"):
        if policy.run_on and policy.run_on != weekday:
            results.append(PolicyResult(policy.name, skipped=f"runs on {policy.get_run_on_display()}s"))
            continue
        results.append(apply_policy(policy, today))
    return TriageReport(today, results)
