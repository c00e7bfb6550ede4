"""One request of the page or of the HTTP API, read into the ``jac`` arguments it stands for.

The web layer computes nothing itself: a :class:`Form` (from a JSON body or from the
page's URL) becomes the argument list of the ``jac`` command, which a worker process
runs. So ``POST /api/run`` answers exactly what ``jac ... --format json`` prints, and
every error is the command's own one-line message.

Only the shape of the input is checked here (known fields, strings, sizes); what the
strings mean is the calculator's parser's business.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass, field

#: Modes of the form -> the ``jac`` flag that asks for them.
MODES = {"jacobian": [], "backprop": ["--backprop"], "hessian": ["--hessian"]}
#: Layouts of a Jacobian.
LAYOUTS = ("numerator", "denominator")
#: Output formats a request may ask for, as ``jac`` options.
FORMATS = {
    "json": ["--format", "json"],
    "latex": ["--format", "latex"],
    "standalone": ["--standalone"],
    "derivation": ["--derivation"],
    "numpy": ["--format", "numpy"],
    "torch": ["--format", "torch"],
}
#: Limits of the calculator a request may set for itself (time and memory stay the server's).
RAISABLE = ("max_entries", "max_size", "max_output")
#: Formats that carry claims' verdicts (the LaTeX and code of a request leave them out).
CLAIM_FORMATS = (None, "json")
#: Longest text accepted in one field (the calculator has its own, larger, limits).
MAX_TEXT = 20_000
#: Most shapes, intermediates or functions in one request.
MAX_ITEMS = 64

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Dimensions as the command reads them: numbers, and names once symbolic sizes exist.
_DIMS = re.compile(r"^[A-Za-z0-9_ ,()×*+-]{1,100}$")


@functools.lru_cache(maxsize=1)
def jac_options() -> frozenset[str]:
    """The options of this ``jac`` command (``--compact`` and ``--claim`` when it has them)."""
    from ..cli.main import main  # noqa: PLC0415 - the command's declaration only
    return frozenset(name for p in main.params for name in getattr(p, "opts", ()))


def features() -> dict:
    """What this ``jac`` can do beyond the three modes (the page shows only these fields)."""
    options = jac_options()
    return {"modes": list(MODES), "compact": "--compact" in options,
            "claims": "--claim" in options}


class FormError(ValueError):
    """A request that is not a well-formed set of options (answered with status 400)."""


@dataclass
class Form:
    """The options of one request, as the page's form and the API's body name them.

    Attributes
    ----------
    expr : str
        The expression (comma-separated components), as ``jac EXPR``.
    wrt, at, onehot, functions : str or None
        As ``--wrt``, ``--at``, ``--onehot``, ``--function``.
    shapes : dict
        Name -> dimensions text (``"4x3"``), as ``--shape NAME=DIMS``.
    lets : dict
        Name -> expression, as ``--let NAME=EXPR``.
    mode : str
        ``jacobian``, ``backprop`` or ``hessian``.
    layout : str or None
        ``numerator`` or ``denominator`` (Jacobians only).
    flatten, chain, compact : bool
        As ``--flatten``, ``--chain`` and ``--compact`` (when the command has it).
    claims : list of str
        As ``--claim`` (repeatable; when the command has it).
    timeout : float or None
        Seconds for the request (at most the server's ``--timeout``).
    max_nodes : int or None
        As ``--max-nodes`` (at most the server's).
    max_entries, max_size, max_output : int or None
        As ``--max-entries``, ``--max-size``, ``--max-output`` (the server's time and
        memory limits bound what a request raised past these costs).
    """

    expr: str
    wrt: str | None = None
    shapes: dict = field(default_factory=dict)
    lets: dict = field(default_factory=dict)
    functions: str | None = None
    mode: str = "jacobian"
    layout: str | None = None
    onehot: str | None = None
    at: str | None = None
    flatten: bool = False
    chain: bool = False
    compact: bool = False
    claims: list = field(default_factory=list)
    timeout: float | None = None
    max_nodes: int | None = None
    max_entries: int | None = None
    max_size: int | None = None
    max_output: int | None = None

    def arguments(self, fmt: str | None = None) -> list[str]:
        """The ``jac`` arguments of this request (options first, then ``--`` and the
        expression), with the output format ``fmt`` (one of :data:`FORMATS`; claims go
        only with JSON, whose document holds their verdicts)."""
        return self.options(fmt) + ["--", self.expr]

    def options(self, fmt: str | None = None, limits: bool = False) -> list[str]:
        """The ``jac`` options, without the expression; ``limits``: with the request's own
        ``--timeout`` and ``--max-nodes`` (the command line shown to the user)."""
        args: list[str] = list(MODES[self.mode])
        if self.wrt:
            args += ["--wrt", self.wrt]
        for name, dims in self.shapes.items():
            args += ["--shape", f"{name}={dims}"]
        for name, expr in self.lets.items():
            args += ["--let", f"{name}={expr}"]
        if self.functions:
            args += ["--function", self.functions]
        if self.layout:
            args += ["--layout", self.layout]
        if self.onehot:
            args += ["--onehot", self.onehot]
        if self.at:
            args += ["--at", self.at]
        if self.flatten:
            args.append("--flatten")
        if self.chain:
            args.append("--chain")
        if self.compact:
            args.append("--compact")
        if fmt in CLAIM_FORMATS:
            for claim in self.claims:
                args += ["--claim", claim]
        for name in RAISABLE:
            if getattr(self, name) is not None:
                args += ["--" + name.replace("_", "-"), str(getattr(self, name))]
        if limits and self.timeout is not None:
            args += ["--timeout", f"{self.timeout:g}"]
        if limits and self.max_nodes is not None:
            args += ["--max-nodes", str(self.max_nodes)]
        if fmt is not None:
            args += FORMATS[fmt]
        return args

    def command_line(self, fmt: str | None = None) -> str:
        """The equivalent ``jac`` command, quoted for a POSIX shell.

        >>> Form("sin(x1-x2), cos(x1-x2)", wrt="x1,x2").command_line()
        "jac 'sin(x1-x2), cos(x1-x2)' --wrt x1,x2"
        >>> Form("serve").command_line()
        'jac -- serve'
        """
        options = self.options(fmt, limits=True)
        if self.expr.strip() == "serve" or self.expr.startswith("--") \
                or (self.expr.startswith("-") and len(self.expr) <= 2):
            return shlex.join(["jac", *options, "--", self.expr])
        return shlex.join(["jac", self.expr, *options])

    def query(self) -> list[tuple[str, str]]:
        """The page's URL parameters for this request (see :func:`from_query`)."""
        items = [("expr", self.expr)]
        for name in ("wrt", "functions", "layout", "onehot", "at"):
            if getattr(self, name):
                items.append((name, getattr(self, name)))
        items += [("shape", f"{n}={d}") for n, d in self.shapes.items()]
        items += [("let", f"{n}={e}") for n, e in self.lets.items()]
        if self.mode != "jacobian":
            items.append(("mode", self.mode))
        items += [(flag, "1") for flag in ("flatten", "chain", "compact") if getattr(self, flag)]
        items += [("claim", claim) for claim in self.claims]
        items += [(name, f"{getattr(self, name):g}" if name == "timeout" else str(getattr(self, name)))
                  for name in ("timeout", "max_nodes", *RAISABLE) if getattr(self, name) is not None]
        return items


#: Fields of the JSON body, and what each must be.
_BODY = {"expr": str, "wrt": str, "shapes": dict, "lets": dict, "functions": (str, list),
         "mode": str, "layout": str, "onehot": str, "at": str, "flatten": bool,
         "chain": bool, "compact": bool, "claims": (list, str), "timeout": (int, float), "max_nodes": int, "max_entries": int,
         "max_size": int, "max_output": int}


def from_json(body: object) -> Form:
    """The form a JSON body describes (``{"expr": ..., "shapes": {"X": "4x3"}, ...}``).

    >>> from_json({"expr": "A@x", "wrt": "x", "shapes": {"A": [2, 3], "x": 3}}).arguments()
    ['--wrt', 'x', '--shape', 'A=2x3', '--shape', 'x=3', '--', 'A@x']
    >>> from_json({"expr": "x", "mode": "hessain"})
    Traceback (most recent call last):
    ...
    jacobian_calc.web.form.FormError: unknown mode 'hessain'; choose jacobian, backprop or hessian
    """
    if not isinstance(body, dict):
        raise FormError("the body must be a JSON object of options, "
                        'e.g. {"expr": "sin(x1-x2), cos(x1-x2)", "wrt": "x1,x2"}')
    unknown = sorted(set(body) - set(_BODY))
    if unknown:
        raise FormError(f"unknown option {unknown[0][:40]!r}; known: {', '.join(_BODY)}")
    values = {}
    for name, value in body.items():
        kind = _BODY[name]
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)) \
                or (name == "timeout" and isinstance(value, bool)):
            raise FormError(f"option {name!r} must be {_KIND_WORDS[name]}")
        values[name] = value
    if isinstance(values.get("functions"), list):
        values["functions"] = ",".join(_text("functions", f) for f in values["functions"])
    if isinstance(values.get("claims"), str):
        values["claims"] = [values["claims"]]
    if "claims" in values:
        if len(values["claims"]) > MAX_ITEMS:
            raise FormError(f"at most {MAX_ITEMS} claims")
        values["claims"] = [_text("claims", c) for c in values["claims"]]
    values["shapes"] = {_name(n): _dims(n, d) for n, d in _items("shapes", values.get("shapes"))}
    values["lets"] = {_name(n): _text("lets", e) for n, e in _items("lets", values.get("lets"))}
    return _checked(values)


