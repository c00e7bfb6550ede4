"""Indexing and slicing NumPy's way (``x[0]``, ``X[:, 1:]``, ``X[::2]``, ``x[-1]``),
its adjoint ``scatter``, and ``concat`` and ``stack``.

Indices are 0-based as in NumPy and PyTorch (entries are still *displayed*
1-based, as the lectures write them: ``x[0]`` is the entry ``x_1``). An index
is an integer literal (negative counts from the end) or a slice of integer
literals with a positive step.

The backward rule of a selection puts the upstream gradient back where the
entries came from, zeros elsewhere: ``dX = scatter(dY, X[1:, :])`` is NumPy's
``dX = np.zeros_like(X); dX[1:, :] = dY``. The backward rules of ``concat``
and ``stack`` select each operand's part of the gradient:
``concat([A, B], axis=0)`` gives ``dA = dY[:2]`` and ``dB = dY[2:]``.
"""

from __future__ import annotations

import itertools

from ..core import dims as D
from ..core.grid import shape_text
from ..core.tree import Call
from . import index_forms
from .index_forms import item_text
from .registry import PREC_ATOM, Keyword, Op, Syntax, register

#: An index item: an integer, or (start, stop, step) of a slice (each int or None).
INDEX = Keyword("index", "index", ())


# -- index specifications -------------------------------------------------------------------



def index_text(index) -> str:
    """``1:, 0`` for the index of ``X[1:, 0]``."""
    return ", ".join(item_text(i) for i in index)


def index_code(index) -> str:
    """The index as a Python tuple of slices and integers (NumPy and PyTorch read it)."""
    def one(item):
        if isinstance(item, int):
            return str(item)
        return f"slice({item[0]}, {item[1]}, {item[2]})"
    return "(" + ", ".join(one(i) for i in index) + ("," if len(index) == 1 else "") + ")"


def positions(shape, index) -> tuple[list[list[int]], tuple[int, ...]]:
    """Per axis, the positions selected (an integer index keeps one), and the result's shape.

    Raises ``IndexError`` or ``ValueError`` with what is wrong.
    """
    if not shape:
        raise IndexError("a scalar has no entries to index")
    if len(index) > len(shape):
        raise IndexError(f"{len(index)} indices for {len(shape)} axes")
    per_axis, out = [], []
    for axis, n in enumerate(shape):
        item = index[axis] if axis < len(index) else (None, None, None)
        if isinstance(item, int):
            if not -n <= item < n:
                raise IndexError(f"index {item} is out of range for axis {axis} of length {n}")
            per_axis.append([item % n])
            continue
        chosen = list(range(*slice(*item).indices(n)))
        if not chosen:
            raise ValueError(f"the slice {item_text(item)} selects nothing of axis {axis} "
                             f"(length {n})")
        per_axis.append(chosen)
        out.append(len(chosen))
    return per_axis, tuple(out)


def python_index(index) -> tuple:
    """The index as Python's own (slices and integers), for NumPy."""
    return tuple(i if isinstance(i, int) else slice(*i) for i in index)


# -- getitem: X[...] -----------------------------------------------------------------------------

def _symbolic_selection(s, shape, index) -> tuple:
    """The shape of ``X[index]`` when an axis has a symbolic length: integers and full
    slices only on such axes (a partial slice's length needs the axis's)."""
    if len(index) > len(shape):
        raise s.fail(f"{len(index)} indices for {len(shape)} axes, in "
                     f"{s.arg(len(s.shapes) - 1)}[{index_text(index)}]")
    out = []
    for axis, n in enumerate(shape):
        item = index[axis] if axis < len(index) else (None, None, None)
        if isinstance(item, int):
            if isinstance(n, int) and not -n <= item < n:
                raise s.fail(f"index {item} is out of range for axis {axis} of length {n}")
            continue
        if _named_slice(n, item):
            out.append(_named_length(s, axis, n, item))
            continue
        if isinstance(n, str) and tuple(item) not in ((None, None, None), (None, None, 1)):
            raise s.fail(f"the slice {item_text(item)} of axis {axis} needs its concrete "
                         f"length, not {n}")
        out.append(n if isinstance(n, str) else positions((n,), (item,))[1][0])
    return tuple(out)


