"""Formulas over measures (`won / (won + lost)`): + - * / and parentheses over measure names and
numbers, evaluated exactly with fractions. A division by zero or an empty operand gives an empty
cell, never an error. Parsed with Python's own expression parser and a whitelist of node types, so
nothing but arithmetic can run."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

MAX_LENGTH = 500


class FormulaError(ValueError):
    pass


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr
    references: frozenset[str]

    def evaluate(self, values: Mapping[str, Fraction | None]) -> Fraction | None:
        return _evaluate(self.tree, values)


def parse_formula(text: str) -> Formula:
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        raise FormulaError(f"is not a formula: {error.msg}") from None
    names: set[str] = set()
    _check(tree, names)
    return Formula(text, tree, frozenset(names))


_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _check(node: ast.expr, names: set[str]) -> None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
        _check(node.left, names)
        _check(node.right, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check(node.operand, names)
    elif isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise FormulaError("numbers must be finite")
        return
    else:
        raise FormulaError("may only use measure names, numbers, + - * / and parentheses")


def _evaluate(node: ast.expr, values: Mapping[str, Fraction | None]) -> Fraction | None:
    if isinstance(node, ast.Constant):
        # The literal's own digits, so 0.1 is exactly one tenth.
        return Fraction(repr(node.value))
    if isinstance(node, ast.Name):
        return values.get(node.id)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    assert isinstance(node, ast.BinOp)
    left, right = _evaluate(node.left, values), _evaluate(node.right, values)
    if left is None or right is None:
        return None
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if right == 0:
        return None
    return left / right
