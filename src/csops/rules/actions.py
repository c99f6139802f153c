"""Running rules: evaluate each rule set-wise, apply (or, in a dry run, list) what it would do,
record every run, and alert when a rule fails, without stopping the others."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
import urllib.request
from collections.abc import Callable

import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csops.cockpit.actions import close_ctas_by_rule, raise_ctas
from csops.cockpit.models import CtaReason, CtaStatus, CtaType, Playbook
from csops.core import audit, scheduler
from csops.core.calendar import business_today
from csops.core.models import Role, User
from csops.core.signals import account_data_changed
from csops.customers.models import Account
from csops.health.actions import score_accounts
from csops.health.scorecard import Scorecard, fingerprint
from csops.health.selectors import active_scorecard
from csops.programs.actions import enrol_contacts
from csops.programs.outbox import queue_plain
from csops.rules import features
from csops.rules.compiler import CompiledRule, Tables, compile_rule
from csops.rules.definition import (
    CloseCta,
    CreateCta,
    Enrol,
    Notify,
    RuleDefinition,
    RuleError,
    SetField,
    build,
)
from csops.rules.models import PendingEvaluation, Rule, RuleEffect, RuleResult, RuleRun, Trigger
from csops.usage import store

log = logging.getLogger(__name__)
SAMPLE = 5
Progress = Callable[[str], None]


class RuleRunner:
    """One run: the store synced and the features built once, then each rule on its own."""

    def __init__(self, run: RuleRun, scorecard: Scorecard, progress: Progress):
        self.run = run
        self.scorecard = scorecard
        self.progress = progress
        self.con = store.connect()
        self.tables: Tables | None = None

    def prepare(self, account_ids: list[int] | None) -> None:
        features.sync(self.con, self.run.as_of, account_ids)
        table = features.as_features(self.con, self.scorecard, self.run.as_of, scoped=account_ids is not None)
        self.tables = Tables.from_store(self.con, table)

    def evaluate(self, rule: Rule) -> RuleResult:
        result = RuleResult(run=self.run, rule=rule.name, started_at=timezone.now())
        started = time.monotonic()
        try:
            data = rule.definition()
            definition = build(data)
            sql = self.compiled_sql(data, definition)
            result.audience = int(store.scalar(self.con, sql("audience")))
            for index, action in enumerate(definition.actions):
                self.act(rule.name, action, store.query(self.con, sql(index)), result)
        except Exception as exc:  # one failing rule must not stop the others
            result.error = _describe(exc)
            log.error("rule %s failed: %s", rule.name, result.error, exc_info=not isinstance(exc, RuleError))
        result.seconds = round(time.monotonic() - started, 3)
        if self.run.trigger == Trigger.INCREMENTAL and not (result.error or any(result.actions.values())):
            return result  # re-evaluating a changed account that did nothing is not worth a history row
        result.save()
        if result.error:
            result.alert = alert_failure(result)
            result.save(update_fields=["alert"])
        return result

    def counts(self, data: dict) -> dict:
        """What a rule definition (saved or not) would do now: its audience and planned actions."""
        definition = build(data)
        sql = self.compiled_sql(data, definition)
        planned: dict[str, int] = {}
        for index, action in enumerate(definition.actions):
            rows = store.query(self.con, sql(index))
            planned[action.kind] = planned.get(action.kind, 0) + _planned(action, rows)
        return {"audience": int(store.scalar(self.con, sql("audience"))), "actions": planned}

    def compiled_sql(self, data: dict, definition: RuleDefinition) -> Callable[[str | int], store.Compiled]:
        """The rule's audience count and action plans as SQL, compiled once per definition and day."""
        key = (
            "rule",
            json.dumps(data, sort_keys=True, default=str),
            fingerprint(self.scorecard),
            self.run.as_of,
        )
        compiled: list[CompiledRule] = []

        def rule_expressions() -> CompiledRule:
            if not compiled:
                compiled.append(compile_rule(definition, self.tables, self.scorecard, self.run.as_of))
            return compiled[0]

        def sql(part: str | int) -> store.Compiled:
            if part == "audience":
                return store.compiled(self.con, (*key, part), lambda: rule_expressions().audience().count())
            return store.compiled(self.con, (*key, part), lambda: rule_expressions().plan(part))

        return sql

    def act(self, rule_name: str, action, rows: pa.Table, result: RuleResult) -> None:
        label = action.kind
        if self.run.dry_run:
            result.actions[label] = result.actions.get(label, 0) + _planned(action, rows)
            result.sample.append({"action": label, "rows": _sample(rows)})
            return
        applied, skipped = APPLY[type(action)](rule_name, action, rows, self.run)
        result.actions[label] = result.actions.get(label, 0) + applied
        if skipped:
            result.skipped[label] = result.skipped.get(label, 0) + skipped


