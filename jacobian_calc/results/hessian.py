"""The result of :func:`jacobian_calc.hessian`: second derivatives, block by block.

The Hessian of ``f`` with respect to the variables ``U, V, ...`` is stored as
one sparse block per ordered pair ``(U, V)``: the Jacobian of the gradient
``∂f/∂U`` with respect to ``V``. Layouts:

* **numerator** (the internal order): output axes, then ``U``'s axes, then
  ``V``'s: ``H[i, k, p] = ∂²f_i / ∂U_k ∂V_p``; for a vector ``f`` and a
  vector ``x`` that is ``m x n x n``, output axis first.
* **denominator**: ``U``'s axes, ``V``'s axes, then the output axes
  (``n x n x m``), output axis last.

For a scalar ``f`` the two layouts coincide (there are no output axes), and
block ``(V, U)`` is block ``(U, V)`` with its axes swapped, because mixed
partial derivatives commute -- which is checked, entry by entry, not assumed
(:class:`Symmetry`).

A compact form (``A + A.T``, or a Hessian-vector product where no matrix is
written) is kept with its verdict against the explicit entries
(:class:`CompactHessian`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import sympy as sp

from ..core.grid import Grid, Shape, flat_index, ndindex
from ..core.tree import Node
from .backprop import Check
from .base import Result, SparseTensor
from .jacobian import JacobianResult, check_layout

#: Verdicts of the symmetry check.
SYMMETRIC, NOT_SYMMETRIC, UNDECIDED = "symmetric", "not symmetric", "undecided"
#: Kinds of compact form.
MATRIX, HVP = "matrix", "hvp"


@dataclass(frozen=True)
class Variable:
    """One variable of the Hessian: a declared array, or scalars taken as a vector.

    Attributes
    ----------
    name : str
        Its name (``W``); for scalars taken together, ``x``.
    shape : tuple of int
        Its shape (``(2,)`` for the scalars ``x1, x2``).
    names : tuple of str
        The scalar names of a group (``("x1", "x2")``), else ``(name,)``.
    symbols : tuple of sympy.Symbol
        Its entries, row-major.
    labels : tuple of str
        How its entries are labelled (``x1``, ``W12``).
    """

    name: str
    shape: Shape
    names: tuple[str, ...]
    symbols: tuple
    labels: tuple[str, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class HessianBlock(SparseTensor):
    """The second derivatives ``∂²f / ∂U ∂V`` of one ordered pair of variables.

    Attributes
    ----------
    row, col : str
        ``U`` (differentiated first) and ``V``.
    out_shape, row_shape, col_shape : tuple of int
        Shapes of ``f``, ``U`` and ``V``.
    entries : dict
        Non-zero entries, numerator-order index ``out + U + V`` -> SymPy expr.
    layout : str
        ``"numerator"`` or ``"denominator"``.
    """

    row: str
    col: str
    out_shape: Shape
    row_shape: Shape
    col_shape: Shape
    entries: dict
    layout: str = "numerator"

    @property
    def var_shape(self) -> Shape:
        return self.row_shape + self.col_shape

    var_axes = var_shape

    def flat_shape(self) -> Shape:
        """Each variable's axes merged into one: ``(nU, nV)`` for a scalar ``f``, with
        the output's entries first (numerator) or last (denominator)."""
        out = (math.prod(self.out_shape),) if self.out_shape else ()
        pair = (math.prod(self.row_shape), math.prod(self.col_shape))
        return out + pair if self.layout == "numerator" else pair + out

    def flat_grid(self) -> Grid:
        """The block with each variable's axes merged (see :meth:`flat_shape`)."""
        return self.as_grid().reshape(self.flat_shape())

    def map(self, func) -> "HessianBlock":
        """A copy with ``func`` applied to every stored entry (zeros dropped)."""
        entries = {i: func(e) for i, e in self.entries.items()}
        return replace(self, entries={i: e for i, e in entries.items() if e != 0})


@dataclass(frozen=True)
class Symmetry:
    """Whether ``∂²f/∂U∂V`` and ``∂²f/∂V∂U`` agree (computed both ways).

    Attributes
    ----------
    verdict : str
        ``"symmetric"`` (every pair proved equal), ``"not symmetric"`` or
        ``"undecided"``.
    pairs : int
        Pairs of entries compared (off the diagonal).
    how : str
        How it was decided, in words.
    mismatch : tuple or None
        ``(first label, second label, first entry, second entry)`` of the first
        pair that differs.
    """

    verdict: str
    pairs: int = 0
    how: str = ""
    mismatch: tuple | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == SYMMETRIC


