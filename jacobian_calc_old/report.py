"""Turn one CLI request into output text (text, LaTeX or JSON) and notes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from . import simplify as _simplify
from .chain import chain
from .jacobian import check_request_size, jacobians
from .latex import numeric_to_latex, to_latex
from .limits import DEFAULT_LIMITS, Limits
from .numeric import parse_assignments
from .render import render_jacobian, table


@dataclass
class Request:
    """Everything one ``jac`` invocation asks for."""

    exprs: str
    wrt: str | None = None
    layout: str = "numerator"
    lets: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    chain: bool = False
    simplify: bool = False
    at: str | None = None
    fmt: str = "text"
    flatten: bool = False
    full: bool = False
    in_terms_of_output: bool = False
    backprop: bool = False
    upstream: str = "dY"
    check: bool = False
    limits: Limits = DEFAULT_LIMITS
    latex: dict = field(default_factory=dict)  # to_latex settings: derivation, standalone, ...
    spy: str | None = None


def produce(req: Request) -> tuple[str, list[str]]:
    """Compute what ``req`` asks for; return the output text and warnings."""
    _simplify.NOTES.clear()
    if req.backprop:
        from .backprop_report import produce_backprop
        from .latex import printoptions  # imported as late as the report imports to_latex
        with printoptions(**req.latex):  # the backprop report calls to_latex(results)
            return produce_backprop(req)
    at = parse_assignments(req.at) if req.at is not None else None
    check_request_size(req.exprs, req.wrt, shapes=req.shapes, lets=req.lets, limits=req.limits)
    results = jacobians(req.exprs, req.wrt, layout=req.layout, shapes=req.shapes,
                        lets=req.lets, simplify=req.simplify,
                        in_terms_of_output=req.in_terms_of_output, limits=req.limits)
    factored = chain(req.exprs, req.wrt or ",".join(results[0].wrt), lets=req.lets,
                     layout=req.layout, limits=req.limits) if req.chain else None
    notes = [w for r in results for w in r.warnings] + sorted(set(_simplify.NOTES))
    values = [r.evaluate(at) for r in results] if at is not None else None
    formatter = {"text": _text, "latex": _latex, "json": _json}[req.fmt]
    return formatter(req, results, factored, values), notes


def _text(req, results, factored, values) -> str:
    parts = []
    for i, J in enumerate(results):
        if values is None:
            parts.append(render_jacobian(J, full=req.full, flatten=req.flatten))
        else:
            parts.append(_numeric_text(J, values[i], req.at))
    if factored is not None:
        parts.append(_chain_text(factored))
    return "\n\n".join(parts)


def _numeric_text(J, value: np.ndarray, at: str) -> str:
    from .render import _header, _labels
    flat = value.reshape(J.flatten().shape) if value.ndim != 2 else value
    cells = [[f"{v:.10g}" for v in row] for row in np.atleast_2d(flat)]
    outs, ins = _labels(J)
    rows, cols = ([f"∂{o}" for o in outs], [f"∂/∂{x}" for x in ins])
    if J.layout == "denominator":
        rows, cols = cols, rows
    return _header(J) + f"\nat {at}\n\n" + table(cells, rows, cols)


def _chain_text(c) -> str:
    names = []
    for f in c.factors:
        out = "f" if not f.out_labels else (f.out_labels[0] if len(f.out_labels) == 1
                                            else "(" + ", ".join(f.out_labels) + ")")
        wrt = f.wrt[0] if len(f.wrt) == 1 else "(" + ", ".join(f.wrt) + ")"
        names.append(f"∂{out}/∂{wrt}")
    wrt = c.direct.wrt[0] if len(c.direct.wrt) == 1 else "(" + ", ".join(c.direct.wrt) + ")"
    lines = [f"Chain rule: ∂f/∂{wrt} = " + " · ".join(names)]
    for name, f in zip(names, c.factors):
        lines.append(f"\n{name} =\n" + render_jacobian(f).split("\n\n", 1)[1])
    verdict = ("equals the direct Jacobian (verified)" if c.agree
               else "DIFFERS from the direct Jacobian (please report this)")
    lines.append(f"\nproduct of the factors, intermediates substituted, {verdict}")
    return "\n".join(lines)


def _latex(req, results, factored, values) -> str:
    if values is not None:
        return numeric_to_latex(results, values, at=req.at, **req.latex)
    extra = [factored] if factored is not None else []
    return to_latex(results + extra, flatten=req.flatten, **req.latex)


def _json(req, results, factored, values) -> str:
    items = []
    for i, J in enumerate(results):
        item = J.to_json(flatten=req.flatten and values is None)
        if values is not None:
            item["entries"] = values[i].tolist()
            item["at"] = req.at
        items.append(item)
    doc = {"layout": req.layout, "of": results[0].of, "jacobians": items}
    if factored is not None:
        doc["chain"] = {"factors": [f.to_json() for f in factored.factors],
                        "agree": factored.agree}
    return json.dumps(doc, indent=2, ensure_ascii=False)


def write_spy(req: Request) -> None:
    """Draw the non-zero pattern of the request's Jacobians into ``req.spy`` (a PNG)."""
    from .spy import spy
    spy(jacobians(req.exprs, req.wrt, layout=req.layout, shapes=req.shapes, lets=req.lets,
                  limits=req.limits), req.spy)