def _describe(exc: Exception) -> str:
    if isinstance(exc, RuleError):
        return str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1:]
    where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _planned(action, rows: pa.Table) -> int:
    if isinstance(action, Enrol):
        return rows["skip"].null_count  # rows without a reason to skip them
    return rows.num_rows


def _sample(rows: pa.Table) -> list[dict]:
    return json.loads(json.dumps(rows.slice(0, SAMPLE).to_pylist(), default=str))


def run_rules(
    *,
    names: list[str] | None = None,
    dry_run: bool = False,
    as_of: dt.date | None = None,
    account_ids: list[int] | None = None,
    trigger: str = Trigger.MANUAL,
    actor: User | None = None,
    progress: Progress = lambda message: None,
) -> RuleRun:
    """Evaluate the enabled rules (or the named ones, enabled or not) over every account, or over
    `account_ids`; apply their actions unless `dry_run`. Each rule's outcome is one RuleResult."""
    rules = list(Rule.objects.filter(name__in=names) if names else Rule.objects.filter(enabled=True))
    if names and len(rules) != len(set(names)):
        unknown = sorted(set(names) - {r.name for r in rules})
        raise RuleError(f"unknown rule {unknown[0]!r}")
    run = RuleRun.objects.create(
        trigger=trigger,
        dry_run=dry_run,
        as_of=as_of or business_today(),
        scope=None if account_ids is None else len(account_ids),
        actor=actor if actor and actor.pk else None,
    )
    started = time.monotonic()
    runner = RuleRunner(run, active_scorecard(), progress)
    with store.exclusive(runner.con):
        try:
            runner.prepare(account_ids)
        except Exception as exc:
            _fail_all(run, rules, exc)
        else:
            scope = "every account" if run.scope is None else f"{run.scope:,} account(s)"
            progress(f"Features of {scope} ready in {time.monotonic() - started:.1f}s")
            for rule in rules:
                result = runner.evaluate(rule)
                progress(_line(result, dry_run))
    run.seconds = round(time.monotonic() - started, 3)
    run.save(update_fields=["seconds"])
    return run


def dry_run_counts(definitions: list[dict | None]) -> list[dict | None]:
    """The dry-run counts of rule definitions that need not be saved (a proposed change's impact):
    one feature build for all of them, nothing applied or recorded. A definition that fails to
    evaluate gets its error instead of counts."""
    runner = RuleRunner(RuleRun(dry_run=True, as_of=business_today()), active_scorecard(), lambda m: None)
    counts: list[dict | None] = []
    with store.exclusive(runner.con):
        runner.prepare(None)
        for data in definitions:
            try:
                counts.append(None if data is None else runner.counts(data))
            except Exception as exc:  # the preview reports a failing definition, as a run would
                counts.append({"error": _describe(exc)})
    return counts


def _fail_all(run: RuleRun, rules: list[Rule], exc: Exception) -> None:
    log.exception("rule run %s could not read its data", run.pk)
    message = f"reading the data failed: {_describe(exc)}"
    for rule in rules:
        result = RuleResult.objects.create(run=run, rule=rule.name, started_at=timezone.now(), error=message)
        result.alert = alert_failure(result)
        result.save(update_fields=["alert"])


def _line(result: RuleResult, dry_run: bool) -> str:
    verb = "would do" if dry_run else "did"
    done = ", ".join(f"{n:,} {a}" for a, n in result.actions.items()) or "nothing"
    status = f"FAILED: {result.error}" if result.error else f"{result.audience:,} in audience, {verb} {done}"
    return f"  {result.rule}: {status} ({result.seconds:.2f}s)"


# --- applying each kind of action ------------------------------------------------------------------


def _apply_create_cta(rule: str, action: CreateCta, rows: pa.Table, run: RuleRun) -> tuple[int, int]:
    kind = CtaType.objects.get(name=action.type)
    created = raise_ctas(
        rows.to_pylist(),
        type=kind,
        reason=CtaReason.objects.get(type=kind, name=action.reason),
        priority=action.priority,
        playbook=Playbook.objects.filter(name=action.playbook).first() if action.playbook else None,
        source_ref=rule,
        rule_run_id=run.pk,
    )
    return created, rows.num_rows - created


