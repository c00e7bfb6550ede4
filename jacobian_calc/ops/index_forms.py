"""Index forms of indexing and scatter: integers, full and partial slices.

``X[-1, :]`` is ``X[N, i]`` and ``scatter(G, X[-1, :])`` is ``δ[k, N] G[l]``:
integer indices (1-based, a negative one counted from the axis's end) and
the output's own index symbols. A partial slice of an axis of concrete length
addresses entries by affine index arithmetic: ``x[1:]`` is ``x[i + 1]``,
``x[::2]`` is ``x[2 i - 1]``, ``x[::-1]`` is ``x[n + 1 - i]`` (a partial slice
of an axis of symbolic length has no length to write, and is refused by the
shape rule).
"""

from __future__ import annotations

from typing import Any

from ..core import dims as D
from .registry import NoIndexFormError

#: Why a partial slice of an axis of symbolic length has no index form.
AFFINE = ("its entries are addressed by affine index arithmetic (like X[2 i - 1]) over a "
          "range whose length needs the axis's concrete length")


def item_text(item) -> str:
    """``0``, ``-1``, ``1:``, ``::2``, ``:`` (NumPy's spelling of one index item)."""
    if isinstance(item, int):
        return str(item)
    start, stop, step = item
    text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
    return text + ("" if step in (None, 1) else f":{step}")


def _item_source(c, item, arg: int, axis: int, out_index):
    """The 1-based source index along ``axis`` of argument ``arg`` for one item of
    ``X[...]``, and whether the item keeps the axis (a slice) or drops it (an integer)."""
    n = c.shapes[arg][axis]
    if isinstance(item, int):
        if isinstance(n, int):
            return c.S.Integer(item % n + 1), False
        return (c.S.Integer(item + 1) if item >= 0 else c.size(arg, axis) + item + 1), False
    if tuple(item) in ((None, None, None), (None, None, 1)):
        return out_index, True
    if item[2] in (None, 1) and out_index is not None and (
            isinstance(n, str) or any(isinstance(x, str) for x in item[:2])):
        return D.as_sympy(item[0] or 0) + out_index, True  # x[w:w + n] at symbolic sizes
    if isinstance(n, int) and out_index is not None:
        start, _, step = slice(*item).indices(n)
        return start + 1 + step * (out_index - 1), True
    raise NoIndexFormError(f"a partial slice ({item_text(item)}) has no index form: {AFFINE}")


def _sources(c, arg: int, index, out):
    """Per axis of argument ``arg``, the source index of ``X[index]`` at output ``out``."""
    sources, position = [], 0
    for axis in range(len(c.shapes[arg])):
        item = index[axis] if axis < len(index) else (None, None, None)
        o = out[position] if position < len(out) else None
        source, keeps = _item_source(c, item, arg, axis, o)
        position += keeps
        sources.append(source)
    return sources


def getitem_index(c) -> Any:
    """``X[index]`` at the output's indices."""
    return c.arg(0, *_sources(c, 0, c.kw["index"], c.out))


def scatter_index(c) -> Any:
    """``scatter(G, X[index])``: ``Σ_o G[o] Π δ(k, source(o))`` over the selection."""
    fresh = [c.fresh() for _ in c.shapes[0]]
    sources = _sources(c, 1, c.kw["index"], fresh)
    body = c.arg(0, *fresh)
    for k, source in zip(c.out, sources):
        body = body * c.delta(k, source)
    return c.sum(body, *((f, c.size(0, n)) for n, f in enumerate(fresh)))
