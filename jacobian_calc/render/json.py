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
"""

from __future__ import annotations

from sympy.core.function import AppliedUndef

from ..core.grid import Grid
from ..results.base import printer
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult
from .entries import entry_texts
from .sympy_form import sympy_text

FORMAT, VERSION = "jacobian_calc", 2


def envelope(kind: str, of: list[str], **fields) -> dict:
    """The fields every document starts with."""
    return {"format": FORMAT, "version": VERSION, "kind": kind, "of": list(of), **fields}


def entries(grid: Grid, key: str = "entries") -> dict:
    """``{key: readable entries, key_sympy: plain-SymPy entries}`` of a grid of SymPy entries."""
    suffix = "sympy" if key == "entries" else f"{key}_sympy"
    return {key: entry_texts(grid).tolist(), suffix: grid.map(sympy_text).tolist()}


def jacobian_item(J: JacobianResult, flatten: bool = False, values=None) -> dict:
    """One Jacobian: ``{"wrt", "shape", "entries", "sympy"}``, or ``"values"`` at a point."""
    grid = J.flat_grid() if flatten else J.as_grid()
    item = {"wrt": list(J.wrt), "shape": list(grid.shape)}
    if values is not None:
        item["shape"] = list(values.shape)
        item["values"] = values.tolist()
    else:
        item.update(entries(grid))
    return item


def _functions(results) -> list[str]:
    names = set()
    for J in results:
        for expr in J.entries.values():
            names |= {str(f.func) for f in expr.atoms(AppliedUndef)}
    return sorted(names)


@printer("dict", JacobianResult)
def jacobian_document(J: JacobianResult, flatten: bool = False) -> dict:
    """The document of one Jacobian (``J.to_dict()``)."""
    return jacobians_document([J], flatten=flatten)


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
                       at: str | None = None, factor_values: list | None = None) -> dict:
    """The document ``jac --format json`` prints for Jacobians."""
    items = [jacobian_item(J, flatten=flatten, values=None if values is None else values[i])
             for i, J in enumerate(results)]
    doc = envelope("jacobian", results[0].of, layout=results[0].layout,
                   functions=_functions(results), jacobians=items)
    if values is not None:
        doc["at"] = at
    if chain is not None:
        doc["chain"] = chain_item(chain, factor_values)
    return doc