def from_query(items: list[tuple[str, str]]) -> Form:
    """The form of the page's URL (``?expr=...&wrt=...&shape=X%3D4x3&mode=backprop``).

    >>> from_query([("expr", "X@W"), ("shape", "X=2x3"), ("shape", "W=3x2"), ("wrt", "W")]).shapes
    {'X': '2x3', 'W': '3x2'}
    """
    values: dict = {"shapes": {}, "lets": {}, "claims": []}
    for key, value in items:
        if key in ("shape", "let"):
            name, sep, rest = value.partition("=")
            if not sep:
                raise FormError(f"malformed {key} {value[:40]!r}: expected NAME=" +
                                ("DIMS" if key == "shape" else "EXPR"))
            target = values["shapes" if key == "shape" else "lets"]
            if name.strip() in target:
                raise FormError(f"{name.strip()[:40]} is given twice in {key}")
            target[_name(name.strip())] = (_dims(name, rest.strip()) if key == "shape"
                                           else _text("let", rest))
        elif key == "claim":
            values["claims"].append(_text("claim", value))
        elif key in ("flatten", "chain", "compact"):
            values[key] = value not in ("", "0", "false")
        elif key in ("timeout", "max_nodes", *RAISABLE):
            values[key] = _number(key, value)
        elif key in _BODY and key not in ("shapes", "lets"):
            if value != "":
                values[key] = value
        else:
            raise FormError(f"unknown parameter {key[:40]!r}")
    if len(values["shapes"]) + len(values["lets"]) + len(values["claims"]) > MAX_ITEMS:
        raise FormError(f"at most {MAX_ITEMS} shapes, intermediates and claims")
    return _checked(values)


