"""A backprop request: the backward pass (values at a point, code) in one format."""

from __future__ import annotations

import json

from .. import JacobianError, backprop, budget, jacobians
from ..render import backprop_dict, gradient_values_text
from . import hessians
from .jacobians import spy_jacobians
from .options import CODE_FORMATS, Request
from .words import cli_words


def produce(req: Request) -> tuple[str, list[str], int]:
    if req.wrt is None:
        raise JacobianError("{{backprop}} needs {{wrt}} naming the variables, e.g. --wrt W,b")
    with budget.stage("deriving and checking the backward steps"):
        result = backprop(req.exprs, req.wrt, shapes=req.shapes, upstream=req.upstream,
                              lets=req.lets, functions=req.functions, onehot=req.onehot,
                              inline=req.inline, expand=req.expand, simplify=req.simplify,
                              limits=req.limits,
                              explicit=True if req.full or req.at is not None else None)
    notes = list(result.warnings)
    if not result.agree:
        notes.append("DISAGREE: " + result.disagreement())
    if req.fmt in CODE_FORMATS:
        text, more, status = hessians.backprop_code(req, result)
        return text, notes + more, max(status, int(req.check and not result.agree))
    values = result.evaluate(req.at) if req.at is not None else None
    if values is not None:
        notes += result.onehot_breaks(req.at)
        notes += [f"DISAGREE at the point for d{name}: explicit and compact differ by "
                  f"{v.max_abs_error:.3g}" for name, v in values.items() if not v.agree]
    if req.fmt == "json":
        text = json.dumps(backprop_dict(result, values=values, at=req.at), indent=2,
                          ensure_ascii=False)
    elif req.fmt == "latex":
        from ..render import gradient_values_latex, to_latex  # noqa: PLC0415 - LaTeX asked for
        text = to_latex(result, **req.latex) if values is None else \
            gradient_values_latex(result, values, req.at, **req.latex)
    else:
        text = cli_words(result.to_text(full=req.full))
        if values is not None:
            text += "\n\n" + gradient_values_text(result, values, req.at)
    if req.spy:  # the output's Jacobians w.r.t. the variables, as without --backprop
        spy_jacobians(req, jacobians(req.exprs, req.wrt, shapes=req.shapes, lets=req.lets,
                                     functions=req.functions, limits=req.limits))
    agree = result.agree and all(v.agree for v in (values or {}).values())
    code = 1 if req.check and not agree else 0
    if req.claims:
        from .claims import attach  # noqa: PLC0415 - claims asked for
        text, code = attach(req, result, text, code)
    return text, notes, code


