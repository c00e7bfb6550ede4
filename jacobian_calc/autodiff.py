"""Symbolic reverse-mode differentiation over a SymPy expression DAG.

``gradient(expr, wrt)`` returns every partial derivative of ``expr`` with
respect to the symbols in ``wrt`` in one backward sweep: each distinct
subexpression is visited once, and subtrees that do not contain a wanted
symbol are never entered. This is what makes a softmax Jacobian (whose
denominator is shared by every entry) or ``X@W`` (linear in ``W``) cheap,
where ``sympy.diff`` would re-walk the whole entry once per symbol.

Local derivatives follow SymPy's own ``fdiff`` except where ``LOCAL_RULES``
says otherwise; node types without a rule fall back to ``sympy.diff``.
"""

from __future__ import annotations

from typing import Callable, Iterable

import sympy as sp
from sympy.core.function import ArgumentIndexError

#: Local derivative overrides, written the way the lectures write them.
LOCAL_RULES: dict[type, Callable[[sp.Expr], sp.Expr]] = {
    sp.tan: lambda a: sp.sec(a) ** 2,
}


def gradient(expr: sp.Expr, wrt: Iterable[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """All non-zero partial derivatives of ``expr`` w.r.t. the symbols ``wrt``.

    Parameters
    ----------
    expr : sympy.Expr
        The expression to differentiate.
    wrt : iterable of sympy.Symbol
        The symbols wanted; symbols absent from ``expr`` are simply missing
        from the result.

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
    wanted = set(wrt)
    expr = sp.sympify(expr)
    order = _dependent_nodes(expr, wanted)
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
            result[node] = sp.Add(*(sp.Mul(*p) for p in products))
            continue
        adj = products[0] if len(products) == 1 else (sp.Add(*(sp.Mul(*p) for p in products)),)
        if any(f == 0 for f in adj):
            continue
        for child, local in _locals(node, order.__contains__, wanted):
            adjoints.setdefault(child, []).append(adj + local)
    return {s: d for s, d in result.items() if d != 0}


def _dependent_nodes(expr: sp.Basic, wanted: set) -> list[sp.Basic]:
    """Post-order list of the distinct subexpressions that contain a wanted symbol."""
    depends: dict[sp.Basic, bool] = {}
    order: list[sp.Basic] = []
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in depends:
            continue
        if node.is_Symbol or not node.args:
            depends[node] = node in wanted
            if depends[node]:
                order.append(node)
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in depends)
            continue
        depends[node] = any(depends.get(a, False) for a in node.args)
        if depends[node]:
            order.append(node)
    return _OrderedSet(order)


class _OrderedSet(list):
    """A list with O(1) membership, for 'does this child depend on wrt?'."""

    def __init__(self, items):
        super().__init__(items)
        self._members = set(items)

    def __contains__(self, item) -> bool:  # type: ignore[override]
        return item in self._members


def _locals(node: sp.Basic, depends: Callable, wanted: set):
    """(child, factors of d node / d child) for the children that depend on wrt."""
    if node.is_Add:
        return [(a, ()) for a in node.args if depends(a)]
    if node.is_Mul:
        return [(a, node.args[:i] + node.args[i + 1:])
                for i, a in enumerate(node.args) if depends(a)]
    if node.is_Pow:
        return _pow_locals(node, depends)
    if isinstance(node, sp.Function) and not isinstance(node, (sp.Min, sp.Max)):
        pairs = _function_locals(node, depends)
        if pairs is not None:
            return pairs
    # No rule: differentiate the node directly w.r.t. each wanted symbol in it.
    return [(s, (node.diff(s),)) for s in node.free_symbols & wanted]


def _pow_locals(node: sp.Pow, depends: Callable):
    base, exp = node.args
    pairs = []
    if depends(base):
        pairs.append((base, (exp, base ** (exp - 1))))
    if depends(exp):
        pairs.append((exp, (node, sp.log(base))))
    return pairs


def _function_locals(node: sp.Function, depends: Callable):
    rule = LOCAL_RULES.get(node.func)
    if rule is not None and len(node.args) == 1:
        return [(node.args[0], (rule(node.args[0]),))]
    try:
        return [(a, (node.fdiff(i + 1),)) for i, a in enumerate(node.args) if depends(a)]
    except (ArgumentIndexError, NotImplementedError, TypeError, AttributeError):
        return None


__all__ = ["gradient", "LOCAL_RULES"]
