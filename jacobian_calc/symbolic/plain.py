"""Facts about plain polynomial entries, read from their structure.

Most entries of matrix Jacobians are sums of monomials: ``Σ_i X[i,k] dY[i,l]``.
SymPy answers questions about them (is it finite? what does ``factor_terms``
or ``expand_mul`` make of it?) by general machinery that, for 1,024 such
sums of 32 terms, takes seconds. Where the structure settles the answer it is
read here in one walk; everything else is left to SymPy.

A *monomial* is an integer times a product of powers, with positive integer
exponents, of distinct symbols (SymPy's ``Mul`` keeps bases distinct).
"""

from __future__ import annotations

from functools import reduce
from math import gcd

import sympy as sp


def _monomial(term: sp.Expr) -> tuple[int, frozenset] | None:
    """(integer coefficient, bases) of a monomial, or None."""
    coeff, rest = term.as_coeff_Mul()
    if not coeff.is_Integer:
        return None
    bases = []
    for factor in sp.Mul.make_args(rest):
        if not factor.is_commutative:
            return None
        if factor.is_Symbol:
            bases.append(factor)
        elif factor.is_Pow and factor.base.is_Symbol and factor.exp.is_Integer \
                and factor.exp > 0:
            bases.append(factor.base)
        elif factor is not sp.S.One:
            return None
    return int(coeff), frozenset(bases)


def monomial_sum(expr: sp.Expr) -> bool:
    """Whether ``expr`` is a monomial or a sum of monomials (``expand_mul`` leaves
    it as it is).

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> monomial_sum(2*x*y + x**2), monomial_sum(x*(y + 1))
    (True, False)
    """
    return all(_monomial(t) is not None for t in sp.Add.make_args(expr))


def nothing_in_common(expr: sp.Expr) -> bool:
    """Whether ``expr`` is a sum of monomials with no base in every term, integer
    coefficients without a common divisor and not all negative: then
    ``sympy.factor_terms(expr)`` is ``expr``.

    Examples
    --------
    >>> x, y, z = sp.symbols("x y z")
    >>> nothing_in_common(x*y + 2*z), nothing_in_common(x*y + x*z), nothing_in_common(2*x + 4*y)
    (True, False, False)
    """
    if not expr.is_Add:
        return False
    parts = [_monomial(t) for t in expr.args]
    if any(p is None for p in parts):
        return False
    coefficients = [c for c, _ in parts]
    return (not frozenset.intersection(*(b for _, b in parts))
            and reduce(gcd, coefficients) == 1 and max(coefficients) > 0)


#: Entries over this many nodes are left as they are by :func:`factor_common`
#: (``factor_terms`` of a large entry costs seconds).
TIDY_NODES = 400


def factor_common(expr: sp.Expr, max_nodes: int = TIDY_NODES) -> sp.Expr:
    """``sympy.factor_terms(expr)`` for display: answered at once where there is
    nothing to take out (see :func:`nothing_in_common`), and not tried on an
    entry of more than ``max_nodes`` nodes.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> factor_common(x*y + x), factor_common(x*y + 1)
    (x*(y + 1), x*y + 1)
    """
    if nothing_in_common(expr):
        return expr
    for count, _ in enumerate(sp.preorder_traversal(expr)):
        if count > max_nodes:
            return expr
    return sp.factor_terms(expr)


def finite(expr: sp.Expr) -> bool:
    """Whether ``expr.is_finite`` is True: read from the structure for
    polynomials in finite symbols (one walk, no assumption queries on the
    sums and products), asked of SymPy otherwise. The walk is its own, not
    :func:`~.walk.post_order`: it stops at the first node it cannot read.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> finite(3*x**2 + x), finite(1/x), finite(sp.Symbol("z"))
    (True, False, False)
    """
    stack, seen = [expr], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.is_Add or node.is_Mul:
            stack.extend(node.args)
        elif node.is_Pow and node.exp.is_Integer and node.exp >= 0:
            stack.append(node.base)
        elif not (node.is_Symbol or node.is_Rational) or node.is_finite is not True:
            return expr.is_finite is True
    return True


def positive_finite(expr: sp.Expr) -> bool:
    """Whether ``expr`` is known, from its structure alone, to be positive and finite:
    positive numbers and symbols, ``exp`` of a real polynomial, and sums, products
    and rational powers of those (softmax's ``Σ exp(l_i)``). False means "not
    shown here", not "not positive". The walk is its own, not :func:`~.walk.post_order`:
    what a node needs depends on where it occurs, and it stops at the first failure.

    Examples
    --------
    >>> l = sp.symbols("l1:4", real=True)
    >>> positive_finite(sp.Add(*map(sp.exp, l))), positive_finite(l[0] + 1)
    (True, False)
    """
    stack = [(expr, True)]  # (node, must be positive; else real will do)
    while stack:
        node, positive = stack.pop()
        if node.is_Rational:
            ok = node > 0 or not positive
        elif node.is_Symbol:
            ok = (node.is_positive if positive else node.is_real) is True
        elif node.is_Add or node.is_Mul:
            stack.extend((a, positive) for a in node.args)
            continue
        elif node.is_Pow:
            ok = node.exp.is_Rational and (positive or (node.exp.is_Integer and node.exp >= 0))
            stack.append((node.base, positive))
        elif isinstance(node, sp.exp) and positive:
            stack.append((node.args[0], False))
            continue
        else:
            ok = False
        if not ok:
            return False
    return True


__all__ = ["TIDY_NODES", "factor_common", "finite", "positive_finite", "monomial_sum", "nothing_in_common"]
