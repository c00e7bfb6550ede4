"""The generic reverse pass: the operations' own rules composed inside a formula.

:func:`local_vjps` gives the gradients of a formula's inputs from its
upstream gradient, each operation's rule
(:attr:`Op.vjp <jacobian_calc.ops.registry.Op.vjp>`) applied from the top
down, with :func:`unbroadcast` summing over broadcast axes. Backprop uses it
for each backward step, the forward mode (:mod:`.jvp`) and the compact
Hessians (:mod:`.hessian_compact`) for theirs.
"""

from __future__ import annotations

from typing import Mapping

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.tree import Call, Declared, Name, Node, names
from ..ops import NotDifferentiable, Vjp, get
from ..ops.text import to_source  # noqa: F401 - the examples print trees
from ..symbolic.evaluate import node_shapes


def local_vjps(expr: Node, out: Name, g: Node, shapes: Mapping[str, Shape],
               wanted: set[str]) -> dict[str, list[Node]]:
    """The gradients of one step's inputs: the operations' rules composed inside it.

    Parameters
    ----------
    expr : Node
        The step's formula (``X @ W + b``).
    out : Name
        The step's output name (what its last operation's rule calls ``Y``).
    g : Node
        The step's upstream gradient (``dZ``).
    shapes : mapping
        Shapes of every name.
    wanted : set of str
        Names whose gradients are wanted.

    Returns
    -------
    dict
        Name -> contributions (trees to be summed).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> parts = local_vjps(parse_expression("X @ W + b"), Name("Z"), Name("dZ"),
    ...                    {"X": (4, 3), "W": (3, 2), "b": (2,), "Z": (4, 2)}, {"W", "b"})
    >>> {k: [to_source(t) for t in v] for k, v in parts.items()}
    {'W': ['X.T @ dZ'], 'b': ['sum(dZ, axis=0)']}
    """
    found = node_shapes(expr, shapes)
    parts: dict[str, list[Node]] = {}

    def visit(node: Node, grad: Node, top: bool) -> None:
        if isinstance(node, Name):
            if node.id in wanted:
                parts.setdefault(node.id, []).append(grad)
            return
        if not names(node) & wanted:
            return
        op = _differentiable(node)
        v = Vjp(node.args, out if top else node, grad, tuple(found[a] for a in node.args),
                found[node], op.options(node.kwargs))
        for arg, ga in zip(node.args, op.vjp(v)):
            if ga is not None:
                visit(arg, unbroadcast(ga, found[arg], found[node]) if op.broadcasts else ga,
                      False)

    visit(expr, g, True)
    return parts


def _differentiable(node: Node):
    if isinstance(node, Declared):
        raise JacobianError(f"no compact backprop rule for {node.name}(); the explicit route "
                            "still works without {{backprop}}")
    op = get(node.op)
    if isinstance(op.vjp, NotDifferentiable):
        raise JacobianError(f"no compact backprop rule for {op.name}(): {op.vjp.reason}")
    return op


def unbroadcast(g: Node, shape: Shape, out_shape: Shape) -> Node:
    """``g`` (of ``out_shape``) summed over the axes along which ``shape`` was broadcast.

    Examples
    --------
    >>> to_source(unbroadcast(Name("dZ"), (3,), (4, 3)))
    'sum(dZ, axis=0)'
    >>> to_source(unbroadcast(Name("dZ"), (4, 1), (4, 3)))
    'sum(dZ, axis=1, keepdims=True)'
    """
    if tuple(shape) == tuple(out_shape):
        return g
    if not shape:
        return Call("sum", (g,))
    for _ in range(len(out_shape) - len(shape)):  # NumPy prepends axes: sum them away
        g = Call("sum", (g,), {"axis": 0})
    for axis, (n, m) in enumerate(zip(shape, out_shape[len(out_shape) - len(shape):])):
        if n == 1 and m != 1:
            g = Call("sum", (g,), {"axis": axis, "keepdims": True})
    return g


__all__ = ["local_vjps", "unbroadcast"]