def _named_slice(n, item) -> bool:
    """A slice ``start:stop`` with a bound that is a size (``dY[w:w + n]``, the gradient
    of a padding or a part of a concat: the calculator writes them, the parser does not
    read them)."""
    return not isinstance(item, int) and item[2] in (None, 1) and \
        any(isinstance(x, str) for x in item[:2])


def _named_length(s, axis: int, n, item):
    """``stop - start`` of a slice at symbolic sizes, with ``0 ≤ start ≤ stop ≤ n`` where
    the sizes' expressions are at least 1 (as they are wherever the calculator writes
    such a slice): refused where that cannot hold at any size."""
    start = 0 if item[0] is None else item[0]
    stop = n if item[1] is None else item[1]
    a, b, m = (D.as_sympy(x) for x in (start, stop, n))
    if any(D.known(c) is False for c in (a >= 0, b - a >= 0, m - b >= 0)):
        raise s.fail(f"the slice {item_text(item)} of axis {axis} needs bounds within its "
                     f"length {n} at every size")
    return D.as_dim(b - a)


def _getitem_shape(s):
    if any(isinstance(n, str) for n in s.shapes[0]) or any(
            not isinstance(i, int) and any(isinstance(x, str) for x in i)
            for i in s.kw["index"]):
        return _symbolic_selection(s, s.shapes[0], s.kw["index"])
    try:
        return positions(s.shapes[0], s.kw["index"])[1]
    except (IndexError, ValueError) as exc:
        raise s.fail(f"{exc}, in {s.arg(0)}[{index_text(s.kw['index'])}]") from None


def _getitem(S, X, index):
    chosen, shape = positions(X.shape, index)
    return S.Grid(shape, [X[i] for i in itertools.product(*chosen)])


def _subscript_code(args, kw) -> str:
    return f"{args[0]}[{index_text(kw['index'])}]"


register(Op(
    name="getitem", category="structure",
    doc="X[i], X[:, j], X[a:b, ::k]: NumPy's indexing and slicing, 0-based (negative "
        "indices count from the end)",
    rule="dX = scatter(dY, X[1:, 0])  (zeros where X is not selected)",
    arity=(1, 1), keywords=(INDEX,), shape=_getitem_shape,
    evaluate=lambda S, args, kw: _getitem(S, args[0], kw["index"]),
    cost=lambda c: (0.0, c.sizes[0]), index=index_forms.getitem_index,
    vjp=lambda v: (Call("scatter", (v.g, v.x), {"index": v.kw["index"]}),),
    numpy=lambda np, x, **kw: np.asarray(x)[python_index(kw["index"])],
    code={"numpy": _subscript_code, "torch": _subscript_code},
    latex=lambda p: rf"{p.arg(0, PREC_ATOM)}\left[{index_text(p.kw('index'))}\right]",
    syntax=Syntax("subscript", "[...]", PREC_ATOM)))


# -- scatter(dY, X[...]): the adjoint of a selection ---------------------------------------------

def _scatter_shape(s):
    try:
        if any(isinstance(n, str) for n in s.shapes[1]):
            selected = _symbolic_selection(s, s.shapes[1], s.kw["index"])
        else:
            _, selected = positions(s.shapes[1], s.kw["index"])
    except (IndexError, ValueError) as exc:
        raise s.fail(f"{exc}, in {s.arg(1)}[{index_text(s.kw['index'])}]") from None
    if tuple(s.shapes[0]) != selected:
        raise s.fail(f"needs values of the selection's shape ({shape_text(selected)}), got "
                     f"{s.arg(0)}")
    return s.shapes[1]


