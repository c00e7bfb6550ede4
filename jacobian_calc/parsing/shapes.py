"""Declared shapes: ``--shape A=2x3`` on the command line, ``shapes={"A": (2, 3)}`` in Python."""

from __future__ import annotations

import math
import operator
import re
from typing import Mapping

from ..core.errors import JacobianError, JacobianTypeError, LimitError
from ..core.grid import Shape
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.names import check_name
from ..ops import lookup

_DIMS = re.compile(r"\s*([0-9]+)\s*(?:[x×,*]\s*([0-9]+)\s*)?\Z")


#: Longest dimension read (any real shape is refused long before by ``max_size``).
MAX_DIM_DIGITS = 12


def parse_dims(text: str) -> Shape:
    """Parse ``"2x3"`` (matrix), ``"3"`` (vector) or ``"2,3"`` into a shape tuple.

    Only ASCII digits count: ``"²"`` or a full-width ``"２"`` is refused.

    Examples
    --------
    >>> parse_dims("2x3"), parse_dims(" 4 ")
    ((2, 3), (4,))
    """
    match = _DIMS.match(text) if isinstance(text, str) else None
    if not match:
        raise JacobianError(
            f"malformed dimensions {str(text)[:40]!r}: use N for a vector or MxN for a matrix")
    if any(g is not None and len(g.lstrip("0")) > MAX_DIM_DIGITS for g in match.groups()):
        raise JacobianError(f"a dimension in {str(text)[:40]!r} has more than "
                            f"{MAX_DIM_DIGITS} digits: far too large")
    dims = tuple(int(g) for g in match.groups() if g is not None)
    if any(d <= 0 for d in dims):
        raise JacobianError(f"dimensions must be positive integers, got {text!r}")
    return dims


def parse_shape_option(text: str) -> tuple[str, Shape]:
    """Parse one ``--shape NAME=DIMS`` option value."""
    name, sep, dims = text.partition("=")
    if not sep:
        raise JacobianError(f"malformed {{{{shapes}}}} {text[:40]!r}: expected NAME=DIMS, "
                            "e.g. A=2x3")
    return declared_name(name.strip(), "shape name"), parse_dims(dims)


def declared_name(name: object, what: str) -> str:
    """A name the user declares: valid, not built in, not an operation."""
    check_name(name, what)
    op = lookup(name)
    if op is not None:
        kind = "constant" if op.syntax.form == "atom" else "function"
        raise JacobianError(f"{name!r} is a built-in {kind} and cannot be used as {what}")
    if re.search(r"_\d+$", name):
        raise JacobianError(f"{what} {name!r} ends in '_<digits>', which would be confused "
                            "with entry names (A_1_2 is an entry of A); choose another name")
    return name


def _dims(name: str, dims: object) -> Shape:
    if isinstance(dims, str):
        return parse_dims(dims)
    if isinstance(dims, (list, tuple)):
        items = dims
    else:
        items = (dims,)
    try:
        if any(isinstance(d, bool) for d in items):
            raise TypeError
        shape = tuple(operator.index(d) for d in items)
    except Exception:  # noqa: BLE001 - whatever the object's __index__ does, it is no size
        raise JacobianTypeError(f"shape of {name} must be integers, a tuple of them or a "
                                f"string like '2x3', got {str(dims)[:40]!r}") from None
    if any(abs(d) >= 10 ** MAX_DIM_DIGITS for d in shape):
        raise JacobianError(f"shape of {name} has a dimension of more than {MAX_DIM_DIGITS} "
                            "digits: far too large")
    if not 1 <= len(shape) <= 2 or any(isinstance(d, bool) or d <= 0 for d in shape):
        raise JacobianError(f"shape of {name} must be 1 or 2 positive integers, "
                            f"got {str(dims)[:40]}")
    return shape


def normalize_shapes(shapes: Mapping | None, limits: Limits = DEFAULT_LIMITS) -> dict[str, Shape]:
    """Validate a ``{name: dims}`` mapping (dims as tuple, int or ``"2x3"``)."""
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise JacobianTypeError(f"shapes must be a mapping such as {{'X': (2, 3)}}, not "
                                f"{type(shapes).__name__}")
    out: dict[str, Shape] = {}
    for name, dims in shapes.items():
        name = getattr(name, "name", name)  # a SymPy Symbol or MatrixSymbol
        declared_name(name, "shape name")
        shape = _dims(name, dims)
        size = math.prod(shape)
        if size > limits.max_size:
            raise LimitError(f"{name} declared with {size:,} entries, over the limit of "
                             f"{limits.max_size:,}", limit="max_size")
        out[name] = shape
    return out
