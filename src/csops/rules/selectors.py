"""Reads for the rules pages."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django_tasks_db.models import DBTaskResult

from csops.rules.models import Rule, RuleBacktest, RuleResult

TASKS = ("csops.rules.tasks.run_rules", "csops.rules.tasks.backtest")


def rules_with_last_result() -> list[Rule]:
    """Every rule with its latest real (not dry) result, in two queries."""
    latest = RuleResult.objects.filter(rule=OuterRef("name"), run__dry_run=False).order_by(
        "-started_at", "-pk"
    )
    rules = list(Rule.objects.annotate(last_result_id=Subquery(latest.values("pk")[:1])))
    results = RuleResult.objects.select_related("run").in_bulk(
        [r.last_result_id for r in rules if r.last_result_id]
    )
    for rule in rules:
        rule.last_result = results.get(rule.last_result_id)
    return rules


def rule_page(rule: Rule) -> dict:
    return {
        "results": list(RuleResult.objects.filter(rule=rule.name).select_related("run", "run__actor")[:20]),
        "backtests": list(RuleBacktest.objects.filter(rule=rule.name)[:10]),
        "queued": DBTaskResult.objects.filter(task_path__in=TASKS, status__in=["READY", "RUNNING"]).count(),
    }
