"""Turning a point (``{"x": 0.5, "A": [[1, 2], [3, 4]]}``) into values of symbols.

Keys may be names or SymPy symbols; an array's value is nested lists (or a
NumPy array) of its declared shape, or its entries may be given one by one
(``A_1_2``). Every value must be a finite real number: a number, an exact
SymPy number, or text in the calculator's syntax (``"pi/4"``, read by its own
parser). Complex values and anything else are refused, and nothing is passed
to ``sympify``.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Mapping

import numpy as np
import sympy as sp

from ..core import budget
from ..core.errors import JacobianError, JacobianTypeError
from ..core.grid import Grid, Shape, ndindex
from ..core.tree import Name, Node, walk
from ..parsing import parse_expression
from ..parsing.points import number_tree, parse_point
from .evaluate import Env, evaluate
from .float_tree import float_evaluate
from .measure import short_text
from .numeric import float_eval, free_symbols
from .symbols import entry_name


def point_values(at: Mapping, arrays: Mapping[str, Shape]) -> dict[str, float]:
    """``{entry or scalar name: float}`` for a point, arrays expanded to their entries."""
    if not isinstance(at, Mapping):
        raise JacobianTypeError(f"{{{{at}}}} must be a mapping of names to values, not "
                                f"{type(at).__name__}")
    out: dict[str, float] = {}
    given: dict[str, str] = {}  # entry name -> the key that gave it
    for key, value in at.items():
        name = key.name if isinstance(key, sp.Symbol) else key
        if not isinstance(name, str):
            raise JacobianTypeError(f"{{{{at}}}} keys must be names or SymPy symbols, "
                                    f"not {type(key).__name__}")
        if name in arrays and arrays[name]:
            values = _array_values(name, value, arrays[name])
        else:
            values = {name: to_float(value, name)}
        for entry in values:
            if entry in given:
                array = next((n for n in (given[entry], name) if n != entry), None)
                raise JacobianError(f"{entry} is given twice in {{{{at}}}}"
                                    + (f": alone and inside {array}" if array else ""))
            given[entry] = name
        out.update(values)
    return out


def _array_values(name: str, value, shape: Shape) -> dict[str, float]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    try:
        grid = Grid.from_nested(value)
    except ValueError:
        raise JacobianError(f"value of {name} is a ragged list") from None
    if grid.shape != tuple(shape):
        got = "x".join(map(str, grid.shape)) or "a scalar"
        raise JacobianError(f"value of {name} has shape {got}, but {name} is declared "
                            f"{'x'.join(map(str, shape))}")
    return {entry_name(name, index): to_float(v, f"{name}{list(index)}")
            for index, v in zip(ndindex(grid.shape), grid.flat)}


def to_float(value, name: str) -> float:
    """One finite real number from a number, an exact SymPy number, text or a parsed tree."""
    if isinstance(value, str):
        try:
            value = number_tree(value, name)
        except JacobianError as exc:
            raise JacobianError(f"value for {name}: {str(exc)}") from None
    if isinstance(value, Node):
        value = evaluate(value, Env()).item()
    if isinstance(value, bool) or value is None:
        raise JacobianTypeError(f"value for {name} must be a number, got {value!r}"[:120])
    if isinstance(value, sp.Basic):
        number = _sympy_float(value, name)
    elif isinstance(value, (numbers.Real, Fraction)):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        except Exception:  # noqa: BLE001 - a number type whose conversion fails
            raise JacobianTypeError(f"value for {name} cannot be converted to a float") \
                from None
    elif isinstance(value, numbers.Complex):
        raise JacobianError(f"value for {name} is complex ({value}); only real numbers")
    else:
        raise JacobianTypeError(f"value for {name} must be a number, not "
                                f"{type(value).__name__}")
    if not np.isfinite(number):
        raise JacobianError(f"value for {name} is not finite (or too large for floating "
                            "point)")
    return number


def _sympy_float(value: sp.Basic, name: str) -> float:
    if free_symbols([value]):
        raise JacobianError(f"value for {name} must be a number, got {short_text(value, 60)}")
    if value.has(sp.zoo, sp.oo, sp.nan):
        raise JacobianError(f"value for {name} is not finite ({short_text(value, 60)})")
    if value.is_real is False or value.has(sp.I):
        raise JacobianError(f"value for {name} is complex ({short_text(value, 60)}); "
                            "only real numbers")
    if value.is_Rational:
        return float(value)
    number = float_eval([value], {})[0]  # floats, not SymPy's arbitrary precision
    if number.ndim or not np.isfinite(number):
        raise JacobianError(f"value for {name} is not a finite real number")
    return float(number)


def known_names(variables, arrays: Mapping[str, Shape]) -> set[str]:
    """Names a point may give: scalar variables, arrays and their entries."""
    out = set(variables)
    for name, shape in arrays.items():
        out.add(name)
        out.update(entry_name(name, index) for index in ndindex(shape))
    return out


def resolve_point(at, known: set[str], arrays: Mapping[str, Shape]) -> dict[str, float]:
    """A point given as text or mapping, checked against the names a result has."""
    if isinstance(at, str):
        with budget.request():  # the text of a point: within the request's limits
            at = parse_point(at)
    keys = {k.name if isinstance(k, sp.Symbol) else k for k in at} \
        if isinstance(at, Mapping) else set()
    unknown = sorted(k for k in keys if isinstance(k, str) and k not in known)
    values = {} if unknown else point_values(at, arrays)
    unknown = unknown or sorted(set(values) - known)
    if unknown:
        entries = known_names((), arrays) - set(arrays)
        listed = sorted(known - entries)  # the arrays, not each of their entries
        raise JacobianError(f"{{{{at}}}} names {', '.join(unknown)}, which the result does "
                            f"not contain (it has: {', '.join(listed) or 'none'})")
    return values


def rows_not_summing_to_one(values: Mapping[str, float], name: str,
                            shape: Shape) -> tuple[int, float] | None:
    """The first row (1-based) of ``name`` whose entries along the last axis do not sum to
    1 at the point, and its sum; None when every row does (or no value was given)."""
    rows = [()] if len(shape) == 1 else [(i,) for i in range(shape[0])]
    for row in rows:
        keys = [entry_name(name, row + (j,)) for j in range(shape[-1])]
        if not all(k in values for k in keys):
            return None
        total = sum(values[k] for k in keys)
        if abs(total - 1.0) > 1e-12:
            return (row[0] + 1 if row else 1), total
    return None


def with_defined(values: dict[str, float], defined) -> dict[str, float]:
    """The point with the values of defined symbols added, computed in order."""
    out = dict(values)
    for symbol, expr in defined:
        if symbol.name in out:
            continue
        needed = {s: out[s.name] for s in free_symbols([expr]) if s.name in out}
        missing = sorted(s.name for s in free_symbols([expr]) if s.name not in out)
        if missing:
            raise JacobianError(f"{{{{at}}}} gives no value for {', '.join(missing)}, "
                                f"needed for {symbol.name}")
        out[symbol.name] = float(float_eval([expr], needed)[0])
    return out


def point_arrays(values: Mapping[str, float], shapes: Mapping[str, Shape],
                 names) -> dict[str, np.ndarray | float]:
    """Whole arrays (and scalars) from entry values, for the names asked for."""
    out: dict[str, np.ndarray | float] = {}
    for name in names:
        shape = tuple(shapes.get(name, ()))
        if not shape:
            if name not in values:
                raise JacobianError(f"{{{{at}}}} gives no value for {name}")
            out[name] = values[name]
            continue
        missing = [entry_name(name, i) for i in ndindex(shape) if entry_name(name, i) not in values]
        if missing:
            raise JacobianError(f"{{{{at}}}} gives no value for {name} "
                                f"(missing {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''})")
        out[name] = np.array([values[entry_name(name, i)] for i in ndindex(shape)]).reshape(shape)
    return out


def evaluate_entries(entries: Mapping[tuple, sp.Expr], at, known: set[str],
                     arrays: Mapping[str, Shape] | None = None,
                     defined=()) -> dict[tuple, float]:
    """Evaluate stored entries at one point; report poles and non-finite values.

    ``defined`` symbols (intermediates, outputs) are computed from the point first.
    """
    with budget.request():
        return _evaluate_entries(entries, at, known, arrays, defined)


def _evaluate_entries(entries, at, known, arrays, defined) -> dict[tuple, float]:
    values = with_defined(resolve_point(at, known, arrays or {}), defined)
    symbols = free_symbols(entries.values())
    needed = {s.name for s in symbols}
    missing = sorted(needed - set(values))
    if missing:
        raise JacobianError(f"{{{{at}}}} gives no value for {', '.join(missing)}")
    by_symbol = {s: values[s.name] for s in symbols}
    keys = list(entries)
    numbers = float_eval([entries[k] for k in keys], by_symbol)
    out = {}
    for key, number in zip(keys, numbers):
        value = float(number)
        if not np.isfinite(value):
            kind = "undefined (NaN)" if np.isnan(value) else "infinite (a pole or an overflow)"
            where = ", ".join(f"{n}={v:g}" for n, v in values.items() if n in needed)
            raise JacobianError(f"entry {tuple(i + 1 for i in key)} = "
                                f"{short_text(entries[key])} is {kind} at {where}")
        out[key] = value
    return out


def check_defined(outputs, name: str, at, known: set[str], arrays, defined=()) -> None:
    """Refuse a point where the differentiated function itself is undefined (``logdet``
    of a negative determinant: its derivative's formula would still give numbers).
    Skipped when the point does not give every value the function needs."""
    if not outputs:
        return
    with budget.request():
        values = with_defined(resolve_point(at, known, arrays or {}), defined)
        symbols = free_symbols(outputs)
        if any(s.name not in values for s in symbols):
            return
        numbers = float_eval(list(outputs), {s: values[s.name] for s in symbols})
    for expr, number in zip(outputs, numbers):
        if not np.isfinite(float(number)):
            where = ", ".join(f"{n}={v:g}" for n, v in values.items()
                              if n in {s.name for s in symbols})
            raise JacobianError(f"{name} is not defined at this point: {short_text(expr, 60)} "
                                f"is {'undefined' if np.isnan(float(number)) else 'infinite'} "
                                f"at {where}")


def gradient_values(explicit: Grid, compact: Node, at, shapes: Mapping[str, Shape],
                    upstream: str) -> tuple[np.ndarray, np.ndarray, float]:
    """A gradient at a point by both routes: explicit entries and the compact formula."""
    names = {s.name for s in free_symbols(explicit.flat)}
    arrays = {n: shape for n, shape in shapes.items() if shape}
    known = known_names(set(shapes) | names, arrays)
    values = resolve_point(at, known, arrays)
    missing = sorted(names - set(values))
    if missing:
        raise JacobianError(f"{{{{at}}}} gives no value for {', '.join(missing)}"
                            + (f" (the upstream gradient {upstream})" if upstream != "1"
                               and any(m.startswith(upstream) for m in missing) else ""))
    symbols = {s: values[s.name] for s in free_symbols(explicit.flat)}
    first = np.array([float(v) for v in float_eval(explicit.flat, symbols)]
                     ).reshape(explicit.shape)
    needed = {n.id for n in walk(compact) if isinstance(n, Name)}
    second = np.broadcast_to(float_evaluate(compact, point_arrays(values, shapes, needed)),
                             explicit.shape)
    for name, grid in (("explicit", first), ("compact", second)):
        if not np.all(np.isfinite(grid)):
            raise JacobianError(f"the {name} gradient is not finite at this point")
    return first, np.array(second), float(np.max(np.abs(first - second), initial=0.0))
