"""The scorecard compiled to one Ibis expression over every account at once.

For each measure: its value, colour code (0 red, 1 yellow, 2 green), why it is N/A, whether it
is stale, and how many points it contributes to the overall score. N/A measures' weights are
redistributed within their group, and empty groups' weights across groups. Python never loops
over accounts: the loops below run over the scorecard's measures.

The expression is built in stages (values, colours, N/A reasons, points, groups, overall), each a
`mutate` that refers to the previous stage's columns by name, so the SQL stays small: inlining
every measure into the next would repeat sub-expressions exponentially.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from csops.health.expressions import Compiler, double
from csops.health.features import FEATURES
from csops.health.scorecard import COLORS, Measure, Scorecard

RED, YELLOW, GREEN = 0, 1, 2
NULL_CODE = ibis.null("int8")
NULL_TEXT = ibis.null("string")
NULL_FLOAT = ibis.null("float64")


def _count(conditions: list[ir.BooleanValue]) -> ir.IntegerValue:
    return sum((ibis.ifelse(c, 1, 0) for c in conditions[1:]), ibis.ifelse(conditions[0], 1, 0))


def _total(values: list[ir.NumericValue]) -> ir.NumericValue:
    return sum(values[1:], values[0])


class ScorecardCompiler:
    def __init__(self, scorecard: Scorecard, as_of: dt.date):
        self.scorecard = scorecard
        self.as_of = as_of

    def compiler(self, table: ir.Table, value: str | None = None) -> Compiler:
        columns = {name: table[name] for name in FEATURES}
        if value is not None:
            columns["value"] = table[f"{value}__value"]
        return Compiler(columns, self.as_of)

    # stage 1: values ------------------------------------------------------------------------
    def values(self, table: ir.Table) -> ir.Table:
        compiler = self.compiler(table)
        columns = {}
        for measure in self.scorecard.measures:
            for item in (*measure.parts, measure):
                if item.value is not None and not item.parts:
                    columns[f"{item.key}__value"] = compiler.compile(item.value).cast("float64")
        return table.mutate(**columns)

    # stage 2: raw colours (before N/A) ------------------------------------------------------
    def raw_color(self, table: ir.Table, measure: Measure) -> ir.Value:
        compiler = self.compiler(table, measure.key if measure.value is not None else None)
        value = table[f"{measure.key}__value"] if measure.value is not None else None
        if measure.green is not None:
            cases = [(compiler.compile(measure.green), GREEN)]
            if measure.yellow is not None:
                cases.append((compiler.compile(measure.yellow), YELLOW))
            return ibis.ifelse(value.isnull(), NULL_CODE, ibis.cases(*cases, else_=RED)).cast("int8")
        if measure.matrix is not None:
            columns = [compiler.compile(c) for c in measure.matrix.columns]
            cases = []
            for row_when, colors in measure.matrix.rows:
                row = compiler.compile(row_when)
                cases += [(row & column, COLORS.index(c)) for column, c in zip(columns, colors, strict=True)]
            return ibis.ifelse(value.isnull(), NULL_CODE, ibis.cases(*cases, else_=NULL_CODE)).cast("int8")
        named = compiler.compile(measure.color)
        return ibis.cases(*[(named == name, code) for code, name in enumerate(COLORS)], else_=NULL_CODE).cast(
            "int8"
        )

    def raw_colors(self, table: ir.Table) -> ir.Table:
        parts = {
            f"{p.key}__color": self.raw_color(table, p) for m in self.scorecard.measures for p in m.parts
        }
        table = table.mutate(**parts) if parts else table
        columns = {}
        for measure in self.scorecard.measures:
            if measure.parts:
                colors = [table[f"{p.key}__color"] for p in measure.parts]
                greens, reds = _count([c == GREEN for c in colors]), _count([c == RED for c in colors])
                need = measure.green_at_least
                known = _count([c.notnull() for c in colors])
                columns[f"{measure.key}__value"] = ibis.ifelse(known == 0, NULL_FLOAT, greens.cast("float64"))
                columns[f"{measure.key}__raw"] = ibis.cases(
                    (known == 0, NULL_CODE),
                    (greens >= need, GREEN),
                    (reds >= need, RED),
                    else_=YELLOW,
                ).cast("int8")
            else:
                columns[f"{measure.key}__raw"] = self.raw_color(table, measure)
                if measure.value is None:
                    columns[f"{measure.key}__value"] = NULL_FLOAT
        return table.mutate(**columns)

    # stage 3: N/A reasons, final colours, points, staleness ---------------------------------
    def judged(self, table: ir.Table) -> ir.Table:
        compiler = self.compiler(table)
        rules = [(rule, compiler.compile(rule.when)) for rule in self.scorecard.na_rules]
        score_of = self.scorecard.color_scores
        columns = {}
        for measure in self.scorecard.measures:
            key = measure.key
            own = self.compiler(table, key)
            cases = [
                (when, rule.reason)
                for rule, when in rules
                if (not rule.measures or key in rule.measures) and key not in rule.exempt
            ]
            cases += [(own.compile(c.when), c.reason) for c in measure.na_when]
            cases.append((table[f"{key}__raw"].isnull(), "no data"))
            reason = ibis.cases(*cases, else_=NULL_TEXT)
            color = ibis.ifelse(reason.isnull(), table[f"{key}__raw"], NULL_CODE).cast("int8")
            columns[f"{key}__na"] = reason
            columns[f"{key}__color"] = color
            columns[f"{key}__points"] = ibis.cases(
                *[(color == code, float(score_of[name])) for code, name in enumerate(COLORS)],
                else_=NULL_FLOAT,
            )
            columns[f"{key}__stale"] = (
                ibis.coalesce(compiler.compile(measure.stale_when), False)
                if measure.stale_when
                else ibis.literal(False)
            )
        return table.mutate(**columns)

    # stage 4: groups ---------------------------------------------------------------------------
    def groups(self, table: ir.Table) -> ir.Table:
        columns = {}
        for index, group in enumerate(self.scorecard.groups):
            weighted = [m for m in group.measures if m.weight > 0]
            if not weighted:
                columns[f"group_{index}__weight"] = double(0.0)
                columns[f"group_{index}__score"] = NULL_FLOAT
                continue
            points = [table[f"{m.key}__points"] for m in weighted]
            weight = _total(
                [
                    ibis.ifelse(p.isnull(), double(0.0), double(m.weight))
                    for p, m in zip(points, weighted, strict=True)
                ]
            )
            total = _total([ibis.coalesce(p * m.weight, 0.0) for p, m in zip(points, weighted, strict=True)])
            columns[f"group_{index}__weight"] = weight
            columns[f"group_{index}__score"] = total / weight.nullif(0.0)
        return table.mutate(**columns)

    # stage 5: overall score, colour, contributions -----------------------------------------------
    def overall(self, table: ir.Table) -> ir.Table:
        sc = self.scorecard
        scores = [table[f"group_{i}__score"] for i in range(len(sc.groups))]
        weight = _total(
            [
                ibis.ifelse(s.isnull(), double(0.0), double(g.weight))
                for s, g in zip(scores, sc.groups, strict=True)
            ]
        )
        total = _total([ibis.coalesce(s * g.weight, 0.0) for s, g in zip(scores, sc.groups, strict=True)])
        table = table.mutate(score=total / weight.nullif(0.0), overall__weight=weight)
        columns = {}
        for index, group in enumerate(sc.groups):
            share = (
                group.weight / table.overall__weight.nullif(0.0) / table[f"group_{index}__weight"].nullif(0.0)
            )
            for measure in group.measures:
                if measure.weight > 0:
                    columns[f"{measure.key}__contribution"] = ibis.coalesce(
                        table[f"{measure.key}__points"] * measure.weight * share, 0.0
                    )
                else:
                    columns[f"{measure.key}__contribution"] = double(0.0)
        compiler = self.compiler(table)
        band = ibis.cases(
            (table.score >= sc.bands["green"], "green"),
            (table.score >= sc.bands["yellow"], "yellow"),
            (table.score.notnull(), "red"),
            else_=NULL_TEXT,
        )
        overrides = [(self.override_condition(table, compiler, o), o) for o in sc.overrides]
        columns["band_color"] = band
        columns["override"] = (
            ibis.cases(*[(w, o.reason) for w, o in overrides], else_=NULL_TEXT) if overrides else NULL_TEXT
        )
        columns["color"] = (
            ibis.cases(*[(w, o.color) for w, o in overrides], else_=band) if overrides else band
        )
        greens = [table[f"{k}__color"] == GREEN for k in sc.adoption_measures]
        columns["adoption"] = (_count(greens) if greens else ibis.literal(0)).cast("int64")
        return table.mutate(**columns)

    @staticmethod
    def override_condition(table: ir.Table, compiler: Compiler, override) -> ir.BooleanValue:
        if override.measure is not None:
            return table[f"{override.measure}__color"] == COLORS.index(override.measure_color)
        return compiler.compile(override.when)

    def compile(self, features: ir.Table) -> ir.Table:
        table = self.overall(self.groups(self.judged(self.raw_colors(self.values(features)))))
        measures = [k for m in self.scorecard.measures for k in (m.key,)]
        output = [
            "account_id",
            "score",
            "color",
            "band_color",
            "override",
            "adoption",
            *[f"group_{i}__score" for i in range(len(self.scorecard.groups))],
        ]
        for key in measures:
            output += [
                f"{key}__value",
                f"{key}__color",
                f"{key}__na",
                f"{key}__stale",
                f"{key}__contribution",
            ]
        return table.select(*output)


def score_table(scorecard: Scorecard, features: ir.Table, as_of: dt.date) -> ir.Table:
    return ScorecardCompiler(scorecard, as_of).compile(features)
