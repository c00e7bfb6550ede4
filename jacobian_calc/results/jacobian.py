"""The result of a Jacobian computation: a sparse tensor with a layout.

Entries are stored once, sparsely, in numerator order (output axes, then
input axes). The denominator layout is a permutation of index tuples at the
edge, never a second computation. Dense SymPy objects are built only when
``.tensor`` or ``.flatten()`` is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import sympy as sp

from ..core.errors import JacobianError
from ..core.grid import Grid, Shape, ndindex, strides
from .base import Result, SparseTensor

LAYOUTS = ("numerator", "denominator")


def check_layout(layout: object) -> str:
    """Validate a layout name."""
    if layout not in LAYOUTS:
        raise JacobianError(f"unknown {{{{layout}}}} {layout!r}: use numerator or denominator")
    return layout


@dataclass(frozen=True, repr=False)
class JacobianResult(Result, SparseTensor):
    """A (generalized) Jacobian.

    Attributes
    ----------
    of : list of str
        The differentiated expression(s), in the calculator's syntax (a summary
        for a huge SymPy input): text for JSON and the plain output.
    of_trees : tuple of Node
        The differentiated expression(s) as trees, intermediates unsubstituted:
        what every renderer prints (nothing is parsed back from :attr:`of`).
    of_shapes : dict
        Shapes of the names those trees mention that are arrays (declared
        variables and array intermediates): a product of scalars is printed by
        juxtaposition (``2 π t``), one of arrays with ``⊙``.
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
    in_symbols : tuple of sympy.Symbol
        The input's entries, row-major.
    out_labels : tuple of str
        Names of the output entries where they are named (chain-rule factors).
    arrays : dict
        Declared shapes of the arrays the entries may mention (for points).
    variables : tuple of str
        Every variable of the problem (a point may give values for any of them).
    defined : tuple of (sympy.Symbol, sympy.Expr)
        Symbols the entries use that stand for something computed from the
        variables (an intermediate ``y1``, an output entry ``Y_1_1``), in the
        order to compute them; a point gives the variables, these follow.
    warnings : list of str
        Things the user should know (e.g. a ``wrt`` name absent from the
        expression).
    tree : Node or None
        The expression (intermediates substituted), when it is one expression:
        what the output's name means in a claim (``p`` in ``J = diag(p) - ...``).
    compact : CompactJacobian or None
        The compact form (``diag(p) - outer(p, p)``), proved against the
        entries, when asked for (``compact=True``).
    index : IndexJacobian or None
        The same Jacobian in index notation, for every size (asked for with
        ``index_form=True``); see :attr:`index_form` and :attr:`indices`.
    outputs : tuple of sympy.Expr
        The differentiated entries themselves, row-major: a point where one is
        undefined (``logdet`` of a negative determinant) is refused.
    """

    of: list[str]
    wrt: list[str]
    out_shape: Shape
    in_shape: Shape
    entries: dict[tuple[int, ...], sp.Expr]
    layout: str = "numerator"
    out_name: str = "f"
    in_name: str = "x"
    in_symbols: tuple = ()
    out_labels: tuple = ()
    arrays: Mapping[str, Shape] = field(default_factory=dict)
    variables: tuple = ()
    defined: tuple = ()
    warnings: list[str] = field(default_factory=list)
    tree: Any = None
    compact: Any = None
    index: Any = None
    outputs: tuple = ()
    of_trees: tuple = ()
    of_shapes: Mapping[str, Shape] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<JacobianResult ∂{self.out_name}/∂{','.join(self.wrt)} {self.layout} "
                f"shape {self.shape}, {self.nnz} non-zero>")

    @property
    def var_axes(self) -> Shape:
        return self.in_shape

    def with_layout(self, layout: str) -> "JacobianResult":
        """The same Jacobian in another layout (no recomputation; a compact form is
        dropped, as it is written in one layout)."""
        if layout == self.layout:
            return self
        index = self.index.with_layout(layout) if self.index is not None else None
        return replace(self, layout=check_layout(layout), compact=None, index=index)

    @property
    def symbolic(self) -> bool:
        """Sizes given as names (``N``): no entries, only :attr:`index_form`."""
        shapes = [self.out_shape, self.in_shape, *self.arrays.values()]
        return any(isinstance(d, str) for shape in shapes for d in shape)

    @property
    def index_form(self) -> sp.Expr:
        """The entry in index notation, for every size: ``X[i, k]*KroneckerDelta(j, l)``
        (``sympy.Indexed`` entries named as the variables, ``KroneckerDelta``, sums
        over index ranges from 1); its index symbols are :attr:`indices`."""
        return self._index().index_form

    @property
    def indices(self) -> tuple:
        """The index symbols of :attr:`index_form`, in the order of this layout's axes."""
        return self._index().indices

    def _index(self):
        if self.index is None:
            raise JacobianError("the index form was not asked for: {{ask_index_form}}")
        return self.index

    def as_object_array(self):
        """Dense NumPy object array of SymPy entries, in this layout."""
        import numpy as np  # only when asked for: the plain Jacobian path needs no NumPy
        grid = self.as_grid()
        out = np.empty(grid.shape, dtype=object)
        for index, value in grid.items():
            out[index] = value
        return out

    def flatten(self) -> sp.Matrix:
        """The Jacobian as a 2-D matrix: output entries (row-major) by input entries.

        In denominator layout the rows are the input entries.
        """
        n_out, n_in = math.prod(self.out_shape), math.prod(self.in_shape)
        flat = sp.zeros(n_out, n_in)
        out_strides, in_strides = strides(self.out_shape), strides(self.in_shape)
        k = len(self.out_shape)
        for index, expr in self.entries.items():
            r = sum(i * s for i, s in zip(index[:k], out_strides))
            c = sum(i * s for i, s in zip(index[k:], in_strides))
            flat[r, c] = expr
        return flat if self.layout == "numerator" else flat.T

    def flat_shape(self) -> tuple[int, int]:
        """Shape of :meth:`flatten`, without building it."""
        rows, cols = math.prod(self.out_shape), math.prod(self.in_shape)
        return (rows, cols) if self.layout == "numerator" else (cols, rows)

    def flat_grid(self) -> Grid:
        """:meth:`flatten` as a grid (no SymPy matrix built)."""
        return self.as_grid().reshape(self.flat_shape())

    def blocks(self):
        """(leading index, 2-D block grid) pairs over the trailing two axes (for display)."""
        dense = self.as_grid()
        if dense.ndim <= 2:
            yield (), dense.reshape(dense.shape if dense.ndim == 2 else (1, dense.size))
            return
        lead_shape, tail = dense.shape[:-2], dense.shape[-2:]
        size = math.prod(tail)
        for n, lead in enumerate(ndindex(lead_shape)):
            yield lead, Grid(tail, dense.flat[n * size:(n + 1) * size])

    def map(self, func) -> "JacobianResult":
        """A copy with ``func`` applied to every stored entry (zeros dropped)."""
        entries = {i: func(e) for i, e in self.entries.items()}
        return replace(self, entries={i: e for i, e in entries.items() if e != 0})

    def symbols(self) -> list[str]:
        """Names of all symbols appearing in the entries, sorted."""
        from ..symbolic.measure import free_symbols  # noqa: PLC0415 - results are data
        return sorted(s.name for s in free_symbols(self.entries.values()))

    def evaluate(self, at: Mapping[Any, Any] | str):
        """Dense float array of the entries at a point, in this layout.

        Parameters
        ----------
        at : dict or str
            ``{"x1": 0.5, x2: 0.1}`` (names or SymPy symbols as keys),
            ``{"A": [[1, 2], [3, 4]]}`` for a declared array, or the same as
            text, ``"x1=0.5,x2=0.1"``.

        Returns
        -------
        numpy.ndarray
        """
        if self.symbolic:
            raise JacobianError("values need concrete sizes; give numbers in {{shapes}}")
        import numpy as np  # numbers need NumPy and its layer; symbolic results do not

        from ..symbolic.points import check_defined, evaluate_entries, known_names
        known = known_names(self.variables, self.arrays) | set(self.symbols()) | {
            s.name for s in self.in_symbols}
        values = evaluate_entries(self.entries, at, known, self.arrays, self.defined)
        check_defined(self.outputs, self.out_name, at, known, self.arrays, self.defined)
        out = np.zeros(self.shape, dtype=float)
        for index, value in values.items():
            out[self.to_layout(index)] = value
        return out
