"""A problem stated at symbolic sizes, instantiated at small concrete ones.

A result derived once for every ``N`` and ``d`` is checked where no proof
for all sizes is available by writing it out at a few sizes. The sizes
are chosen so that no two dimensions are ever equal in the same
assignment, and every dimension takes several values across assignments:
a rule that confuses ``N`` with ``d`` (a transpose) or leaves out a
``1/N`` cannot pass.

Examples
--------
>>> assignments(["N", "d"])
[{'N': 2, 'd': 3}, {'N': 3, 'd': 4}, {'N': 4, 'd': 2}]
>>> sizes_text(assignments(["N", "d"]))
'(N, d) = (2, 3), (3, 4), (4, 2)'
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from ..core.grid import Shape
from ..core.tree import Call, Name, Node, Num, fold, with_children

#: Assignments every symbolic result is checked at.
COUNT = 3
#: The smallest size given to a dimension (1 would hide a transpose in broadcasting).
SMALLEST = 2


def assignments(dims: Sequence[str], count: int = COUNT) -> list[dict[str, int]]:
    """``count`` assignments of sizes to ``dims``, all distinct within each one.

    Sizes are ``2, 3, ...`` rotated: with ``N, d, h`` the assignments are
    ``(2, 3, 4)``, ``(3, 4, 2)`` and ``(4, 2, 3)``.
    """
    values = list(range(SMALLEST, SMALLEST + max(len(dims), count)))
    return [{d: values[(k + j) % len(values)] for j, d in enumerate(dims)}
            for k in range(count)]


def sizes_text(sizes: Sequence[Mapping[str, int]]) -> str:
    """``(N, d) = (2, 3), (3, 4), (4, 2)``; one dimension reads ``N = 2, 3, 4``."""
    dims = list(sizes[0])
    if len(dims) == 1:
        return f"{dims[0]} = " + ", ".join(str(s[dims[0]]) for s in sizes)
    values = ", ".join("(" + ", ".join(str(s[d]) for d in dims) + ")" for s in sizes)
    return f"({', '.join(dims)}) = {values}"


def one_size_text(sizes: Mapping[str, int]) -> str:
    """``N=2, d=3``."""
    return ", ".join(f"{d}={n}" for d, n in sizes.items())


def shape_at(shape: Shape, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """``("N", 3)`` at ``N = 2`` is ``(2, 3)``."""
    return tuple(sizes[d] if isinstance(d, str) else d for d in shape)


def shapes_at(shapes: Mapping[str, Shape], sizes: Mapping[str, int]) -> dict[str, Shape]:
    return {name: shape_at(shape, sizes) for name, shape in shapes.items()}


def node_at(node: Node, sizes: Mapping[str, int]) -> Node:
    """``node`` with every dimension name a number: ``sum(X) / N`` -> ``sum(X) / 2``,
    ``eye(d)`` -> ``eye(3)``."""
    if not sizes:
        return node
    return fold(node, lambda n, kids: _at(n, kids, sizes), {})


def _at(node: Node, kids: list, sizes: Mapping[str, int]) -> Node:
    if isinstance(node, Name):
        return Num(sizes[node.id]) if node.id in sizes else node
    if not isinstance(node, Call):
        return with_children(node, kids) if kids else node
    if node.op == "mul" and kids and all(isinstance(k, Num) for k in kids):
        return Num(math.prod(k.value for k in kids))  # N * K at N, K = 16, 4: 64
    kwargs = {k: sizes.get(v, v) if isinstance(v, str) else v for k, v in node.kwargs}
    if tuple(kids) == tuple(node.args) and kwargs == dict(node.kwargs):
        return node
    return Call(node.op, tuple(kids), kwargs, node.col)


__all__ = ["assignments", "sizes_text", "one_size_text", "shape_at", "shapes_at", "node_at",
           "COUNT"]
