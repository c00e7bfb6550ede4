"""JSON documents of results (``jac --format json``, ``result.to_json()``).

Entries are strings in the calculator's syntax. Subexpressions shared by many
entries may be printed once, under a name, in a ``"shared"`` object
(``{"S1": "exp(l_1) + exp(l_2) + ..."}``, each definition in terms of the
earlier ones) and used by name in the entries; :func:`jacobian_calc.read_json`
substitutes them back. See :mod:`jacobian_calc.render.shared` for when.
"""

from __future__ import annotations


from ..results.base import printer
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult
from .shared import Printer, check_size, entry_printer
from .text import taken_names

#: Characters a number of a point's values takes in the document, about.
NUMBER_WIDTH = 26


def _nested(grid, text: Printer) -> object:
    return text.texts(grid).tolist()


def _overhead(ndim: int) -> int:
    """Quotes, comma, newline and indentation around one entry (``indent=2``)."""
    return 4 + 2 * (ndim + 3)


def _grids(results: list[JacobianResult], flatten: bool) -> list:
    check_size(sum(_overhead(len(J.shape)) * J.size for J in results))  # before building them
    return [J.flat_grid() if flatten else J.as_grid() for J in results]


def _printer(results: list[JacobianResult], grids: list, shared: bool | None) -> Printer:
    taken = set().union(*(taken_names(J) for J in results))
    cells = [e for grid in grids for e in grid.flat]
    return entry_printer(cells, taken, shared, overhead=_overhead(max(g.ndim for g in grids)),
                         dense=len(cells))


def _item(J: JacobianResult, grid, text: Printer | None, values=None) -> dict:
    entries = _nested(grid, text) if values is None else values.tolist()
    return {"wrt": list(J.wrt), "shape": list(grid.shape), "entries": entries}


def _definitions(text: Printer) -> dict[str, str]:
    return dict(text.definitions())


@printer("dict", JacobianResult)
def jacobian_item(J: JacobianResult, flatten: bool = False, values=None,
                  shared: bool | None = None) -> dict:
    """One Jacobian: ``{"wrt", "shape", "entries"}`` (numbers with ``values``), and
    ``"shared"`` when subexpressions are printed once by name."""
    if values is not None:
        check_size(NUMBER_WIDTH * J.size)
        grid = values.reshape(J.flat_shape()) if flatten else values
        return {"wrt": list(J.wrt), "shape": list(grid.shape), "entries": grid.tolist()}
    [grid] = _grids([J], flatten)
    text = _printer([J], [grid], shared)
    item = _item(J, grid, text)
    definitions = _definitions(text)
    if definitions:
        item["shared"] = definitions
    return item


@printer("dict", ChainResult)
def chain_item(c: ChainResult, shared: bool | None = None) -> dict:
    return {"factors": [jacobian_item(f, shared=shared) for f in c.factors], "agree": c.agree}


def jacobians_document(results: list[JacobianResult], *, flatten: bool = False,
                       chain: ChainResult | None = None, values=None,
                       at: str | None = None, shared: bool | None = None) -> dict:
    """The document ``jac --format json`` prints for Jacobians.

    With ``values`` (one array per result, from ``J.evaluate(at)``) the
    entries are numbers. Otherwise the entries of all results share one
    ``"shared"`` object when subexpressions are printed once by name.
    """
    doc = {"layout": results[0].layout, "of": results[0].of}
    if values is not None:
        items = [jacobian_item(J, flatten=flatten, values=v) for J, v in zip(results, values)]
        for item in items:
            item["at"] = at
    else:
        grids = _grids(results, flatten)
        text = _printer(results, grids, shared)
        items = [_item(J, grid, text) for J, grid in zip(results, grids)]
        definitions = _definitions(text)
        if definitions:
            doc["shared"] = definitions
    doc["jacobians"] = items
    if chain is not None:
        doc["chain"] = chain_item(chain, shared=shared)
    return doc


__all__ = ["jacobian_item", "chain_item", "jacobians_document", "NUMBER_WIDTH"]
