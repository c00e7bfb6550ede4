"""One walk over an expression DAG: each distinct subexpression once, after its arguments.

An entry built by the calculator is a DAG (softmax's denominator is one object
shared by every entry), so every measure, evaluation and rewrite of entries
walks the DAG, never the tree, which can be exponentially larger. The walk is
iterative: an entry may be nested far deeper than Python's recursion limit.
"""

from __future__ import annotations

from typing import Any, Callable, Container, Iterator

import sympy as sp


def post_order(expr: Any, done: Container, key: Callable[[Any], Any] | None = id,
               args: Callable[[Any], Any] | None = None) -> Iterator[Any]:
    """Every distinct node below ``expr`` (``expr`` included) not yet ``done``, each
    after its arguments.

    The caller records each node it is given in ``done`` (under ``key(node)``)
    before it asks for the next: that is how the walk knows a node shared by
    several parents is done. One ``done`` across calls over many expressions
    (the entries of one Jacobian) walks what they share once in all.

    Parameters
    ----------
    expr : sympy.Basic
        The root.
    done : dict or set
        Keys of the nodes already walked (a memo of values per node, say).
    key : callable or None
        How ``done`` knows a node: ``id`` (the default: by identity; keep the
        nodes alive meanwhile) or None (the node itself: equal subexpressions
        of different entries are one node).
    args : callable, optional
        The arguments of a node to walk (default ``node.args``). A node
        whose arguments are not walked is given as a leaf; an argument left
        out is neither walked nor given. With the default, an argument
        without arguments is given as soon as its parent is reached.

    Examples
    --------
    >>> x = sp.Dummy("x")
    >>> y = sp.sin(x) + sp.cos(x)
    >>> seen = set()
    >>> order = []
    >>> for node in post_order(y * y, seen):
    ...     seen.add(id(node))
    ...     order.append(str(node))
    >>> order
    ['2', '_x', 'sin(_x)', 'cos(_x)', 'sin(_x) + cos(_x)', '(sin(_x) + cos(_x))**2']
    """
    stack = [expr]
    pop, push = stack.pop, stack.append
    while stack:
        node = stack[-1]
        if (key(node) if key else node) in done:  # reached twice through shared arguments
            pop()
            continue
        pending = False
        for a in (node.args if args is None else args(node)):
            if (key(a) if key else a) in done:
                continue
            if args is None and not a.args:
                yield a
            else:
                push(a)
                pending = True
        if not pending:
            pop()
            yield node


def distinct_nodes(exprs, args: Callable[[Any], Any] | None = None) -> Iterator[sp.Basic]:
    """Every distinct subexpression of ``exprs`` (by identity) once, arguments first;
    ``args`` as for :func:`post_order`.

    Examples
    --------
    >>> x = sp.Dummy("x")
    >>> s = sp.sin(x)
    >>> [str(node) for node in distinct_nodes([s * x, s])]
    ['_x', 'sin(_x)', '_x*sin(_x)']
    """
    exprs = list(exprs)  # ids: every node stays reachable from exprs meanwhile
    seen: set[int] = set()
    for expr in exprs:
        for node in post_order(expr, seen, id, args):
            seen.add(id(node))
            yield node


__all__ = ["post_order", "distinct_nodes"]