_KIND_WORDS = {"expr": "a string", "wrt": "a string", "shapes": "an object NAME: DIMS",
               "lets": "an object NAME: EXPR", "functions": "a string or a list of strings",
               "mode": "a string", "layout": "a string", "onehot": "a string", "at": "a string",
               "flatten": "true or false", "chain": "true or false",
               "compact": "true or false", "claims": "a string or a list of strings",
               "timeout": "a number of seconds", "max_nodes": "an integer",
               "max_entries": "an integer", "max_size": "an integer", "max_output": "an integer"}


def _checked(values: dict) -> Form:
    expr = values.pop("expr", None)
    if expr is None or not expr.strip():
        raise FormError("no expression given; try sin(x1-x2), cos(x1-x2) with wrt x1,x2")
    for name in ("expr", "wrt", "functions", "onehot", "at", "layout", "mode"):
        if name in values or name == "expr":
            _text(name, expr if name == "expr" else values[name])
    mode = values.get("mode", "jacobian")
    if mode not in MODES:
        raise FormError(f"unknown mode {mode[:40]!r}; choose jacobian, backprop or hessian")
    layout = values.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise FormError(f"unknown layout {layout[:40]!r}; choose numerator or denominator")
    timeout = values.get("timeout")
    if timeout is not None and not (0 < timeout < float("inf")):
        raise FormError("timeout must be a positive number of seconds")
    if values.get("compact") and "--compact" not in jac_options():
        raise FormError("this version of jac has no compact Jacobians (--compact)")
    if values.get("claims") and "--claim" not in jac_options():
        raise FormError("this version of jac has no claims (--claim)")
    for name in ("max_nodes", *RAISABLE):
        if values.get(name) is not None and values[name] < 1:
            raise FormError(f"{name} must be a positive integer")
    return Form(expr=expr, **values)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise FormError(f"option {name!r} must be a string")
    if len(value) > MAX_TEXT:
        raise FormError(f"option {name!r} is longer than {MAX_TEXT:,} characters")
    if "\x00" in value:
        raise FormError(f"option {name!r} contains a NUL character")
    return value


def _name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 100:
        raise FormError(f"{str(name)[:40]!r} is not a name (letters, digits, _)")
    return name


def _dims(name: str, dims: object) -> str:
    if isinstance(dims, int) and not isinstance(dims, bool):
        dims = [dims]
    if isinstance(dims, list) and dims and all(type(d) is int for d in dims):
        dims = "x".join(str(d) for d in dims)
    if isinstance(dims, list) and dims and all(isinstance(d, (int, str)) and
                                               not isinstance(d, bool) for d in dims):
        dims = "x".join(str(d) for d in dims)  # symbolic sizes: ["N", "d"]
    if not isinstance(dims, str) or not _DIMS.match(dims.strip()):
        raise FormError(f"the shape of {str(name)[:40]} must be dimensions such as 4x3, 3 "
                        "or [4, 3]")
    return dims.strip()


def _items(name: str, value: dict | None) -> list[tuple[str, object]]:
    if value is None:
        return []
    if len(value) > MAX_ITEMS:
        raise FormError(f"at most {MAX_ITEMS} entries in {name}")
    return list(value.items())


def _number(name: str, text: str) -> float | int:
    try:
        return float(text) if name == "timeout" else int(text)
    except ValueError:
        raise FormError(f"{name} must be a number, got {text[:40]!r}") from None
