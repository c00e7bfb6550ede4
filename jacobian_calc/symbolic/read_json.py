"""Reading ``jac --format json`` output back into SymPy objects, safely.

Entries are read by the calculator's own parser (an allow-list; nothing is
evaluated by Python) and built with the calculator's real symbols, so a
document that came from untrusted input can be read without running
anything. ``sympy.sympify`` is never used.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import sympy as sp

from ..core.errors import JacobianError, JacobianTypeError
from ..core.grid import Grid
from ..core.limits import DEFAULT_LIMITS, Limits
from ..parsing import parse_expression
from .evaluate import Env, evaluate

#: Keys whose values are entries (nested lists of expressions in the calculator's syntax).
ENTRY_KEYS = ("entries", "explicit", "expanded")


def read_entry(text: str, functions: Iterable[str] = (),
               limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """One printed entry as a SymPy expression (symbols are real, as the calculator's).

    Examples
    --------
    >>> read_entry("-cos(x1 - x2)")
    -cos(x1 - x2)
    """
    if not isinstance(text, str):
        raise JacobianTypeError(f"an entry must be a string, not {type(text).__name__}")
    return evaluate(parse_expression(text, limits, functions), Env()).item()


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
    if len(text) > limits.max_output:
        raise JacobianError(f"the document is longer than {limits.max_output:,} characters")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JacobianError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    functions = doc.get("functions", []) if isinstance(doc, dict) else []
    return _convert(doc, functions, limits)


def _convert(value, functions, limits):
    if isinstance(value, dict):
        return {k: (_entries(v, functions, limits) if k in ENTRY_KEYS else
                    _convert(v, functions, limits)) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, functions, limits) for v in value]
    return value


def _entries(value, functions, limits):
    try:
        grid = Grid.from_nested(value)
    except ValueError:
        raise JacobianError("ragged entries in the document") from None
    if any(isinstance(v, str) for v in grid.flat):
        grid = grid.map(lambda v: read_entry(v, functions, limits) if isinstance(v, str)
                        else sp.Float(v) if isinstance(v, (int, float)) else _bad(v))
    elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in grid.flat):
        _bad(next(v for v in grid.flat if not isinstance(v, (int, float))))
    else:
        return value  # numbers (a point's values) stay as they are
    if grid.ndim == 2:
        return sp.Matrix(grid.shape[0], grid.shape[1], grid.flat)
    if grid.ndim == 0:
        return grid.item()
    return sp.ImmutableDenseNDimArray(grid.flat, grid.shape)


def _bad(value):
    raise JacobianError(f"an entry must be a string or a number, not {type(value).__name__}")
