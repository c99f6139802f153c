"""Rules compiled to Ibis: the audience is one expression over every account, and each action a
plan (the rows it would write), computed set-wise; Python never loops over accounts here.

The same compiled rule serves a scheduled run, a dry run, the incremental re-evaluation of a few
accounts and a backtest: only the tables and the date differ.
"""

from __future__ import annotations

import datetime as dt
import json
import string
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from csops.cockpit.models import CtaReason, CtaStatus, CtaType, Playbook
from csops.core.models import User
from csops.health.actions import COLOR_CODES
from csops.health.expressions import FUNCTIONS, Compiler, ExpressionError
from csops.health.scorecard import Scorecard, fingerprint
from csops.programs.actions import enrolment_key_parts
from csops.programs.models import Program
from csops.rules import features
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

TEAM_OWNER_COLUMNS = tuple(f"{role}_owner" for role in features.TEAM)


# In the order of the fields of Tables after `features`.
STATE_TABLES = ("rules_ctas", "rules_known_keys", "rules_open_ctas", "rules_recipients", "rules_pool_slots")


@dataclass
class Tables:
    """What a rule is evaluated against: the feature table and the state tables beside it."""

    features: ir.Table
    rule_ctas: ir.Table
    known_keys: ir.Table
    open_ctas: ir.Table
    recipients: ir.Table
    pool_slots: ir.Table

    @classmethod
    def from_store(cls, con: BaseBackend, feature_table: ir.Table) -> Tables:
        return cls(feature_table, *(con.table(name) for name in STATE_TABLES))

    @classmethod
    def empty(cls, scorecard: Scorecard) -> Tables:
        def empty(schema: dict) -> ir.Table:
            return ibis.memtable(pa.schema(schema.items()).empty_table())

        return cls(
            features.empty_features(scorecard), *(empty(features.SCHEMAS[name]) for name in STATE_TABLES)
        )


def _code(color: ir.StringValue) -> ir.IntegerValue:
    return ibis.cases(*[(color == name, code) for name, code in COLOR_CODES.items()], else_=ibis.null("int8"))


class RuleExpressions(Compiler):
    """The expression language of scorecards, plus what rules ask about dates, changes and CTAs."""

    functions = FUNCTIONS | {"days_until", "months_until", "add_days", "worsened", "improved", "has_open_cta"}

    def __init__(self, tables: Tables, scorecard: Scorecard, as_of: dt.date):
        super().__init__({name: tables.features[name] for name in tables.features.columns}, as_of)
        self.tables = tables
        self.measures = {"health", *(m.key for m in scorecard.measures)}

    def fn_days_until(self, day: ir.DateValue) -> ir.IntegerValue:
        return day.delta(self.as_of, unit="day")

    def fn_months_until(self, day: ir.DateValue) -> ir.FloatingValue:
        return day.delta(self.as_of, unit="day").cast("float64") / 30.4375

    def fn_add_days(self, day: ir.DateValue, days: int) -> ir.DateValue:
        if isinstance(days, bool) or not isinstance(days, int):
            raise ExpressionError("add_days(date, n): n must be a whole number")
        return day + ibis.interval(days=days)

    def _moved(self, keys: tuple, worse: bool) -> ir.BooleanValue:
        if not keys:
            raise ExpressionError("name at least one measure, e.g. worsened('ci')")
        moves = []
        for key in keys:
            if key not in self.measures:
                raise ExpressionError(f"unknown measure {key!r} (known: {', '.join(sorted(self.measures))})")
            now = _code(self.columns[f"{key}_color"])
            before = _code(self.columns[f"{key}_previous_color"])
            moves.append(ibis.coalesce(now < before if worse else now > before, False))
        result = moves[0]
        for move in moves[1:]:
            result = result | move
        return result

    def fn_worsened(self, *keys: str) -> ir.BooleanValue:
        """A measure's colour fell since the snapshot before (green to yellow or red, yellow to red)."""
        return self._moved(keys, worse=True)

    def fn_improved(self, *keys: str) -> ir.BooleanValue:
        return self._moved(keys, worse=False)

    def fn_has_open_cta(self, type: str, reason: str | None = None) -> ir.BooleanValue:
        open_ctas = self.tables.open_ctas
        wanted = open_ctas.type == type
        if reason is not None:
            wanted = wanted & (open_ctas.reason == reason)
        return self.columns["account_id"].isin(open_ctas.filter(wanted).account_id)


