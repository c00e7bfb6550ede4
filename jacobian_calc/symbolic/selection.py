"""What SymPy needs for the selections: max, min, clip, where.

Entries of ``max``, ``min``, ``maximum`` and ``minimum`` are SymPy's ``Max``
and ``Min``; their derivatives at ties are the calculator's convention, the
one PyTorch's ``torch.amax``/``torch.amin`` (and ``torch.maximum``/
``torch.minimum`` for two arguments) use: the gradient is split evenly among
the tied entries. For two arguments that is ``(1 + sign(a - b))/2``; for
more, ``step(x_i - M) / (step(x_1 - M) + ... + step(x_n - M))`` with ``M``
the maximum (``step(0) = 1``, and ``x_i <= M`` always, so ``step(x_i - M)``
is 1 exactly where ``x_i`` is a maximum).

``clip(x, lo, hi)`` is ``torch.clamp``'s: its derivative is 1 for
``lo <= x <= hi`` (boundaries included), 0 outside.

Entries of ``where(c, a, b)`` are ``Piecewise((a, c), (b, True))``; SymPy
differentiates the branches and keeps the condition as it is.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from .functions import step

_HALF = sp.Rational(1, 2)


def _split(expr: sp.Expr, i: int, largest: bool) -> sp.Expr:
    """d expr / d argument i, the gradient split evenly among tied arguments."""
    args = expr.args
    if len(args) == 2:
        other = args[1 - i]
        difference = args[i] - other if largest else other - args[i]
        return _HALF + sp.sign(difference) / 2
    def tied(x):
        return step(x - expr) if largest else step(expr - x)
    return tied(args[i]) / sp.Add(*(tied(x) for x in args))


#: SymPy class -> its derivative w.r.t. argument i (0-based), where the calculator's
#: convention differs from SymPy's (SymPy's is 1/2 for every tied argument).
CONVENTIONS: dict[type, Callable[[sp.Expr, int], sp.Expr]] = {
    sp.Max: lambda e, i: _split(e, i, largest=True),
    sp.Min: lambda e, i: _split(e, i, largest=False),
}


class clip(sp.Function):  # noqa: N801 - named as users type it
    """``min(max(x, lo), hi)``; derivative 1 on ``[lo, hi]`` (boundaries included), as
    ``torch.clamp``; the bounds get the gradient where ``x`` is beyond them."""

    nargs = 3

    @classmethod
    def eval(cls, x, lo, hi):
        if x.is_Number and lo.is_Number and hi.is_Number:
            return sp.Min(sp.Max(x, lo), hi)
        return None

    def fdiff(self, argindex=1):
        x, lo, hi = self.args
        if argindex == 1:
            return step(x - lo) * step(hi - x)
        if argindex == 2:
            return 1 - step(x - lo)
        return 1 - step(hi - x)

    def plain(self) -> sp.Expr:
        """The same in SymPy's own functions (for output plain SymPy reads back)."""
        x, lo, hi = self.args
        return sp.Min(sp.Max(x, lo), hi)

    def _eval_evalf(self, prec):
        return self.plain()._eval_evalf(prec)

    def _eval_is_real(self):
        return all(a.is_real for a in self.args) or None


def where(cond, a, b) -> sp.Expr:
    """``a`` where ``cond`` holds, else ``b`` (one entry)."""
    if cond is sp.true:
        return a
    if cond is sp.false:
        return b
    return sp.Piecewise((a, cond), (b, True))


#: Comparisons by operation name.
COMPARISONS = {"less": sp.Lt, "less_equal": sp.Le, "greater": sp.Gt, "greater_equal": sp.Ge}


def compare(name: str, a, b):
    """The relation ``a < b`` (and the others) of two entries."""
    return COMPARISONS[name](a, b)


def float_table(np) -> dict:
    """NumPy forms of the classes above, for the float evaluator."""
    def piecewise(*pairs):
        out = pairs[-1][0]
        for value, cond in reversed(pairs[:-1]):
            out = np.where(np.asarray(cond, dtype=bool), value, out)
        return out

    def reduce(func):
        def apply(*xs):
            out = xs[0]
            for x in xs[1:]:
                out = func(out, x)
            return out
        return apply

    return {
        sp.Max: reduce(np.maximum), sp.Min: reduce(np.minimum),
        clip: lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        sp.Piecewise: piecewise,
        sp.functions.elementary.piecewise.ExprCondPair: lambda e, c: (e, c),
        sp.StrictLessThan: np.less, sp.LessThan: np.less_equal,
        sp.StrictGreaterThan: np.greater, sp.GreaterThan: np.greater_equal,
        sp.And: np.logical_and, sp.Or: np.logical_or,
        type(sp.true): lambda: True, type(sp.false): lambda: False,
    }
