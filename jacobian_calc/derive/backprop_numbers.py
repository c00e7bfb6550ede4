"""The numbers of the backprop checks: random points, NumPy, exact rational points.

:func:`end_to_end` runs the forward and backward steps with NumPy (each
operation's own ``numpy`` part) at random points, as a training loop would, and
compares the gradients with the explicit derivative of the whole expression;
where the expression is rational it also compares them exactly at rational
points. :func:`random_mismatch` finds a differing entry of one step.

Kept apart from :mod:`.backprop` and :mod:`.step_check` so that importing the API
does not load NumPy: only a backprop request does.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from ..core.errors import JacobianError
from ..core.grid import Grid
from ..results.backprop import AGREES, DIFFERS, UNDECIDED, Check, EndToEnd
from ..symbolic.compare import Agreement, compare
from ..symbolic.evaluate import Env, evaluate
from ..symbolic.float_tree import float_evaluate
from ..symbolic.numeric import float_eval
from ..symbolic.sampling import TRIES, DomainSearch, draw_array
from ..symbolic.symbols import entry_name, symbol_grid
from ..symbolic.trusted import as_sympy


def random_mismatch(first: Grid, second: Grid, seed: int) -> Agreement:
    """Two grids of entries compared at random points (no symbolic work)."""
    return compare(first, second, symbolic=False, seed=seed)


def end_to_end(graph, rules, explicit: dict[str, Grid], points: int, seed: int,
               exact: int = 2) -> EndToEnd:
    """The composed compact gradients (NumPy) against the explicit ones (SymPy) at
    random points inside the domain, and exactly at ``exact`` rational points where
    everything is rational."""
    rng = np.random.default_rng(seed)
    search = _search(graph, explicit)
    compared, worst, ways = 0, 0.0, set()
    for kind in range(points):
        found = search.find(lambda k: _sample(graph, rng, k), kind)
        if found.values is None:
            continue
        ways.add(found.how)
        want, values = found.result, found.values
        got = _compact_values(graph, rules, values)
        compared += 1
        for name in graph.wrt:
            bad, error = _first_difference(want[name], got[name])
            worst = max(worst, error)
            if bad is not None:
                mismatch = (_label(name, bad), float(want[name][bad]), float(got[name][bad]))
                return EndToEnd(Check(DIFFERS, "at a random point", error, mismatch), compared,
                                chosen=_chosen(ways, compared, points))
    if not compared:
        return EndToEnd(Check(UNDECIDED, f"no point inside the domain was found in {TRIES} "
                              "random draws of each kind, each with the variables of "
                              f"{_constrained(search)} shifted"), 0)
    exact, mismatch = _exact_points(graph, rules, explicit, rng, exact)
    chosen = _chosen(ways, compared, points)
    if mismatch is not None:
        return EndToEnd(Check(DIFFERS, "at a rational point, exactly", worst, mismatch),
                        compared, exact, chosen)
    return EndToEnd(Check(AGREES, f"at {compared} random points", worst), compared, exact,
                    chosen)


def _search(graph, explicit: dict[str, Grid]) -> DomainSearch:
    """Where the output and the explicit gradients are defined; every variable but one-hot
    targets and the upstream gradient may be shifted into the domain."""
    shapes = dict(graph.variables)
    if graph.upstream:
        shapes[graph.upstream] = graph.out_shape
    y = evaluate(graph.root, Env(graph.variables))
    exprs = list(y.flat) + [e for g in explicit.values() for e in g.flat]
    adjustable = [n for n in graph.variables if n not in graph.onehot]
    output = {"": y}

    def accept(values):  # the output defined there too, not only its derivative
        return _explicit_values(explicit, values) if _explicit_values(output, values) \
            is not None else None

    return DomainSearch(exprs, shapes, adjustable, accept=accept)


def _constrained(search: DomainSearch) -> str:
    kinds = sorted({k.need for k in search.constraints})
    if not kinds:
        return "no log, sqrt or division"
    words = {"positive": "log/sqrt arguments", "nonzero": "divisions",
             "unit": "asin/acos/atanh arguments", "above one": "acosh arguments"}
    return ", ".join(words[k] for k in kinds)


def _chosen(ways: set[str], compared: int, points: int) -> str:
    """How the points were chosen, when not simply drawn at random."""
    parts = []
    if "shifted" in ways:
        parts.append("points shifted into the domain where a random draw left a log, sqrt "
                     "or division undefined")
    elif "redrawn" in ways:
        parts.append("points redrawn where a random draw was outside the domain")
    if compared < points:
        parts.append(f"{points} asked, {points - compared} without a point inside the domain")
    return "; ".join(parts)


def _label(name: str, index: tuple) -> str:
    return entry_name(f"d{name}", index) if index else f"d{name}"


def _sample(graph, rng, kind: int) -> dict[str, np.ndarray]:
    """Values of every variable (and the upstream gradient), by :func:`draw_array`;
    one-hot targets one-hot."""
    shapes = dict(graph.variables)
    if graph.upstream:
        shapes[graph.upstream] = graph.out_shape
    return {n: draw_array(rng, s, kind, "onehot" if n in graph.onehot else None)
            for n, s in shapes.items()}


def _explicit_values(explicit, values) -> dict[str, np.ndarray] | None:
    symbols = {s: np.float64(v) for n, a in values.items()
               for s, v in zip(symbol_grid(n, np.shape(a)).flat, np.ravel(a))}
    out = {}
    for name, grid in explicit.items():
        numbers = float_eval(grid.flat, symbols) if grid.size else []
        array = np.array([float(x) for x in numbers]).reshape(grid.shape)
        if not np.all(np.isfinite(array)):
            return None
        out[name] = array
    return out


def _compact_values(graph, rules, values) -> dict[str, np.ndarray]:
    """Forward steps, then backward steps, with NumPy, as a training loop would."""
    known = dict(values)
    for s in graph.steps:
        known[s.name] = float_evaluate(s.expr, known)
    for r in rules:
        value = float_evaluate(r.tree, known)
        name = f"d{r.target}"
        known[name] = known[name] + value if r.accumulate else value
    return {n: np.broadcast_to(known.get(f"d{n}", 0.0), graph.variables[n]).astype(float)
            for n in graph.wrt}


def _first_difference(want: np.ndarray, got: np.ndarray, tol: float = 1e-9):
    diff = np.abs(want - got)
    diff = np.where(np.isnan(diff), np.inf, diff)
    error = float(diff.max(initial=0.0))
    bad = np.argwhere(diff > tol * (1.0 + np.abs(want)))
    return (tuple(int(i) for i in bad[0]) if len(bad) else None), error


def _exact_points(graph, rules, explicit, rng, count: int = 2):
    """Exact comparisons at rational points: how many agreed, and the first exact
    difference (none are made when the expression is not rational). A rational point
    where the expression is undefined (``log(0)``) is replaced by another draw."""
    done = 0
    for _ in range(3 * count):
        values = {n: Grid(np.shape(a), [sp.Rational(Fraction(float(x)).limit_denominator(10))
                                        for x in np.ravel(np.round(a, 1))])
                  for n, a in _sample(graph, rng, 2).items()}
        try:
            if not _rational(graph, values):
                return done, None
            mismatch = _exact_mismatch(graph, rules, explicit, values)
        except JacobianError:  # undefined at this rational point: outside the domain
            continue
        if mismatch is not None:
            return done, mismatch
        done += 1
        if done == count:
            break
    return done, None


def _rational(graph, values: dict[str, Grid]) -> bool:
    y = evaluate(graph.root, Env(graph.variables, dict(values)))
    return all(as_sympy(e).is_Rational for e in y.flat)


def _exact_mismatch(graph, rules, explicit, values: dict[str, Grid]):
    """The first entry where the compact gradient, evaluated exactly, differs."""
    env = Env(graph.shapes, dict(values))
    for s in graph.steps:
        env.values[s.name] = evaluate(s.expr, env)
    for r in rules:
        value = evaluate(r.tree, Env(graph.shapes, env.values))
        name = f"d{r.target}"
        env.values[name] = Grid.zipmap(sp.Add, env.values[name], value) if r.accumulate \
            else value
    symbols = {s: v for n, g in values.items()
               for s, v in zip(symbol_grid(n, g.shape).flat, g.flat)}
    for name in graph.wrt:
        got = env.values.get(f"d{name}", Grid.scalar(sp.Integer(0)))
        got = got.broadcast_to(graph.variables[name])
        for index, e in explicit[name].items():
            want, have = as_sympy(e).xreplace(symbols), as_sympy(got[index])
            if want.is_Rational and have.is_Rational and want != have:
                return (_label(name, index), want, have)
    return None


__all__ = ["end_to_end", "random_mismatch"]
