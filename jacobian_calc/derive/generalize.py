"""A request at concrete sizes restated at symbolic ones, as small as the shape rules allow.

``X`` of 32x8 and ``W1`` of 8x32 share a size (8) because ``X @ W1`` needs it,
but their 32s are unrelated: the batch and the hidden width. To check a
derivation at small sizes the two 32s must be able to differ. Every axis of
every declared array gets a name of its own; shape inference then runs on
those names, and whenever a shape rule compares two of them (``X @ W1``'s
inner dimensions, broadcasting) they are the same dimension. What a rule
compares with a number (``eye(3) @ W``) keeps that number, and a size of 1
stays 1 (it broadcasts).

Examples
--------
>>> from jacobian_calc.parsing import parse_expression
>>> general, sizes = generalize(parse_expression("mean(relu(X@W1 + b1)@W2)"),
...     {"X": (32, 8), "W1": (8, 32), "b1": (32,), "W2": (32, 4)})
>>> for name, shape in general.items():
...     print(name, shape)
X ('X_rows', 'X_cols')
W1 ('X_cols', 'W1_cols')
b1 ('W1_cols',)
W2 ('W1_cols', 'W2_cols')
>>> sizes
{'X_rows': 32, 'X_cols': 8, 'W1_cols': 32, 'W2_cols': 4}
"""

from __future__ import annotations

from typing import Mapping

from ..core.grid import Shape
from ..core.tree import Node, names
from ..symbolic.evaluate import node_shapes

_AXES = {1: ("len",), 2: ("rows", "cols")}


class _Dims:
    """Union-find over the named axes, with the sizes they stand for."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.pinned: set[str] = set()

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            first, second = sorted((ra, rb), key=self.order.index)
            self.parent[second] = first


class _Dim(str):
    """A named axis of known size: comparing it by a shape rule unifies it.

    Equal to another axis of the same size (the two are then one dimension)
    or to the number itself (the dimension is then pinned to it).
    """

    value: int
    table: _Dims

    def __new__(cls, name: str, value: int, table: _Dims) -> "_Dim":
        obj = super().__new__(cls, name)
        obj.value, obj.table = value, table
        return obj

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Dim):
            if other.value != self.value:
                return False
            self.table.union(str(self), str(other))
            return True
        if type(other) is int:
            if other != self.value:
                return False
            self.table.pinned.add(str(self))
            return True
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:  # equal sizes must meet in a set (broadcasting)
        return hash(self.value)


def generalize(root: Node, shapes: Mapping[str, Shape]
               ) -> tuple[dict[str, Shape], dict[str, int]]:
    """Shapes with dimension names instead of sizes, and the size of each name.

    Parameters
    ----------
    root : Node
        The expression (intermediates substituted).
    shapes : mapping
        The declared concrete shapes.

    Returns
    -------
    (dict, dict)
        The shapes in dimension names (a pinned size stays a number), and the
        requested size of each name.
    """
    table = _Dims()
    taken = set(names(root)) | set(shapes)
    named: dict[str, tuple] = {}
    for var, shape in shapes.items():
        axes = []
        for d, word in zip(shape, _AXES.get(len(shape), ())):
            if d == 1:
                axes.append(1)
                continue
            name = _free(f"{var}_{word}", taken)
            table.parent[name] = name
            axes.append(_Dim(name, d, table))
        named[var] = tuple(axes)
    table.order = list(table.parent)
    node_shapes(root, named)
    sizes: dict[str, int] = {}
    general: dict[str, Shape] = {}
    for var, axes in named.items():
        out = []
        for axis in axes:
            if not isinstance(axis, _Dim):
                out.append(axis)
                continue
            root_name = table.find(str(axis))
            members = [n for n in table.parent if table.find(n) == root_name]
            if any(m in table.pinned for m in members):
                out.append(axis.value)
            else:
                out.append(root_name)
                sizes[root_name] = axis.value
        general[var] = tuple(out)
    return general, sizes


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


__all__ = ["generalize"]
