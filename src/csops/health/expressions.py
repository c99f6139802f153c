"""A small, safe expression language for scorecards, compiled to Ibis.

Admins write measures and conditions in YAML, e.g. `ratio(pipeline_users, billable_users)` or
`segment in ['Scale', 'Digital'] and days_since(contract_start) < 30`. The text is parsed with
Python's own parser, only a whitelist of nodes is accepted, and the result is an Ibis expression
over the per-account feature table, so it runs on whichever backend holds the data.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

FUNCTIONS = frozenset(
    {
        "days_since",
        "months_since",
        "ratio",
        "coalesce",
        "least",
        "greatest",
        "is_null",
        "not_null",
        "if_else",
    }
)
CONSTANTS = {"true": True, "false": False, "null": None}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


class ExpressionError(ValueError):
    pass


def parse(text: str, names: set[str], functions: frozenset[str] = FUNCTIONS) -> ast.Expression:
    """Parse and check `text`: only known names, functions and operators."""
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        raise ExpressionError(f"expected an expression, got {text!r}")
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in functions:
                raise ExpressionError(f"unknown function in {text!r} (known: {', '.join(sorted(functions))})")
        elif isinstance(node, ast.Name):
            if node.id not in names and node.id not in functions and node.id not in CONSTANTS:
                raise ExpressionError(f"unknown name {node.id!r} in {text!r}")
        elif not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in {text!r}")
    return tree


_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Compare,
    ast.In,
    ast.NotIn,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Load,
    *(_COMPARE),
)


class Compiler:
    """Turns a parsed expression into an Ibis value over `columns` as of a date.

    Each function `f` of the language is a method `fn_f`; a subclass adds functions by adding
    methods and naming them in `functions`.
    """

    functions = FUNCTIONS

    def __init__(self, columns: Mapping[str, ir.Value], as_of: dt.date):
        self.columns = columns
        self.as_of = ibis.literal(as_of, type="date")

    def compile(self, text: str) -> ir.Value:
        tree = parse(text, set(self.columns), self.functions)
        return self.visit(tree.body)

    def visit(self, node: ast.AST) -> Any:
        method: Callable = getattr(self, f"visit_{type(node).__name__}")
        return method(node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        return double(node.value) if isinstance(node.value, float) else node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        return self.columns[node.id]

    def visit_List(self, node: ast.List) -> list:
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        return ~operand if isinstance(node.op, ast.Not) else -operand

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        values = [self.visit(v) for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = values[0]
        for value in values[1:]:
            result = combine(result, value)
        return result

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Div):
            return _divide(left, right)
        return _ARITHMETIC[type(node.op)](left, right)

    def visit_Compare(self, node: ast.Compare) -> Any:
        result, left = None, self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)
            if isinstance(op, ast.In | ast.NotIn):
                test = left.isin(right) if isinstance(left, ir.Value) else ibis.literal(left).isin(right)
                test = ~test if isinstance(op, ast.NotIn) else test
            else:
                test = _COMPARE[type(op)](left, right)
            result = test if result is None else result & test
            left = right
        return result

    def visit_Call(self, node: ast.Call) -> Any:
        name = node.func.id
        function: Callable = getattr(self, f"fn_{name}")
        args = [self.visit(a) for a in node.args]
        try:
            return function(*args)
        except TypeError as exc:
            raise ExpressionError(f"{name}(): {exc}") from None

    def fn_days_since(self, day: ir.DateValue) -> ir.IntegerValue:
        return self.as_of.delta(day, unit="day")

    def fn_months_since(self, day: ir.DateValue) -> ir.FloatingValue:
        return self.as_of.delta(day, unit="day").cast("float64") / 30.4375  # not DECIMAL

    def fn_ratio(self, numerator: Any, denominator: Any) -> ir.FloatingValue:
        return _divide(numerator, denominator)

    def fn_coalesce(self, *values: Any) -> ir.Value:
        return ibis.coalesce(*values)

    def fn_least(self, *values: Any) -> ir.Value:
        return ibis.least(*values)

    def fn_greatest(self, *values: Any) -> ir.Value:
        return ibis.greatest(*values)

    def fn_is_null(self, value: ir.Value) -> ir.BooleanValue:
        return value.isnull()

    def fn_not_null(self, value: ir.Value) -> ir.BooleanValue:
        return value.notnull()

    def fn_if_else(self, condition: ir.BooleanValue, then: Any, otherwise: Any) -> ir.Value:
        return ibis.ifelse(condition, then, otherwise)


def double(value: float) -> ir.FloatingValue:
    """A constant that SQL types as DOUBLE. Ibis writes 30.0 bare, which DuckDB, PostgreSQL and
    Spark read as DECIMAL, each then rounding its own way (Spark to six places); a plain
    `.cast("float64")` is dropped by Ibis as a no-op, a cast from text is not."""
    return ibis.literal(repr(float(value))).cast("float64")


def _divide(left: Any, right: Any) -> Any:
    """Division that gives null, not an error or infinity, for a zero denominator."""
    right = right if isinstance(right, ir.Value) else ibis.literal(right)
    return left / right.cast("float64").nullif(0.0)
