"""Entries in a form plain SymPy reads back exactly: ``sympy.sympify(text) == entry``.

Symbols are written with their assumptions (``Symbol('x', real=True)``), so a
variable named ``I``, ``S``, ``N`` or ``gamma`` reads back as that symbol,
not as SymPy's imaginary unit or function; the calculator's own functions
are written out in SymPy's (``sigmoid(x)`` as ``1/(1 + exp(-x))``, ``relu``
as ``Max(0, x)``, ``step`` as ``Heaviside(x, 1)``); undefined functions as
``Function('f', real=True)(...)``. The text holds only SymPy's constructors,
numbers and validated names, so reading it runs nothing else.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter



class SympyFormPrinter(StrPrinter):
    """SymPy's string printer, with every name written so ``sympify`` cannot mistake it."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return sp.srepr(expr)

    _print_Dummy = _print_Symbol

    def _print_Function(self, expr) -> str:
        if isinstance(expr, AppliedUndef):
            real = ", real=True" if expr.func.is_real else ""
            return f"Function({str(expr.func)!r}{real})({self.stringify(expr.args, ', ')})"
        return super()._print_Function(expr)


def plain(expr: sp.Basic) -> sp.Basic:
    """``expr`` with the calculator's own functions written in SymPy's terms (``.plain()``)."""
    return expr.replace(lambda e: isinstance(e, sp.Function) and hasattr(e, "plain"),
                        lambda e: e.plain())


def sympy_text(expr: sp.Basic) -> str:
    """One entry as text plain ``sympy.sympify`` reads back exactly.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> sympy_text(2 * x)
    "2*Symbol('x', real=True)"
    >>> sp.sympify(sympy_text(sp.Symbol("I", real=True) + 1)) == sp.Symbol("I", real=True) + 1
    True
    """
    return SympyFormPrinter().doprint(plain(expr))
