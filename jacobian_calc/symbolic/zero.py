"""Deciding ``expr == 0`` for differences of exponential-family entries, quickly.

Second derivatives written two ways differ in vocabulary more than in
substance: the compact side says ``sigmoid(u) * (1 - sigmoid(u))`` where the
explicit side says ``exp(-u) / (1 + exp(-u))**2``, and ``exp(t*z)`` where the
other has ``1/exp(-t*z)``. :func:`prove_zero` rewrites our functions (and
``tanh``) through ``exp``, replaces each ``exp(a)`` by one symbol per ``±a``
(so ``exp(-a)`` is ``1/E``), and cancels the resulting rational function,
within a time budget; SymPy's ``simplify`` is the last resort only.
"""

from __future__ import annotations

import sympy as sp

from .functions import sigmoid, softplus
from ..core import budget
from .simplify import _Timeout, _too_big_to_try, is_zero, time_budget


def exp_normal(expr: sp.Expr, signs: frozenset | set = frozenset(), split: bool = False
               ) -> sp.Expr:
    """``expr`` with sigmoid, softplus and tanh through ``exp``, each ``exp(c * a)`` written
    ``E**c`` with one symbol ``E`` per exponent ``a`` (up to a constant factor), and
    ``t**2 = 1`` for the symbols ``signs``. With ``split``, one symbol per term of the
    exponent (``exp(a + b)`` is ``Ea * Eb``), which also sees through products of
    exponentials.

    Examples
    --------
    >>> u = sp.Symbol("u", real=True)
    >>> exp_normal(sigmoid(u) + sp.exp(-2*u))
    1/(1 + 1/_E0) + _E0**(-2)
    """
    expr = expr.replace(sigmoid, lambda a: 1 / (1 + sp.exp(-a)))
    expr = expr.replace(softplus, lambda a: sp.log(1 + sp.exp(a)))
    expr = expr.replace(sp.tanh, lambda a: 1 - 2 / (sp.exp(2 * a) + 1))
    atoms: dict[sp.Expr, sp.Symbol] = {}

    def symbol(term: sp.Expr) -> sp.Expr:
        coeff, rest = term.as_content_primitive()
        if rest.could_extract_minus_sign():
            coeff, rest = -coeff, -rest
        if rest not in atoms:
            atoms[rest] = sp.Dummy(f"E{len(atoms)}", positive=True)
        return atoms[rest] ** coeff

    def exp_of(arg: sp.Expr) -> sp.Expr:
        arg = sp.expand(arg)
        if not split:
            return symbol(arg)
        return sp.Mul(*(symbol(t) for t in sp.Add.make_args(arg)))

    expr = expr.replace(lambda e: isinstance(e, sp.exp), lambda e: exp_of(e.args[0]))
    if signs:
        expr = sp.expand(expr).replace(
            lambda e: e.is_Pow and e.base in signs and e.exp.is_Integer and e.exp != 1,
            lambda e: e.base ** (int(e.exp) % 2))
    return expr


def prove_zero(expr: sp.Expr, seconds: float = 2.0, signs: frozenset | set = frozenset()
               ) -> bool | None:
    """True if ``expr`` is shown to be 0 (else None: not decided in time).

    Examples
    --------
    >>> z = sp.Symbol("z", real=True)
    >>> s = sigmoid(-z)
    >>> prove_zero(s * (1 - s) - sp.exp(z) / (1 + sp.exp(z))**2)
    True
    """
    if expr == 0:
        return True
    budget.check()
    if _too_big_to_try(expr):  # off the main thread nothing could stop SymPy
        return None
    try:
        with time_budget(seconds):
            if not expr.has(sp.Function) and sp.expand(expr) == 0:
                return True
            for split in (False, True):
                normal = exp_normal(expr, signs, split)
                if normal == 0 or sp.expand(sp.fraction(sp.together(normal))[0]) == 0:
                    return True
            if sp.cancel(normal) == 0:
                return True
    except (_Timeout, RecursionError):
        pass
    return is_zero(expr, seconds) or None


__all__ = ["prove_zero", "exp_normal"]