def _scatter(S, G, X, index):
    chosen, _ = positions(X.shape, index)
    zero = S.Integer(0)
    out = {i: zero for i in itertools.product(*(range(n) for n in X.shape))}
    for target, value in zip(itertools.product(*chosen), G.flat):
        out[target] = value
    return S.Grid(X.shape, list(out.values()))


def _scatter_np(np, g, x, index):
    out = np.zeros_like(np.asarray(x, dtype=float))
    out[python_index(index)] = g
    return out


register(Op(
    name="scatter", category="structure",
    doc="scatter(G, X[...]): an array of X's shape, G where X[...] selects, 0 elsewhere "
        "(the backward rule of indexing)",
    rule="dG = dY[1:, 0]  (X gives only the shape)",
    arity=(2, 2), keywords=(INDEX,), shape=_scatter_shape,
    evaluate=lambda S, args, kw: _scatter(S, args[0], args[1], kw["index"]),
    cost=lambda c: (0.0, c.sizes[0]), index=index_forms.scatter_index,
    vjp=lambda v: (Call("getitem", (v.g,), {"index": v.kw["index"]}), None),
    numpy=lambda np, g, x, **kw: _scatter_np(np, g, x, kw["index"]),
    code={"numpy": lambda a, kw: f"_scatter({a[0]}, {a[1]}, {index_code(kw['index'])})",
          "torch": lambda a, kw: f"_scatter({a[0]}, {a[1]}, {index_code(kw['index'])})"},
    latex=lambda p: (rf"\operatorname{{scatter}}\left({p.arg(0)}, "
                     rf"{p.arg(1, PREC_ATOM)}\left[{index_text(p.kw('index'))}\right]\right)"),
    syntax=Syntax("scatter", "", PREC_ATOM)))


# -- concat and stack ----------------------------------------------------------------------------

AXIS0 = Keyword("axis", "axis", 0)


def _axis(s, ndim: int) -> int:
    axis = s.kw.get("axis", 0)
    if not -ndim <= axis < ndim:
        raise s.fail(f"axis {axis} is out of range for {ndim}-dimensional results")
    return axis % ndim


def _concat_shape(s):
    first = s.shapes[0]
    if not first:
        raise s.fail(f"needs vectors or matrices, got {s.arg(0)} (stack() joins scalars)")
    axis = _axis(s, len(first))
    for i, shape in enumerate(s.shapes):
        if len(shape) != len(first) or any(a != b for k, (a, b) in
                                           enumerate(zip(shape, first)) if k != axis):
            raise s.fail(f"needs operands that agree except along axis {axis}, got "
                         f"{s.arg(0)} and {s.arg(i)}")
    return first[:axis] + (D.add(*(sh[axis] for sh in s.shapes)),) + first[axis + 1:]


def _concat_index(c):
    """``concat([A, B])[i, j] = [1 ≤ i ≤ a] A[i, j] + [1 ≤ i − a ≤ b] B[i − a, j]``."""
    axis = c.kw.get("axis", 0) % len(c.out)
    terms, offset = [], 0
    for n, shape in enumerate(c.shapes):
        at = list(c.out)
        at[axis] = c.out[axis] - offset
        terms.append(c.in_range(at[axis], shape[axis]) * c.arg(n, *at))
        offset = offset + c.size(n, axis)
    return c.S.add(*terms)


def _stack_index(c):
    """``stack([A, B], axis=0)[i, j, k] = δ[i,1] A[j, k] + δ[i,2] B[j, k]``."""
    axis = c.kw.get("axis", 0) % len(c.out)
    rest = c.out[:axis] + c.out[axis + 1:]
    return c.S.add(*(c.delta(c.out[axis], n + 1) * c.arg(n, *rest)
                     for n in range(len(c.shapes))))


def _stack_shape(s):
    first = s.shapes[0]
    axis = _axis(s, len(first) + 1)
    for i, shape in enumerate(s.shapes):
        if shape != first:
            raise s.fail(f"needs operands of one shape, got {s.arg(0)} and {s.arg(i)}")
    return first[:axis] + (len(s.shapes),) + first[axis:]


