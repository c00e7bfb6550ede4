"""JSON documents of results (``jac --format json``, ``result.to_json()``).

Every document has the same envelope, described by the JSON Schema shipped in
:mod:`jacobian_calc.schema` (``jacobian_calc/schema/document.schema.json``)::

    {"format": "jacobian_calc", "version": 2, "kind": "jacobian" | "backprop" | ...,
     "of": [expression, ...], ...}

Symbolic entries come twice, as nested lists following their shape:
``entries`` in the calculator's own syntax (what ``jac`` prints; read back
exactly by :func:`jacobian_calc.read_json`) and ``sympy``, which plain
``sympy.sympify`` reads back exactly (symbols with their assumptions, our
functions written out in SymPy's).

Subexpressions shared by many entries (softmax's denominator, nested
intermediates) may be printed once, under a name: the document then has
``"shared"`` (``{"S1": "exp(l_1) + exp(l_2) + ..."}``, each definition in
terms of the earlier ones) and ``"shared_sympy"`` (the same for plain SymPy),
and the entries use the names. :func:`jacobian_calc.read_json` substitutes
them back; with plain SymPy, substitute ``S_k`` from the last to the first.
See :mod:`jacobian_calc.render.shared` for when.
"""

from __future__ import annotations

import sympy as sp

from ..core.grid import Grid
from ..results.base import printer
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult
from ..symbolic.measure import Measures, applied_functions
from .entries import entry_texts
from .shared import Memoised, Printer, check_size, entry_printer
from .sympy_form import SympyFormPrinter, plain, sympy_text
from .text import taken_names

FORMAT, VERSION = "jacobian_calc", 2
#: Characters a number of a point's values takes in the document, about.
NUMBER_WIDTH = 26
#: The plain-SymPy form of an entry is about this many times as long as ours.
SYMPY_FACTOR = 3


def envelope(kind: str, of: list[str], **fields) -> dict:
    """The fields every document starts with."""
    return {"format": FORMAT, "version": VERSION, "kind": kind, "of": list(of), **fields}


def entries(grid: Grid, key: str = "entries") -> dict:
    """``{key: readable entries, key_sympy: plain-SymPy entries}`` of a grid of SymPy entries."""
    suffix = "sympy" if key == "entries" else f"{key}_sympy"
    return {key: entry_texts(grid).tolist(), suffix: grid.map(sympy_text).tolist()}


def jacobian_item(J: JacobianResult, flatten: bool = False, values=None) -> dict:
    """One Jacobian: ``{"wrt", "shape", "entries", "sympy"}``, or ``"values"`` at a point."""
    if values is not None:
        check_size(NUMBER_WIDTH * J.size)
        return {"wrt": list(J.wrt), "shape": list(values.shape), "values": values.tolist()}
    [grid] = _grids([J], flatten)
    return {"wrt": list(J.wrt), "shape": list(grid.shape), **entries(grid)}


def _overhead(ndim: int) -> int:
    """Quotes, comma, newline and indentation around one entry, twice (``indent=2``)."""
    return 2 * (4 + 2 * (ndim + 3))


def _grids(results: list[JacobianResult], flatten: bool) -> list[Grid]:
    check_size(sum(_overhead(len(J.shape)) * J.size for J in results))  # before building them
    return [J.flat_grid() if flatten else J.as_grid() for J in results]


def _printer(results: list[JacobianResult], grids: list[Grid], shared: bool | None) -> Printer:
    taken = set().union(*(taken_names(J) for J in results))
    cells = [e for grid in grids for e in grid.flat]
    return entry_printer(cells, taken, shared, overhead=_overhead(max(g.ndim for g in grids)),
                         dense=len(cells), factor=1 + SYMPY_FACTOR)


class _SympyForm:
    """Plain-SymPy texts of entries written in terms of the shared names, each distinct
    subexpression printed once (as :class:`~jacobian_calc.render.shared.MemoPrinter`)."""

    def __init__(self, text: Printer, cells: list) -> None:
        self.text = text
        self.memo: dict = {}
        self.printer = _MemoSympyForm()
        self.plain = any(hasattr(node, "plain") for node in Measures(cells).keep)

    def __call__(self, expr: sp.Basic) -> str:
        if expr is sp.S.Zero:
            return self.text.charge("0")
        expr = self.text.sharing.rewrite(expr, self.memo)
        return self.text.charge(self.printer.doprint(plain(expr) if self.plain else expr))


class _MemoSympyForm(Memoised, SympyFormPrinter):
    """The plain-SymPy form, printing each distinct subexpression once."""


def _symbolic_items(results: list[JacobianResult], flatten: bool,
                    shared: bool | None) -> tuple[list[dict], dict]:
    """The Jacobians' items, and the shared definitions in both forms (if any)."""
    grids = _grids(results, flatten)
    text = _printer(results, grids, shared)
    sympy_form = _SympyForm(text, [e for grid in grids for e in grid.flat])
    items = [{"wrt": list(J.wrt), "shape": list(grid.shape),
              "entries": text.texts(grid).tolist(), "sympy": grid.map(sympy_form).tolist(),
              **({"index_form": J.index.to_dict()} if J.index is not None else {})}
             for J, grid in zip(results, grids)]
    definitions = text.sharing.definitions()
    if not definitions:
        return items, {}
    return items, {"shared": dict(text.definitions()),
                   "shared_sympy": {name: text.charge(sympy_text(d)) for name, d in definitions}}


def _functions(results) -> list[str]:
    return sorted(applied_functions(e for J in results for e in J.entries.values()))


@printer("dict", JacobianResult)
def jacobian_document(J: JacobianResult, flatten: bool = False,
                      shared: bool | None = None) -> dict:
    """The document of one Jacobian (``J.to_dict()``)."""
    return jacobians_document([J], flatten=flatten, shared=shared)


@printer("dict", ChainResult)
def chain_document(c: ChainResult) -> dict:
    """The document of a chain: the direct Jacobian and the factors."""
    return jacobians_document([c.direct], chain=c)


def chain_item(c: ChainResult, values: list | None = None) -> dict:
    items = [jacobian_item(f, values=None if values is None else values[i])
             for i, f in enumerate(c.factors)]
    return {"factors": [{**item, "rows": list(f.out_labels) or ["f"]}
                        for item, f in zip(items, c.factors)], "agree": c.agree}


def jacobians_document(results: list[JacobianResult], *, flatten: bool = False,
                       chain: ChainResult | None = None, values=None,
                       at: str | None = None, factor_values: list | None = None,
                       shared: bool | None = None) -> dict:
    """The document ``jac --format json`` prints for Jacobians.

    With ``values`` (one array per result, from ``J.evaluate(at)``) the
    entries are numbers. Otherwise the entries of all results share one
    ``"shared"`` object when subexpressions are printed once by name.
    """
    definitions: dict = {}
    if any(J.symbolic for J in results):
        items = [{"wrt": list(J.wrt), "shape": list(J.shape), "index_form": J.index.to_dict()}
                 for J in results]
    elif values is not None:
        items = [jacobian_item(J, flatten=flatten, values=v) for J, v in zip(results, values)]
    else:
        items, definitions = _symbolic_items(results, flatten, shared)
    doc = envelope("jacobian", results[0].of, layout=results[0].layout,
                   functions=_functions(results), **definitions, jacobians=items)
    if values is not None:
        doc["at"] = at
    if chain is not None:
        doc["chain"] = chain_item(chain, factor_values)
    return doc


__all__ = ["envelope", "entries", "jacobian_item", "jacobian_document", "chain_document",
           "chain_item", "jacobians_document", "NUMBER_WIDTH"]
