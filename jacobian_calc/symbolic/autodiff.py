"""Symbolic reverse-mode differentiation over a SymPy expression DAG.

``gradient(expr, wrt)`` returns every partial derivative of ``expr`` with
respect to the symbols in ``wrt`` in one backward sweep: each distinct
subexpression is visited once, and subtrees that do not contain a wanted
symbol are never entered. This is what makes a softmax Jacobian (whose
denominator is shared by every entry) or ``X@W`` (linear in ``W``) cheap,
where ``sympy.diff`` would re-walk the whole entry once per symbol.

Local derivatives follow SymPy's own ``fdiff`` except where an operation
declares its convention (``entry_derivative``: ``tan' = sec**2`` as the
lectures write it, ``sign' = 0``); node types without a rule fall back to
``sympy.diff``. This is the explicit route: it never reads the operations'
compact backward rules, so comparing the two routes compares two
independent derivations.
"""

from __future__ import annotations

from typing import Callable, Iterable

import sympy as sp
from sympy.core.function import ArgumentIndexError

from . import algebra
from .canonical import canonical_add, canonical_mul
from .classes import function_ops, registry_cached

_ZERO = sp.S.Zero


@registry_cached
def local_rules() -> dict[type, Callable[[sp.Expr], sp.Expr]]:
    """SymPy function class -> derivative, where an operation declares its own convention."""
    return {cls: (lambda a, op=op: op.entry_derivative(algebra, a))
            for cls, op in function_ops().items() if op.entry_derivative is not None}


def gradient(expr: sp.Expr, wrt: Iterable[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """All non-zero partial derivatives of ``expr`` w.r.t. the symbols ``wrt``.

    Parameters
    ----------
    expr : sympy.Expr
        The expression to differentiate.
    wrt : iterable of sympy.Symbol
        The symbols wanted; symbols absent from ``expr`` are simply missing
        from the result. A set is used as it is (callers differentiating many
        entries w.r.t. the same thousands of symbols should pass one).

    Returns
    -------
    dict
        ``{symbol: derivative}`` for symbols with a (structurally) non-zero
        derivative.

    Examples
    --------
    >>> import sympy
    >>> x, y = sympy.symbols("x y")
    >>> sorted(gradient(x**2 * y, [x, y]).items(), key=str)
    [(x, 2*x*y), (y, x**2)]
    """
    wanted = wrt if isinstance(wrt, (set, frozenset)) else set(wrt)
    expr = sp.sympify(expr)
    order, depends = _dependent_nodes(expr, wanted)
    if not order:
        return {}
    # An adjoint is kept as a list of products, each product a tuple of
    # factors, and multiplied out once at the end: Mul(2, a, a*w1 + b1) stays
    # factored where (2*(a*w1 + b1))*a would have been distributed.
    adjoints: dict[sp.Basic, list[tuple]] = {expr: [()]}
    result: dict[sp.Symbol, sp.Expr] = {}
    for node in reversed(order):  # parents before children
        products = adjoints.pop(node, None)
        if not products:
            continue
        if node in wanted:
            result[node] = _sum_of_products(products)
            continue
        adj = products[0] if len(products) == 1 else (_sum_of_products(products),)
        if any(f is _ZERO for f in adj):  # equality is structural: only S.Zero == 0
            continue
        for child, local in _locals(node, depends, wanted):
            if child in adjoints:
                adjoints[child].append(adj + local)
            else:
                adjoints[child] = [adj + local]
    return {s: d for s, d in result.items() if d is not _ZERO}


def _sum_of_products(products: list[tuple]) -> sp.Expr:
    if len(products) == 1:
        return canonical_mul(*products[0])
    return canonical_add(*[canonical_mul(*p) for p in products])


def _dependent_nodes(expr: sp.Basic, wanted: set) -> tuple[list[sp.Basic], dict]:
    """Post-order list of the distinct subexpressions that contain a wanted symbol.

    Also returns the ``{node: depends}`` map of every node visited. Leaves are
    settled when their parent is first expanded: most nodes of a Jacobian
    (``X_1_1*W_1_1``) have only leaves below them.
    """
    depends: dict[sp.Basic, bool] = {}
    order: list[sp.Basic] = []
    stack: list[sp.Basic] = [expr]
    while stack:
        node = stack[-1]
        if node in depends:
            stack.pop()
            continue
        args = node.args
        if not args:
            stack.pop()
            depends[node] = hit = node in wanted
            if hit:
                order.append(node)
            continue
        pending = False
        for a in args:
            if a in depends:
                continue
            if a.args:
                stack.append(a)
                pending = True
            else:
                depends[a] = hit = a in wanted
                if hit:
                    order.append(a)
        if pending:
            continue
        stack.pop()
        depends[node] = hit = any(depends[a] for a in args)
        if hit:
            order.append(node)
    return order, depends


def _locals(node: sp.Basic, depends: dict, wanted: set):
    """(child, factors of d node / d child) for the children that depend on wrt."""
    if node.is_Add:
        return [(a, ()) for a in node.args if depends[a]]
    if node.is_Mul:
        args = node.args
        return [(a, args[:i] + args[i + 1:]) for i, a in enumerate(args) if depends[a]]
    if node.is_Pow:
        return _pow_locals(node, depends)
    if isinstance(node, sp.Function) and not isinstance(node, (sp.Min, sp.Max)):
        pairs = _function_locals(node, depends)
        if pairs is not None:
            return pairs
    # No rule: differentiate the node directly w.r.t. each wanted symbol in it.
    return [(s, (node.diff(s),)) for s in node.free_symbols & wanted]


def _pow_locals(node: sp.Pow, depends: dict):
    base, exp = node.args
    pairs = []
    if depends[base]:
        pairs.append((base, (exp, base ** (exp - 1))))
    if depends[exp]:
        pairs.append((exp, (node, sp.log(base))))
    return pairs


def _function_locals(node: sp.Function, depends: dict):
    rule = local_rules().get(node.func)
    if rule is not None and len(node.args) == 1:
        return [(node.args[0], (rule(node.args[0]),))]
    try:
        return [(a, (node.fdiff(i + 1),)) for i, a in enumerate(node.args) if depends[a]]
    except (ArgumentIndexError, NotImplementedError, TypeError, AttributeError):
        return None


__all__ = ["gradient", "local_rules"]