def _concat(S, grids, axis):
    ndim = grids[0].ndim
    axis %= ndim
    shape = list(grids[0].shape)
    shape[axis] = sum(g.shape[axis] for g in grids)
    owner = []  # along the axis: (grid, position in it)
    for g in grids:
        owner += [(g, k) for k in range(g.shape[axis])]

    def entry(index):
        g, k = owner[index[axis]]
        return g[index[:axis] + (k,) + index[axis + 1:]]
    return S.Grid.from_function(tuple(shape), entry)


def _stack(S, grids, axis):
    axis %= grids[0].ndim + 1
    shape = grids[0].shape[:axis] + (len(grids),) + grids[0].shape[axis:]
    return S.Grid.from_function(
        shape, lambda index: grids[index[axis]][index[:axis] + index[axis + 1:]])


def _part(v, start, stop):
    """``dY[..., start:stop]`` along the axis (``dY[..., k]`` for stack)."""
    ndim = len(v.out_shape)
    axis = v.kw.get("axis", 0) % ndim
    item = start if stop is None else (start or None, stop, None)
    index = ((None, None, None),) * axis + (item,)
    return Call("getitem", (v.g,), {"index": index})


def _concat_vjp(v):
    axis = v.kw.get("axis", 0) % len(v.out_shape)
    bounds = list(itertools.accumulate((s[axis] for s in v.shapes), D.add))
    return tuple(_part(v, a, b) for a, b in zip([0] + bounds[:-1], bounds))


def _list_code(module: str, name: str):
    def code(args, kw):
        axis = kw.get("axis", 0)
        keyword = "axis" if module == "np" else "dim"
        return f"{module}.{name}([{', '.join(args)}], {keyword}={axis})"
    return code


register(Op(
    name="concat", category="structure",
    doc="concat([A, B], axis=0): A and B joined along an existing axis (np.concatenate, "
        "torch.cat)",
    rule="dA = dY[:2], dB = dY[2:]  (for A of 2 rows and axis=0)",
    arity=(2, 64), keywords=(AXIS0,), shape=_concat_shape,
    evaluate=lambda S, args, kw: _concat(S, args, kw.get("axis", 0)),
    cost=lambda c: (0.0, max(c.sizes)),
    index=_concat_index,
    vjp=_concat_vjp,
    numpy=lambda np, *xs, **kw: np.concatenate(xs, axis=kw.get("axis", 0)),
    code={"numpy": _list_code("np", "concatenate"), "torch": _list_code("torch", "cat")},
    latex=lambda p: (r"\left[" + ", ".join(p.arg(i) for i in range(len(p))) + r"\right]"
                     + rf"_{{\text{{axis }}{p.kw('axis')}}}"),
    syntax=Syntax("list", "", PREC_ATOM)))

register(Op(
    name="stack", category="structure",
    doc="stack([a, b], axis=0): arrays of one shape stacked along a new axis (np.stack, "
        "torch.stack)",
    rule="dA = dY[0], dB = dY[1]  (for axis=0, the new axis)",
    arity=(2, 64), keywords=(AXIS0,), shape=_stack_shape,
    evaluate=lambda S, args, kw: _stack(S, args, kw.get("axis", 0)),
    cost=lambda c: (0.0, max(c.sizes)),
    index=_stack_index,
    vjp=lambda v: tuple(_part(v, k, None) for k in range(len(v.args))),
    numpy=lambda np, *xs, **kw: np.stack(xs, axis=kw.get("axis", 0)),
    code={"numpy": _list_code("np", "stack"), "torch": _list_code("torch", "stack")},
    latex=lambda p: (r"\operatorname{stack}\left(" + ", ".join(p.arg(i) for i in range(len(p)))
                     + rf"\right)_{{\text{{axis }}{p.kw('axis')}}}"),
    syntax=Syntax("list", "", PREC_ATOM)))

