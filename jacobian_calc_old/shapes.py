"""Declared shapes and the symbols that stand for array entries.

Entry (i, j) of a matrix ``A`` is the real symbol ``A_i_j`` (1-based), entry i
of a vector ``x`` is ``x_i``; an undeclared name is a real scalar symbol.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import sympy as sp

from .errors import JacobianError
from .limits import DEFAULT_LIMITS, Limits
from .functions import RESERVED
from .parser import check_name

Shape = tuple[int, ...]


@lru_cache(maxsize=None)
def scalar_symbol(name: str) -> sp.Symbol:
    """The real scalar symbol for ``name``."""
    return sp.Symbol(name, real=True)


def entry_symbol(name: str, index: tuple[int, ...]) -> sp.Symbol:
    """Symbol for one entry, from a 0-based index: ``entry_symbol("A", (0, 1))`` is ``A_1_2``."""
    return scalar_symbol("_".join([name, *(str(i + 1) for i in index)]))


def symbol_array(name: str, shape: Shape) -> np.ndarray:
    """Object array of entry symbols; a 0-d array holding the scalar for shape ``()``."""
    out = np.empty(shape, dtype=object)
    if shape == ():
        out[()] = scalar_symbol(name)
        return out
    for index in np.ndindex(*shape):
        out[index] = entry_symbol(name, index)
    return out


def parse_dims(text: str) -> Shape:
    """Parse ``"2x3"`` (matrix), ``"3"`` (vector) or ``"2,3"`` into a shape tuple."""
    parts = [p.strip() for p in re.split(r"[x×,*]", text.strip())] if text.strip() else []
    if not parts or len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise JacobianError(
            f"malformed dimensions {text!r}: use N for a vector or MxN for a matrix")
    dims = tuple(int(p) for p in parts)
    if any(d <= 0 for d in dims):
        raise JacobianError(f"dimensions must be positive integers, got {text!r}")
    return dims


def parse_shape_option(text: str) -> tuple[str, Shape]:
    """Parse one ``--shape NAME=DIMS`` option value."""
    name, sep, dims = text.partition("=")
    if not sep:
        raise JacobianError(f"malformed --shape {text!r}: expected NAME=DIMS, e.g. A=2x3")
    return check_name(name.strip(), "shape name"), parse_dims(dims)


def normalize_shapes(shapes: dict | None, limits: Limits = DEFAULT_LIMITS) -> dict[str, Shape]:
    """Validate a ``{name: dims}`` mapping (dims as tuple, int or ``"2x3"``)."""
    out: dict[str, Shape] = {}
    for name, dims in (shapes or {}).items():
        check_name(name, "shape name")
        if name in RESERVED:
            raise JacobianError(f"{name!r} is a built-in function or constant and cannot "
                                "be declared with --shape")
        if isinstance(dims, str):
            dims = parse_dims(dims)
        elif isinstance(dims, int):
            dims = (dims,)
        dims = tuple(dims)
        if not 1 <= len(dims) <= 2 or not all(type(d) is int and d > 0 for d in dims):
            raise JacobianError(
                f"shape of {name} must be 1 or 2 positive integers, got {dims!r}")
        size = math.prod(dims)
        if size > limits.max_size:
            raise JacobianError(
                f"{name} declared with {size:,} entries, over the limit of "
                f"{limits.max_size:,}", hint="raise it with --max-size")
        out[name] = dims
    return out


def latex_symbol_name(symbol: sp.Symbol, element_style: str = "upper") -> str | None:
    """LaTeX for an entry symbol: ``A_1_2`` -> ``A_{12}`` (``A_{1,12}`` for 2-digit indices).

    ``element_style="lower"`` writes matrix entries as ``a_{12}``. Returns None
    for names that are not entry symbols.
    """
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)((?:_\d+)+)", symbol.name)
    if not match:
        return None
    base, indices = match.group(1), match.group(2).split("_")[1:]
    sep = "," if any(len(i) > 1 for i in indices) else ""
    base_tex = sp.latex(sp.Symbol(base))
    if element_style == "lower" and len(base) == 1:
        base_tex = base.lower()
    if base.startswith("d") and len(base) > 1:
        base_tex = r"d" + sp.latex(sp.Symbol(base[1:]))
    return f"{base_tex}_{{{sep.join(indices)}}}"
