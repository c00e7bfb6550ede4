"""SymPy entries written in the calculator's own syntax.

SymPy's ``str`` is almost the calculator's syntax already; where it is not
(``Abs(x)`` is typed ``abs(x)``), the operation's name is used, so every entry
we print can be typed back into ``jac`` or read back by
:func:`jacobian_calc.read_json`.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.grid import Grid
from ..core.progress import advance, stage
from ..symbolic.classes import function_ops, registry_cached

@registry_cached
def _names() -> dict[type, str]:
    """SymPy function class -> the operation's name, where the two differ."""
    return {cls: op.name for cls, op in function_ops().items() if cls.__name__ != op.name}


class EntryPrinter(StrPrinter):
    """SymPy's string printer, with functions named as the calculator names them."""

    def _print_Function(self, expr):
        name = _names().get(expr.func)
        if name is None:
            return super()._print_Function(expr)
        return f"{name}({self.stringify(expr.args, ', ')})"

    _print_Abs = _print_Function

    def _print_Max(self, expr):
        """``maximum(a, maximum(b, c))``: SymPy's Max as the calculator writes it (and
        reads back: the nested maxima are SymPy's one Max again)."""
        return self._nested("maximum", expr.args)

    def _print_Min(self, expr):
        return self._nested("minimum", expr.args)

    def _nested(self, name, args):
        out = self._print(args[-1])
        for a in reversed(args[:-1]):
            out = f"{name}({self._print(a)}, {out})"
        return out

    def _print_Piecewise(self, expr):
        """``where(c, a, b)``, as the condition was typed (nested for more branches)."""
        *branches, (last, otherwise) = expr.args
        if otherwise is not sp.true:
            return super()._print_Piecewise(expr)
        out = self._print(last)
        for value, cond in reversed(branches):
            out = f"where({self._print(cond)}, {self._print(value)}, {out})"
        return out


def entry_text(expr: sp.Basic) -> str:
    """One entry as text, e.g. ``abs(x)*sigmoid(y)``.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> entry_text(sp.Abs(x) + x**2 / 8)
    'x**2/8 + abs(x)'
    """
    return EntryPrinter().doprint(expr)


def entry_texts(grid: Grid) -> Grid:
    """Every entry of a grid as text (a long printing job reports its progress)."""
    with stage("printing entries", grid.size):
        def one(expr):
            advance()
            return entry_text(expr)
        return grid.map(one)


def check_text(check) -> str:
    """A compact form's check against the explicit one, in words (``None``: not checked)."""
    if check is None:
        return "not checked"
    if check.verdict == "differs":
        label, first, second = check.mismatch
        return f"DIFFERS at {label}: explicit {entry_text(first)}, compact {entry_text(second)}"
    return f"{check.verdict} ({check.how})"


def aligned_equations(rows: list[tuple[str, str, str]]) -> list[str]:
    """``(name, formula, shape)`` rows as ``  name = formula   shape``, the ``=`` aligned."""
    left = max(len(a) for a, _, _ in rows)
    body = max(len(b) for _, b, _ in rows)
    return [f"  {a.ljust(left)} = {b.ljust(body)}   {s}".rstrip() for a, b, s in rows]
