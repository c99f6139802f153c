"""Sandbox pages, read-only (runs come from `csops sandbox clean` and the daily schedule): the
account's instances by state with a monthly cost estimate, the last runs, and a run's actions with
the tags each changed."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from csops.core import exports
from csops.core.views import require
from csops.sandbox import selectors
from csops.sandbox.filtersets import ACTIONS, OUTCOMES, ActionFilterSet, InstanceFilterSet, errors
from csops.sandbox.models import SandboxAction, SandboxInstance, SandboxPolicy, SandboxRun
from csops.sandbox.rules import CATEGORIES

RUNS = 10  # the last runs listed on the report
SHOWN = 200  # instances listed per group; the export has them all
PER_PAGE = 100  # a run's actions per page

INSTANCE_HEADERS = [
    "Instance",
    "Region",
    "Name",
    "Type",
    "State",
    "Group",
    "Expiration",
    "Owner",
    "Termination protection",
    "Monthly cost (USD)",
    "Problems",
]
ACTION_HEADERS = [
    "Instance",
    "Region",
    "Name",
    "Action",
    "Reason",
    "Outcome",
    "Error",
    "Tag changes",
    "Tags before",
    "Tags after",
    "Snapshots",
]


def _problems(request: HttpRequest, filterset) -> list[str]:
    """Bad parameters, each named: the filters', then the export format's."""
    found = errors(filterset) if filterset.is_bound and not filterset.is_valid() else []
    fmt = exports.requested(request)
    if fmt and fmt not in exports.TABLE_FORMATS:
        found.append(f"export: {fmt!r} is not one of {', '.join(exports.TABLE_FORMATS)}.")
    return found


def counts_text(counts: dict[str, int]) -> str:
    """A run's planned actions, e.g. "3 tag, 1 stop" (nothing to do is left out)."""
    shown = [f"{n} {action.replace('_', ' ')}" for action, n in sorted(counts.items()) if action != "none"]
    return ", ".join(shown) or "nothing to do"


def _instance_row(instance: SandboxInstance) -> list[Any]:
    protected = {True: "on", False: "off"}.get(instance.protected, "not checked")
    return [
        instance.instance_id,
        instance.region,
        instance.name,
        instance.instance_type,
        instance.state,
        CATEGORIES.get(instance.category, instance.category),
        instance.expiration,
        instance.owner,
        protected,
        instance.monthly_cost,
        "; ".join(instance.problems),
    ]


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """The instances by state as the last run saw them; ?export=csv|xlsx for the filtered list."""
    require(request, "view_customers")
    runs = list(SandboxRun.objects.select_related("actor")[:RUNS])
    policy = SandboxPolicy.objects.filter(name=runs[0].policy if runs else "default").first()
    filterset = InstanceFilterSet(request.GET or None, queryset=selectors.instances())
    problems = _problems(request, filterset)
    groups = [] if problems else selectors.report(policy, filterset.qs)
    fmt = exports.requested(request)
    if fmt and not problems:
        rows = [_instance_row(i) for g in groups for i in g.instances]
        return exports.table_response(fmt, "sandbox-instances", INSTANCE_HEADERS, rows, sheet="Instances")
    for run in runs:
        run.counts_text = counts_text(run.counts)
    query = request.GET.copy()
    query.pop("export", None)
    return render(
        request,
        "sandbox/report.html",
        {
            "title": "Sandbox",
            "policy": policy,
            "runs": runs,
            "latest": runs[0] if runs else None,
            "filter_form": filterset.form,
            "errors": problems,
            "groups": groups,
            "listed": [g for g in groups if g.count],
            "shown": SHOWN,
            "total": sum((g.cost for g in groups), Decimal(0)),
            "total_count": sum(g.count for g in groups),
            "unpriced": sum(g.unpriced for g in groups),
            "query": query.urlencode(),
            "filtered": any(request.GET.get(name) for name in ("category", "region", "q")),
        },
        status=400 if problems else 200,
    )


def tag_changes(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(kind, tag, before, after) for each tag added, changed or removed, by tag name."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        kind = "added" if old is None else "removed" if new is None else "changed"
        changes.append((kind, key, old or "", new or ""))
    return changes


def changes_text(changes: list[tuple[str, str, str, str]]) -> str:
    marks = {"added": "+", "removed": "-", "changed": "~"}
    return "; ".join(
        f"{marks[kind]}{key}: {old + ' → ' if old else ''}{new if kind != 'removed' else '(removed)'}"
        for kind, key, old, new in changes
    )


def _tags_text(tags: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _action_row(action: SandboxAction) -> list[Any]:
    return [
        action.instance_id,
        action.region,
        action.name,
        action.action,
        action.reason,
        action.outcome,
        action.error,
        changes_text(tag_changes(action.tags_before, action.tags_after)),
        _tags_text(action.tags_before),
        _tags_text(action.tags_after),
        " ".join(action.snapshots),
    ]


@login_required
def run(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: what it planned and did to each instance, with the tags before and after."""
    require(request, "view_customers")
    found = get_object_or_404(SandboxRun.objects.select_related("actor"), pk=pk)
    filterset = ActionFilterSet(request.GET or None, queryset=found.actions.all())
    problems = _problems(request, filterset)
    actions = found.actions.none() if problems else filterset.qs.order_by("id")
    fmt = exports.requested(request)
    if fmt and not problems:
        rows = (_action_row(a) for a in actions.iterator(chunk_size=2000))
        return exports.table_response(fmt, f"sandbox-run-{found.pk}", ACTION_HEADERS, rows, sheet="Actions")
    page = Paginator(actions, PER_PAGE).get_page(request.GET.get("page"))
    labels = dict(ACTIONS)
    for action in page.object_list:
        action.changes = tag_changes(action.tags_before, action.tags_after)
        action.label = labels.get(action.action, action.action)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("export", None)
    return render(
        request,
        "sandbox/run.html",
        {
            "title": f"Sandbox run {found.pk}",
            "run": found,
            "counts_text": counts_text(found.counts),
            "outcomes": _outcomes(found),
            "filter_form": filterset.form,
            "errors": problems,
            "page": page,
            "query": query.urlencode(),
        },
        status=400 if problems else 200,
    )


def _outcomes(found: SandboxRun) -> list[str]:
    """How the recorded actions ended, e.g. "3 stop: done", "1 reported: a problem, nothing done"."""
    totals: Counter = Counter()
    for row in found.actions.values("action", "outcome").annotate(n=Count("id")).order_by():
        totals[(row["action"], row["outcome"])] += row["n"]
    labels, outcome_labels = dict(ACTIONS), dict(OUTCOMES)
    return [
        f"{n} reported: a problem, nothing done"
        if action == "report"
        else f"{n} {labels.get(action, action).lower()}: {outcome_labels.get(outcome, outcome).lower()}"
        for (action, outcome), n in sorted(totals.items())
    ]
