"""The symbolic algebra the operations evaluate with (passed to them as ``S``).

Operations are declared without importing SymPy; their ``evaluate`` parts
receive this module and build entries from what it offers: SymPy's
functions, ours (sigmoid, relu, softplus, step), the canonical sum and
product constructors, and array helpers over :class:`~jacobian_calc.core.grid.Grid`.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from sympy import (Abs, E, Integer, Rational, acos, acosh, asin, asinh, atan, atanh,  # noqa: F401
                   cos, cosh, cot, csc, exp, log, pi, sec, sign, sin, sinh, sqrt, tan, tanh)

from ..core.grid import Grid  # noqa: F401 - offered to the operations
from .canonical import canonical_add as add
from .canonical import canonical_mul as mul
from .canonical import symbol_dot
from .functions import relu, sigmoid, softplus, step  # noqa: F401

_ONE = sp.S.One
_MINUS_ONE = sp.S.NegativeOne


def number(value: Fraction) -> sp.Rational:
    """An exact SymPy number."""
    return sp.Integer(value.numerator) if value.denominator == 1 else \
        sp.Rational(value.numerator, value.denominator)


def neg(a: sp.Expr) -> sp.Expr:
    """``-a`` as SymPy writes it."""
    return mul(_MINUS_ONE, a)


def div(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a / b`` as SymPy writes it, ``Mul(a, Pow(b, -1))``."""
    denom = sp.Pow(b, _MINUS_ONE)
    return denom if a is _ONE else mul(a, denom)


def pow(a: sp.Expr, b: sp.Expr) -> sp.Expr:  # noqa: A001 - the operation's name
    return sp.Pow(a, b)


def elementwise(func, *grids: Grid) -> Grid:
    """``func`` entry by entry, the grids broadcast as NumPy does."""
    if len(grids) == 1:
        return grids[0].map(func)
    return Grid.zipmap(func, *grids)


def matmul(a: Grid, b: Grid) -> Grid:
    """NumPy's ``@`` on grids of entries, each entry one ``Add`` (not a chain of ``+``).

    Entries equal ``sympy.Add(*[x*y ...])``, built directly where nothing can
    combine (see :mod:`jacobian_calc.symbolic.canonical`).
    """
    a2 = a if a.ndim == 2 else a.reshape((1, a.size))
    b2 = b if b.ndim == 2 else b.reshape((b.size, 1))
    rows = [a2.flat[i * a2.shape[1]:(i + 1) * a2.shape[1]] for i in range(a2.shape[0])]
    columns = [b2.flat[j::b2.shape[1]] for j in range(b2.shape[1])]
    symbols = _all_symbols(a2.flat) and _all_symbols(b2.flat)
    flat = []
    for row in rows:
        for column in columns:
            entry = symbol_dot(row, column) if symbols else None
            flat.append(entry if entry is not None else add(*map(mul, row, column)))
    shape = a.shape[:-1] + b.shape[1:]
    return Grid(shape, flat)


def _all_symbols(items) -> bool:
    return all(isinstance(e, sp.Symbol) and e.is_commutative for e in items)


def _matrix(X: Grid) -> sp.Matrix:
    return sp.Matrix(X.shape[0], X.shape[1], X.flat)


def det(X: Grid) -> sp.Expr:
    """The determinant of a square grid, division-free (Berkowitz)."""
    return _matrix(X).det(method="berkowitz")


def inverse(X: Grid) -> Grid:
    """The inverse of a square grid: the adjugate's entries over the determinant."""
    M = _matrix(X)
    d = M.det(method="berkowitz")
    if d == 0:
        raise ZeroDivisionError("singular matrix")
    adjugate = M.adjugate(method="berkowitz")
    return Grid(X.shape, [div(e, d) for e in adjugate])
