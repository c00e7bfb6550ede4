"""Floating-point evaluation of SymPy entries, vectorised over sample points.

One walk over the expression DAG per call, shared subexpressions evaluated
once, every node type mapped to a NumPy function by ``FLOAT_FUNCS``. Used by
``--at`` and by the numeric half of the agreement check (many random points
at once). Conventions at kinks: ``relu'(0) = step(0) = 1``, ``sign(0) = 0``.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import sympy as sp

from . import functions as F
from .errors import JacobianError


def _heaviside(x, h0=0.5):
    return np.where(x > 0, 1.0, np.where(x < 0, 0.0, h0))


#: SymPy function class -> NumPy implementation.
FLOAT_FUNCS = {
    sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan,
    sp.sec: lambda x: 1 / np.cos(x), sp.csc: lambda x: 1 / np.sin(x),
    sp.cot: lambda x: 1 / np.tan(x),
    sp.asin: np.arcsin, sp.acos: np.arccos, sp.atan: np.arctan,
    sp.sinh: np.sinh, sp.cosh: np.cosh, sp.tanh: np.tanh,
    sp.exp: np.exp, sp.log: np.log, sp.Abs: np.abs, sp.sign: np.sign,
    sp.Heaviside: _heaviside,
    F.sigmoid: lambda x: 1 / (1 + np.exp(-x)),
    F.relu: lambda x: np.maximum(x, 0.0),
    F.softplus: lambda x: np.logaddexp(0.0, x),
    sp.Max: np.maximum, sp.Min: np.minimum,
}


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
    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> float_eval([sympy.sin(x)**2 + sympy.cos(x)**2], {x: np.array([0.1, 2.0])})[0]
    array([1., 1.])
    """
    memo: dict[sp.Basic, np.ndarray] = {}
    with np.errstate(all="ignore"):
        return [np.asarray(_eval(e, values, memo), dtype=float) for e in exprs]


def free_symbols(exprs: Iterable[sp.Basic]) -> set:
    """The Symbols in ``exprs``, visiting each distinct subexpression once.

    ``expr.free_symbols`` walks the expression as a tree, so a subexpression
    shared by many entries (a hidden layer inside every gradient entry) is
    walked once per occurrence; this walks the DAG.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> sorted(free_symbols([sp.sin(x) * y, x]), key=str)
    [x, y]
    """
    seen: set[int] = set()  # ids: every node stays reachable from exprs meanwhile
    found: set = set()
    stack = [sp.sympify(e) for e in exprs]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.is_Symbol:
            found.add(node)
        elif isinstance(node, _UNION_OF_ARGS):
            stack.extend(node.args)
        else:  # numbers; bound variables (Integral, Lambda) need SymPy's own rule
            found |= node.free_symbols
    return found


#: Node types whose free symbols are the union of their arguments'.
_UNION_OF_ARGS = (sp.Add, sp.Mul, sp.Pow, sp.Function)


def _eval(expr: sp.Basic, values: Mapping, memo: dict):
    try:
        return _eval_recursive(expr, values, memo)
    except RecursionError:  # a very deep expression: the same walk without recursion
        return _eval_iterative(expr, values, memo)


def _eval_recursive(node: sp.Basic, values: Mapping, memo: dict):
    value = memo.get(node)
    if value is None:
        args = node.args
        if args:
            value = _node_value(node, [_eval_recursive(a, values, memo) for a in args])
        else:
            value = _leaf_value(node, values)
        memo[node] = value
    return value


def _eval_iterative(expr: sp.Basic, values: Mapping, memo: dict):
    """Post-order evaluation; leaves are valued when their parent is first reached."""
    stack = [expr]
    while stack:
        node = stack[-1]
        if node in memo:
            stack.pop()
            continue
        args = node.args
        if not args:
            memo[node] = _leaf_value(node, values)
            stack.pop()
            continue
        pending = False
        for a in args:
            if a in memo:
                continue
            if a.args:
                stack.append(a)
                pending = True
            else:
                memo[a] = _leaf_value(a, values)
        if not pending:
            memo[node] = _node_value(node, [memo[a] for a in args])
            stack.pop()
    return memo[expr]


def _leaf_value(node: sp.Basic, values: Mapping):
    if node.is_Symbol:
        if node not in values:
            raise JacobianError(f"no value given for {node.name}")
        return values[node]
    if node.is_Number or node.is_NumberSymbol:  # pi and E are NumberSymbols
        return float(node) if node.is_finite else np.nan
    return _node_value(node, [])


def _node_value(node: sp.Basic, args: list):
    if node.is_Add:
        return sum(args[1:], args[0])
    if node.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if node.is_Pow:
        return np.power(np.asarray(args[0], dtype=float), args[1])
    func = FLOAT_FUNCS.get(node.func)
    if func is None:
        raise JacobianError(f"cannot evaluate {node.func} numerically in {node}")
    return func(*args)


def parse_assignments(text: str) -> dict[str, sp.Expr]:
    """Parse ``--at "x1=0.5,x2=pi/4"`` into exact numeric values."""
    from .arrays import evaluate
    from .parser import check_name, parse_expression
    out: dict[str, sp.Expr] = {}
    if not text.strip():
        raise JacobianError("--at is empty: expected NAME=VALUE,...")
    for part in [p for p in text.split(",")]:
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise JacobianError(f"malformed --at item {part.strip()!r}: expected NAME=VALUE")
        name = check_name(name.strip(), "--at name")
        if name in out:
            raise JacobianError(f"{name} is given twice in --at")
        number = evaluate(parse_expression(value.strip()))[()]
        if number.free_symbols or not number.is_number:
            raise JacobianError(f"value for {name} must be a number, got {value.strip()!r}")
        if not number.is_finite:
            raise JacobianError(f"value for {name} is not finite: {value.strip()!r}")
        if not np.isfinite(float(number)):
            raise JacobianError(f"value for {name} is too large for floating point: "
                                f"{value.strip()[:40]!r}")
        out[name] = number
    return out


def evaluate_entries(entries: Mapping[tuple, sp.Expr], at: Mapping[str, sp.Expr],
                     symbols: set[str]) -> dict[tuple, float]:
    """Evaluate stored entries at one point; report poles and non-finite values."""
    unknown = sorted(set(at) - symbols)
    if unknown:
        raise JacobianError(f"--at names {', '.join(unknown)}, which the result does not "
                            f"contain (it has: {', '.join(sorted(symbols)) or 'none'})")
    needed: set = set()
    for expr in entries.values():
        needed |= {s.name for s in expr.free_symbols}
    missing = sorted(needed - set(at))
    if missing:
        raise JacobianError(f"--at gives no value for {', '.join(missing)}")
    values = {sp.Symbol(n, real=True): float(v) for n, v in at.items()}
    keys = list(entries)
    numbers = float_eval([entries[k] for k in keys], values)
    out = {}
    for key, number in zip(keys, numbers):
        value = float(number)
        if not np.isfinite(value):
            kind = "undefined (NaN)" if np.isnan(value) else "infinite (a pole or an overflow)"
            where = ", ".join(f"{n}={v}" for n, v in at.items())
            raise JacobianError(f"entry {tuple(i + 1 for i in key)} = {entries[key]} is "
                                f"{kind} at {where}")
        out[key] = value
    return out
