"""Floating-point evaluation of SymPy entries, vectorised over sample points.

One walk over the expression DAG per call, shared subexpressions evaluated
once. Functions are evaluated by their operation's declared NumPy form (so
``--at``, the agreement checks and PyTorch share one convention at kinks:
``relu'(0) = step(0) = 1``, ``sign(0) = 0``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import sympy as sp

from ..core.errors import JacobianError
from . import selection
from .classes import function_ops, registry_cached
from .measure import free_symbols, short_text  # noqa: F401 - free_symbols is offered here too
from .walk import post_order


@registry_cached
def float_functions() -> dict:
    """SymPy function class -> NumPy function, from the element-wise operations."""
    table = {sp.Max: np.maximum, sp.Min: np.minimum,
             sp.Heaviside: lambda x, h0=0.5: np.where(x > 0, 1.0, np.where(x < 0, 0.0, h0)),
             # SymPy writes re() and im() where it cannot tell that a value is real (abs of
             # sigmoid(tan(x)): tan has poles); evaluated values are real or NaN
             sp.re: lambda x: np.asarray(x, dtype=float),
             sp.im: lambda x: np.asarray(x, dtype=float) * 0.0}
    for cls, op in function_ops().items():
        table[cls] = lambda x, op=op: op.numpy(np, x)
    table.update(selection.float_table(np))  # Max, Min, clip, where's Piecewise
    return table


def float_eval(exprs: Sequence[sp.Expr], values: Mapping[sp.Symbol, np.ndarray | float]
               ) -> list[np.ndarray]:
    """Evaluate expressions at the points given by ``values`` (arrays broadcast).

    Raises
    ------
    JacobianError
        If an expression contains a symbol without a value or a function
        with no numeric meaning (an undefined ``f(x)``).

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> float_eval([sp.sin(x)**2 + sp.cos(x)**2], {x: np.array([0.1, 2.0])})[0]
    array([1., 1.])
    """
    memo: dict[sp.Basic, np.ndarray] = {}
    table = float_functions()
    with np.errstate(all="ignore"):
        return [np.asarray(_eval(e, values, memo, table), dtype=float) for e in exprs]


def _eval(expr: sp.Basic, values: Mapping, memo: dict, table: dict):
    """Post-order evaluation without recursion; leaves valued when first reached."""
    for node in post_order(expr, memo, key=None):
        args = node.args
        memo[node] = _node_value(node, [memo[a] for a in args], table) if args \
            else _leaf_value(node, values, table)
    return memo[expr]


def _leaf_value(node: sp.Basic, values: Mapping, table: dict):
    if node.is_Symbol:
        if node not in values:
            raise JacobianError(f"no value given for {node.name}")
        return values[node]
    if node.is_Number or node.is_NumberSymbol:  # pi and E are NumberSymbols
        return float(node) if node.is_finite else np.nan
    return _node_value(node, [], table)


def _node_value(node: sp.Basic, args: list, table: dict):
    if node.is_Add:
        return sum(args[1:], args[0])
    if node.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if node.is_Pow:
        return np.power(np.asarray(args[0], dtype=float), args[1])
    func = table.get(node.func)
    if func is None:
        raise JacobianError(f"cannot evaluate {node.func} numerically in "
                            f"{short_text(node)}")
    return func(*args)
