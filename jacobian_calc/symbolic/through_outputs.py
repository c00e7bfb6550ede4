"""Explicit entries written through a step's own outputs.

The explicit derivative of ``P = softmax(Z)`` comes out in ``exp(Z_1_1)`` and
the row sum ``S = exp(Z_1_1) + exp(Z_1_2) + exp(Z_1_3)``; the lectures write it
through the output, ``P_1_1 = exp(Z_1_1)/S``. When every output entry is a
product of powers (``exp(Z_1_1) * S**-1``, ``tanh(Z_1_1)``, ``(x_1**2 + x_2**2)**(1/2)``)
each term of the derivative is divided by the outputs it contains, as
monomials: ``exp(Z_1_1)**2 * S**-2 * dP_1_1`` is ``P_1_1**2 * dP_1_1``.

This is exact substitution, not simplification: where a term contains no
whole output it is left as it is. Sums that occur inside outputs (the row
sum) are held as single symbols meanwhile, so that multiplying out never
splits them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import sympy as sp

from .plain import monomial_sum

Monomial = dict[sp.Basic, Fraction]


def powers(term: sp.Expr) -> Monomial:
    """A product as ``{base: exponent}``; ``exp(2*x + y)`` counts as ``exp(x)**2 * exp(y)``.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> sorted((str(b), str(k)) for b, k in powers(3 * x**2 * sp.exp(2*y) / (x + y)).items())
    [('3', '1'), ('exp(y)', '2'), ('x', '2'), ('x + y', '-1')]
    """
    out: Monomial = {}
    for factor in sp.Mul.make_args(term):
        for base, k in _factor_powers(factor):
            out[base] = out.get(base, Fraction(0)) + k
    return out


def _factor_powers(factor: sp.Expr):
    base, exponent = factor.as_base_exp()
    if isinstance(factor, sp.exp) or base is sp.E:
        argument = factor.args[0] if isinstance(factor, sp.exp) else exponent
        for t in sp.Add.make_args(argument):
            c, u = t.as_coeff_Mul()
            if c.is_Rational:
                yield sp.exp(u), Fraction(int(c.p), int(c.q))
            else:
                yield sp.exp(t), Fraction(1)
        return
    if exponent.is_Rational:
        yield base, Fraction(int(exponent.p), int(exponent.q))
    else:
        yield factor, Fraction(1)


def through_outputs(exprs: Sequence[sp.Expr], outputs: Sequence[tuple[sp.Symbol, sp.Expr]]
                    ) -> list[sp.Expr]:
    """``exprs`` with every whole output entry replaced by its symbol.

    Parameters
    ----------
    exprs : sequence of sympy.Expr
        Explicit entries, in the inputs' symbols.
    outputs : sequence of (symbol, expr)
        Each output entry's symbol and its value in the inputs' symbols.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> Y = sp.Symbol("Y")
    >>> through_outputs([1 - sp.tanh(z)**2], [(Y, sp.tanh(z))])
    [1 - Y**2]
    """
    held = _held_sums(outputs)
    monomials = [(s, powers(e.xreplace(held))) for s, e in outputs]
    monomials = [(s, m) for s, m in monomials if _divisible(m)]
    back = {d: s for s, d in held.items()}
    index: dict[sp.Basic, list[int]] = {}
    for i, (_, m) in enumerate(monomials):
        index.setdefault(next(iter(m)), []).append(i)
    return [e if not index and monomial_sum(e)  # nothing to divide by, nothing to expand
            else _divide(e.xreplace(held), monomials, index).xreplace(back) for e in exprs]


def _held_sums(outputs) -> dict[sp.Expr, sp.Dummy]:
    """Sums inside output entries (denominators, roots) -> placeholder symbols."""
    held: dict[sp.Expr, sp.Dummy] = {}
    for _, e in outputs:
        for base, k in powers(e).items():
            if isinstance(base, sp.Add) and (k != 1 or len(sp.Mul.make_args(e)) > 1):
                held.setdefault(base, sp.Dummy("s"))
    return held


def _divisible(m: Monomial) -> bool:
    """Outputs worth dividing by: not a bare sum, not a number."""
    return bool(m) and not (len(m) == 1 and next(iter(m.values())) == 1
                            and isinstance(next(iter(m)), sp.Add))


def _divide(expr: sp.Expr, monomials, index) -> sp.Expr:
    terms = []
    for term in sp.Add.make_args(sp.expand_mul(expr)):
        p = powers(term)
        found = []
        for i in sorted({i for b in p for i in index.get(b, ())}):
            symbol, m = monomials[i]
            k = _times(p, m)
            if k:
                for b, e in m.items():
                    p[b] -= k * e
                found.append(symbol ** k)
        terms.append(sp.Mul(*found, *(b ** sp.Rational(e.numerator, e.denominator)
                                       for b, e in p.items() if e != 0)) if found else term)
    return sp.Add(*terms)


def _times(p: Monomial, m: Monomial) -> int:
    """How many whole times ``m`` divides ``p`` (negative for a reciprocal of a
    one-factor output: ``x**(-1/2)`` is ``y**-1`` for ``y = x**(1/2)``)."""
    ratios = [p.get(b, Fraction(0)) / e for b, e in m.items()]
    if all(r >= 1 for r in ratios):
        return int(min(ratios))
    if len(m) == 1 and ratios[0] <= -1:
        return -int(-ratios[0])
    return 0


__all__ = ["through_outputs", "powers"]
