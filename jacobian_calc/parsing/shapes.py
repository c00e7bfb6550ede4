"""Declared shapes: ``--shape A=2x3`` on the command line, ``shapes={"A": (2, 3)}`` in Python.

A dimension is a positive integer or a dimension name (``--shape X=Nxd``,
``shapes={"X": ("N", "d")}``): the same name is the same size everywhere.
"""

from __future__ import annotations

import math
import operator
import re
from typing import Mapping

from ..core.budget import active_limits
from ..core.dims import names_of
from ..core.errors import JacobianError, JacobianTypeError, LimitError
from ..core.grid import Shape
from ..core.names import check_name
from ..ops import lookup

_DIM = r"(?:[0-9]+|[A-Za-z][A-Za-z0-9_]*)"
_DIMS = re.compile(rf"\s*({_DIM})\s*(?:[x×,*]\s*({_DIM})\s*)?\Z")
#: Separators that cannot be part of a name: ``nx,h`` is a matrix of nx rows.
_PLAIN_SEPARATORS = re.compile(rf"\s*({_DIM})\s*[×,*]\s*({_DIM})\s*\Z")
_INT = re.compile(r"[0-9]+\Z")


#: Longest dimension read (any real shape is refused long before by ``max_size``).
MAX_DIM_DIGITS = 12


def parse_dims(text: str) -> Shape:
    """Parse ``"2x3"`` (matrix), ``"3"`` (vector), ``"2,3"`` or ``"Nxd"`` into a shape tuple.

    A dimension is a positive integer or a dimension name (an identifier).
    Only ASCII digits count: ``"²"`` or a full-width ``"２"`` is refused. A
    name containing ``x`` is separated with a comma: ``"nx,h"``.

    Examples
    --------
    >>> parse_dims("2x3"), parse_dims(" 4 "), parse_dims("Nxd"), parse_dims("3xh")
    ((2, 3), (4,), ('N', 'd'), (3, 'h'))
    """
    match = None
    if isinstance(text, str):
        match = _PLAIN_SEPARATORS.match(text) or _split_x(text) or _DIMS.match(text)
    if not match:
        raise JacobianError(f"malformed dimensions {str(text)[:40]!r}: use n for a vector or "
                            "mxn for a matrix, numbers or dimension names (Nxd)")
    if any(g is not None and g.isdigit() and len(g.lstrip("0")) > MAX_DIM_DIGITS
           for g in match.groups()):
        raise JacobianError(f"a dimension in {str(text)[:40]!r} has more than "
                            f"{MAX_DIM_DIGITS} digits: far too large")
    dims = tuple(_dim(g) for g in match.groups() if g is not None)
    if any(type(d) is int and d <= 0 for d in dims):
        raise JacobianError(f"dimensions must be positive integers, got {text!r}")
    return dims


def _split_x(text: str):
    """``Nxd`` read as two dimensions when exactly one ``x`` splits it into two."""
    parts = text.strip().split("x")
    if len(parts) != 2:
        return None
    return _DIMS.match(f"{parts[0]},{parts[1]}")


def _dim(text: str) -> int | str:
    if _INT.match(text):
        return int(text)
    return dimension_name(text)


def dimension_name(name: str) -> str:
    """A dimension name: an identifier that is not an operation, constant or built-in."""
    check_name(name, "dimension name")
    if lookup(name) is not None:
        raise JacobianError(f"{name!r} is a built-in name and cannot be used as a dimension "
                            "name")
    return name


def dimension_names(shapes: Mapping[str, Shape]) -> set[str]:
    """Every dimension name used in ``shapes``.

    Examples
    --------
    >>> sorted(dimension_names({"X": ("N", "d"), "W": ("d", 3)}))
    ['N', 'd']
    """
    return {n for shape in shapes.values() for d in shape for n in names_of(d)}


def is_symbolic(shapes: Mapping[str, Shape]) -> bool:
    """Whether any declared shape has a dimension name."""
    return bool(dimension_names(shapes))


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
        shape = tuple(_api_dim(d) for d in items)
    except JacobianError:
        raise
    except Exception:  # noqa: BLE001 - whatever the object's __index__ does, it is no size
        raise JacobianTypeError(f"shape of {name} must be integers or dimension names, a "
                                f"tuple of them or a string like '2x3', got "
                                f"{str(dims)[:40]!r}") from None
    if any(type(d) is int and abs(d) >= 10 ** MAX_DIM_DIGITS for d in shape):
        raise JacobianError(f"shape of {name} has a dimension of more than {MAX_DIM_DIGITS} "
                            "digits: far too large")
    if not 1 <= len(shape) <= 2 or any(type(d) is int and d <= 0 for d in shape):
        raise JacobianError(f"shape of {name} must be 1 or 2 positive integers or dimension "
                            f"names, got {str(dims)[:40]}")
    return shape


def _api_dim(d: object) -> int | str:
    """One dimension given from Python: an integer, a name, or a SymPy symbol."""
    if isinstance(d, str):
        return dimension_name(d)
    if getattr(d, "is_Symbol", False):
        return dimension_name(str(d.name))
    return operator.index(d)


def normalize_shapes(shapes: Mapping | None) -> dict[str, Shape]:
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
        if any(isinstance(d, str) for d in shape):
            out[name] = shape
            continue
        size = math.prod(shape)
        if size > active_limits().max_size:
            raise LimitError(f"{name} declared with {size:,} entries, over the limit of "
                             f"{active_limits().max_size:,}", limit="max_size")
        out[name] = shape
    _check_dimension_names(out)
    return out


def _check_dimension_names(shapes: Mapping[str, Shape]) -> None:
    """A dimension name is a size, never also a declared array."""
    for name in sorted(dimension_names(shapes) & set(shapes)):
        raise JacobianError(f"{name!r} is both a dimension name and a declared array; "
                            "choose another name for one of them")
