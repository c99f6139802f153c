import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core import charts
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, require
from csops.rules import selectors, tasks
from csops.rules.filtersets import RuleResultFilterSet
from csops.rules.forms import BacktestForm
from csops.rules.models import Rule, RuleBacktest, RuleResult


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(request, "rules/rule_list.html", {"rules": selectors.rules_with_last_result()})


def _rule_page(request: HttpRequest, rule: Rule, form: BacktestForm | None = None, status: int = 200):
    actions = yaml.safe_dump(rule.actions, sort_keys=False, allow_unicode=True, width=100)
    return render(
        request,
        "rules/rule_detail.html",
        {
            "rule": rule,
            "actions_yaml": actions,
            "can_run": has_perm(request.user, "run_rules"),
            "backtest_form": form or BacktestForm(),
            **selectors.rule_page(rule),
        },
        status=status,
    )


@login_required
def rule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    return _rule_page(request, get_object_or_404(Rule, pk=pk))


@login_required
def rule_detail_by_name(request: HttpRequest, name: str) -> HttpResponse:
    require(request, "view_customers")
    return redirect(get_object_or_404(Rule, name=name))


@login_required
@require_POST
def queue_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a run (or dry run) of one rule for the worker, which owns the analytics store."""
    require(request, "run_rules")
    rule = get_object_or_404(Rule, pk=pk)
    dry_run = request.POST.get("dry_run") == "1"
    tasks.run_rules.enqueue([rule.name], dry_run=dry_run, actor_id=request.user.pk)
    what = "A dry run" if dry_run else "A run"
    messages.success(request, f"{what} of {rule.name} is queued; its result appears below in a few seconds.")
    return redirect(rule)


@login_required
@require_POST
def queue_backtest(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "run_rules")
    rule = get_object_or_404(Rule, pk=pk)
    form = BacktestForm(request.POST)
    if not form.is_valid():
        return _rule_page(request, rule, form, status=400)
    tasks.backtest.enqueue(
        rule.name, form.cleaned_data["days"], form.cleaned_data["step_days"], request.user.pk
    )
    messages.success(request, f"A {form.cleaned_data['days']}-day backtest of {rule.name} is queued.")
    return redirect(rule)


@login_required
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    backtest = get_object_or_404(RuleBacktest, pk=pk)
    report = backtest.report
    rows = [
        {"day": p["day"], "accounts": p[key], "series": label}
        for p in report["series"]
        for key, label in (("audience", "in the audience"), ("entered", "entered that day"))
    ]
    return render(
        request,
        "rules/backtest_detail.html",
        {
            "backtest": backtest,
            "rule": Rule.objects.filter(name=backtest.rule).first(),
            "report": report,
            "chart": charts.lines(rows, x="day", y="accounts", color="series", title="Accounts per day")
            if rows
            else "",
        },
    )


class RuleResultListView(ObjectListView):
    """The run history: every rule's every run, newest first."""

    queryset = RuleResult.objects.select_related("run")
    filterset_class = RuleResultFilterSet
    title = "Rule runs"
    export_name = "rule-runs"
    default_sort = "-started_at"
    columns = [
        Column("rule", "Rule", sort="rule"),
        Column("started_at", "Started", sort="started_at", display=lambda v: f"{v:%Y-%m-%d %H:%M:%S}"),
        Column("run.get_trigger_display", "Trigger"),
        Column("run.dry_run", "Dry run", display=lambda v: "yes" if v else ""),
        Column("seconds", "Seconds", sort="seconds", numeric=True, display=lambda v: f"{v:.2f}"),
        Column("audience", "Audience", sort="audience", numeric=True, display=lambda v: f"{v:,}"),
        Column("actions_text", "Actions applied"),
        Column("error", "Error"),
    ]
