"""The demo's CTA history: the rules raise every demo CTA on demo day, so without a past the CTA
report shows ages of 0 and nothing closed, and time to value shows no milestone reached.

This gives the rule-raised CTAs the last 90 days they would have had: most are backdated (their due
dates and their tasks' due dates move with them), and of those that can be older than today about
four in ten are closed by their owners through the cockpit's own actions (most by their due date,
some after). The New Customer Onboarding CTAs start when the account's contract started (or its
deal was won) and have their kickoff, first value and onboarded tasks done over the weeks after,
some late, some not yet. Accounts whose
contract started in those 90 days, before the onboarding rule's window, get the onboarding CTA the
rule would have raised then, so each recent cohort has its onboarding history.

Nothing is backdated before what the CTA answers to (the sentiment date, survey answer or
contract start it was raised for), and a CTA of a rule without `once_per` is closed within the
rule's cooldown, so the next rule run does not raise it again at once. Timestamps are set by
direct updates after the actions ran, as the other demo histories do. Deterministic for a seed;
does nothing if it ran before (its closings are audited with source SOURCE)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from csops.cockpit.actions import bulk_close_ctas, complete_task, raise_ctas
from csops.cockpit.models import Cta, CtaReason, CtaStatus, CtaType, Playbook, Source, Task
from csops.core.models import AuditEntry, User
from csops.customers.models import Account
from csops.programs.models import SurveyResponse
from csops.renewals.handoff import PLAYBOOK as ONBOARDING
from csops.rules.definition import CreateCta, RuleError, build
from csops.rules.models import Rule

SOURCE = "demo-history"
HISTORY_DAYS = 90
BATCH = 500
# The share of each type's CTAs closed in the history (others: DEFAULT_CLOSE). Renewal CTAs mostly
# stay open beside their open renewal opportunity; onboarding closes when its tasks are done.
CLOSE_SHARE = {"Renewal": 0.12}
DEFAULT_CLOSE = 0.45
ON_TIME = 0.78  # of the CTAs closed, the share closed by their due date
BACKDATED = 0.88  # of the CTAs left open, the share raised before today
# Onboarding milestones done by their due date, by task position (kickoff, cadence, value, onboarded).
TASK_ON_TIME = (0.75, 0.65, 0.6, 0.55)
STALLED = 0.12  # onboardings with nothing done after the kickoff


@dataclass
class _RuleInfo:
    anchored_due: bool  # the due date is an expression (e.g. before the renewal), not days after raising
    cooldown: int | None  # days a closed CTA keeps the rule from raising another; None with once_per
    by_response: bool  # once per survey answer: not raised before the answer


@dataclass
class _Plan:
    pk: int
    raised_at: dt.datetime
    owner_id: int | None
    type_id: int
    created: dt.date
    due: dt.date | None
    closed: dt.date | None = None
    status: CtaStatus | None = None
    delta: int = 0  # days moved back
    done: dict[int, dt.date] = field(default_factory=dict)  # task id: completion day


def seed_cta_history(seed: int = 1, today: dt.date | None = None) -> tuple[int, int]:
    """(CTAs backdated, CTAs closed); (0, 0) if the history was made before, or if no CTA could
    have one (all raised for something that happened today)."""
    if AuditEntry.objects.filter(source=SOURCE).exists():
        return 0, 0
    today = today or timezone.localdate()
    rng = random.Random(seed)
    rules = _rules()
    with transaction.atomic():
        _raise_past_onboarding(today, rules)
        ctas = list(
            Cta.objects.filter(source=Source.RULE, closed_at__isnull=True,
                               created_at__date__gte=today - dt.timedelta(days=1))
            .order_by("pk")
            .values("pk", "created_at", "owner_id", "type_id", "type__name", "due_date", "dedupe_key",
                    "source_ref", "playbook__name", "account_id", "account__contract_start")
        )
        ids = [c["pk"] for c in ctas]
        tasks: dict[int, list[Task]] = defaultdict(list)
        mine = Task.objects.filter(cta_id__in=ids).select_related("owner").order_by("cta_id", "position")
        for task in mine:
            tasks[task.cta_id].append(task)
        won = dict(
            Cta.objects.filter(pk__in=ids, handoffs__isnull=False).values_list(
                "pk", "handoffs__opportunity__close_date"
            )
        )
        answered = _answer_dates([c for c in ctas if rules.get(c["source_ref"], _NO_RULE).by_response])
        statuses = _closed_statuses()
        plans: list[_Plan] = []
        onboarding: set[int] = set()  # accounts whose onboarding CTA is planned
        for cta in ctas:
            plans.append(_plan(rng, cta, today, rules, statuses, tasks[cta["pk"]], won, answered, onboarding))
        if not any(p.status for p in plans):
            transaction.set_rollback(True)  # nothing old enough to have a history; leave all as it was
            return 0, 0
        _apply(plans, tasks, today, rng)
    return sum(1 for p in plans if p.delta), sum(1 for p in plans if p.status)


def _plan(rng: random.Random, cta: dict, today: dt.date, rules: dict[str, _RuleInfo],
          statuses: dict[int, dict], tasks: list[Task], won: dict[int, dt.date],
          answered: dict[int, dt.date], onboarding: set[int]) -> _Plan:
    """When the CTA was raised, its due date, and whether (when, how) it was closed."""
    earliest = today - dt.timedelta(days=HISTORY_DAYS)
    rule = rules.get(cta["source_ref"], _NO_RULE)
    due = cta["due_date"]
    window = None if due is None or rule.anchored_due else (due - today).days
    plan = _Plan(cta["pk"], cta["created_at"], cta["owner_id"], cta["type_id"], today, due)
    if cta["playbook__name"] == ONBOARDING:
        # Raised when the contract started, or when the deal was won for a handoff.
        anchor = max(d for d in (won.get(cta["pk"]), cta["account__contract_start"], earliest) if d)
        plan.created = min(anchor + dt.timedelta(days=rng.randint(0, 1)), today)
        _shift(plan, today, window)
        if cta["account_id"] in onboarding:
            # The rule and the handoff both raised one: its owner closes the second.
            duplicate = statuses.get(cta["type_id"], {}).get("duplicate")
            if duplicate is not None:
                plan.closed = min(plan.created + dt.timedelta(days=rng.randint(0, 3)), today)
                plan.status = duplicate
        else:
            onboarding.add(cta["account_id"])
            _onboard(rng, plan, tasks, today, statuses)
        return plan
    span = (today - max(earliest, _not_before(cta, today, answered))).days
    if span > 0 and rng.random() < CLOSE_SHARE.get(cta["type__name"], DEFAULT_CLOSE):
        _close(rng, plan, today, span, window, rule.cooldown, statuses)
        if plan.status is not None and plan.status == statuses[plan.type_id]["all"][0]:
            _finish_tasks(rng, plan, tasks)
    elif span > 0 and rng.random() < BACKDATED:
        if window is not None and rng.random() < 0.45:
            age = rng.randint(0, max(window, 0))
        else:
            age = (window or 0) + int(rng.expovariate(1 / 25))
        plan.created = today - dt.timedelta(days=min(age, span))
    _shift(plan, today, window)
    return plan


_NO_RULE = _RuleInfo(anchored_due=False, cooldown=None, by_response=False)


def _rules() -> dict[str, _RuleInfo]:
    """What each rule's create_cta says about its CTAs' dates."""
    found = {}
    for rule in Rule.objects.all():
        try:
            definition = build(rule.definition())
        except RuleError:
            continue
        for action in definition.actions:
            if isinstance(action, CreateCta):
                found[rule.name] = _RuleInfo(
                    anchored_due=action.due is not None,
                    cooldown=None if action.once_per else action.cooldown_days,
                    by_response=bool(action.once_per and "survey_response" in action.once_per),
                )
                break
    return found


def _raise_past_onboarding(today: dt.date, rules: dict[str, _RuleInfo]) -> int:
    """The onboarding CTAs the onboarding rule would have raised for contracts started in the
    history window, for accounts with a named CSM that have none (raised now, backdated later)."""
    for rule in Rule.objects.filter(name__in=rules, enabled=True).order_by("name"):
        found = next(
            ((i, a) for i, a in enumerate(build(rule.definition()).actions)
             if isinstance(a, CreateCta) and a.playbook == ONBOARDING),
            None,
        )
        if found is None:
            continue
        index, action = found
        kind = CtaType.objects.get(name=action.type)
        accounts = (
            Account.objects.filter(
                contract_start__gte=today - dt.timedelta(days=HISTORY_DAYS),
                contract_start__lte=today,
                csm__isnull=False,
                csm__is_pool=False,
            )
            .exclude(ctas__playbook__name=ONBOARDING)
            .order_by("pk")
            .values_list("pk", "name", "csm_id", "contract_start")
        )
        return raise_ctas(
            [
                {
                    "account_id": pk,
                    "name": f"{name} - {action.reason}"[:255],
                    "owner_id": csm,
                    "due_date": today + dt.timedelta(days=action.due_in_days),
                    "dedupe_key": f"rule:{rule.name}:{index}:{pk}:{start.isoformat()}",
                    "csm_owner": csm,
                }
                for pk, name, csm, start in accounts
            ],
            type=kind,
            reason=CtaReason.objects.get(type=kind, name=action.reason),
            priority=action.priority,
            playbook=Playbook.objects.filter(name=ONBOARDING).first(),
            source_ref=rule.name,
            rule_run_id=None,
        )
    return 0


def _not_before(cta: dict, today: dt.date, answered: dict[int, dt.date]) -> dt.date:
    """The day the CTA's reason arose: the date its once-per key names (a sentiment date, a scoring
    date), or the survey answer it follows; the rule cannot have raised it before."""
    if cta["pk"] in answered:
        return answered[cta["pk"]]
    try:
        day = dt.date.fromisoformat((cta["dedupe_key"] or "").rsplit(":", 1)[-1])
    except ValueError:
        return dt.date.min
    return day if day <= today else dt.date.min


def _answer_dates(ctas: list[dict]) -> dict[int, dt.date]:
    response_of = {}
    for cta in ctas:
        last = (cta["dedupe_key"] or "").rsplit(":", 1)[-1]
        if last.isdigit():
            response_of[cta["pk"]] = int(last)
    days = dict(
        SurveyResponse.objects.filter(pk__in=set(response_of.values())).values_list("pk", "created_at")
    )
    return {
        pk: timezone.localdate(days[response]) for pk, response in response_of.items() if response in days
    }


def _closed_statuses() -> dict[int, dict]:
    """Per CTA type: the closed statuses that apply to it, in order, with their weights (the first,
    success, most often), and the one a duplicate gets."""
    statuses = list(CtaStatus.objects.filter(is_closed=True).prefetch_related("types").order_by("position"))
    found = {}
    for kind in CtaType.objects.all():
        usable = [s for s in statuses if not s.types.all() or kind in s.types.all()]
        if not usable:
            continue
        weights = [0.7] + [0.3 / max(len(usable) - 1, 1)] * (len(usable) - 1)
        duplicate = next((s for s in usable if "already" in s.name.lower()), usable[-1])
        found[kind.pk] = {"all": usable, "weights": weights, "duplicate": duplicate}
    return found


def _close(rng: random.Random, plan: _Plan, today: dt.date, span: int, window: int | None,
           cooldown: int | None, statuses: dict[int, dict]) -> None:
    """Open some days before it was closed, most by the due date; closed at most `span` days ago."""
    if plan.type_id not in statuses:
        return
    if window is not None and window > 0:
        on_time = rng.random() < ON_TIME
        took = rng.randint(max(1, window // 4), window) if on_time else window + rng.randint(1, 25)
    else:
        took = rng.randint(1, 30)
    took = min(took, span)
    latest = span - took
    if cooldown is not None:
        latest = min(latest, max(cooldown - 1, 0))
    ago = rng.randint(0, latest)
    plan.closed = today - dt.timedelta(days=ago)
    plan.created = plan.closed - dt.timedelta(days=took)
    choice = statuses[plan.type_id]
    plan.status = rng.choices(choice["all"], choice["weights"])[0]


def _shift(plan: _Plan, today: dt.date, window: int | None) -> None:
    plan.delta = (today - plan.created).days
    if window is not None:
        plan.due = plan.created + dt.timedelta(days=window)


def _finish_tasks(rng: random.Random, plan: _Plan, tasks: list[Task]) -> None:
    """A CTA closed as a success had its tasks done, in order, between raising and closing."""
    assert plan.closed is not None
    days = sorted(rng.randint(0, (plan.closed - plan.created).days) for _ in tasks)
    for task, offset in zip(tasks, days, strict=True):
        if task.done_at is None:
            plan.done[task.pk] = plan.created + dt.timedelta(days=offset)


def _onboard(rng: random.Random, plan: _Plan, tasks: list[Task], today: dt.date,
             statuses: dict[int, dict]) -> None:
    """The onboarding's tasks done in order, each by its due date or late; none after today. Once
    the last is done the owner closes the CTA as a success."""
    stalled = rng.random() < STALLED
    previous = plan.created
    for position, task in enumerate(tasks):
        if task.due_date is None or task.done_at is not None or (stalled and position > 0):
            break
        due = task.due_date - dt.timedelta(days=plan.delta)
        allowed = max((due - plan.created).days, 1)
        if rng.random() < TASK_ON_TIME[min(position, len(TASK_ON_TIME) - 1)]:
            day = plan.created + dt.timedelta(days=rng.randint(max(1, allowed // 3), allowed))
        else:
            day = due + dt.timedelta(days=rng.randint(1, 20))
        day = max(day, previous)
        if day > today:
            break
        plan.done[task.pk] = previous = day
    if tasks and len(plan.done) == len(tasks) and plan.type_id in statuses:
        plan.closed = min(previous + dt.timedelta(days=rng.randint(0, 3)), today)
        plan.status = statuses[plan.type_id]["all"][0]


def _apply(plans: list[_Plan], tasks: dict[int, list[Task]], today: dt.date, rng: random.Random) -> None:
    """Through the actions (tasks completed by their owners, CTAs closed by theirs), then the dates."""
    people = {u.pk: u for u in User.objects.filter(pk__in={p.owner_id for p in plans if p.owner_id})}
    for plan in plans:
        for task in tasks[plan.pk]:
            if task.pk in plan.done:
                complete_task(task, actor=task.owner or people.get(plan.owner_id))
    groups = defaultdict(list)
    for plan in plans:
        if plan.closed and plan.status is not None:
            groups[(plan.status.pk, plan.owner_id)].append(plan.pk)
    by_pk = {s.pk: s for s in CtaStatus.objects.filter(pk__in={k[0] for k in groups})}
    for (status, owner), ids in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0)):
        for start in range(0, len(ids), 1000):
            bulk_close_ctas(ids[start : start + 1000], actor=people.get(owner), status=by_pk[status],
                            source=SOURCE)
    now = timezone.now()

    def at(day: dt.date) -> dt.datetime:
        if day >= today:
            return now
        moment = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)))
        return timezone.make_aware(moment)

    rows, task_rows = [], []
    for plan in plans:
        created = at(plan.created) if plan.delta else plan.raised_at
        closed = at(plan.closed) if plan.status is not None and plan.closed else None
        if closed is not None:
            created = min(created, closed)
        if plan.delta or closed is not None:
            rows.append(Cta(pk=plan.pk, created_at=created, due_date=plan.due, closed_at=closed))
        for task in tasks[plan.pk]:
            if plan.delta or task.pk in plan.done:
                if task.due_date is not None:
                    task.due_date -= dt.timedelta(days=plan.delta)
                if task.pk in plan.done:
                    done = at(plan.done[task.pk])
                    task.done_at = min(done, closed) if closed else done
                task_rows.append(task)
    Cta.objects.bulk_update(rows, ["created_at", "due_date", "closed_at"], batch_size=BATCH)
    Task.objects.bulk_update(task_rows, ["due_date", "done_at"], batch_size=BATCH)
