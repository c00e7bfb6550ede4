"""JSON documents of results (``jac --format json``, ``result.to_json()``)."""

from __future__ import annotations

from ..results.base import printer
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult
from .entries import entry_texts


def _nested(grid) -> object:
    return entry_texts(grid).tolist()


@printer("dict", JacobianResult)
def jacobian_item(J: JacobianResult, flatten: bool = False, values=None) -> dict:
    """One Jacobian: ``{"wrt", "shape", "entries"}`` (numbers with ``values``)."""
    grid = J.flat_grid() if flatten else J.as_grid()
    item = {"wrt": list(J.wrt), "shape": list(grid.shape),
            "entries": _nested(grid) if values is None else values.tolist()}
    return item


@printer("dict", ChainResult)
def chain_item(c: ChainResult) -> dict:
    return {"factors": [jacobian_item(f) for f in c.factors], "agree": c.agree}


def jacobians_document(results: list[JacobianResult], *, flatten: bool = False,
                       chain: ChainResult | None = None, values=None,
                       at: str | None = None) -> dict:
    """The document ``jac --format json`` prints for Jacobians."""
    items = []
    for i, J in enumerate(results):
        item = jacobian_item(J, flatten=flatten and values is None,
                             values=None if values is None else values[i])
        if values is not None:
            item["at"] = at
        items.append(item)
    doc = {"layout": results[0].layout, "of": results[0].of, "jacobians": items}
    if chain is not None:
        doc["chain"] = chain_item(chain)
    return doc