@dataclass(frozen=True)
class CompactTerm:
    """One compact formula: ``H = A + A.T`` or ``(Hv)_W = X.T @ (...)``.

    Attributes
    ----------
    label : str
        Its left-hand side (``H``, ``Hv``, ``(Hv)_W``).
    wrt : str
        The variable it belongs to.
    tree, text
        The formula, with the named subexpressions of :attr:`CompactHessian.where`.
    inline_tree
        The same in the variables alone.
    shape : tuple of int
        Its shape.
    """

    label: str
    wrt: str
    tree: Node
    text: str
    inline_tree: Node
    shape: Shape


@dataclass(frozen=True)
class CompactHessian:
    """A compact form of the Hessian, or why there is none.

    Attributes
    ----------
    kind : str or None
        ``"matrix"`` (``H = ...``), ``"hvp"`` (a Hessian-vector product
        ``Hv = ...``, linear in the direction) or ``None`` (no compact form).
    terms : tuple of CompactTerm
        The formulas: one matrix, or one product per variable.
    directions : dict
        Variable -> the name of its direction (``{"W": "V"}``).
    where : tuple of (str, Node, str)
        Named subexpressions (``("s", tree, "sigmoid(X @ w)")``), in order.
    check : Check or None
        The compact form against the explicit Hessian.
    reason : str
        Why no compact (matrix) form was found, in words.
    rewrites : tuple of str
        Identities used on the way (``log(1 + exp(u)) = softplus(u)``).
    gradients : dict
        Variable -> its compact gradient (a tree in the variables), the formula
        that was differentiated.
    """

    kind: str | None
    terms: tuple[CompactTerm, ...] = ()
    directions: Mapping[str, str] = field(default_factory=dict)
    where: tuple = ()
    check: Check | None = None
    reason: str = ""
    rewrites: tuple[str, ...] = ()
    gradients: Mapping[str, Node] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.kind is not None

    @property
    def ok(self) -> bool:
        """Found, and not shown to differ from the explicit Hessian."""
        return self.found and self.check is not None and self.check.ok


