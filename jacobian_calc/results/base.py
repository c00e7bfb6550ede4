"""What every result type shares: printing is looked up, never imported.

Result types are data. The rendering layer, which imports them, registers
its printers here (:func:`printer`), the way SymPy's printers dispatch on the
class; so ``str(result)``, ``result.to_latex()`` and Jupyter's
``_repr_latex_`` work without a result module importing a printer.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Callable

import sympy as sp

from ..core.grid import Grid, Shape

from ..core import budget
from ..core.errors import LimitError, Message
from ..core.limits import Limits

_PRINTERS: dict[tuple[str, type], Callable[..., Any]] = {}


def printer(kind: str, cls: type):
    """Register the function that prints ``cls`` as ``kind`` ("text", "latex", "dict")."""
    def register(func):
        _PRINTERS[(kind, cls)] = func
        return func
    return register


#: Run once, at the first printer not found: ``import jacobian_calc`` installs one that
#: loads every printer, so a result from the package's names always prints.
_ON_MISSING: list[Callable[[], Any]] = []


def on_missing_printer(load: Callable[[], Any]) -> None:
    """Call ``load`` (once) when a printer is looked up and not found, then look again."""
    if load not in _ON_MISSING:
        _ON_MISSING.append(load)


def load_missing_printers() -> bool:
    """Run the loaders :func:`on_missing_printer` installed (once each): whether any ran,
    so that a printer not found may be looked up again."""
    ran = bool(_ON_MISSING)
    while _ON_MISSING:
        _ON_MISSING.pop()()
    return ran


def _printer_of(kind: str, result: Any) -> Callable[..., Any] | None:
    for cls in type(result).__mro__:
        func = _PRINTERS.get((kind, cls))
        if func is not None:
            return func
    return None


def render(kind: str, result: Any, **options) -> Any:
    """Print ``result`` with the printer registered for its class (or a base class).

    Printing is a request of its own (within the default limits' time and
    output size, or ``limits=``, or ``max_output=`` characters) unless it is part
    of one already; text longer than the limit is refused, never printed.
    """
    limits = _print_limits(options.pop("limits", None), options.pop("max_output", None))
    func = _printer_of(kind, result)
    if func is None and load_missing_printers():
        func = _printer_of(kind, result)
    if func is not None:
        with budget.request(limits), budget.stage("printing"):
            out = func(result, **options)
            most = budget.active_limits().max_output
            if isinstance(out, str) and len(out) > most:
                raise LimitError(f"the output would be {len(out):,} characters, over the "
                                 f"limit of {most:,}", limit="max_output")
            return out
    raise LookupError(f"no {kind} printer for {type(result).__name__} is loaded; "
                      "import jacobian_calc to load them")


def _print_limits(given: Any, max_output: Any) -> Limits:
    """The printing options ``limits=`` and ``max_output=`` as the limits to enter."""
    limits = budget.active_limits() if given is None else budget.checked_limits(given)
    if max_output is None:
        return limits
    return Limits(**{**{f.name: getattr(limits, f.name) for f in fields(limits)},
                     "max_output": max_output})


class Result:
    """Base class of the calculator's results."""

    def __str__(self) -> str:
        try:
            return self.to_text()
        except LookupError:
            return repr(self)

    def to_text(self, **options) -> str:
        """Plain-text display, as ``jac`` prints it (a :class:`~jacobian_calc.core.errors.Message`:
        what it says to do names the API's arguments; ``jac`` writes its options)."""
        return Message(render("text", self, **options))

    def to_latex(self, **options) -> str:
        """LaTeX; see :func:`jacobian_calc.to_latex` for the options."""
        return render("latex", self, **options)

    def to_dict(self, **options) -> dict:
        """The JSON document of this result, as a Python structure."""
        return render("dict", self, **options)

    def to_json(self, **options) -> str:
        """The JSON document of this result, as ``jac --format json`` prints it."""
        import json  # loaded by JSON output only, not at start-up

        return json.dumps(self.to_dict(**options), indent=2, ensure_ascii=False)

    def check_claims(self, claims) -> list:
        """Check my answer: each claim (``"dW = X.T @ dY"``, ``"J = diag(p) - outer(p, p)"``,
        ``"H = A + A.T"``) proved or refuted against this result; see
        :func:`jacobian_calc.check_claims`."""
        return render("claims", self, claims=claims)  # registered by derive.claims

    def _repr_latex_(self) -> str:
        try:
            return "$\\displaystyle " + render("latex", self) + "$"
        except (LookupError, ValueError):  # too large to typeset: Jupyter shows the text
            return None


class SparseTensor:
    """Entries stored once, sparsely, in numerator order: the output's axes, then the
    variable's. The denominator layout is a permutation of indices at the edge,
    never a second computation.

    Subclasses have ``entries`` (0-based numerator index -> SymPy expression),
    ``layout``, ``out_shape`` and ``var_axes`` (the shape of the variable's part).
    """

    @property
    def shape(self) -> Shape:
        """Shape in this layout."""
        if self.layout == "numerator":
            return self.out_shape + self.var_axes
        return self.var_axes + self.out_shape

    def to_layout(self, index: tuple[int, ...]) -> tuple[int, ...]:
        """A numerator-order index in this layout."""
        if self.layout == "numerator":
            return index
        k = len(self.out_shape)
        return index[k:] + index[:k]

    def nonzeros(self) -> dict[tuple[int, ...], sp.Expr]:
        """Non-zero entries as ``{0-based index tuple in this layout: expr}``."""
        return {self.to_layout(i): e for i, e in self.entries.items()}

    @property
    def nnz(self) -> int:
        """Number of structurally non-zero entries."""
        return len(self.entries)

    @property
    def size(self) -> int:
        """Number of entries of the dense tensor."""
        return math.prod(self.shape)

    def __getitem__(self, index) -> sp.Expr:
        """Entry at a 0-based index in this layout (zero if not stored)."""
        index = tuple(index) if isinstance(index, tuple) else (index,)
        if len(index) != len(self.shape) or not all(
                0 <= i < n for i, n in zip(index, self.shape)):
            raise IndexError(f"index {index} out of range for shape {self.shape}")
        if self.layout == "denominator":
            k = len(self.var_axes)
            index = index[k:] + index[:k]
        return self.entries.get(index, sp.Integer(0))

    def as_grid(self) -> Grid:
        """Every entry (zeros included) as a grid, in this layout."""
        dense = Grid.full(self.shape, sp.Integer(0))
        for index, expr in self.entries.items():
            dense.flat[dense.offset(self.to_layout(index))] = expr
        return dense

    @property
    def tensor(self) -> sp.Matrix | sp.Array:
        """The dense SymPy object: a ``Matrix`` for 2-D, an ``Array`` otherwise."""
        grid = self.as_grid()
        if grid.ndim == 2:
            return sp.Matrix(grid.shape[0], grid.shape[1], grid.flat)
        if grid.ndim == 0:
            return sp.ImmutableDenseNDimArray(grid.flat[0])
        return sp.ImmutableDenseNDimArray(grid.flat, grid.shape)
