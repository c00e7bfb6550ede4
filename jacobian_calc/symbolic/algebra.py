"""The symbolic algebra the operations evaluate with (passed to them as ``S``).

Operations are declared without importing SymPy; their ``evaluate`` parts
receive this module and build entries from what it offers: SymPy's
functions, ours (sigmoid, relu, softplus, step), the canonical sum and
product constructors, and array helpers over :class:`~jacobian_calc.core.grid.Grid`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp
from sympy import (Abs, E, Integer, Rational, acos, acosh, asin, asinh, atan, atanh,  # noqa: F401
                   cos, cosh, cot, csc, exp, log, pi, sec, sign, sin, sinh, sqrt, tan, tanh)

from ..core import budget
from ..core.errors import JacobianError, LimitError
from ..core.grid import Grid  # noqa: F401 - offered to the operations
from .canonical import canonical_add as add
from .canonical import canonical_mul as mul
from .canonical import symbol_dot
from .functions import relu, sigmoid, softplus, step  # noqa: F401
from sympy import Max, Min  # noqa: F401, E402 - max, min, maximum, minimum
from .selection import clip, compare, where  # noqa: F401
from .measure import short_text

_ONE = sp.S.One
_MINUS_ONE = sp.S.NegativeOne


def _sympy_flags():
    """SymPy's global evaluation flags now, and how to put them back: an alarm that
    stops SymPy inside ``with evaluate(False)`` must not leave them changed."""
    from sympy.core.parameters import global_parameters as flags
    saved = {name: getattr(flags, name) for name in ("evaluate", "distribute", "exp_is_pow")}

    def restore():
        for name, value in saved.items():
            setattr(flags, name, value)
    return restore


budget.guard_state(_sympy_flags)


def checked(func, *args):
    """``func(*args)`` after checking the request's deadline: one entry of an array can
    take SymPy a long time (``exp`` of a large sum settles its assumptions)."""
    budget.check()
    return func(*args)


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
    """``a ** b``, refused when SymPy would compute a number of over ``max_digits`` digits."""
    if b.is_Rational and b is not _ONE:
        digits = coefficient_digits(a) * abs(float(b))
        limit = budget.active_limits().max_digits
        if digits > limit:
            raise LimitError(f"({short_text(a, 40)})**{short_text(b, 20)} would make SymPy "
                             f"compute a number of about {digits:,.0f} digits, over the "
                             f"limit of {limit:,}", limit="max_digits")
    return sp.Pow(a, b)


def coefficient_digits(expr: sp.Expr) -> float:
    """Decimal digits of the numeric factors SymPy pulls out of ``expr ** k``.

    ``(3*x)**k`` is ``3**k * x**k`` and ``(sqrt(2)*x)**k`` is ``2**(k/2) * x**k``:
    numerator and denominator digits of the rational factors, per unit of ``k``.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> round(coefficient_digits(3 * x / 7), 3), coefficient_digits(x + 1)
    (1.322, 0.0)
    """
    total = 0.0
    for factor in sp.Mul.make_args(expr):
        if factor.is_Rational:
            total += _log10(factor.p) + _log10(factor.q)
        elif factor.is_Pow and factor.base.is_Rational and factor.exp.is_Rational:
            total += (_log10(factor.base.p) + _log10(factor.base.q)) * abs(float(factor.exp))
    return total


def _log10(n: int) -> float:
    n = abs(int(n))
    if n < 2:
        return 0.0
    bits = n.bit_length()
    if bits < 1000:
        return math.log10(n)
    return (bits - 1) * math.log10(2)


_UNDEFINED = frozenset([sp.S.ComplexInfinity, sp.S.NaN, sp.S.Infinity, sp.S.NegativeInfinity])


def check_defined(entries, node, args) -> None:
    """Refuse an operation whose result is infinite, undefined or complex.

    Only what constant folding can produce is looked at (the entry itself and
    its leading coefficient), so this costs one look per entry: ``x/(1 - 1)``
    is ``zoo*x``, ``log(0)`` is ``zoo``, ``sqrt(-1)`` is ``I``. An operation
    on plain numbers only (an expression evaluated at a point) is left to the
    caller: a pole there belongs to the point, not to the expression.
    """
    if all(e.is_Atom and not e.is_Symbol for a in args for e in a.flat):
        return
    for e in entries:
        lead = e.args[0] if (e.is_Mul or e.is_Add) and e.args else e
        if lead in _UNDEFINED or e in _UNDEFINED:
            raise JacobianError(_undefined_text(node, args))
        if lead is sp.S.ImaginaryUnit or e is sp.S.ImaginaryUnit:
            raise JacobianError(f"{_source(node)} is not a real number "
                                "(the calculator works with real values)")


def _undefined_text(node, args) -> str:
    if getattr(node, "op", None) == "div" and args and all(e == 0 for e in args[1].flat):
        return (f"division by zero: the denominator of {_source(node)} is "
                f"{_source(node.args[1])} = 0")
    return (f"{_source(node)} is infinite or undefined (a division by zero, or a pole "
            "such as log(0))")


def _source(node) -> str:
    text = str(node)
    return text if len(text) <= 60 else text[:57] + "..."


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
        budget.check()
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
