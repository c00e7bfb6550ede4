"""A small n-dimensional array of Python objects, with NumPy's indexing rules.

Entries of symbolic arrays are SymPy expressions; NumPy object arrays would
hold them as well, but importing NumPy costs more than a whole small request,
so the symbolic layer uses this instead: row-major storage, broadcasting,
transposes, reshapes and reductions along an axis, as NumPy defines them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterator, Sequence, Union

from .dims import DimExpr
from .errors import JacobianError

#: A dimension is a size or a dimension name (``"N"``): the same name, the same size.
Dim = Union[int, str]
Shape = tuple[Dim, ...]


class SymbolicSizeError(JacobianError):
    """Entries were asked of an array whose size is a dimension name."""


def concrete(shape: Shape) -> bool:
    """Whether every dimension of ``shape`` is a number (no dimension name)."""
    return not any(isinstance(d, str) for d in shape)


def require_concrete(shape: Shape, what: str = "an array") -> None:
    """Refuse to write out the entries of ``what`` when its size is symbolic."""
    if not concrete(shape):
        raise SymbolicSizeError(
            f"the entries of {what} ({shape_text(shape)}) cannot be written out at symbolic "
            "sizes; give numbers ({{shape_example}}), or use {{backprop}}")


def shape_text(shape: Shape) -> str:
    """``(2, 3)`` -> ``"2x3"``; ``()`` -> ``"scalar"``.

    Examples
    --------
    >>> shape_text((2, 3)), shape_text((4,)), shape_text(())
    ('2x3', '4', 'scalar')
    >>> from jacobian_calc.core.dims import as_dim, symbol
    >>> shape_text((as_dim(symbol("n") - symbol("k") + 1), 1))
    '(n-k+1)x1'
    """
    return "x".join(map(dim_label, shape)) if shape else "scalar"


def dim_label(d: Dim) -> str:
    """A dimension in a shape's text: ``n``, ``3``, or ``(n-k+1)`` for an expression."""
    return f"({str(d).replace(' ', '')})" if isinstance(d, DimExpr) else str(d)


def ndindex(shape: Shape) -> Iterator[tuple[int, ...]]:
    """All index tuples of ``shape`` in row-major order (``()`` once for a scalar)."""
    require_concrete(shape)
    return itertools.product(*(range(n) for n in shape))


def flat_index(index: tuple[int, ...], shape: Shape) -> int:
    """Position of ``index`` in the row-major flattening of ``shape``."""
    out = 0
    for i, n in zip(index, shape):
        out = out * n + i
    return out


def strides(shape: Shape) -> tuple[int, ...]:
    """Row-major strides, in entries."""
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))


