"""Python values as SymPy objects without ever reading text.

SymPy's operations call ``sympify`` on their arguments, and ``sympify`` of a
string runs Python's ``eval`` on it: ``sympy.sin("__import__('os')...")``
executes the payload. Every value that reaches SymPy from outside the
calculator passes through :func:`as_sympy` first, which converts numbers and
SymPy objects and refuses text (text is read by the allow-list parser only).
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Number
from typing import Any

import sympy as sp

from ..core.errors import JacobianTypeError


def as_sympy(value: Any, what: str = "a value") -> sp.Basic:
    """``value`` as a SymPy object: SymPy objects as they are, numbers converted,
    anything else (text above all) refused.

    Examples
    --------
    >>> as_sympy(2), as_sympy(0.5), as_sympy(sp.Symbol("x") + 1)
    (2, 0.500000000000000, x + 1)
    >>> as_sympy("x + 1")
    Traceback (most recent call last):
    ...
    jacobian_calc.core.errors.JacobianTypeError: a value must be a SymPy expression or a number, not text ('x + 1'); text is read with parse_expression or read_entry
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        raise JacobianTypeError(f"{what} must be a SymPy expression or a number, not text "
                                f"({str(value)[:40]!r}); text is read with parse_expression "
                                "or read_entry")
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, (Number, sp.MatrixBase, sp.NDimArray)) or hasattr(value, "dtype"):
        # strict: only types SymPy converts without parsing (numbers, NumPy scalars)
        try:
            return sp.sympify(value, strict=True)
        except (sp.SympifyError, TypeError, ValueError):
            pass
    raise JacobianTypeError(f"{what} must be a SymPy expression or a number, "
                            f"not {type(value).__name__}")


def refuse_text(args: tuple, what: str) -> None:
    """A JacobianTypeError if any of ``args`` is text (before SymPy would read it)."""
    for a in args:
        if isinstance(a, (str, bytes, bytearray)):
            raise JacobianTypeError(f"{what}() takes a SymPy expression or a number, not "
                                    f"text ({str(a)[:40]!r}); text is read with "
                                    "parse_expression or read_entry")