def _text(value: ir.Value) -> ir.StringValue:
    return ibis.coalesce(value.cast("string"), "")


class CompiledRule:
    """A checked rule bound to its tables: the audience and one plan per action."""

    def __init__(self, definition: RuleDefinition, tables: Tables, scorecard: Scorecard, as_of: dt.date):
        self.definition = definition
        self.tables = tables
        self.as_of = as_of
        self.expressions = RuleExpressions(tables, scorecard, as_of)
        self.condition = self._condition()
        self.references = _References(definition)

    @property
    def name(self) -> str:
        return self.definition.name

    def _compile(self, text: str, where: str) -> ir.Value:
        try:
            return self.expressions.compile(text)
        except ExpressionError as exc:
            raise RuleError(f"rule {self.name!r}: {where}: {exc}") from None
        except Exception as exc:  # Ibis refuses ill-typed expressions with assorted errors
            raise RuleError(f"rule {self.name!r}: {where}: {text!r} is not valid: {exc}") from None

    def _condition(self) -> ir.BooleanValue:
        parts = []
        for index, text in enumerate(self.definition.when):
            value = self._compile(text, f"condition {index + 1}")
            if not isinstance(value, ir.BooleanValue):
                raise RuleError(
                    f"rule {self.name!r}: condition {index + 1}: {text!r} is not a yes/no condition"
                )
            parts.append(ibis.coalesce(value, False))
        condition = parts[0]
        for part in parts[1:]:
            condition = condition & part
        return condition

    def audience(self) -> ir.Table:
        return self.tables.features.filter(self.condition)

    def plan(self, index: int) -> ir.Table:
        action = self.definition.actions[index]
        planner = {
            CreateCta: self._plan_create_cta,
            CloseCta: self._plan_close_cta,
            SetField: self._plan_set_field,
            Enrol: self._plan_enrol,
            Notify: self._plan_notify,
        }[type(action)]
        return planner(index, action)

    def _key(self, table: ir.Table, prefix: str, index: int, suffix: ir.StringValue) -> ir.StringValue:
        return ibis.literal(f"{prefix}:{self.name}:{index}:") + table.account_id.cast("string") + ":" + suffix

    def _once_per(self, text: str | None, where: str) -> ir.StringValue | None:
        return _text(self._compile(text, where)) if text else None

    def _plan_create_cta(self, index: int, action: CreateCta) -> ir.Table:
        where = f"action {index + 1} (create_cta)"
        matched = self.audience()
        state = self.tables.rule_ctas
        state = state.filter(state.rule == self.name).select(
            s_account=state.account_id,
            s_open=state.open_ctas,
            s_closed=state.closed_ctas,
            s_last_closed=state.last_closed_at,
        )
        table = matched.left_join(state, matched.account_id == state.s_account)
        once = self._once_per(action.once_per, f"{where}: once_per")
        suffix = once if once is not None else "g" + ibis.coalesce(table.s_closed, 0).cast("string")
        cooldown_start = dt.datetime.combine(
            self.as_of - dt.timedelta(days=action.cooldown_days), dt.time(), tzinfo=dt.UTC
        )
        table = table.filter(
            ibis.coalesce(table.s_open, 0) == 0,
            table.s_last_closed.isnull() | (table.s_last_closed < ibis.literal(cooldown_start)),
        )
        table = table.mutate(dedupe_key=self._key(table, "rule", index, suffix))
        known = self.tables.known_keys
        table = table.anti_join(known, table.dedupe_key == known.key)
        due = ibis.literal(self.as_of + dt.timedelta(days=action.due_in_days))
        if action.due:
            due = self._compile(action.due, f"{where}: due")
            if not isinstance(due, ir.DateValue | ir.TimestampValue):
                raise RuleError(f"rule {self.name!r}: {where}: due: {action.due!r} is not a date")
            due = ibis.greatest(due.cast("date"), self.expressions.as_of)  # never due before it is raised
        table, owner = self._owner(table, action.owner, where)
        return table.select(
            "account_id",
            "dedupe_key",
            *TEAM_OWNER_COLUMNS,
            name=self._template(table, action.name, action, where).substr(0, 255),
            owner_id=owner,
            due_date=due.cast("date"),
        )

    def _template(self, table: ir.Table, template: str, action: CreateCta, where: str) -> ir.StringValue:
        fixed = {
            "reason": action.reason,
            "type": action.type,
            "rule": self.name,
            "as_of": self.as_of.isoformat(),
        }
        parts: list[ir.StringValue] = []
        for literal, field, _, _ in string.Formatter().parse(template):
            if literal:
                parts.append(ibis.literal(literal))
            if field is None:
                continue
            if field in fixed:
                parts.append(ibis.literal(fixed[field]))
            elif field == "account":
                parts.append(_text(table.account_name))
            elif field in table.columns and field in self.tables.features.columns:
                parts.append(_text(table[field]))
            else:
                raise RuleError(f"rule {self.name!r}: {where}: name: unknown placeholder {{{field}}}")
        result = parts[0] if parts else ibis.literal("")
        for part in parts[1:]:
            result = result + part
        return result

    def _owner(self, table: ir.Table, candidates: tuple[str, ...], where: str) -> tuple[ir.Table, ir.Value]:
        """The first candidate who resolves: a team role, a named person, or a pool's member for the
        account's geo (accounts spread over the members by id)."""
        values = []
        for position, candidate in enumerate(candidates):
            if candidate.startswith("user:"):
                values.append(ibis.literal(self.references.user(candidate[5:], where), "int64"))
            elif candidate.startswith("pool:"):
                pool = self.references.user(candidate[5:], where, pool=True)
                slots = self.tables.pool_slots
                column = f"pool_member_{position}"
                slots = slots.filter(slots.pool_id == pool).select(
                    p_geo=slots.pool_geo, p_slot=slots.slot, p_slots=slots.slots, **{column: slots.member_id}
                )
                table = table.left_join(
                    slots, [table.geo == slots.p_geo, (table.account_id % slots.p_slots) == slots.p_slot]
                ).drop("p_geo", "p_slot", "p_slots")
                values.append(table[column])
            else:
                values.append(table[f"{candidate}_owner"])
        owner = ibis.coalesce(*values) if len(values) > 1 else values[0]
        return table, owner.cast("int64")

    def _plan_close_cta(self, index: int, action: CloseCta) -> ir.Table:
        open_ctas = self.tables.open_ctas
        wanted = [open_ctas.account_id.isin(self.audience().account_id)]
        if action.type:
            wanted.append(open_ctas.type == action.type)
        if action.reason:
            wanted.append(open_ctas.reason == action.reason)
        if action.raised_by:
            wanted.append(open_ctas.rule == action.raised_by)
        return open_ctas.filter(*wanted).select("cta_id", "account_id")

    def _plan_set_field(self, index: int, action: SetField) -> ir.Table:
        matched = self.audience()
        current = matched[action.field]
        return matched.filter(current.isnull() | (current != action.value)).select("account_id")

    def _plan_enrol(self, index: int, action: Enrol) -> ir.Table:
        """The account's program recipient: the first contact of the admin persona, else sold-to."""
        matched = self.audience().select("account_id")
        people = self.tables.recipients
        ranked = people.mutate(
            rank=ibis.cases(
                *[(people.persona == p, i) for i, p in enumerate(features.RECIPIENT_PERSONAS)], else_=99
            )
        )
        best = ranked.group_by("account_id").aggregate(best=ranked.rank.min())
        first = ranked.join(best, [ranked.account_id == best.account_id, ranked.rank == best.best])
        first = first.group_by(first.account_id).aggregate(
            contact_id=first.contact_id.min(), opted_out=first.opted_out.min()
        )
        table = matched.left_join(first, matched.account_id == first.account_id).select(
            matched.account_id, first.contact_id, first.opted_out
        )
        prefix, suffix = enrolment_key_parts(Program.objects.get(name=action.program), self.as_of)
        table = table.mutate(
            key=ibis.literal(prefix) + _text(table.contact_id) + ibis.literal(suffix),
            skip=ibis.cases(
                (table.contact_id.isnull(), "no recipient"),
                (ibis.coalesce(table.opted_out, False), "opted out"),
                else_=ibis.null("string"),
            ),
        )
        known = self.tables.known_keys
        return table.anti_join(known, table.key == known.key)

    def _plan_notify(self, index: int, action: Notify) -> ir.Table:
        matched = self.audience()
        suffix = self._once_per(action.once_per, f"action {index + 1} (notify): once_per")
        suffix = suffix if suffix is not None else ibis.literal(self.as_of.isoformat())
        table = matched.mutate(key=self._key(matched, "notify", index, suffix))
        known = self.tables.known_keys
        table = table.anti_join(known, table.key == known.key)
        recipients = [r for r in action.to if r in features.TEAM or r == "csm_manager"]
        return table.select("account_id", "account_name", "key", *(f"{r}_owner" for r in recipients))