@dataclass(frozen=True, repr=False)
class HessianResult(Result):
    """Second derivatives of ``f``: the explicit blocks, their symmetry, a compact form.

    Attributes
    ----------
    of : list of str
        The expression(s), in the calculator's syntax.
    of_trees : tuple of Node
        The same as trees (what the renderers print); see
        :attr:`JacobianResult.of_trees <jacobian_calc.results.jacobian.JacobianResult.of_trees>`.
    of_shapes : dict
        Shapes of the array names those trees mention.
    out_name : str
        ``f``'s name in labels.
    out_shape : tuple of int
        ``f``'s shape (``()`` for a scalar).
    variables : list of Variable
        The variables, in the order asked for.
    blocks : dict
        ``(U, V)`` -> :class:`HessianBlock`, for every ordered pair.
    layout : str
        ``"numerator"`` or ``"denominator"`` (the same for a scalar ``f``).
    symmetry : Symmetry
        Mixed partial derivatives compared.
    compact : CompactHessian
        The compact form, or why there is none.
    arrays : dict
        Declared shapes (for points).
    names : tuple of str
        Every variable of the problem (a point may give values for any).
    warnings : list of str
        What the user should know.
    signs : tuple of str
        Arrays declared to have entries -1 or 1 (so ``t**2 = 1``).
    onehot : tuple of str
        Targets declared one-hot (each row sums to 1).
    tree : Node or None
        The expression (intermediates substituted), when it is one expression.
    """

    of: list[str]
    out_name: str
    out_shape: Shape
    variables: list[Variable]
    blocks: dict
    layout: str = "numerator"
    symmetry: Symmetry = Symmetry(UNDECIDED)
    compact: CompactHessian = CompactHessian(None, reason="not asked for")
    arrays: Mapping[str, Shape] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    signs: tuple[str, ...] = ()
    onehot: tuple[str, ...] = ()
    tree: Node | None = None
    of_trees: tuple[Node, ...] = ()
    of_shapes: Mapping[str, Shape] = field(default_factory=dict)

    def __repr__(self) -> str:
        wrt = ",".join(v.name for v in self.variables)
        return (f"<HessianResult ∂²{self.out_name}/∂({wrt})² {self.layout} "
                f"{self.symmetry.verdict}, compact={self.compact.kind}>")

    @property
    def wrt(self) -> list[str]:
        """The variables' names."""
        return [v.name for v in self.variables]

    @property
    def symmetric(self) -> bool:
        """Every mixed partial derivative was proved equal to its swapped one."""
        return self.symmetry.ok

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)

    def block(self, row: str, col: str | None = None) -> HessianBlock:
        """The block ``∂²f/∂row∂col`` (``col`` defaults to ``row``)."""
        key = (row, row if col is None else col)
        if key not in self.blocks:
            raise KeyError(f"no block {key}; the variables are {', '.join(self.wrt)}")
        return self.blocks[key]

    def pairs(self) -> list[tuple[str, str]]:
        """The ordered pairs of variables, row-major."""
        return [(u.name, v.name) for u in self.variables for v in self.variables]

    def with_layout(self, layout: str) -> "HessianResult":
        """The same Hessian in another layout (no recomputation)."""
        check_layout(layout)
        blocks = {k: replace(b, layout=layout) for k, b in self.blocks.items()}
        return replace(self, layout=layout, blocks=blocks)

    @property
    def tensor(self) -> sp.Matrix | sp.Array:
        """The only block's dense tensor (one variable): ``n x n``, ``X.shape + X.shape``
        or ``m x n x n``."""
        if len(self.blocks) != 1:
            raise ValueError("several variables: use .block(U, V).tensor or .matrix")
        return next(iter(self.blocks.values())).tensor

    @property
    def matrix(self) -> sp.Matrix:
        """The whole Hessian of a scalar ``f`` as one matrix, every variable's entries
        in turn (row-major), as ``sympy.hessian`` orders them."""
        if self.out_shape:
            raise ValueError("the Hessian of an array output is a tensor; use .block(...)")
        n = sum(v.size for v in self.variables)
        out = sp.zeros(n, n)
        starts = self._starts()
        for (u, v), b in self.blocks.items():
            for index, expr in b.entries.items():
                r = flat_index(index[:len(b.row_shape)], b.row_shape)
                c = flat_index(index[len(b.row_shape):], b.col_shape)
                out[starts[u] + r, starts[v] + c] = expr
        return out

    def _starts(self) -> dict[str, int]:
        starts, at = {}, 0
        for v in self.variables:
            starts[v.name] = at
            at += v.size
        return starts

    @property
    def nnz(self) -> int:
        return sum(b.nnz for b in self.blocks.values())

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blocks.values())

    def map(self, func) -> "HessianResult":
        """A copy with ``func`` applied to every stored entry."""
        return replace(self, blocks={k: b.map(func) for k, b in self.blocks.items()})

    def symbols(self) -> list[str]:
        found: set = set()
        for b in self.blocks.values():
            for expr in b.entries.values():
                found |= expr.free_symbols
        return sorted(s.name for s in found)

    def evaluate(self, at: Mapping[Any, Any] | str) -> dict:
        """Every block as a dense float array at a point, in the layout.

        Parameters
        ----------
        at : dict or str
            As for :meth:`JacobianResult.evaluate`: ``"x=[1,2,3],A=[[...]]"``.

        Returns
        -------
        dict
            ``(U, V)`` -> ``numpy.ndarray``.
        """
        import numpy as np  # numbers need NumPy; symbolic results do not

        from ..symbolic.points import evaluate_entries, known_names
        known = known_names(self.names, self.arrays) | set(self.symbols()) | {
            s.name for v in self.variables for s in v.symbols}
        keyed = {(k, i): e for k, b in self.blocks.items() for i, e in b.entries.items()}
        values = evaluate_entries(keyed, at, known, self.arrays) if keyed else {}
        out = {}
        for key, b in self.blocks.items():
            array = np.zeros(b.shape, dtype=float)
            for index in b.entries:
                array[b.to_layout(index)] = values[(key, index)]
            out[key] = array
        return out

    def jacobians(self) -> list[JacobianResult]:
        """Each block as the Jacobian of the gradient ``∂f/∂U`` with respect to ``V``
        (numerator layout), e.g. to draw its non-zero pattern."""
        out = []
        for (u, v), b in self.blocks.items():
            U, V = self.variable(u), self.variable(v)
            rows = tuple(f"∂{self.out_name}{_out_label(i)}/∂{label}"
                         for i in ndindex(self.out_shape) for label in U.labels)
            out.append(JacobianResult(
                of=self.of, wrt=list(V.names), out_shape=self.out_shape + U.shape,
                in_shape=V.shape, entries=dict(b.entries), out_name=f"(∂{self.out_name}/∂{u})",
                in_name=v, in_symbols=V.symbols, out_labels=rows, arrays=dict(self.arrays),
                variables=self.names, of_trees=self.of_trees, of_shapes=self.of_shapes))
        return out


def _out_label(index: tuple[int, ...]) -> str:
    return "".join(str(i + 1) for i in index)


__all__ = ["HessianResult", "HessianBlock", "Variable", "Symmetry", "CompactHessian",
           "CompactTerm", "SYMMETRIC", "NOT_SYMMETRIC", "UNDECIDED", "MATRIX", "HVP"]