def _apply_close_cta(rule: str, action: CloseCta, rows: pa.Table, run: RuleRun) -> tuple[int, int]:
    status = CtaStatus.objects.get(name=action.status, is_closed=True)
    ids = rows["cta_id"].to_pylist()
    closed = close_ctas_by_rule(ids, status=status, rule=rule)
    return closed, len(ids) - closed


def _apply_set_field(rule: str, action: SetField, rows: pa.Table, run: RuleRun) -> tuple[int, int]:
    ids = rows["account_id"].to_pylist()
    changed: list[int] = []
    for start in range(0, len(ids), 2000):
        with transaction.atomic():
            batch = list(
                Account.objects.filter(pk__in=ids[start : start + 2000])
                .exclude(**{action.field: action.value})
                .values_list("pk", "name", action.field)
            )
            Account.objects.filter(pk__in=[pk for pk, _, _ in batch]).update(
                **{action.field: action.value, "updated_at": timezone.now()}
            )
            audit.record_many(
                audit.entry(
                    actor=None,
                    verb="update",
                    obj=Account(pk=pk, name=name),
                    source="rule",
                    changes={action.field: [old, action.value], "rule": [None, rule]},
                )
                for pk, name, old in batch
            )
            changed.extend(pk for pk, _, _ in batch)
    account_data_changed.send(sender=Rule, account_ids=changed)
    return len(changed), len(ids) - len(changed)


def _apply_enrol(rule: str, action: Enrol, rows: pa.Table, run: RuleRun) -> tuple[int, int]:
    wanted = rows.filter(rows["skip"].is_null())
    made = enrol_contacts(
        program_name=action.program,
        rows=wanted.select(["account_id", "contact_id", "key"]).to_pylist(),
        source_ref=rule,
    )
    return made, rows.num_rows - made