class _References:
    """Names a rule refers to in the application database, resolved once and checked."""

    def __init__(self, definition: RuleDefinition):
        self.definition = definition
        where = f"rule {definition.name!r}"
        for index, action in enumerate(definition.actions):
            self.check(action, f"{where}: action {index + 1} ({action.kind})")

    def check(self, action, where: str) -> None:
        if isinstance(action, CreateCta):
            kind = CtaType.objects.filter(name=action.type).first()
            if kind is None:
                raise RuleError(f"{where}: unknown CTA type {action.type!r}")
            if not CtaReason.objects.filter(type=kind, name=action.reason).exists():
                raise RuleError(f"{where}: {action.reason!r} is not a reason of {action.type!r}")
            if action.playbook and not Playbook.objects.filter(name=action.playbook).exists():
                raise RuleError(f"{where}: unknown playbook {action.playbook!r}")
        elif isinstance(action, CloseCta):
            if not CtaStatus.objects.filter(name=action.status, is_closed=True).exists():
                raise RuleError(f"{where}: {action.status!r} is not a closed CTA status")
        elif isinstance(action, Enrol) and not Program.objects.filter(name=action.program).exists():
            raise RuleError(f"{where}: unknown program {action.program!r}")

    @staticmethod
    def user(username: str, where: str, pool: bool = False) -> int:
        user = User.objects.filter(username=username).first()
        if user is None or user.is_pool != pool or not user.is_active:
            raise RuleError(f"{where}: owner: no {'pool' if pool else 'active person'} {username!r}")
        return user.pk


def compile_rule(
    definition: RuleDefinition | dict, tables: Tables, scorecard: Scorecard, as_of: dt.date
) -> CompiledRule:
    if isinstance(definition, dict):
        definition = build(definition)
    compiled = CompiledRule(definition, tables, scorecard, as_of)
    for index in range(len(definition.actions)):
        compiled.plan(index)  # compiles each plan, so a bad action fails here, not mid-run
    return compiled


_checked: set[tuple[str, str]] = set()


def check(data: dict, scorecard: Scorecard | None) -> RuleDefinition:
    """Check a rule against the names and types rules read (errors name the rule and the place).

    Compiling a rule takes tenths of a second and depends only on its definition and the
    scorecard, so a definition that compiled once is not compiled again; what it refers to in
    the database is checked every time."""
    definition = build(data)
    _References(definition)
    key = (json.dumps(data, sort_keys=True, default=str), fingerprint(scorecard) if scorecard else "")
    if scorecard is not None and key not in _checked:
        compile_rule(definition, Tables.empty(scorecard), scorecard, dt.date.today())
        _checked.add(key)
    return definition
