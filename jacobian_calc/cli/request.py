"""One ``jac`` invocation: options in, output text, warnings and exit status out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import api
from ..core.errors import JacobianError
from ..core.limits import DEFAULT_LIMITS, Limits
from ..parsing import int_digits, parse_shape_option
from ..render.latex import numeric_to_latex, printoptions, to_latex
from ..render.json import jacobians_document
from ..render.text import chain_text, numeric_text, render_jacobian
from ..symbolic import simplify as _simplify
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
        latex=_latex_settings(options), spy=options["spy"],
        hessian=options.get("hessian", False), signs=options.get("signs"))


def _limits(options: dict) -> Limits:
    values = {name: options[name] for name in
              ("max_length", "max_depth", "max_digits", "max_size", "max_entries")
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
    with int_digits(10 * req.limits.max_digits):  # exact results may print long integers
        if req.hessian:
            return hessian_code.hessian_request(req)
        if req.backprop:
            return _backprop(req)
        return _jacobians(req)


def _jacobians(req: Request) -> tuple[str, list[str], int]:
    results = api.jacobians(req.exprs, req.wrt, layout=req.layout, shapes=req.shapes,
                            lets=req.lets, functions=req.functions, simplify=req.simplify,
                            in_terms_of_output=req.in_terms_of_output, limits=req.limits)
    factored = api.chain(req.exprs, req.wrt or ",".join(results[0].wrt), lets=req.lets,
                         layout=req.layout, functions=req.functions,
                         limits=req.limits) if req.chain else None
    notes = [w for r in results for w in r.warnings] + sorted(set(_simplify.NOTES))
    values = [r.evaluate(req.at) for r in results] if req.at is not None else None
    formatter = {"text": _text, "latex": _latex, "json": _json}[req.fmt]
    text = formatter(req, results, factored, values)
    if req.spy:
        _spy(req, results)
    return text, notes, 0


def _text(req, results, factored, values) -> str:
    parts = []
    for i, J in enumerate(results):
        if values is None:
            parts.append(render_jacobian(J, full=req.full, flatten=req.flatten))
        else:
            parts.append(numeric_text(J, values[i], req.at))
    if factored is not None:
        parts.append(chain_text(factored))
    return "\n\n".join(parts)


def _latex(req, results, factored, values) -> str:
    if values is not None:
        return numeric_to_latex(results, values, at=req.at, **req.latex)
    extra = [factored] if factored is not None else []
    return to_latex(results + extra, flatten=req.flatten, **req.latex)


def _json(req, results, factored, values) -> str:
    doc = jacobians_document(results, flatten=req.flatten, chain=factored, values=values,
                             at=req.at)
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _backprop(req: Request) -> tuple[str, list[str], int]:
    if req.wrt is None:
        raise JacobianError("{{backprop}} needs {{wrt}} naming the variables, e.g. --wrt W,b")
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
    if req.fmt == "json":
        text = result.to_json()
    elif req.fmt == "latex":
        text = _backprop_latex(req, result)
    else:
        text = result.to_text(full=req.full)
    if req.spy:  # the output's Jacobians w.r.t. the variables, as without --backprop
        _spy(req, api.jacobians(req.exprs, req.wrt, shapes=req.shapes, lets=req.lets,
                                functions=req.functions, limits=req.limits))
    return text, notes, 1 if req.check and not result.agree else 0


def _backprop_latex(req: Request, result) -> str:
    """LaTeX of a backprop result, once a printer for it is registered."""
    try:
        with printoptions(**req.latex):
            return result.to_latex()
    except LookupError:
        raise JacobianError("LaTeX of backprop steps is not available yet; use --format "
                            "text or json") from None


def _spy(req: Request, results) -> None:
    from ..render.spy import spy  # noqa: PLC0415 - matplotlib only when a plot is asked for
    spy(results, req.spy)
