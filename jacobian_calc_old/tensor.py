"""The result of a Jacobian computation: a sparse tensor with a layout.

Entries are stored once, sparsely, in numerator order (output axes, then
input axes). The denominator layout is a permutation of index tuples at the
edge, never a second computation. Dense SymPy objects are built only when
``.tensor`` or ``.flatten()`` is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import sympy as sp

from .errors import JacobianError

LAYOUTS = ("numerator", "denominator")


def check_layout(layout: str) -> str:
    """Validate a layout name."""
    if layout not in LAYOUTS:
        raise JacobianError(f"unknown layout {layout!r}: use numerator or denominator")
    return layout


@dataclass(frozen=True)
class JacobianResult:
    """A (generalized) Jacobian.

    Attributes
    ----------
    of : list of str
        The differentiated expression(s), in the calculator's syntax.
    wrt : list of str
        The input: several scalar names forming one vector, or one declared
        variable's name.
    out_shape, in_shape : tuple of int
        Shapes of the output and of the input.
    entries : dict
        Non-zero entries, 0-based numerator-layout index tuples -> SymPy expr.
    layout : str
        ``"numerator"`` (output axes first) or ``"denominator"``.
    out_name, in_name : str
        Names used in labels (``∂f/∂x``).
    warnings : list of str
        Things the user should know (e.g. a ``--wrt`` name absent from the
        expression).
    """

    of: list[str]
    wrt: list[str]
    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    entries: dict[tuple[int, ...], sp.Expr]
    layout: str = "numerator"
    out_name: str = "f"
    in_name: str = "x"
    in_symbols: tuple = ()
    out_labels: tuple = ()
    warnings: list[str] = field(default_factory=list)

    # -- shape and layout ---------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape in the result's layout."""
        if self.layout == "numerator":
            return self.out_shape + self.in_shape
        return self.in_shape + self.out_shape

    def with_layout(self, layout: str) -> "JacobianResult":
        """The same Jacobian in another layout (no recomputation)."""
        return replace(self, layout=check_layout(layout))

    def _to_layout(self, index: tuple[int, ...]) -> tuple[int, ...]:
        if self.layout == "numerator":
            return index
        k = len(self.out_shape)
        return index[k:] + index[:k]

    # -- entries --------------------------------------------------------------
    def nonzeros(self) -> dict[tuple[int, ...], sp.Expr]:
        """Non-zero entries as ``{0-based index tuple in this layout: expr}``."""
        return {self._to_layout(i): e for i, e in self.entries.items()}

    @property
    def nnz(self) -> int:
        """Number of structurally non-zero entries."""
        return len(self.entries)

    @property
    def size(self) -> int:
        """Number of entries of the dense tensor."""
        return math.prod(self.shape)

    def __getitem__(self, index: tuple[int, ...]) -> sp.Expr:
        """Entry at a 0-based index in this layout (zero if not stored)."""
        index = tuple(index) if isinstance(index, tuple) else (index,)
        if len(index) != len(self.shape) or not all(
                0 <= i < n for i, n in zip(index, self.shape)):
            raise IndexError(f"index {index} out of range for shape {self.shape}")
        k = len(self.in_shape) if self.layout == "denominator" else len(self.out_shape)
        if self.layout == "denominator":
            index = index[k:] + index[:k]
        return self.entries.get(index, sp.Integer(0))

    def as_object_array(self) -> np.ndarray:
        """Dense NumPy object array of SymPy entries, in this layout."""
        out = np.full(self.shape, sp.Integer(0), dtype=object)
        for index, expr in self.nonzeros().items():
            out[index] = expr
        return out

    @property
    def tensor(self) -> sp.Matrix | sp.Array:
        """The dense SymPy object: a ``Matrix`` for 2-D, an ``Array`` otherwise."""
        dense = self.as_object_array()
        if dense.ndim == 2:
            return sp.Matrix(dense.tolist())
        return sp.ImmutableDenseNDimArray(dense.tolist() if dense.ndim else dense[()],
                                          dense.shape)

    def flatten(self) -> sp.Matrix:
        """The Jacobian as a 2-D matrix: output entries (row-major) by input entries.

        In denominator layout the rows are the input entries.
        """
        n_out, n_in = math.prod(self.out_shape), math.prod(self.in_shape)
        flat = sp.zeros(n_out, n_in)
        out_strides = _strides(self.out_shape)
        in_strides = _strides(self.in_shape)
        k = len(self.out_shape)
        for index, expr in self.entries.items():
            r = sum(i * s for i, s in zip(index[:k], out_strides))
            c = sum(i * s for i, s in zip(index[k:], in_strides))
            flat[r, c] = expr
        return flat if self.layout == "numerator" else flat.T

    def blocks(self) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
        """(leading index, 2-D block) pairs over the trailing two axes (for display)."""
        dense = self.as_object_array()
        if dense.ndim <= 2:
            yield (), dense.reshape(dense.shape if dense.ndim == 2 else (1, -1))
            return
        for lead in np.ndindex(*dense.shape[:-2]):
            yield lead, dense[lead]

    def map(self, func) -> "JacobianResult":
        """A copy with ``func`` applied to every stored entry (zeros dropped)."""
        entries = {i: func(e) for i, e in self.entries.items()}
        return replace(self, entries={i: e for i, e in entries.items() if e != 0})

    def symbols(self) -> list[str]:
        """Names of all symbols appearing in the entries, sorted."""
        found: set = set()
        for expr in self.entries.values():
            found |= expr.free_symbols
        return sorted(s.name for s in found)

    def evaluate(self, at) -> np.ndarray:
        """Dense float array of the entries at a point, in this layout.

        Parameters
        ----------
        at : dict or str
            ``{"x1": 0.5, "x2": 0.1}`` or ``"x1=0.5,x2=0.1"``.
        """
        from .numeric import evaluate_entries, parse_assignments
        if isinstance(at, str):
            at = parse_assignments(at)
        # A float is taken at its decimal value, never guessed at (0.7071 is not sqrt(2)/2).
        at = {k: sp.Rational(repr(float(v))) if isinstance(v, (float, np.floating))
              else sp.sympify(v) for k, v in at.items()}
        known = {s.name for s in self.in_symbols} | set(self.symbols())
        values = evaluate_entries(self.entries, at, known)
        out = np.zeros(self.shape, dtype=float)
        for index, value in values.items():
            out[self._to_layout(index)] = value
        return out

    # -- output helpers ---------------------------------------------------------
    def to_latex(self, **options) -> str:
        """LaTeX for this Jacobian; see :func:`jacobian_calc.to_latex`."""
        from .latex import to_latex
        return to_latex(self, **options)

    def to_json(self, flatten: bool = False) -> dict:
        """The JSON-ready dict for this single Jacobian (``jacobians`` list item).

        With ``flatten=True`` the entries are those of :meth:`flatten` (2-D).
        """
        dense = (np.array(self.flatten().tolist(), dtype=object).reshape(self.flatten().shape)
                 if flatten else self.as_object_array())
        strings = np.vectorize(str, otypes=[object])(dense) if dense.size else dense
        return {"wrt": list(self.wrt), "shape": list(dense.shape),
                "entries": strings.tolist()}

    def to_text(self, **options) -> str:
        """Plain-text display; see :func:`jacobian_calc.render.render_text`."""
        from .render import render_jacobian
        return render_jacobian(self, **options)

    def __str__(self) -> str:
        return self.to_text()


def _strides(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return strides[::-1]
