"""Jacobians written in terms of the output, the way the lectures write them.

For ``Y = f(X)`` the last operation's backward rule already says it in terms
of ``Y`` (``sigmoid``: ``dX = dY * Y * (1 - Y)``; softmax:
``dl = p * (dp - sum(dp * p))``). Applied to each unit upstream gradient
``e_i`` it gives row ``i`` of ``∂Y/∂X`` (``p_i (δ_ij - p_j)``). An inner
expression (``sigmoid(X@W + b)``) is handled by the chain rule: those rows
times the inner Jacobian.
"""

from __future__ import annotations

import re
from dataclasses import replace

import sympy as sp

from ..core.errors import JacobianError
from ..core.grid import Grid, ndindex
from ..core.tree import Call, Name
from ..ops import NotDifferentiable, Vjp, get
from ..results.jacobian import JacobianResult
from ..symbolic.autodiff import gradient
from ..symbolic.evaluate import Env, evaluate
from ..symbolic.symbols import symbol_grid


def rewrite_in_terms_of_output(J: JacobianResult, problem, group: list[str]) -> JacobianResult:
    """``J`` (numerator layout) with the last operation's derivative in terms of its output."""
    node = problem.components[0] if len(problem.components) == 1 else None
    op = get(node.op) if isinstance(node, Call) else None
    if op is None or op.arity != (1, 1) or isinstance(op.vjp, NotDifferentiable) \
            or op.category not in ("elementwise", "neural network"):
        raise JacobianError("{{in_terms_of_output}} needs an element-wise function or "
                            "softmax applied last, e.g. sigmoid(X@W + b) or softmax(l)")
    env = problem.env()
    inner = evaluate(node.args[0], env)
    if inner.shape != J.out_shape or not inner.shape:
        raise JacobianError("{{in_terms_of_output}} needs an array-valued output")
    name = (op.output_name if inner.ndim == 1 else op.output_name.upper()) \
        if op.output_name else "Y"
    _check_output_name(name, problem)
    Y = symbol_grid(name, inner.shape)
    rows = _output_rows(op, node, inner, Y)
    inputs = list(J.in_symbols)
    position = {s: k for k, s in zip(ndindex(J.in_shape), inputs)}
    inner_jac = {idx: gradient(e, inputs) for idx, e in inner.items()}
    entries: dict[tuple, list] = {}
    for out_index, row in rows.items():
        for j, local in row.items():
            for symbol, d in inner_jac[j].items():
                entries.setdefault(out_index + position[symbol], []).append(local * d)
    total = {k: sp.Add(*v) for k, v in entries.items()}
    outputs = evaluate(node, env)  # what the symbols Y_i_j stand for, for --at
    return replace(J, entries={k: v for k, v in total.items() if v != 0}, out_name=name,
                   of=[f"{name} = {J.of[0]}"], defined=tuple(zip(Y.flat, outputs.flat)))


def _check_output_name(name: str, problem) -> None:
    """The output's name (and its entries ``Y_1``) must mean nothing else in the problem."""
    entry = re.compile(rf"{name}(?:_\d+)*")
    clash = sorted(n for n in problem.used_names() | set(problem.shapes) if entry.fullmatch(n))
    if clash:
        raise JacobianError(f"{{{{in_terms_of_output}}}} writes the output as {name} (entries "
                            f"{name}_1, ...), but {clash[0]} is already a name in the "
                            f"expression; rename {clash[0]}")


def _output_rows(op, node: Call, inner: Grid, Y: Grid) -> dict[tuple, dict[tuple, sp.Expr]]:
    """Row ``i`` of ``∂Y/∂X``: the backward rule applied to the unit gradient ``e_i``."""
    X_, Y_, G_ = Name("X_"), Name("Y_"), Name("G_")
    rule = op.vjp(Vjp((X_,), Y_, G_, (inner.shape,), inner.shape,
                      op.options(node.kwargs)))[0]
    rows = {}
    zero, one = sp.Integer(0), sp.Integer(1)
    for i in ndindex(inner.shape):
        unit = Grid.from_function(inner.shape, lambda k, i=i: one if k == i else zero)
        if rule is None:
            rows[i] = {}
            continue
        values = evaluate(rule, Env({"X_": inner.shape, "Y_": inner.shape, "G_": inner.shape},
                                    {"X_": inner, "Y_": Y, "G_": unit}))
        values = values.broadcast_to(inner.shape)
        rows[i] = {j: v for j, v in values.items() if v != 0}
    return rows
