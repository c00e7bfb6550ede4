"""Forward-mode differentiation of formula trees, derived from the backward rules.

The tangent of ``op(x1, ..., xk)`` in the direction ``(ẋ1, ..., ẋk)`` is
``Σ_i J_i ẋ_i``. Every operation declares its backward rule, the transposed
map ``g ↦ J_iᵀ g``; that rule is a tree *linear in* ``g``, so differentiating
``⟨ẋ_i, J_iᵀ g⟩`` with respect to ``g`` (one more backward pass, through the
linear operations the rule is made of) gives ``J_i ẋ_i``. No operation needs
a forward rule of its own: ``tanh``'s tangent is ``ẋ * (1 - Y**2)``, softmax's
``P * (ẋ - sum(ẋ * P, axis=1, keepdims=True))``, ``inv``'s ``-(Y @ ẋ @ Y)``,
each read off the operation's one backward rule.

This is how the compact Hessian is found: the tangent of the compact
gradient formula in a direction ``v`` is the Hessian-vector product ``H v``.
"""

from __future__ import annotations

from typing import Mapping

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.tree import Call, Declared, Name, Node, Num, names, substitute, fold
from ..ops import NotDifferentiable, Vjp, get
from ..symbolic.evaluate import node_shapes
from .vjp import local_vjps, unbroadcast

#: The placeholder of the upstream gradient while a rule is transposed (never a user name:
#: names never start with "_").
_G = "_g"


def jvp(node: Node, tangents: Mapping[str, Node], shapes: Mapping[str, Shape]) -> Node | None:
    """The tangent of ``node`` when each name ``n`` of ``tangents`` moves along
    ``tangents[n]`` (a tree of the name's shape); ``None`` when it is zero.

    Parameters
    ----------
    node : Node
        A formula in variables (``(A + A.T) @ x``).
    tangents : mapping
        Variable name -> its tangent (``{"x": Name("v")}``).
    shapes : mapping
        The shape of every name in ``node`` and in the tangents.

    Returns
    -------
    Node or None
        The tangent, of ``node``'s shape, not yet tidied.

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> from jacobian_calc.ops.text import to_source
    >>> from jacobian_calc.derive.tidy import tidy
    >>> S = {"X": (2, 3), "W": (3, 2), "V": (3, 2)}
    >>> to_source(tidy(jvp(parse_expression("tanh(X @ W)"), {"W": Name("V")}, S), S))
    '(X @ V) * (1 - tanh(X @ W)**2)'
    """
    found = node_shapes(node, shapes)
    return fold(node, lambda n, args: _tangent(n, args, tangents, shapes, found))


def _tangent(node: Node, args: list, tangents, shapes, found) -> Node | None:
    if isinstance(node, Name):
        return tangents.get(node.id)
    if isinstance(node, Num) or all(t is None for t in args):
        return None
    if isinstance(node, Declared):
        raise JacobianError(f"no compact rule for {node.name}(), so no tangent of it")
    parts = [_through(node, i, t, shapes, found) for i, t in enumerate(args) if t is not None]
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Call("add", parts)


def _through(node: Call, i: int, tangent: Node, shapes, found) -> Node | None:
    """``J_i ẋ_i``: the backward rule of argument ``i``, transposed."""
    op = get(node.op)
    if isinstance(op.vjp, NotDifferentiable):
        raise JacobianError(f"no compact rule for {op.name}(): {op.vjp.reason}")
    arg_shapes = tuple(found[a] for a in node.args)
    v = Vjp(node.args, node, Name(_G), arg_shapes, found[node], op.options(node.kwargs))
    rule = op.vjp(v)[i]
    if rule is None:
        return None
    if op.broadcasts:
        rule = unbroadcast(rule, arg_shapes[i], found[node])
    if _G not in names(rule):  # a constant rule (no dependence on g): no tangent
        return None
    local = {**shapes, _G: found[node]}
    parts = local_vjps(rule, rule, tangent, local, {_G}).get(_G, [])
    if not parts:
        return None
    out = parts[0] if len(parts) == 1 else Call("add", parts)
    # What is left of g only says its shape (ones_like(g)): the output has that shape.
    return substitute(out, {_G: node})


__all__ = ["jvp"]