def _record_effects(rule: str, kind: str, rows: pa.Table, run: RuleRun, key: str) -> list[str]:
    """Claim each row's key; returns the keys this run claimed (others were claimed before)."""
    keys = rows[key].to_pylist()
    RuleEffect.objects.bulk_create(
        [
            RuleEffect(key=k, rule=rule, kind=kind, account_id=a, run=run)
            for k, a in zip(keys, rows["account_id"].to_pylist(), strict=True)
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    claimed = set()
    for start in range(0, len(keys), 2000):
        claimed |= set(
            RuleEffect.objects.filter(key__in=keys[start : start + 2000], run=run).values_list(
                "key", flat=True
            )
        )
    return [k for k in keys if k in claimed]


def _apply_notify(rule: str, action: Notify, rows: pa.Table, run: RuleRun) -> tuple[int, int]:
    with transaction.atomic():
        claimed = set(_record_effects(rule, "notify", rows, run, key="key"))
        mine = rows.filter(pa.array([k in claimed for k in rows["key"].to_pylist()], pa.bool_()))
        if mine.num_rows:
            send_notification(rule, action, mine, key=f"notify:{rule}:{run.pk}")
    return mine.num_rows, rows.num_rows - mine.num_rows


APPLY = {
    CreateCta: _apply_create_cta,
    CloseCta: _apply_close_cta,
    SetField: _apply_set_field,
    Enrol: _apply_enrol,
    Notify: _apply_notify,
}


# --- notifications and alerts -----------------------------------------------------------------------


def _account_lines(names: list[str], ids: list[int]) -> str:
    base = settings.CSOPS_BASE_URL.rstrip("/")
    return "\n".join(
        f"- {name}: {base}/customers/accounts/{pk}/" for name, pk in zip(names, ids, strict=True)
    )


def send_notification(rule: str, action: Notify, rows: pa.Table, key: str) -> None:
    """One message per recipient listing the accounts that newly matched (a digest, not a flood)."""
    names, ids = rows["account_name"].to_pylist(), rows["account_id"].to_pylist()
    subject = action.subject.format(rule=rule, count=rows.num_rows)
    if action.via == "slack":
        post_to_slack(f"*{subject}*\n{_account_lines(names[:20], ids[:20])}")
        return
    by_user: dict[int, list[int]] = {}
    for recipient in action.to:
        column = f"{recipient}_owner"
        if column in rows.column_names:
            for position, user_id in enumerate(rows[column].to_pylist()):
                if user_id is not None:
                    by_user.setdefault(user_id, []).append(position)
    emails = dict(
        User.objects.filter(pk__in=by_user, is_active=True).exclude(email="").values_list("pk", "email")
    )
    messages = [
        ([emails[user]], [names[p] for p in positions], [ids[p] for p in positions])
        for user, positions in by_user.items()
        if user in emails
    ]
    fixed = [a for a in action.to if "@" in a] + (admin_emails() if "admins" in action.to else [])
    if fixed:
        messages.append((fixed, names, ids))
    for recipients, account_names, account_ids in messages:
        lines = _account_lines(account_names, account_ids)
        body = f"Rule {rule!r} matched {len(account_names)} account(s):\n\n{lines}\n"
        queue_plain(key=key, kind="notification", to=recipients, subject=subject, text=body)


def admin_emails() -> list[str]:
    admins = User.objects.filter(role=Role.ADMIN, is_active=True, is_pool=False).exclude(email="")
    return list(admins.values_list("email", flat=True))


def post_to_slack(text: str) -> None:
    url = settings.CSOPS_SLACK_WEBHOOK_URL
    if not url:
        raise RuleError("a Slack notification needs CSOPS_SLACK_WEBHOOK_URL")
    request = urllib.request.Request(
        url, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def alert_failure(result: RuleResult) -> str:
    """Tell the CS Ops admins (email, and Slack when configured) that a rule failed; returns who was told."""
    subject = f"csops: rule {result.rule!r} failed"
    when = f"{result.started_at:%Y-%m-%d %H:%M} UTC"
    body = f"The rule {result.rule!r} failed in run {result.run_id} ({when}):\n\n{result.error}\n"
    told = []
    try:
        recipients = admin_emails()
        if recipients:
            queue_plain(key=f"alert:{result.pk}", kind="alert", to=recipients, subject=subject, text=body)
            told.append(f"emailed {len(recipients)} admin(s)")
        if settings.CSOPS_SLACK_WEBHOOK_URL:
            post_to_slack(f"{subject}: {result.error}")
            told.append("posted to Slack")
    except Exception as exc:  # the failure is recorded either way; say why the alert was not sent
        told.append(f"alert not sent: {type(exc).__name__}: {exc}")
    return "; ".join(told)[:300] or "no admin has an email address"


# --- schedule and incremental evaluation --------------------------------------------------------------


def fire_due_rules(now: dt.datetime) -> list:
    """Queue one run for the enabled rules whose schedule is due (rules due at the same time share
    a run, so the data is read once); each rule fires once per due time, however many schedulers."""
    from csops.rules.tasks import run_rules as run_rules_task

    due_groups: dict[dt.datetime, list[str]] = {}
    for name, schedule in Rule.objects.filter(enabled=True).values_list("name", "schedule"):
        due_groups.setdefault(scheduler.last_due(schedule, now), []).append(name)
    fired = []
    for due, names in sorted(due_groups.items()):
        with transaction.atomic():
            firings = [f for f in (scheduler.claim(f"rule:{name}", due) for name in names) if f]
            if not firings:
                continue
            result = run_rules_task.enqueue([f.schedule.removeprefix("rule:") for f in firings])
            for firing in firings:
                firing.task_result_id = str(result.id)
                firing.save(update_fields=["task_result_id"])
        fired += firings
    return fired


FULL_RUN_ABOVE = 20_000  # pending accounts beyond which one full pass is cheaper than a long id list


def claim_pending() -> tuple[list[int] | None, int]:
    """Take the pending accounts off the list: (their ids, or None for "every account"; how many)."""
    with transaction.atomic():
        pending = PendingEvaluation.objects.select_for_update(skip_locked=True).order_by("since")
        ids = list(pending.values_list("account_id", flat=True)[: FULL_RUN_ABOVE + 1])
        if len(ids) > FULL_RUN_ABOVE:
            count = PendingEvaluation.objects.count()
            PendingEvaluation.objects.all().delete()
            return None, count
        PendingEvaluation.objects.filter(account_id__in=ids).delete()
    return ids, len(ids)


def evaluate_pending() -> dict:
    """Re-score the accounts whose data changed, then run every enabled rule over them."""
    ids, count = claim_pending()
    if not count:
        return {"accounts": 0}
    started = time.monotonic()
    score_accounts(account_ids=ids, as_of=business_today())
    run = run_rules(account_ids=ids, trigger=Trigger.INCREMENTAL)
    return {"accounts": count, "run": run.pk, "seconds": round(time.monotonic() - started, 3)}
