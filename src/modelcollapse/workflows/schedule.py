"""Growing sample sizes: ``samples_per_generation`` as a schedule n_1, n_2, ... of generation t.

A schedule is a list of sizes (one per generation), a formula of ``t`` such as ``"100 * t**1.5"``, or a
formula with named constants, ``{formula: "n0 * t**1.5", n0: 100}``. A formula is parsed, never
evaluated by Python: numbers, ``t``, the constants, ``+ - * / // % **`` and ``sqrt``, ``log``, ``exp``,
``ceil``, ``floor`` only. Sizes are rounded to the nearest integer and must be at least 1.

>>> sizes("10 * t**1.5", 4).tolist()  # round(10 t^1.5)
[10, 28, 52, 80]
>>> sizes({"formula": "n0 * t", "n0": 50}, 3).tolist()
[50, 100, 150]
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

MAX_FORMULA = 200  # characters
MAX_SIZE = 10**12  # rows in one generation
MAX_GENERATIONS = 10**6  # a schedule is one array of sizes, evaluated before any work

_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_FUNCS: dict[str, Callable[[float], float]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "ceil": math.ceil,
    "floor": math.floor,
}
Schedule = list[int] | str | Mapping[str, Any]


class FormulaError(ValueError):
    """A formula that is not allowed (what it may use is named), as opposed to one that fails at some t."""


def formula(text: str, constants: Mapping[str, float] | None = None) -> Callable[[int], float]:
    """The function of ``t`` that ``text`` writes; ValueError naming what is not allowed."""
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"a formula is at most {MAX_FORMULA} characters")
    names = dict(constants or {})
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise FormulaError(f"not a formula of t: {text[:60]!r}") from None

    def value(node: ast.AST, t: int) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name) and (node.id == "t" or node.id in names):
            return float(t if node.id == "t" else names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left, t), value(node.right, t))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.operand, t))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS
            and len(node.args) == 1
            and not node.keywords
        ):
            return float(_FUNCS[node.func.id](value(node.args[0], t)))
        allowed = ", ".join(["t", *names, *_FUNCS])
        raise FormulaError(f"a formula may use numbers, + - * / // % **, and {allowed}; got {ast.unparse(node)[:40]!r}")

    try:
        value(tree, 1)  # refuse what is not allowed before any work
    except FormulaError:
        raise
    except (ArithmeticError, ValueError):
        pass  # allowed, but it fails (a math domain error): sizes says at which t
    return lambda t: value(tree, t)


def sizes(schedule: Schedule, generations: int) -> np.ndarray:
    """n_1..n_G, the rows of each generation (generation 1: the real rows)."""
    if generations > MAX_GENERATIONS:
        raise ValueError(f"a schedule covers at most {MAX_GENERATIONS:,} generations; generations is {generations:,}")
    if isinstance(schedule, list):
        if len(schedule) < generations:
            raise ValueError(f"the schedule lists {len(schedule)} sizes; generations is {generations}")
        out = schedule[:generations]
        if not all(type(n) is int and 1 <= n <= MAX_SIZE for n in out):
            raise ValueError(f"a schedule lists whole numbers of rows from 1 to {MAX_SIZE:.0e}")
        return np.asarray(out, dtype=np.int64)
    if isinstance(schedule, Mapping):
        constants = {k: v for k, v in schedule.items() if k != "formula"}
        for k, v in constants.items():
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,15}", k) or k == "t" or type(v) not in (int, float):
                raise ValueError(f"a constant is a short lower-case name (not t) and a number; got {k[:20]!r}")
        if not isinstance(schedule.get("formula"), str):
            raise ValueError("a schedule mapping needs formula: a formula of t")
        f = formula(schedule["formula"], constants)
    else:
        f = formula(schedule)
    out = []
    for t in range(1, generations + 1):
        try:
            n = f(t)
        except (ArithmeticError, ValueError) as err:
            raise ValueError(f"the formula fails at t = {t}: {err}") from None
        if not math.isfinite(n) or not 1 <= round(n) <= MAX_SIZE:
            raise ValueError(f"the formula gives {n:.4g} rows at t = {t}; allowed: 1 to {MAX_SIZE:.0e}")
        out.append(round(n))
    return np.asarray(out, dtype=np.int64)
