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

import itertools
import math
from typing import Callable, Mapping, Sequence

from ..core import dims as D
from ..core.errors import JacobianError

from ..core.grid import Shape
from ..core.tree import Call, Name, Node, Num, fold, with_children

#: Assignments every symbolic result is checked at.
COUNT = 3
#: The smallest size given to a dimension (1 would hide a transpose in broadcasting).
SMALLEST = 2


def assignments(dims: Sequence[str], count: int = COUNT,
                fits: Callable[[dict[str, int]], bool] | None = None) -> list[dict[str, int]]:
    """``count`` assignments of sizes to ``dims``, all distinct within each one.

    Sizes are ``2, 3, ...`` rotated: with ``N, d, h`` the assignments are
    ``(2, 3, 4)``, ``(3, 4, 2)`` and ``(4, 2, 3)``. ``fits`` says whether an
    assignment is allowed (every size computed from the names, a convolution's
    ``n - k + 1``, at least 1); where a rotation is not, the smallest allowed
    assignments are taken instead, each dimension's value changing between
    them wherever the constraints leave room (``n > k``: ``(n, k) = (3, 2),
    (4, 3), (5, 2)``).
    """
    values = list(range(SMALLEST, SMALLEST + max(len(dims), count)))
    rotated = [{d: values[(k + j) % len(values)] for j, d in enumerate(dims)}
               for k in range(count)]
    if fits is None or all(fits(a) for a in rotated):
        return rotated
    return _fitting(list(dims), count, fits)


#: Values tried beyond the rotation when sizes are constrained (``n > k``).
_EXTRA = 5


def _fitting(dims: list[str], count: int, fits) -> list[dict[str, int]]:
    values = range(SMALLEST, SMALLEST + len(dims) + _EXTRA)
    candidates = sorted(itertools.permutations(values, len(dims)),
                        key=lambda v: (sum(v), v))[:5000]
    chosen: list[dict[str, int]] = []
    for strict in (True, False):
        for v in candidates:
            if len(chosen) == count:
                break
            a = dict(zip(dims, v))
            if a in chosen or (strict and any(a[d] == c[d] for c in chosen for d in dims)):
                continue
            if fits(a):
                chosen.append(a)
    if not chosen:
        raise JacobianError(f"no sizes of {', '.join(dims)} up to {values[-1]} give every "
                            "dimension at least 1; check with concrete sizes")
    return chosen


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
    return tuple(D.at(d, sizes) for d in shape)


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
    kwargs = {k: _kw_at(v, sizes) for k, v in node.kwargs}
    if tuple(kids) == tuple(node.args) and kwargs == dict(node.kwargs):
        return node
    return Call(node.op, tuple(kids), kwargs, node.col)


def _kw_at(v, sizes: Mapping[str, int]):
    """A keyword's value at ``sizes``: ``padding=k - 1`` at ``k = 3`` is ``padding=2``."""
    if isinstance(v, tuple):  # getitem's index: x[w:w + n]
        return tuple(_kw_at(x, sizes) for x in v)
    if isinstance(v, D.DimExpr):
        return v.at(sizes) if set(v.names) <= set(sizes) else v
    return sizes.get(v, v) if isinstance(v, str) else v


__all__ = ["assignments", "sizes_text", "one_size_text", "shape_at", "shapes_at", "node_at",
           "COUNT"]
