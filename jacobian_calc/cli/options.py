"""The command-line options of one ``jac`` invocation, read into a :class:`Request`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import DEFAULT_LIMITS, JacobianError, Limits, parse_shape_option

#: Formats that print a Python module (with --backprop or --hessian).
CODE_FORMATS = ("numpy", "torch")


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
    index_form: bool = False
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
    compact: bool = False  # the compact Jacobian (diag(p) - outer(p, p), dY = X @ dW)
    claims: tuple = ()  # "dW = X.T @ dY": each proved or refuted
    symmetric: list = field(default_factory=list)


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
        index_form=options.get("index_form", False),
        upstream=options["upstream"], onehot=options["onehot"], inline=options["inline"],
        expand=options["expand"], check=options["check"], limits=_limits(options),
        latex=_latex_settings(options), spy=options["spy"], shared=options.get("shared"),
        hessian=options.get("hessian", False), signs=options.get("signs"),
        compact=options.get("compact", False), claims=tuple(options.get("claims") or ()),
        symmetric=[n.strip() for item in options.get("symmetric", ()) for n in item.split(",")
                   if n.strip()])


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


def check_request(req: Request) -> None:
    """Refuse what these options cannot do together."""
    if req.hessian and req.backprop:
        raise JacobianError("--hessian and --backprop are separate requests; choose one")
    if req.symmetric and (req.backprop or req.hessian or req.chain):
        raise JacobianError("--symmetric is for Jacobians; --backprop, --hessian and --chain "
                            "treat every matrix as general (G + G.T - diag(G) of their "
                            "gradient G is the symmetric matrix's)")
    if req.fmt in CODE_FORMATS and not (req.backprop or req.hessian):
        raise JacobianError(f"--format {req.fmt} prints code of a backward pass or of a "
                            "Hessian: add --backprop or --hessian")
    if req.claims and req.fmt not in ("text", "json"):
        raise JacobianError(f"--claim prints verdicts as text or JSON, not --format {req.fmt}")
    if req.claims and req.at is not None:
        raise JacobianError("--claim is decided symbolically; --at gives numbers: choose one")
    if req.fmt in CODE_FORMATS and req.at is not None:
        raise JacobianError(f"--at gives numbers; --format {req.fmt} gives code: choose one")
