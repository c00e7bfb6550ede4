"""Do two arrays of SymPy entries agree? Symbolically and at random points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..core.grid import Grid
from .measure import Measures
from .numeric import float_eval, free_symbols
from .sampling import draw_symbols
from .simplify import is_zero
from .trusted import as_sympy

#: Differences larger than this many nodes (as trees) are left to the numeric check.
SYMBOLIC_NODES = 5_000


@dataclass(frozen=True)
class Agreement:
    """The verdict of :func:`compare`.

    Attributes
    ----------
    agree : bool
        No entry differs numerically and none was shown to differ symbolically.
    symbolic : bool or None
        True if every difference simplified to 0; None if some could not be
        decided within the time budget (the numeric check then decides).
    max_abs_error : float
        Largest absolute difference over all entries and sample points.
    mismatch : tuple or None
        ``(index, first value, second value)`` of the first differing entry,
        with a 1-based index.
    """

    agree: bool
    symbolic: bool | None
    max_abs_error: float
    mismatch: tuple | None = None


def compare(first: Grid, second: Grid, *, points: int = 3, seed: int = 0,
            tol: float = 1e-9, symbolic: bool = True, seconds: float = 2.0) -> Agreement:
    """Compare two same-shape grids of SymPy expressions entry by entry.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> compare(Grid((1,), [sp.sin(x)**2 + sp.cos(x)**2]), Grid((1,), [sp.Integer(1)])).agree
    True
    """
    if first.shape != second.shape:
        raise ValueError(f"shapes differ: {first.shape} and {second.shape}")
    a, b = list(first.flat), list(second.flat)
    errors, bad = _numeric(a, b, points, seed, tol)
    verdict: bool | None = True
    if symbolic and bad is None:
        measures = Measures()
        for i, (x, y) in enumerate(zip(a, b)):
            if measures.size(x) + measures.size(y) > SYMBOLIC_NODES:
                verdict = None
                continue
            zero = is_zero(x - y, seconds)
            if zero is None:
                verdict = None
    mismatch = None
    if bad is not None:
        index = tuple(int(i) + 1 for i in np.unravel_index(bad, first.shape)) \
            if first.shape else ()
        mismatch = (index, a[bad], b[bad])
        verdict = False if symbolic else None
    return Agreement(bad is None, verdict if symbolic else None, errors, mismatch)


def _numeric(a: list, b: list, points: int, seed: int, tol: float):
    symbols = free_symbols(a + b)
    values = draw_symbols(np.random.default_rng(seed), symbols, points)
    va = float_eval([as_sympy(e) for e in a], values)
    vb = float_eval([as_sympy(e) for e in b], values)
    return largest_difference(va, vb, points, tol)


def largest_difference(first: list, second: list, points: int, tol: float = 1e-9
                       ) -> tuple[float, int | None]:
    """The largest difference between paired values at ``points`` points, and the first
    pair differing by more than ``tol`` (relative to the first value), or None.

    NaN in both counts as equal, NaN or infinity against a number as infinitely far.
    """
    worst, bad = 0.0, None
    for i, (x, y) in enumerate(zip(first, second)):
        x, y = np.broadcast_to(x, (points,)), np.broadcast_to(y, (points,))
        both_nan = np.isnan(x) & np.isnan(y)
        diff = np.where(both_nan, 0.0, np.abs(x - y))
        diff = np.where(np.isnan(diff), np.inf, diff)
        worst = max(worst, float(diff.max(initial=0.0)))
        limit = tol * (1.0 + np.abs(np.where(np.isfinite(x), x, 0.0)))
        if bad is None and np.any(diff > limit):
            bad = i
    return worst, bad
