"""One ``jac`` invocation: options in, output text, warnings and exit status out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import api
from ..core import budget
from ..core.errors import JacobianError, LimitError
from ..core.limits import DEFAULT_LIMITS, Limits
from ..parsing import int_digits, parse_shape_option
from ..render.backprop_latex import gradient_values_latex
from ..render.backprop_text import backprop_dict, gradient_values_text
from ..render.json import jacobians_document
from ..render.latex import numeric_to_latex, to_latex
from ..render.shared import check_size
from ..render.text import chain_text, numeric_chain_text, numeric_text, render_jacobian
from ..symbolic import simplify as _simplify
from ..symbolic.measure import text_length
from . import hessian_code


@dataclass
class Request:
    """Everything one ``jac`` invocation asks for."""

    exprs: str
    wrt: str | None = None
    layout: str = "numerator"
    lets: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    functions: list = field(default_factory=list)
    chain: bool = False
    simplify: bool = False
    at: str | None = None
    fmt: str = "text"
    flatten: bool = False
    full: bool = False
    in_terms_of_output: bool = False
    backprop: bool = False
    upstream: str | None = None
    onehot: str | None = None
    inline: bool = False
    expand: bool = False
    check: bool = False
    limits: Limits = DEFAULT_LIMITS
    latex: dict = field(default_factory=dict)  # to_latex settings: derivation, standalone, ...
    spy: str | None = None
    shared: bool | None = None  # print shared subexpressions once by name (None: when large)
    hessian: bool = False
    signs: str | None = None


def from_options(exprs: str, options: dict) -> Request:
    """The request the command-line options describe."""
    return Request(
        exprs=exprs, wrt=options["wrt"], layout=options["layout"],
        lets=_lets(options["lets"]), shapes=_shapes(options["shapes"]),
        functions=[f.strip() for item in options["functions"] for f in item.split(",")
                   if f.strip()],
        chain=options["chain"], simplify=options["simplify"], at=options["at"],
        fmt=_format(options), flatten=options["flatten"], full=options["full"],
        in_terms_of_output=options["in_terms_of_output"], backprop=options["backprop"],
        upstream=options["upstream"], onehot=options["onehot"], inline=options["inline"],
        expand=options["expand"], check=options["check"], limits=_limits(options),
        latex=_latex_settings(options), spy=options["spy"], shared=options.get("shared"),
        hessian=options.get("hessian", False), signs=options.get("signs"))


def _limits(options: dict) -> Limits:
    values = {name: options[name] for name in
              ("max_length", "max_depth", "max_digits", "max_size", "max_entries",
               "max_nodes", "max_output", "timeout")
              if options.get(name) is not None}
    if options.get("simplify_timeout") is not None:
        values["simplify_seconds"] = options["simplify_timeout"]
    return Limits(**{**DEFAULT_LIMITS.__dict__, **values})


def _lets(items: tuple[str, ...]) -> dict[str, str]:
    lets: dict[str, str] = {}
    for item in items:
        name, sep, expr = item.partition("=")
        if not sep or not name.strip():
            raise JacobianError(f"malformed {{{{lets}}}} {item[:40]!r}: expected NAME=EXPR")
        if name.strip() in lets:
            raise JacobianError(f"intermediate {name.strip()!r} is defined twice")
        lets[name.strip()] = expr
    return lets


def _shapes(items: tuple[str, ...]) -> dict:
    shapes: dict = {}
    for item in items:
        name, dims = parse_shape_option(item)
        if name in shapes:
            raise JacobianError(f"{name} is declared twice with {{{{shapes}}}}")
        shapes[name] = dims
    return shapes


def _format(options: dict) -> str:
    """--derivation and --standalone are LaTeX: they turn the default text format into it."""
    if not (options["derivation"] or options["standalone"]) or options["fmt"] == "latex":
        return options["fmt"]
    if options["fmt"] == "json":
        raise JacobianError("--derivation and --standalone produce LaTeX, not JSON")
    return "latex"


def _latex_settings(options: dict) -> dict:
    return {"derivation": options["derivation"], "standalone": options["standalone"],
            "matrix_env": options["matrix_env"], "transpose": options["transpose_tex"],
            "element_style": options["element_style"]}


def produce(req: Request) -> tuple[str, list[str], int]:
    """Compute what ``req`` asks for: the output text, warnings, and the exit status."""
    _simplify.NOTES.clear()
    hessian_code.check_request(req)
    with int_digits(10 * req.limits.max_digits), budget.request(req.limits):
        if req.hessian:
            text, notes, code = hessian_code.hessian_request(req)
        elif req.backprop:
            text, notes, code = _backprop(req)
        else:
            text, notes, code = _jacobians(req)
        check_size(len(text))  # whatever printed it
        return text, notes, code


def _jacobians(req: Request) -> tuple[str, list[str], int]:
    results = api.jacobians(req.exprs, req.wrt, layout=req.layout, shapes=req.shapes,
                            lets=req.lets, functions=req.functions, simplify=req.simplify,
                            in_terms_of_output=req.in_terms_of_output, limits=req.limits)
    factored = api.chain(req.exprs, req.wrt or ",".join(results[0].wrt), lets=req.lets,
                         layout=req.layout, functions=req.functions,
                         limits=req.limits) if req.chain else None
    notes = [w for r in results for w in r.warnings] + sorted(set(_simplify.NOTES))
    if req.at is not None:
        check_size(2 * sum(r.size for r in results), "the table of values")  # before computing
    values = [r.evaluate(req.at) for r in results] if req.at is not None else None
    if values is not None and factored is not None:  # --chain --at: every factor's values
        factored = (factored, [f.evaluate(req.at) for f in factored.factors])
    formatter = {"text": _text, "latex": _latex, "json": _json}[req.fmt]
    with budget.stage("printing"):
        text = formatter(req, results, factored, values)
    if req.spy:
        _spy(req, results)
    return text, notes, 0


def _text(req, results, factored, values) -> str:
    parts = []
    for i, J in enumerate(results):
        if values is None:
            parts.append(render_jacobian(J, full=req.full, flatten=req.flatten,
                                         shared=req.shared))
        else:
            parts.append(numeric_text(J, values[i], req.at))
    if isinstance(factored, tuple):
        parts.append(numeric_chain_text(*factored, values[0], req.at))
    elif factored is not None:
        parts.append(chain_text(factored))
    return "\n\n".join(parts)


def _latex(req, results, factored, values) -> str:
    if values is not None:
        if isinstance(factored, tuple):  # the factors' values, then the product's
            chain, factor_values = factored
            results, values = [*chain.factors, *results], [*factor_values, *values]
        return numeric_to_latex(results, values, at=req.at, **req.latex)
    size = text_length(e for J in results for e in J.entries.values())  # LaTeX is longer
    if size > req.limits.max_output:
        raise LimitError(f"the LaTeX would be over {size:,} characters long, over the limit of "
                         f"{req.limits.max_output:,}", limit="max_output",
                         hint="raise it with {{max_output}}, or use --format text or json, "
                              "which print shared subexpressions once")
    if factored is not None:  # the chain's equation ends with the direct Jacobian
        return to_latex(factored, flatten=req.flatten, **req.latex)
    return to_latex(results, flatten=req.flatten, **req.latex)


def _json(req, results, factored, values) -> str:
    chain, factor_values = factored if isinstance(factored, tuple) else (factored, None)
    doc = jacobians_document(results, flatten=req.flatten, chain=chain, values=values,
                             at=req.at, factor_values=factor_values, shared=req.shared)
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _backprop(req: Request) -> tuple[str, list[str], int]:
    if req.wrt is None:
        raise JacobianError("{{backprop}} needs {{wrt}} naming the variables, e.g. --wrt W,b")
    with budget.stage("deriving and checking the backward steps"):
        result = api.backprop(req.exprs, req.wrt, shapes=req.shapes, upstream=req.upstream,
                              lets=req.lets, functions=req.functions, onehot=req.onehot,
                              inline=req.inline, expand=req.expand, simplify=req.simplify,
                              limits=req.limits)
    notes = list(result.warnings) + sorted(set(_simplify.NOTES))
    if not result.agree:
        notes.append("DISAGREE: " + result.disagreement())
    if req.fmt in hessian_code.CODE_FORMATS:
        text, more, status = hessian_code.backprop_code(req, result)
        return text, notes + more, max(status, int(req.check and not result.agree))
    values = result.evaluate(req.at) if req.at is not None else None
    if values is not None:
        notes += [f"DISAGREE at the point for d{name}: explicit and compact differ by "
                  f"{v.max_abs_error:.3g}" for name, v in values.items() if not v.agree]
    if req.fmt == "json":
        text = json.dumps(backprop_dict(result, values=values, at=req.at), indent=2,
                          ensure_ascii=False)
    elif req.fmt == "latex":
        text = to_latex(result, **req.latex) if values is None else \
            gradient_values_latex(result, values, req.at, **req.latex)
    else:
        text = result.to_text(full=req.full)
        if values is not None:
            text += "\n\n" + gradient_values_text(result, values, req.at)
    if req.spy:  # the output's Jacobians w.r.t. the variables, as without --backprop
        _spy(req, api.jacobians(req.exprs, req.wrt, shapes=req.shapes, lets=req.lets,
                                functions=req.functions, limits=req.limits))
    agree = result.agree and all(v.agree for v in (values or {}).values())
    return text, notes, 1 if req.check and not agree else 0


def _spy(req: Request, results) -> None:
    from ..render.spy import spy  # noqa: PLC0415 - matplotlib only when a plot is asked for
    spy(results, req.spy)
