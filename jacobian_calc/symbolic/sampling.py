"""Random points for the numeric checks, inside the expression's domain.

One sampler for every check that compares numbers (backprop's end to end, a
step's random mismatch, generated code, the compact Hessian): arrays are drawn
by *kind* (signed, positive, near one -- near the identity for square
matrices, so that determinants and logarithms are defined), one-hot targets
one-hot, sign arrays ``±1``.

A point is *inside the domain* when every ``log``, ``sqrt``, division, ``inv``
(``1/det``), ``asin``, ... of the expression is defined there. When a drawn
point is not, :class:`DomainSearch` looks for one that is, in this order:

1. the *constraints* are read off the expressions (``log(z_1 - c_1)`` needs
   ``z_1 - c_1 > 0``, ``1/(x - y)`` needs ``x != y``), and the violated ones are
   repaired by shifting one variable they contain (a Newton step on that
   variable: ``z_1`` moved until ``z_1 - c_1`` is about 1);
2. other draws of every kind, up to :data:`TRIES` in all.

The search says what it did (:attr:`Found.how`), and gives up ("undecided")
only after all of that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import sympy as sp

from ..core.grid import Shape, ndindex
from .numeric import float_eval
from .symbols import symbol_grid
from .walk import post_order

#: Kinds of random arrays, in the order the checks use them.
KINDS = ("signed", "positive", "near one")
#: Draws tried for one point before the search gives up.
TRIES = 40
#: Repair rounds (shifts of variables) per draw.
ROUNDS = 6


def draw_array(rng: np.random.Generator, shape: Shape, kind: int,
               special: str | None = None) -> np.ndarray:
    """One random array: kind 0 in (-1.5, 1.5), kind 1 in (0.2, 1.5), kind 2 near 1 (near
    the identity for a square matrix); ``special`` ``"onehot"`` (one 1 per row) or
    ``"signs"`` (entries ±1).

    Examples
    --------
    >>> a = draw_array(np.random.default_rng(0), (2, 3), 1)
    >>> a.shape, bool((a > 0).all())
    ((2, 3), True)
    """
    if special == "onehot":
        out = np.zeros(shape)
        for index in ndindex(shape[:-1]):
            out[index + (int(rng.integers(shape[-1])),)] = 1.0
        return out
    if special == "signs":
        return rng.choice([-1.0, 1.0], shape)
    kind %= len(KINDS)
    if kind == 0:
        return rng.uniform(-1.5, 1.5, shape)
    if kind == 1:
        return rng.uniform(0.2, 1.5, shape)
    base = np.eye(shape[0]) if len(shape) == 2 and shape[0] == shape[1] else np.ones(shape)
    return base + rng.uniform(-0.3, 0.3, shape)


def draw_symbols(rng: np.random.Generator, symbols: Iterable[sp.Symbol], points: int,
                 signs: Iterable[sp.Symbol] = (), kind: int = 0) -> dict:
    """Values of each symbol at ``points`` points at once (vectors), symbols in name order;
    kind 3 draws magnitudes in (0.2, 1.2) with random signs (no value near 0)."""
    signs = set(signs)
    out = {}
    for s in sorted(symbols, key=str):
        if s in signs:
            out[s] = rng.choice([-1.0, 1.0], points)
        elif kind == 3:
            out[s] = rng.uniform(0.2, 1.2, points) * rng.choice([-1.0, 1.0], points)
        else:
            out[s] = draw_array(rng, (points,), kind)
    return out


# -- the domain ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Constraint:
    """``arg`` must be positive (``"positive"``), nonzero, or inside (-1, 1)."""

    arg: sp.Expr
    need: str  # "positive", "nonzero", "unit", "above one"

    def violated(self, value: float) -> bool:
        if not np.isfinite(value):
            return True
        if self.need == "positive":
            return value <= 1e-3
        if self.need == "nonzero":
            return abs(value) <= 1e-3
        if self.need == "unit":
            return abs(value) >= 0.999
        return value <= 1.001  # above one

    def target(self, value: float) -> float:
        """A value of ``arg`` well inside what it needs, near the present one."""
        if self.need == "positive":
            return 1.0
        if self.need == "nonzero":
            return 1.0 if value >= 0 else -1.0
        if self.need == "unit":
            return 0.5 if value >= 0 else -0.5
        return 2.0


_ODD_ROOT_FREE = (sp.log, sp.asin, sp.acos, sp.atanh, sp.acosh)


def constraints(exprs: Iterable[sp.Expr]) -> list[Constraint]:
    """What the expressions need of their arguments to be defined (real and finite).

    Examples
    --------
    >>> z, c = sp.symbols("z c", real=True)
    >>> [(str(k.arg), k.need) for k in constraints([sp.log(z - c) + 1 / z])]
    [('z', 'nonzero'), ('-c + z', 'positive')]
    """
    found: dict[tuple, Constraint] = {}
    seen: set[sp.Basic] = set()
    for expr in exprs:
        if not isinstance(expr, sp.Basic):
            continue
        for node in post_order(expr, seen, key=None):
            seen.add(node)
            for k in _needs(node):
                if k.arg.free_symbols:
                    found.setdefault((k.arg, k.need), k)
    return sorted(found.values(), key=lambda k: (sp.count_ops(k.arg), str(k.arg), k.need))


def _needs(node: sp.Basic) -> list[Constraint]:
    if isinstance(node, sp.log):
        return [Constraint(node.args[0], "positive")]
    if isinstance(node, (sp.asin, sp.acos, sp.atanh)):
        return [Constraint(node.args[0], "unit")]
    if isinstance(node, sp.acosh):
        return [Constraint(node.args[0], "above one")]
    if node.is_Pow:
        base, exponent = node.args
        if exponent.is_Rational and not exponent.is_Integer:
            return [Constraint(base, "positive")]
        if exponent.is_negative:
            return [Constraint(base, "nonzero")]
    return []


@dataclass(frozen=True)
class Found:
    """A point inside the domain (None: none found) and how it was found."""

    values: dict | None
    how: str  # "" (drawn), "shifted" or "redrawn"
    result: object = None  # what ``accept`` computed there


class DomainSearch:
    """Points where ``exprs`` are finite, drawn by ``draw`` and repaired if need be.

    Parameters
    ----------
    exprs : iterable of SymPy expressions
        What must be defined at the point (the output, the explicit gradients).
    shapes : mapping
        Name -> shape of every array the points give a value to.
    adjustable : iterable of str
        The names that may be shifted (not one-hot targets nor sign arrays).
    accept : callable, optional
        ``accept(values)``: what the check computes at a point, or None where that is
        not finite (default: the values of ``exprs``).
    """

    def __init__(self, exprs: Iterable[sp.Expr], shapes: Mapping[str, Shape],
                 adjustable: Iterable[str], accept: Callable[[dict], object] | None = None
                 ) -> None:
        self.exprs = [sp.sympify(e) for e in exprs]
        self.shapes = dict(shapes)
        self.constraints = constraints(self.exprs)
        self.adjustable = {s for n in adjustable if n in self.shapes
                           for s in symbol_grid(n, self.shapes[n]).flat}
        self.accept = accept or self._finite

    def _finite(self, values: Mapping[str, np.ndarray]):
        numbers = float_eval(self.exprs, _symbols(values))
        return numbers if all(np.all(np.isfinite(v)) for v in numbers) else None

    def find(self, draw: Callable[[int], dict], first_kind: int) -> Found:
        """A point inside the domain: the draw of ``first_kind``, repaired by shifting
        variables where it is not; else draws of every kind, each repaired."""
        for attempt in range(TRIES):
            values = draw(first_kind + attempt)
            result = self.accept(values)
            if result is not None:
                return Found(values, "" if attempt == 0 else "redrawn", result)
            repaired = self.repair(values)
            if repaired is not None:
                return Found(repaired[0], "shifted", repaired[1])
        return Found(None, "")

    def repair(self, values: dict) -> tuple[dict, object] | None:
        """The point with variables shifted until every constraint holds (and what
        ``accept`` computed there), or None."""
        if not self.constraints or not self.adjustable:
            return None
        values = {n: np.array(v, dtype=float) for n, v in values.items()}
        for _ in range(ROUNDS):
            symbols = _symbols(values)
            changed = False
            args = float_eval([k.arg for k in self.constraints], symbols)
            for k, value in zip(self.constraints, args):
                value = float(value)
                if k.violated(value) and self._shift(k, value, values):
                    changed = True
                    symbols = _symbols(values)
            if not any(k.violated(float(v)) for k, v in zip(
                    self.constraints, float_eval([k.arg for k in self.constraints],
                                                 _symbols(values)))):
                result = self.accept(values)
                if result is not None:
                    return values, result
            if not changed:
                return None
        return None

    def _shift(self, k: Constraint, value: float, values: dict) -> bool:
        """Move one variable of ``k.arg`` (a Newton step) towards ``k.target``."""
        symbols = _symbols(values)
        for s in sorted(k.arg.free_symbols & self.adjustable, key=str):
            h = 1e-6
            here = dict(symbols)
            here[s] = symbols[s] + h
            slope = (float(float_eval([k.arg], here)[0]) - value) / h \
                if np.isfinite(value) else 0.0
            if np.isfinite(slope) and abs(slope) > 1e-6:
                _set(values, s, float(symbols[s]) + (k.target(value) - value) / slope)
                return True
        return False


def _symbols(values: Mapping[str, np.ndarray]) -> dict:
    return {s: np.float64(v) for n, a in values.items()
            for s, v in zip(symbol_grid(n, np.shape(a)).flat, np.ravel(a))}


def _set(values: dict, symbol: sp.Symbol, value: float) -> None:
    """Set the entry ``symbol`` (``z_2``) of its array in ``values``."""
    for name, array in values.items():
        grid = symbol_grid(name, np.shape(array))
        for index, s in zip(ndindex(np.shape(array)), grid.flat):
            if s == symbol:
                if np.shape(array):
                    array[index] = value
                else:
                    values[name] = np.float64(value)
                return


__all__ = ["KINDS", "TRIES", "draw_array", "draw_symbols", "constraints", "Constraint",
           "DomainSearch", "Found"]