def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy's broadcast of several shapes; ``ValueError`` if they clash.

    Examples
    --------
    >>> broadcast_shapes((4, 3), (3,), ())
    (4, 3)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        sizes = {s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class Grid:
    """An n-d array of objects: ``shape`` and the entries in row-major order.

    Examples
    --------
    >>> g = Grid((2, 3), list(range(6)))
    >>> g[1, 2], g.T.shape, g.T[2, 1]
    (5, (3, 2), 5)
    >>> Grid.zipmap(lambda a, b: a + b, g, Grid((3,), [10, 20, 30])).tolist()
    [[10, 21, 32], [13, 24, 35]]
    """

    __slots__ = ("shape", "flat")

    def __init__(self, shape: Shape, flat: Sequence[Any]) -> None:
        self.shape = tuple(shape)
        require_concrete(self.shape)
        self.flat = list(flat)
        if len(self.flat) != math.prod(self.shape):
            raise ValueError(f"{len(self.flat)} entries do not fill shape {self.shape}")

    # -- construction ---------------------------------------------------------
    @classmethod
    def full(cls, shape: Shape, value: Any) -> "Grid":
        require_concrete(shape)
        return cls(shape, [value] * math.prod(shape))

    @classmethod
    def scalar(cls, value: Any) -> "Grid":
        return cls((), [value])

    @classmethod
    def from_function(cls, shape: Shape, func: Callable[[tuple], Any]) -> "Grid":
        """Entry ``index`` is ``func(index)``."""
        return cls(shape, [func(i) for i in ndindex(shape)])

    @classmethod
    def from_nested(cls, nested: Any) -> "Grid":
        """From nested lists (a non-list is a scalar)."""
        shape: list[int] = []
        probe = nested
        while isinstance(probe, (list, tuple)):
            shape.append(len(probe))
            if not probe:
                break
            probe = probe[0]
        flat: list = []

        def collect(item, depth):
            if depth == len(shape):
                flat.append(item)
                return
            if not isinstance(item, (list, tuple)) or len(item) != shape[depth]:
                raise ValueError("ragged nested lists")
            for sub in item:
                collect(sub, depth + 1)

        collect(nested, 0)
        return cls(tuple(shape), flat)

    # -- basic properties ---------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return len(self.flat)

    def item(self) -> Any:
        """The only entry of a one-entry grid."""
        if len(self.flat) != 1:
            raise ValueError(f"grid of shape {self.shape} has {len(self.flat)} entries")
        return self.flat[0]

    def offset(self, index: tuple[int, ...]) -> int:
        return flat_index(index, self.shape)

    def __getitem__(self, index) -> Any:
        if not isinstance(index, tuple):
            index = (index,)
        if len(index) != self.ndim or not all(0 <= i < n for i, n in zip(index, self.shape)):
            raise IndexError(f"index {index} out of range for shape {self.shape}")
        return self.flat[self.offset(index)]

    def items(self) -> Iterator[tuple[tuple[int, ...], Any]]:
        """(index, entry) pairs in row-major order."""
        return zip(ndindex(self.shape), self.flat)

    def tolist(self) -> Any:
        """Nested lists (the entry itself for a scalar)."""
        if not self.shape:
            return self.flat[0]
        out: Any = self.flat
        for n in reversed(self.shape[1:]):
            out = [out[i:i + n] for i in range(0, len(out), n)]
        return list(out)

    def __repr__(self) -> str:
        return f"Grid({self.shape}, {self.tolist()!r})"

    # -- element-wise -----------------------------------------------------------------
    def map(self, func: Callable[[Any], Any]) -> "Grid":
        return Grid(self.shape, [func(e) for e in self.flat])

    @staticmethod
    def zipmap(func: Callable[..., Any], *grids: "Grid") -> "Grid":
        """``func`` applied entry by entry, the grids broadcast as NumPy does."""
        shape = broadcast_shapes(*(g.shape for g in grids))
        flats = [g.broadcast_to(shape).flat for g in grids]
        return Grid(shape, [func(*xs) for xs in zip(*flats)])

    def broadcast_to(self, shape: Shape) -> "Grid":
        if self.shape == tuple(shape):
            return self
        if broadcast_shapes(self.shape, shape) != tuple(shape):
            raise ValueError(f"cannot broadcast {self.shape} to {shape}")
        if self.size == 1:
            return Grid.full(shape, self.flat[0])
        lead = len(shape) - self.ndim
        own = strides(self.shape)
        steps = [0] * lead + [0 if n == 1 else s for n, s in zip(self.shape, own)]
        flat = self.flat
        return Grid(shape, [flat[sum(i * s for i, s in zip(index, steps))]
                            for index in ndindex(shape)])

    # -- structure ------------------------------------------------------------------------
    def transpose(self, axes: Sequence[int] | None = None) -> "Grid":
        """Axes permuted (reversed by default), as ``numpy.transpose``."""
        axes = tuple(reversed(range(self.ndim))) if axes is None else tuple(axes)
        if self.ndim < 2 and axes == tuple(range(self.ndim)):
            return self
        shape = tuple(self.shape[a] for a in axes)
        own = strides(self.shape)
        steps = [own[a] for a in axes]
        flat = self.flat
        return Grid(shape, [flat[sum(i * s for i, s in zip(index, steps))]
                            for index in ndindex(shape)])

    @property
    def T(self) -> "Grid":  # noqa: N802 - NumPy's spelling
        return self.transpose()

    def reshape(self, shape: Shape) -> "Grid":
        return Grid(shape, self.flat)

    def expand_dims(self, axis: int) -> "Grid":
        axis %= self.ndim + 1
        return Grid(self.shape[:axis] + (1,) + self.shape[axis:], self.flat)

    def reduce(self, func: Callable[[list], Any], axis: int | None = None,
               keepdims: bool = False) -> "Grid":
        """``func`` of the entries along ``axis`` (all entries for ``None``)."""
        if axis is None:
            out = Grid.scalar(func(list(self.flat)))
            return out.reshape((1,) * self.ndim) if keepdims else out
        axis %= self.ndim
        rest = self.shape[:axis] + self.shape[axis + 1:]
        own = strides(self.shape)
        flat, n, step = self.flat, self.shape[axis], own[axis]
        values = []
        for index in ndindex(rest):
            full = index[:axis] + (0,) + index[axis:]
            start = sum(i * s for i, s in zip(full, own))
            values.append(func([flat[start + k * step] for k in range(n)]))
        out = Grid(rest, values)
        return out.expand_dims(axis) if keepdims else out

    def lines(self, axis: int) -> Iterator[tuple[tuple[int, ...], list]]:
        """(index of the other axes, entries along ``axis``) pairs."""
        axis %= self.ndim
        rest = self.shape[:axis] + self.shape[axis + 1:]
        for index in ndindex(rest):
            yield index, [self[index[:axis] + (k,) + index[axis:]]
                          for k in range(self.shape[axis])]
