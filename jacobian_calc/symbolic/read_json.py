"""Reading ``jac --format json`` output back into SymPy objects, safely.

Entries are read by the calculator's own parser (an allow-list; nothing is
evaluated by Python) and built with the calculator's real symbols, so a
document that came from untrusted input can be read without running
anything. ``sympy.sympify`` is never used.

A ``"shared"`` object (``{"S1": "exp(l_1) + exp(l_2)"}``, written when
subexpressions shared by many entries are printed once) is read first, each
definition in terms of the earlier ones, and its names are substituted into
the entries of the object that holds it.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import sympy as sp

from ..core import budget
from ..core.errors import JacobianError, JacobianTypeError
from ..core.grid import Grid
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.names import check_name
from ..parsing import declared_name, parse_expression
from .evaluate import Env, evaluate

#: Keys whose values are entries (nested lists of expressions in the calculator's syntax).
ENTRY_KEYS = ("entries", "explicit", "expanded")


def read_entry(text: str, functions: Iterable[str] = (),
               limits: Limits = DEFAULT_LIMITS, shared: dict | None = None) -> sp.Expr:
    """One printed entry as a SymPy expression (symbols are real, as the calculator's).

    ``shared`` maps names of shared subexpressions to their values.

    Examples
    --------
    >>> read_entry("-cos(x1 - x2)")
    -cos(x1 - x2)
    """
    if not isinstance(text, str):
        raise JacobianTypeError(f"an entry must be a string, not {type(text).__name__}")
    if isinstance(functions, str) or not all(isinstance(f, str) for f in functions):
        raise JacobianTypeError("functions must be a list of names")
    values = {name: Grid.scalar(v) for name, v in (shared or {}).items()}
    with budget.request(limits):
        return evaluate(parse_expression(text, limits, functions), Env({}, values)).item()


def read_json(text: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A ``jac --format json`` document with its entries as SymPy objects.

    Every ``entries`` (and backprop ``explicit`` and ``expanded``) value
    becomes a SymPy ``Matrix`` (two dimensions) or ``Array``; numbers and the
    ``sympy`` strings (for plain SymPy) stay as they are.

    Examples
    --------
    >>> doc = read_json('{"layout": "numerator", "of": ["x*y"], "jacobians": '
    ...                 '[{"wrt": ["x", "y"], "shape": [1, 2], "entries": [["y", "x"]]}]}')
    >>> doc["jacobians"][0]["entries"]
    Matrix([[y, x]])
    """
    if not isinstance(text, (str, bytes)):
        raise JacobianTypeError(f"read_json reads a JSON string, not {type(text).__name__}")
    if not isinstance(limits, Limits):
        raise JacobianTypeError(f"limits must be a Limits object, not {type(limits).__name__}")
    if len(text) > limits.max_output:
        raise JacobianError(f"the document is longer than {limits.max_output:,} characters",
                            hint="raise {{max_output}}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JacobianError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise JacobianError("not valid JSON: the bytes are not UTF-8 text") from None
    except RecursionError:
        raise JacobianError("the document is nested too deeply") from None
    functions = doc.get("functions", []) if isinstance(doc, dict) else []
    if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
        raise JacobianError("\"functions\" must be a list of names")
    for name in functions:
        declared_name(name, "function name")
    try:
        with budget.request(limits):
            return _convert(doc, functions, limits, {})
    except RecursionError:
        raise JacobianError("the document is nested too deeply") from None


def _convert(value, functions, limits, shared):
    if isinstance(value, dict):
        if "shared" in value:
            shared = _shared(value["shared"], functions, limits, shared)
        return {k: (_entries(v, functions, limits, shared) if k in ENTRY_KEYS else
                    {name: shared[name] for name in v} if k == "shared" else
                    _convert(v, functions, limits, shared)) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, functions, limits, shared) for v in value]
    return value


def _shared(definitions, functions, limits, outer: dict) -> dict:
    """Named shared subexpressions, each read in terms of the ones before it."""
    if not isinstance(definitions, dict):
        raise JacobianError("\"shared\" must be an object of NAME: expression")
    shared = dict(outer)
    for name, text in definitions.items():
        check_name(name, "shared subexpression name")
        if not isinstance(text, str):
            raise JacobianError(f"shared subexpression {name} must be a string")
        shared[name] = read_entry(text, functions, limits, shared)
    return shared


def _entries(value, functions, limits, shared):
    try:
        grid = Grid.from_nested(value)
    except ValueError:
        raise JacobianError("ragged entries in the document") from None
    if any(isinstance(v, str) for v in grid.flat):
        grid = grid.map(lambda v: read_entry(v, functions, limits, shared) if isinstance(v, str)
                        else sp.Float(v) if _is_number(v) else _bad(v))
    elif not all(_is_number(v) for v in grid.flat):
        _bad(next(v for v in grid.flat if not _is_number(v)))
    else:
        return value  # numbers (a point's values) stay as they are
    if grid.ndim == 2:
        return sp.Matrix(grid.shape[0], grid.shape[1], grid.flat)
    if grid.ndim == 0:
        return grid.item()
    return sp.ImmutableDenseNDimArray(grid.flat, grid.shape)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bad(value):
    raise JacobianError(f"an entry must be a string or a number, not {type(value).__name__}")
