"""The entry of an expression at symbolic indices, from the operations' index forms.

Each operation declares its index form in the registry (:attr:`Op.index
<jacobian_calc.ops.registry.Op.index>`): given an :class:`IndexContext` (its
arguments' entries at any indices, the output's index symbols, sizes and a
source of fresh summation indices) it returns the SymPy expression of one
output entry, e.g. ``A @ B`` -> ``Sum(A[i, r]*B[r, j], (r, 1, n))``.
:func:`entry_of` applies them through a whole expression tree.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import sympy as sp

from ..core.dims import DimExpr, names_of
from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.tree import Call, Declared, Name, Node, Num, fold
from ..ops import get
from ..ops.registry import NoIndexForm, NoIndexFormError
from ..symbolic import algebra as S
from . import algebra as I


class IndexContext:
    """What an index form sees.

    Attributes
    ----------
    out : tuple
        The output entry's index symbols (or integers), one per output axis.
    shapes, out_shape
        The arguments' shapes and the output's (``int | str`` dimensions).
    kw : dict
        The operation's keyword options (``axis``, ``keepdims``).
    S
        The symbolic algebra (``S.exp``, ``S.sigmoid``, ...).
    """

    S = S

    def __init__(self, args, shapes, out_shape, kw, out):
        self._args, self.shapes, self.out_shape = args, shapes, out_shape
        self.kw, self.out = dict(kw), tuple(out)

    def arg(self, n: int, *indices) -> sp.Expr:
        """Argument ``n``'s entry at ``indices`` (its own axes)."""
        return self._args[n](tuple(indices))

    def bcast(self, n: int, indices: Sequence | None = None) -> sp.Expr:
        """Argument ``n``'s entry under NumPy broadcasting to the output's ``indices``:
        leading axes dropped, an axis of length 1 read at 1."""
        indices = self.out if indices is None else tuple(indices)
        shape = self.shapes[n]
        own = indices[len(indices) - len(shape):] if shape else ()
        out_shape = self.out_shape[len(self.out_shape) - len(shape):] if shape else ()
        return self.arg(n, *(sp.Integer(1) if d == 1 and o != 1 else a
                             for a, d, o in zip(own, shape, out_shape)))

    def size(self, n: int, axis: int) -> sp.Expr:
        """The length of argument ``n`` along ``axis``, as SymPy sees it."""
        return I.size(self.shapes[n][axis])

    def fresh(self) -> sp.Symbol:
        """A new summation index."""
        return I.fresh()

    def sum(self, body: sp.Expr, *limits) -> sp.Expr:
        """``Σ`` over ``(index, size)`` pairs."""
        return I.summation(body, *limits)

    def delta(self, a, b) -> sp.Expr:
        return I.delta(a, b)

    def in_range(self, e, n) -> sp.Expr:
        """The bracket ``[1 ≤ e ≤ n]`` (an entry of a padding's border is 0)."""
        return I.InRange(sp.expand(e), sp.S.One, I.size(n))

    def reduce(self, n: int, body, axis: int | None, keepdims: bool) -> sp.Expr:
        """``Σ`` of ``body(entry)`` over argument ``n``'s entries along ``axis`` (all
        axes for ``None``), the other axes at the output's indices."""
        shape = self.shapes[n]
        if axis is None:
            fresh = [self.fresh() for _ in shape]
            return self.sum(body(self.arg(n, *fresh)),
                            *((f, I.size(d)) for f, d in zip(fresh, shape)))
        axis %= len(shape)
        r = self.fresh()
        rest = list(self.out)
        if keepdims:
            rest[axis] = r
        else:
            rest.insert(axis, r)
        return self.sum(body(self.arg(n, *rest)), (r, I.size(shape[axis])))


def index_symbols(letters: str, count: int, taken: set[str] = frozenset()) -> tuple:
    """``count`` index symbols named from ``letters``, skipping names in ``taken``."""
    names = [c for c in letters if c not in taken]
    names += [f"{letters[0]}{n}" for n in range(1, count + 1)]
    return tuple(I.index(c) for c in names[:count])


def entry_of(node: Node, out: Sequence, shapes: Mapping[str, Shape],
             found: Mapping[Node, Shape] | None = None,
             defs: Mapping[str, Node] | None = None) -> sp.Expr:
    """The entry of ``node`` at indices ``out`` (one per axis of its shape).

    Parameters
    ----------
    node : Node
        The expression tree.
    out : sequence
        Index symbols (or integers from 1), one per axis of ``node``'s shape.
    shapes : mapping
        Shapes of the names (``int | str`` dimensions).
    found : mapping, optional
        The shape of every subtree, when already known.
    defs : mapping, optional
        Names written through their definitions (a step's intermediates).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> i, j = I.index("i"), I.index("j")
    >>> e = entry_of(parse_expression("X.T"), (i, j), {"X": ("N", "d")})
    >>> e
    X[j, i]
    """
    defs = dict(defs or {})
    dims = {n for s in shapes.values() for d in s for n in names_of(d)} - set(shapes)
    if found is None:
        from ..symbolic.evaluate import node_shapes  # noqa: PLC0415
        found = node_shapes(node, shapes)

    def at(n: Node, indices: tuple) -> sp.Expr:
        if isinstance(n, Num):
            return S.number(n.value)
        if isinstance(n, Name):
            if n.id in defs:
                return entry_of(defs[n.id], indices, shapes, None, defs)
            if n.id in dims:  # a size written in the expression (sum(...) / N)
                return I.size(n.id)
            return I.entry(n.id, indices)
        if isinstance(n, Declared):
            raise NoIndexFormError(f"{n.name}() has no index form")
        op = get(n.op)
        if op.index is None or isinstance(op.index, NoIndexForm):
            reason = op.index.reason if op.index is not None else "none declared"
            raise NoIndexFormError(f"{op.name}() has no index form ({reason})")
        args = [(lambda ix, a=a: at(a, ix)) for a in n.args]
        context = IndexContext(args, tuple(found[a] for a in n.args), found[n],
                               op.options(n.kwargs), indices)
        return sp.sympify(op.index(context))

    return at(node, tuple(out))


def premises(shapes: Iterable[Shape]) -> set[sp.Expr]:
    """The sizes of ``shapes`` that are expressions of names (``n - k + 1``): each is at
    least 1 wherever the arrays exist, which the index algebra may assume."""
    return {d.expr for s in shapes for d in s if isinstance(d, DimExpr)}


def has_index_form(node: Node) -> bool:
    """Whether every operation in ``node`` declares an index form."""
    def ok(n: Node, kids: list) -> bool:
        if isinstance(n, Declared):
            return False
        if isinstance(n, Call):
            op = get(n.op)
            if op.index is None or isinstance(op.index, NoIndexForm):
                return False
        return all(kids)
    return fold(node, ok)


def without_index_form(node: Node) -> list[str]:
    """The operations in ``node`` with no index form, by name."""
    missing: set[str] = set()

    def visit(n: Node, kids: list) -> None:
        if isinstance(n, Declared):
            missing.add(n.name)
        elif isinstance(n, Call):
            op = get(n.op)
            if op.index is None or isinstance(op.index, NoIndexForm):
                missing.add(op.name)
    fold(node, visit)
    return sorted(missing)


__all__ = ["IndexContext", "entry_of", "premises", "index_symbols", "has_index_form", "without_index_form",
           "NoIndexFormError"]
