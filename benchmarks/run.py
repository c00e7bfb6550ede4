"""jacobian_calc against SymPy's own route (and SymEngine's), case by case, in one run.

    python benchmarks/run.py                      # every case at full size
    python benchmarks/run.py --quick              # small sizes, fewer repetitions
    python benchmarks/run.py --cases softmax,xw   # some groups (or names: "X@W n=32")
    python benchmarks/run.py --budget 60 --markdown

Run it from a checkout (it puts the checkout first on ``sys.path`` and on the
``PYTHONPATH`` of the processes it starts, so an installed copy is not
measured by mistake). Groups: ``softmax``, ``input`` (the softmax by its three input
paths: text, plain SymPy symbols, ``real=True`` symbols), ``trig``, ``xw`` (4-D ``X@W``
Jacobians), ``backprop`` (``X@W`` backprop), ``mlp`` (the two MLP losses) and
``cli`` (whole-process times of the ``jac`` command) and ``sizes`` (backprop
at symbolic sizes, and large concrete requests checked at small sizes, against
the full-size route of the same request).

Every case computes the same thing by SymPy's own route and by ours, asserts
that the two results are equal entry by entry (structurally, else after
``expand``, else after ``simplify``; the ``check`` column says which was
needed), and prints one row: SymPy's time, ours, SymEngine's (its native
``Matrix.jacobian`` on SymEngine objects, where it computes the same thing),
the ratios SymPy / ours and ours / SymEngine, and our peak memory.

How it is timed
---------------
* Every timed call gets freshly built inputs, and SymPy's cache and our
  constructors' identity caches are cleared just before it, so that no route
  profits from work (or assumptions cached on objects) of another route or of
  an earlier repetition.
* Ours runs in this process, best of ``--repeat`` calls (long runs once).
  SymPy's and SymEngine's routes run in a forked child with a time budget
  (``--budget``) and an address-space cap (``--memory-cap``): a baseline
  that would take longer is skipped with a note instead of stalling the run,
  and one that would exhaust memory fails alone. The child then checks the
  results: SymPy's entry by entry against ours, SymEngine's numerically at a
  random point (on up to ``--numeric-entries`` entries).
* Ours runs under the package's own time limit (``--our-budget`` seconds per
  call), as a user's call would.
* The clock is process CPU time by default: every route is single-threaded
  and the machine may be shared; ``--clock wall`` measures elapsed time. The
  ``jac`` rows start fresh interpreters and are always wall clock.
* Peak memory: tracemalloc's peak during one more call of ours (what the call
  allocates, its result included). For the memory cases (``X@W`` n=32 and
  n=64, the n=32 backprop) also the maximum resident set size of a fresh
  process that makes the same call (``VmHWM``), with what the process held
  before the call (interpreter, SymPy, NumPy, the package, inputs) in a note.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sympy as sp  # noqa: E402 - after the checkout is put first on the path
from sympy.core.cache import clear_cache  # noqa: E402

import jacobian_calc as jc  # noqa: E402
from jacobian_calc.symbolic.autodiff import Differentiator  # noqa: E402
from jacobian_calc.symbolic.canonical import clear_caches  # noqa: E402
from jacobian_calc.symbolic.functions import relu  # noqa: E402
from jacobian_calc.symbolic.numeric import float_eval  # noqa: E402
from jacobian_calc.symbolic.symbols import scalar_symbol  # noqa: E402

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
MiB = 2 ** 20

#: Goals of interactive speed, checked at the end of the report.
SPEED_CASES = ("softmax K=60", "softmax K=100", "trig n=60")
MIN_SPEEDUP, MAX_SYMENGINE_RATIO = 20.0, 2.0
MAX_COLD_RATIO, MAX_INSTANT = 1.2, 0.15
MLP_SECONDS, BACKPROP_MIB = 2.0, 100.0


def symengine():
    """The ``symengine`` module, or None. Imported on first use only, so that the
    fresh processes measuring our memory do not load it."""
    try:
        import symengine as se
    except ImportError:
        return None
    return se


# -- cases ------------------------------------------------------------------------------

@dataclass
class Route:
    """``run(make())`` is timed; ``make`` builds the inputs and is not."""

    make: Callable[[], object]
    run: Callable[[object], object]


@dataclass
class Case:
    """One row (two when ``bare`` is given), and how to tell that results are equal.

    ``check(ours, sympys)`` raises AssertionError on a difference and returns
    the cheapest test that proved equality; ``check_bare`` does the same for
    the bare route's result; ``numeric(ours, symengines)`` returns pairs
    ``(our entry, SymEngine's entry)`` to compare at a random point.
    """

    group: str
    name: str
    ours: Route
    check: Callable[[object, object], str]
    sympy: Route | None = None
    sympy_note: str = ""          # why SymPy's route is not attempted
    symengine: Callable[[], Route] | None = None
    numeric: Callable[[object, object, random.Random, int], list] | None = None
    bare: Route | None = None
    check_bare: Callable[[object, object], str] | None = None
    memory: bool = False          # also the max RSS of a fresh process
    note: str = ""


@dataclass
class Row:
    name: str
    sympy_time: float | None = None
    our_time: float | None = None
    symengine_time: float | None = None
    peak: int | None = None
    rss: int | None = None
    check: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def speedup(self) -> float | None:
        """SymPy / ours."""
        if self.sympy_time is None or not self.our_time:
            return None
        return self.sympy_time / self.our_time

    @property
    def against_symengine(self) -> float | None:
        """Ours / SymEngine."""
        if self.symengine_time is None or self.our_time is None or not self.symengine_time:
            return None
        return self.our_time / self.symengine_time


def limits(timeout: float) -> jc.Limits:
    """Limits that admit every case: the text of softmax K=100 is 110,000 characters,
    X@W n=64 differentiates 4,096 entries; ours stops after ``timeout`` seconds
    (``--our-budget``)."""
    return jc.Limits(max_length=10 ** 7, max_depth=10 ** 4, max_nodes=10 ** 9, timeout=timeout)


#: The limits of every call of ours (main() sets the timeout from --our-budget).
LIMITS = limits(900.0)


# -- equality -----------------------------------------------------------------------------

def same_entries(ours, theirs, mask: dict | None = None) -> str:
    """Assert entrywise equality; return the cheapest test that sufficed.

    ``mask`` maps shared subexpressions to fresh symbols before expanding (the
    substitution is applied to both sides, so a zero difference after it is a
    proof of equality, and it keeps ``expand`` from multiplying them out).
    """
    used = {"identical": 0, "expand": 0, "simplify": 0}
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs), f"{len(ours)} entries against {len(theirs)}"
    for a, b in zip(ours, theirs):
        used[_equal_by(sp.sympify(a), sp.sympify(b), mask)] += 1
    if len(ours) == 1:
        return next(k for k, v in used.items() if v)
    return ", ".join(f"{k} {v:,}" for k, v in used.items() if v)


def _equal_by(a: sp.Expr, b: sp.Expr, mask: dict | None) -> str:
    if a == b:
        return "identical"
    difference = (a - b).xreplace(mask) if mask else a - b
    if sp.expand(difference) == 0:
        return "expand"
    if sp.simplify(a - b) == 0:
        return "simplify"
    raise AssertionError(f"entries differ:\n  ours:  {a}\n  sympy: {b}")


def _flat(matrix) -> list:
    """Entries of a Matrix or an Array, row-major."""
    return list(sp.flatten(matrix.tolist()))


def dense_pairs(ours, theirs, rng: random.Random, limit: int) -> list:
    """(ours, theirs) entry pairs of two equally shaped matrices; a sample if large."""
    rows, cols = ours.shape
    positions = [(i, j) for i in range(rows) for j in range(cols)]
    if len(positions) > limit:
        positions = rng.sample(positions, limit)
    return [(ours[i, j], theirs[i, j]) for i, j in positions]


def numeric_agreement(pairs: list, rng: random.Random) -> str:
    """Compare our entries with SymEngine's at one random point; raise if they differ."""
    se = symengine()
    names = sorted({str(s) for pair in pairs for e in pair for s in e.free_symbols})
    point = {name: rng.uniform(-1.0, 1.0) for name in names}
    theirs = se.Lambdify([se.Symbol(n) for n in names], [e for _, e in pairs])(
        [point[n] for n in names]) if names else [float(e) for _, e in pairs]
    ours = float_eval([sp.sympify(a) for a, _ in pairs],
                      {scalar_symbol(n): v for n, v in point.items()})
    worst = 0.0
    for (a, b), x, y in zip(pairs, ours, list(theirs)):
        error = abs(float(x) - float(y)) / max(1.0, abs(float(y)))
        if not error <= 1e-9:
            raise AssertionError(f"SymEngine differs at a random point:\n  ours:      {a}"
                                 f"\n  symengine: {b}")
        worst = max(worst, error)
    return f"{len(pairs):,} entries at a random point (max rel. error {worst:.1g})"


# -- cases: softmax and the dense trig system ------------------------------------------------

def softmax_case(K: int) -> Case:
    """Explicit K x K Jacobian of softmax written out component by component.

    Ours is given the text a user would type; SymPy's route is
    ``Matrix.jacobian`` on SymPy's expressions; the bare route is only the
    derivatives (``Differentiator.gradient`` over the entries, the part of
    ``jacobian`` that replaces ``Matrix.jacobian``), on SymPy's expressions.
    """
    names = [f"l{i + 1}" for i in range(K)]
    total = " + ".join(f"exp({n})" for n in names)
    text = ", ".join(f"exp({n})/({total})" for n in names)

    def exprs():
        l = [scalar_symbol(n) for n in names]
        S = sp.Add(*[sp.exp(s) for s in l])
        return [sp.exp(s) / S for s in l], l

    def se_route() -> Route:
        se = symengine()

        def make():
            l = se.symbols(" ".join(names))
            S = sum((se.exp(s) for s in l), se.Integer(0))
            return se.Matrix([se.exp(s) / S for s in l]), se.Matrix(l)
        return Route(make, lambda m: m[0].jacobian(m[1]))

    return Case("softmax", f"softmax K={K}", note="ours parses the text",
                ours=Route(lambda: text,
                           lambda t: jc.jacobian(t, wrt=",".join(names), limits=LIMITS).tensor),
                sympy=Route(exprs, lambda e: sp.Matrix(e[0]).jacobian(e[1])),
                check=lambda a, b: same_entries(_flat(a), _flat(b)),
                symengine=se_route, numeric=dense_pairs,
                bare=Route(exprs, bare_gradients), check_bare=check_bare)


def input_case(K: int, path: str) -> Case:
    """The softmax K x K Jacobian by one of the three input paths side by side: the text
    (parsed), SymPy expressions over plain ``sympy.symbols`` (converted to our symbols and
    the result back, once each), and over ``real=True`` symbols (our own, used as given).
    SymPy's route is ``Matrix.jacobian`` on the same expressions."""
    names = [f"l{i + 1}" for i in range(K)]
    total = " + ".join(f"exp({n})" for n in names)
    text = ", ".join(f"exp({n})/({total})" for n in names)

    def exprs(**assumptions):
        l = sp.symbols(" ".join(names), **assumptions)
        S = sp.Add(*[sp.exp(s) for s in l])
        return [sp.exp(s) / S for s in l], list(l)

    given = {"plain symbols": lambda: exprs(), "real symbols": lambda: exprs(real=True)}
    if path == "text":
        ours = Route(lambda: text,
                     lambda t: jc.jacobian(t, wrt=",".join(names), limits=LIMITS).tensor)
        theirs = Route(lambda: exprs(real=True), lambda e: sp.Matrix(e[0]).jacobian(e[1]))
    else:
        ours = Route(given[path],
                     lambda e: jc.jacobian(e[0], wrt=e[1], limits=LIMITS).tensor)
        theirs = Route(given[path], lambda e: sp.Matrix(e[0]).jacobian(e[1]))
    return Case("input", f"softmax K={K}, input as {path}", ours=ours, sympy=theirs,
                check=lambda a, b: same_entries(_flat(a), _flat(b)),
                note="the three input paths side by side")


INPUT_PATHS = ("text", "plain symbols", "real symbols")
#: Plain-symbol input within this factor of the same text (the issue's goal).
MAX_INPUT_RATIO = 1.5


def bare_gradients(inputs) -> tuple[list[dict], list]:
    exprs, symbols = inputs
    differentiator = Differentiator(symbols)
    return [differentiator.gradient(e) for e in exprs], symbols


def check_bare(bare, theirs) -> str:
    gradients, symbols = bare
    dense = [g.get(s, sp.S.Zero) for g in gradients for s in symbols]
    return same_entries(dense, _flat(theirs))


def coefficients(n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randint(-5, 5) for _ in range(n)] for _ in range(n)]


def trig_case(n: int) -> Case:
    """``f_i = x_i * sin(Σ_j c_ij x_j)`` with fixed integers ``c_ij`` in [-5, 5].

    Ours is given SymPy's own expressions (as a user holding SymPy objects
    would call it), SymPy's route is ``Matrix.jacobian``, the bare route only
    the derivatives.
    """
    c = coefficients(n)
    names = [f"x{i + 1}" for i in range(n)]

    def exprs():
        x = [scalar_symbol(s) for s in names]
        return [x[i] * sp.sin(sp.Add(*[c[i][j] * x[j] for j in range(n)]))
                for i in range(n)], x

    def se_route() -> Route:
        se = symengine()

        def make():
            x = se.symbols(" ".join(names))
            return (se.Matrix([x[i] * se.sin(sum((c[i][j] * x[j] for j in range(n)),
                                                 se.Integer(0))) for i in range(n)]),
                    se.Matrix(x))
        return Route(make, lambda m: m[0].jacobian(m[1]))

    return Case("trig", f"trig n={n}", note="ours is given SymPy's expressions",
                ours=Route(exprs, lambda e: jc.jacobian(e[0], wrt=e[1], limits=LIMITS).tensor),
                sympy=Route(exprs, lambda e: sp.Matrix(e[0]).jacobian(e[1])),
                check=lambda a, b: same_entries(_flat(a), _flat(b)),
                symengine=se_route, numeric=dense_pairs,
                bare=Route(exprs, bare_gradients), check_bare=check_bare)


# -- cases: X@W -----------------------------------------------------------------------------

def matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: scalar_symbol(f"{name}_{i + 1}_{j + 1}"))


def vector(name: str, n: int) -> list:
    return [scalar_symbol(f"{name}_{j + 1}") for j in range(n)]


def xw_jacobian_case(n: int, sympy_note: str = "") -> Case:
    """The 4-D Jacobian ``∂(X@W)[i,j]/∂W[k,l]`` of an n x n product.

    Ours returns the (sparse) JacobianResult, as ``jacobian`` does; SymPy's
    route is ``derive_by_array(X*W, W)`` (dense, axes ``k, l, i, j``);
    SymEngine's is ``Matrix.jacobian`` of the flattened product.
    """
    shapes = {"X": (n, n), "W": (n, n)}

    def check(ours, theirs) -> str:
        entries = ours.entries  # numerator layout: (i, j, k, l)
        pairs = [(entries.get((i, j, k, l), sp.S.Zero), theirs[k, l, i, j])
                 for i in range(n) for j in range(n) for k in range(n) for l in range(n)]
        return same_entries([a for a, _ in pairs], [b for _, b in pairs])

    def se_route() -> Route:
        se = symengine()

        def make():
            X = se.Matrix(n, n, [se.Symbol(f"X_{i + 1}_{j + 1}")
                                 for i in range(n) for j in range(n)])
            W = se.Matrix(n, n, [se.Symbol(f"W_{i + 1}_{j + 1}")
                                 for i in range(n) for j in range(n)])
            return (X * W).reshape(n * n, 1), W.reshape(n * n, 1)
        return Route(make, lambda m: m[0].jacobian(m[1]))

    def numeric(ours, theirs, rng, limit) -> list:
        if n ** 4 <= limit:
            positions = [(i, j, k, l) for i in range(n) for j in range(n)
                         for k in range(n) for l in range(n)]
        else:  # half of them among our non-zeros, half anywhere
            nonzero = list(ours.entries)
            positions = rng.sample(nonzero, min(len(nonzero), limit // 2))
            positions += [tuple(rng.randrange(n) for _ in range(4)) for _ in range(limit // 2)]
        return [(ours.entries.get(p, sp.S.Zero), theirs[p[0] * n + p[1], p[2] * n + p[3]])
                for p in positions]

    return Case("xw", f"X@W n={n}", memory=n >= 32,
                note="ours returns the sparse result (no dense 4-D array)",
                ours=Route(lambda: shapes, lambda s: jc.jacobian("X@W", wrt="W", shapes=s,
                                                                 limits=LIMITS)),
                sympy=None if sympy_note else Route(
                    lambda: (matrix("X", n, n), matrix("W", n, n)),
                    lambda m: sp.derive_by_array(m[0] * m[1], m[1])),
                sympy_note=sympy_note, check=check, symengine=se_route, numeric=numeric)


def xw_backprop_case(n: int, sympy_note: str = "") -> Case:
    """dW for Y = X@W, all in: ``jacobian_calc.backprop`` (forward and backward
    steps, each step checked, compact form, end-to-end check) against
    ``derive_by_array`` + ``tensorcontraction`` with ``dY``."""
    shapes = {"X": (n, n), "W": (n, n)}

    def ours(s):
        r = jc.backprop("X@W", "W", shapes=s, upstream="dY", limits=LIMITS)
        g = r.gradients["W"]
        assert r.agree and g.text == "X.T @ dY", (r.summary(), g.text)
        return g.explicit

    def make():
        return matrix("X", n, n), matrix("W", n, n), matrix("dY", n, n)

    def sympy(m):
        X, W, dY = m
        J = sp.derive_by_array(X * W, W)  # J[k, l, i, j] = dY_ij / dW_kl
        dW = sp.tensorcontraction(sp.tensorproduct(J, sp.Array(dY)), (2, 4), (3, 5))
        assert sp.Matrix(dW.tolist()) == X.T * dY
        return dW

    return Case("backprop", f"X@W backprop n={n}", memory=n >= 32,
                ours=Route(lambda: shapes, ours),
                sympy=None if sympy_note else Route(make, sympy), sympy_note=sympy_note,
                check=lambda a, b: same_entries(a.flat, _flat(b)))


# -- cases: the two MLPs of the backprop issue ------------------------------------------------

TANH_MLP = "-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))"
RELU_MLP = "mean((relu(relu(X@W1+b1)@W2+b2)@W3+b3 - T)**2)"


def tanh_mlp_shapes(N: int, D: int, H: int, C: int) -> dict:
    return {"X": (N, D), "W1": (D, H), "b1": H, "W2": (H, C), "b2": C, "T": (N, C)}


def relu_mlp_shapes(N: int, D: int, H: int, C: int) -> dict:
    return {"X": (N, D), "W1": (D, H), "b1": H, "W2": (H, H), "b2": H, "W3": (H, C),
            "b3": C, "T": (N, C)}


def _rows(b: list, N: int) -> sp.Matrix:
    return sp.Matrix(N, len(b), lambda i, j: b[j])


def mlp_case(kind: str, sizes: tuple[int, int, int, int]) -> Case:
    """Gradients of an MLP loss w.r.t. every weight and bias, all in.

    Ours: ``jacobian_calc.backprop`` of the text (named steps, each checked,
    end-to-end check). SymPy's route: the loss built from SymPy matrices and
    ``diff`` of the whole loss w.r.t. every entry of every variable.
    """
    N, D, H, C = sizes
    if kind == "tanh":
        text, shapes, onehot = TANH_MLP, tanh_mlp_shapes(*sizes), "T"
        wrt = ["W1", "b1", "W2", "b2"]
    else:
        text, shapes, onehot = RELU_MLP, relu_mlp_shapes(*sizes), None
        wrt = ["W1", "b1", "W2", "b2", "W3", "b3"]

    def ours(s):
        r = jc.backprop(text, ",".join(wrt), shapes=s, onehot=onehot, limits=LIMITS)
        assert r.agree, r.disagreement()
        return [e for name in wrt for e in r.gradients[name].explicit.flat]

    def make():
        arrays = {name: matrix(name, *shape) if isinstance(shape, tuple) else vector(name, shape)
                  for name, shape in shapes.items()}
        return arrays

    def sympy(a):
        if kind == "tanh":
            Y1 = (a["X"] * a["W1"] + _rows(a["b1"], N)).applyfunc(sp.tanh)
            E = (Y1 * a["W2"] + _rows(a["b2"], N)).applyfunc(sp.exp)
            P = sp.Matrix(N, C, lambda i, j: E[i, j] / sp.Add(*E.row(i)))
            loss = -sp.Add(*[t * sp.log(p) for t, p in zip(a["T"], P)]) / (N * C)
        else:
            Y1 = (a["X"] * a["W1"] + _rows(a["b1"], N)).applyfunc(relu)
            Y2 = (Y1 * a["W2"] + _rows(a["b2"], N)).applyfunc(relu)
            O = Y2 * a["W3"] + _rows(a["b3"], N)
            loss = sp.Add(*[(o - t) ** 2 for o, t in zip(O, a["T"])]) / (N * C)
        return [loss.diff(s) for name in wrt for s in a[name]]

    label = f"{kind} MLP X {N}x{D}, hidden {H}, out {C}"
    note = ("softmax cross-entropy, T one-hot" if kind == "tanh"
            else "MSE; SymPy's route with jacobian_calc's relu class")
    return Case("mlp", label, ours=Route(lambda: shapes, ours), sympy=Route(make, sympy),
                check=same_entries, note=note)


# -- the case list ---------------------------------------------------------------------------

TANH_SIZES = (4, 3, 5, 3)   # X 4x3, W1 3x5, b1 5, W2 5x3, b2 3, T 4x3 (the backprop issue)
RELU_SIZES = (4, 3, 5, 3)   # X 4x3, W1 3x5, W2 5x5, W3 5x3


def all_cases(quick: bool) -> list[Case]:
    """The cases (built lazily: no expression exists before a route's ``make``)."""
    if quick:
        return [softmax_case(10), trig_case(10), xw_jacobian_case(4), xw_backprop_case(4),
                mlp_case("tanh", (2, 2, 3, 2)), mlp_case("relu", (2, 2, 2, 2))] + [
                input_case(10, path) for path in INPUT_PATHS]
    cases = [softmax_case(K) for K in (30, 60, 100)]
    cases += [input_case(60, path) for path in INPUT_PATHS]
    cases += [trig_case(n) for n in (30, 60)]
    cases += [xw_jacobian_case(n) for n in (8, 16, 32)]
    cases.append(xw_jacobian_case(64, sympy_note="SymPy's route not attempted: 16.8 million "
                                                 "diff calls, 16 times those of n=32"))
    cases += [xw_backprop_case(n) for n in (8, 16)]
    cases.append(xw_backprop_case(32, sympy_note="SymPy's route not attempted: the dense n^6 "
                                                 "product has a billion entries"))
    cases += [mlp_case("tanh", TANH_SIZES), mlp_case("relu", RELU_SIZES)]
    return cases


# -- timing ours -------------------------------------------------------------------------------

def timed(route: Route, clock: Callable[[], float]) -> tuple[float, object]:
    """``clock`` time of ``route.run`` on fresh inputs, with every cache cleared."""
    inputs = route.make()
    clear_cache()
    clear_caches()
    gc.collect()
    start = clock()
    result = route.run(inputs)
    return clock() - start, result


def best_of(route: Route, args, repeat: int) -> tuple[float, object]:
    clock = CLOCKS[args.clock]
    times, result = [], None
    for _ in range(repeat):
        elapsed, result = timed(route, clock)
        times.append(elapsed)
        if elapsed > args.repeat_below:  # long runs vary little: one is enough
            break
    return min(times), result


def peak_memory(route: Route) -> int:
    """tracemalloc's peak during one call (inputs built before tracing starts)."""
    inputs = route.make()
    clear_cache()
    clear_caches()
    gc.collect()
    tracemalloc.start()
    try:
        route.run(inputs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fresh_process_rss(case: Case, args) -> tuple[int | None, int | None]:
    """(RSS before the call, max RSS) of one call of ours in a fresh interpreter.

    A fresh process, because this one (or a fork of it) would reuse memory it
    has already freed and understate the peak.
    """
    command = [sys.executable, os.path.abspath(__file__), "--rss-of", case.name,
               "--our-budget", str(args.our_budget)] + (["--quick"] if args.quick else [])
    done = subprocess.run(command, capture_output=True, text=True, env=child_env())
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
        return report["before"], report["max"]
    except (ValueError, IndexError, KeyError):
        return None, None


def _print_rss_of(name: str, args) -> int:
    case = next(c for c in all_cases(args.quick) if c.name == name)
    for module in ("jacobian_calc.api", "jacobian_calc.derive.backprop_numbers"):
        importlib.import_module(module)  # loaded before the call, as in a session that has
        # already used the package: the growth is the call's, not the imports'
    inputs = case.ours.make()
    clear_cache()
    clear_caches()
    gc.collect()
    before = _rss()
    case.ours.run(inputs)
    print(json.dumps({"before": before, "max": _max_rss()}))
    return 0


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _max_rss() -> int:
    """This process's peak resident set size.

    ``VmHWM``, not ``ru_maxrss``: Linux carries the peak of the process that
    started this one across ``exec`` into ``ru_maxrss``, so a fresh process
    started by a large one would report the large one's peak.
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- the baselines, in a forked child -----------------------------------------------------------

def in_child(work: Callable[[], float], verify: Callable[[], str], args
             ) -> tuple[float | None, str, str]:
    """Run ``work`` (returns its time) then ``verify`` in a forked child.

    Returns ``(time, verification, note)``; a child over ``--budget`` seconds is
    killed and the time is None.
    """
    context = mp.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(work, verify, args.memory_cap, child))
    process.start()
    child.close()
    try:
        if not parent.poll(args.budget):
            return None, "", f"skipped: over the {args.budget:g} s budget"
        kind, value = parent.recv()
        if kind == "error":
            return None, "", f"failed: {value}"
        elapsed = value
        if not parent.poll(args.check_budget):
            return elapsed, "", f"equality check not finished in {args.check_budget:g} s"
        kind, value = parent.recv()
        if kind == "differ":
            raise AssertionError(value)
        if kind == "check failed":
            return elapsed, "", f"check failed: {value}"
        return elapsed, value, ""
    except EOFError:
        return None, "", "died (memory cap?)"
    finally:
        process.kill()
        process.join()


def _child(work, verify, memory_cap: float, conn) -> None:
    cap = int(memory_cap * 2 ** 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        elapsed = work()
    except MemoryError:
        conn.send(("error", f"out of memory under the {memory_cap:g} GiB cap"))
        return
    except Exception as exc:  # report, never hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("time", elapsed))
    try:
        conn.send(("equal", verify()))
    except AssertionError as exc:
        conn.send(("differ", str(exc)))
    except Exception as exc:  # a failing check is reported, not taken for a difference
        conn.send(("check failed", f"{type(exc).__name__}: {exc}"))


def sympy_baseline(case: Case, ours, bare, args) -> tuple[float | None, tuple, str]:
    """SymPy's route once, then ours (and the bare route's result) checked against it."""
    found = {}

    def work() -> float:
        elapsed, found["theirs"] = timed(case.sympy, CLOCKS[args.clock])
        return elapsed

    def verify() -> tuple[str, str]:
        theirs = found["theirs"]
        return (case.check(ours, theirs),
                case.check_bare(bare, theirs) if bare is not None else "")

    return in_child(work, verify, args)


def symengine_baseline(case: Case, ours, args) -> tuple[float | None, str, str]:
    """SymEngine's route, best of ``--repeat`` (short runs), checked numerically."""
    route = case.symengine()
    found = {}

    def work() -> float:
        elapsed, found["theirs"] = best_of(route, args, args.repeat)
        return elapsed

    def verify() -> str:
        rng = random.Random(1)
        return numeric_agreement(case.numeric(ours, found["theirs"], rng, args.numeric_entries),
                                 rng)

    return in_child(work, verify, args)


# -- one case --------------------------------------------------------------------------------

def run_case(case: Case, args) -> list[Row]:
    row = Row(case.name, notes=[case.note] if case.note else [])
    try:
        row.our_time, ours = best_of(case.ours, args, args.repeat)
    except jc.JacobianError as exc:  # the package's own time limit, --our-budget
        row.notes.append(f"ours stopped: {exc}")
        return [row]
    bare_row, bare = None, None
    if case.bare is not None:
        bare_time, bare = best_of(case.bare, args, args.repeat)
        bare_row = Row(f"{case.name}, bare differentiation", our_time=bare_time,
                       notes=["Differentiator.gradient over SymPy's expressions (the part "
                              "of jacobian that replaces Matrix.jacobian)"])
    if case.memory or row.our_time < args.trace_below:
        row.peak = peak_memory(case.ours)
    else:  # tracemalloc would multiply a long run's time several fold
        row.notes.append(f"no tracemalloc peak: the run is over {args.trace_below:g} s")
    if case.memory:
        before, row.rss = fresh_process_rss(case, args)
        if before is not None:
            row.notes.append(f"max RSS of a fresh process, {before / MiB:.0f} MiB of it held "
                             "before the call (interpreter, SymPy, NumPy, the package, inputs)")
    if args.no_sympy or case.sympy is None:
        if case.sympy_note:
            row.notes.append(case.sympy_note)
    else:
        row.sympy_time, verdicts, note = sympy_baseline(case, ours, bare, args)
        if note:
            row.notes.append(f"SymPy's route {note}")
        if verdicts:
            row.check = verdicts[0]
        if bare_row is not None:
            bare_row.sympy_time = row.sympy_time
            bare_row.check = verdicts[1] if verdicts else ""
    if case.symengine is not None:
        if symengine() is None:
            row.notes.append("SymEngine column skipped: symengine is not importable")
        else:
            row.symengine_time, verdict, note = symengine_baseline(case, ours, args)
            row.notes.append(f"SymEngine's route {note}" if note
                             else f"SymEngine agrees numerically: {verdict}")
            if bare_row is not None:
                bare_row.symengine_time = row.symengine_time
    return [row] if bare_row is None else [row, bare_row]


# -- whole-process rows: the jac command -----------------------------------------------------

def child_env() -> dict:
    """The environment of the processes started: this checkout first on the path,
    bytecode caching allowed (as after ``pip install``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    return env


def jac_command() -> list[str]:
    jac = shutil.which("jac")
    return [jac] if jac else [sys.executable, "-m", "jacobian_calc"]


def _wall(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _checkout_used(env: dict) -> str:
    """The jacobian_calc package the started processes import."""
    done = subprocess.run([sys.executable, "-c", "import jacobian_calc; "
                           "print(jacobian_calc.__file__)"], capture_output=True, text=True,
                          env=env, check=True)
    return done.stdout.strip()


CARD = ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2"]


def cli_rows(runs: int, args) -> list[Row]:
    """Whole-process wall times of ``jac``: the card example against ``import sympy``
    (alternating, medians), the instant options, and the tanh MLP's backprop."""
    env = child_env()
    used = _checkout_used(env)
    assert used.startswith(str(ROOT)), f"the started processes import {used}, not {ROOT}"
    jac = jac_command()
    card, baseline = jac + CARD, [sys.executable, "-c", "import sympy"]
    for command in (card, baseline):  # one untimed run each writes the bytecode caches
        _wall(command, env)
    ours, base = [], []
    for _ in range(runs):  # alternating, so that a change in the machine's load hits both
        ours.append(_wall(card, env))
        base.append(_wall(baseline, env))
    rows = [Row("jac card example, whole process", sympy_time=statistics.median(base),
                our_time=statistics.median(ours), check="—",
                notes=[f"SymPy column: python -c 'import sympy'; wall clock, median of {runs} "
                       "each, alternating; goal: jac / import sympy at most "
                       f"{MAX_COLD_RATIO:g}"])]
    floor = statistics.median(_wall([sys.executable, "-c", "pass"], env) for _ in range(runs))
    rows[0].notes.append(f"an interpreter that does nothing: {_seconds(floor)}")
    for option in ("--version", "--help", "--rules"):
        _wall(jac + [option], env)
        times = [_wall(jac + [option], env) for _ in range(runs)]
        rows.append(Row(f"jac {option}, whole process", our_time=statistics.median(times),
                        notes=[f"wall clock, median of {runs}; goal at most "
                               f"{MAX_INSTANT:g} s"]))
    sizes = (2, 2, 3, 2) if args.quick else TANH_SIZES
    mlp = jac + ["--wrt", "W1,b1,W2,b2", "--onehot", "T", "--backprop"]
    for name, shape in tanh_mlp_shapes(*sizes).items():
        dims = "x".join(map(str, shape)) if isinstance(shape, tuple) else str(shape)
        mlp += ["--shape", f"{name}={dims}"]
    mlp += ["--", TANH_MLP]
    mlp_runs = max(3, runs // 2)
    times = [_wall(mlp, env) for _ in range(mlp_runs)]
    N, D, H, C = sizes
    rows.append(Row(f"jac --backprop tanh MLP X {N}x{D}, hidden {H}, out {C}, whole process",
                    our_time=statistics.median(times),
                    notes=[f"wall clock, median of {mlp_runs}; goal under {MLP_SECONDS:g} s"]))
    return rows


# -- whole-process rows: every size at once ---------------------------------------------------

SYMBOLIC_TANH = "-sum(T*log(softmax(tanh(X@W1+b1)@W2+b2)))/N"
SYMBOLIC_SHAPES = {"X": "Nxd", "W1": "dxh", "b1": "h", "W2": "hxK", "b2": "K", "T": "NxK"}
TWO_LAYER_RELU = "mean((relu(X@W1+b1)@W2+b2 - T)**2)"
#: (N, d, hidden, K) of the two-layer ReLU MLP, and the goal of each in seconds.
RELU_GOALS = {(32, 8, 32, 4): 5.0, (16, 8, 16, 4): 3.0}
SYMBOLIC_SECONDS = 2.0


def _wall_cpu(command: list[str], env: dict) -> tuple[float, float]:
    """Wall clock and CPU time (user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _wall(command, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _shape_options(shapes: dict) -> list[str]:
    out = []
    for name, shape in shapes.items():
        dims = "x".join(map(str, shape)) if isinstance(shape, tuple) else str(shape)
        out += ["--shape", f"{name}={dims}"]
    return out


def _old_route(sizes: tuple, env: dict, budget: float) -> tuple[float | None, str]:
    """The full-size route (every step written out at the requested sizes), whole process."""
    shapes = dict(tanh_mlp_shapes(*sizes), T=(sizes[0], sizes[3]))
    code = ("import jacobian_calc as jc; "
            f"r = jc.backprop({TWO_LAYER_RELU!r}, 'W1,b1,W2,b2', shapes={shapes!r}, "
            f"explicit=True, limits=jc.Limits(timeout={budget!r})); "
            "assert r.agree, r.summary()")
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=budget + 5,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return None, f"the full-size route did not finish within {budget:g} s"
    return time.perf_counter() - start, ""


def sizes_rows(runs: int, args) -> list[Row]:
    """Whole-process wall times of backprop stated for every size (the tanh MLP at
    symbolic sizes) and of large concrete requests checked at small sizes, with the
    full-size route of the same request in the same run (the SymPy column)."""
    env = child_env()
    jac = jac_command()
    symbolic = jac + ["--wrt", "W1,b1,W2,b2", "--onehot", "T", "--backprop",
                      *_shape_options(SYMBOLIC_SHAPES), "--", SYMBOLIC_TANH]
    _wall(symbolic, env)
    times, cpu = zip(*(_wall_cpu(symbolic, env) for _ in range(runs)))
    rows = [Row("jac --backprop tanh MLP, softmax cross-entropy, symbolic sizes N, d, h, K",
                our_time=statistics.median(times),
                notes=[f"wall clock, median of {runs} (CPU {_seconds(statistics.median(cpu))}); "
                       f"goal under {SYMBOLIC_SECONDS:g} s"])]
    goals_ = {(8, 4, 8, 3): 3.0} if args.quick else RELU_GOALS
    for sizes, goal in goals_.items():
        N, D, H, C = sizes
        shapes = dict(tanh_mlp_shapes(*sizes), T=(N, C))
        command = jac + ["--wrt", "W1,b1,W2,b2", "--backprop", *_shape_options(shapes), "--",
                         TWO_LAYER_RELU]
        times, cpu = zip(*(_wall_cpu(command, env) for _ in range(max(1, runs // 3))))
        old, note = _old_route(sizes, env, args.budget)
        rows.append(Row(f"jac --backprop ReLU MLP + MSE X {N}x{D}, hidden {H}, K {C}, "
                        "whole process", sympy_time=old, our_time=statistics.median(times),
                        notes=[f"wall clock, median of {len(times)} (CPU "
                               f"{_seconds(statistics.median(cpu))}); goal under {goal:g} s; "
                               "SymPy column: the full-size route (explicit=True) of the "
                               "same request, one whole process" + (f" ({note})" if note
                                                                   else "")]))
    return rows


# -- the report --------------------------------------------------------------------------------

def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g} s" if value >= 0.1 else f"{value * 1000:.3g} ms"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}x"


def _memory(value: int | None) -> str:
    return "—" if value is None else f"{value / MiB:.1f} MiB"


HEADER = ["case", "SymPy", "ours", "SymEngine", "SymPy / ours", "ours / SymEngine",
          "peak (tracemalloc)", "max RSS (fresh process)", "check"]


def format_table(rows: list[Row], markdown: bool) -> str:
    body = [[r.name, _seconds(r.sympy_time), _seconds(r.our_time), _seconds(r.symengine_time),
             _ratio(r.speedup), _ratio(r.against_symengine), _memory(r.peak), _memory(r.rss),
             r.check or "—"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
    else:
        widths = [max(len(c[i]) for c in [HEADER] + body) for i in range(len(HEADER))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
                 for cells in [HEADER] + body]
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_notes(rows: list[Row]) -> str:
    return "\n".join(f"* {r.name}: {n}" for r in rows for n in r.notes)


#: What each goal line is a goal of.
SPEED, INPUT, SIZES = "interactive speed", "SymPy input as fast as text", "every size at once"


def goals(rows: list[Row]) -> list[str]:
    """The goals that this run measured, each met or not, named, with its figures."""
    by_name = {r.name: r for r in rows}
    out = []

    def line(met: bool, text: str, goal: str = SPEED) -> None:
        out.append(f"* {'met' if met else 'NOT met'}: [{goal}] {text}")

    for name in SPEED_CASES:
        for label in (name, f"{name}, bare differentiation"):
            r = by_name.get(label)
            if r is None or r.speedup is None:
                continue
            vs = r.against_symengine
            met = r.speedup >= MIN_SPEEDUP and (vs is None or vs <= MAX_SYMENGINE_RATIO)
            line(met, f"{label}: SymPy / ours {r.speedup:.1f}x (goal ≥ {MIN_SPEEDUP:g}x), "
                      f"ours / SymEngine {_ratio(vs)} (goal ≤ {MAX_SYMENGINE_RATIO:g}x)")
    for K in (10, 60):
        text = by_name.get(f"softmax K={K}, input as text")
        plain = by_name.get(f"softmax K={K}, input as plain symbols")
        if text is not None and plain is not None and text.our_time and plain.our_time:
            ratio = plain.our_time / text.our_time
            line(ratio <= MAX_INPUT_RATIO, f"softmax K={K}: plain-symbol input "
                                           f"{_seconds(plain.our_time)} / text "
                                           f"{_seconds(text.our_time)} = {ratio:.2f}x "
                                           f"(goal ≤ {MAX_INPUT_RATIO:g}x)", INPUT)
    r = by_name.get("jac card example, whole process")
    if r is not None:
        ratio = r.our_time / r.sympy_time
        line(ratio <= MAX_COLD_RATIO, f"cold start: jac {_seconds(r.our_time)} / import sympy "
                                      f"{_seconds(r.sympy_time)} = {ratio:.2f}x "
                                      f"(goal ≤ {MAX_COLD_RATIO:g}x)")
    for option in ("--version", "--help", "--rules"):
        r = by_name.get(f"jac {option}, whole process")
        if r is not None:
            line(r.our_time <= MAX_INSTANT, f"jac {option}: {_seconds(r.our_time)} "
                                            f"(goal ≤ {MAX_INSTANT:g} s)")
    N, D, H, C = TANH_SIZES
    for r in rows:  # at the sizes only
        if f"tanh MLP X {N}x{D}, hidden {H}, out {C}" in r.name and r.our_time is not None:
            line(r.our_time < MLP_SECONDS, f"{r.name}: {_seconds(r.our_time)} "
                                           f"(goal < {MLP_SECONDS:g} s)")
    for r in rows:
        if r.name.startswith("jac --backprop tanh MLP, softmax cross-entropy, symbolic"):
            line(r.our_time < SYMBOLIC_SECONDS, f"{r.name}: {_seconds(r.our_time)} "
                                                f"(goal < {SYMBOLIC_SECONDS:g} s)", SIZES)
        for (N, D, H, C), goal in RELU_GOALS.items():
            if r.name.startswith(f"jac --backprop ReLU MLP + MSE X {N}x{D}, hidden {H}, "):
                old = (f"; the full-size route {_seconds(r.sympy_time)}, {_ratio(r.speedup)}"
                       if r.sympy_time else "; the full-size route did not finish")
                line(r.our_time < goal, f"{r.name}: {_seconds(r.our_time)} (goal < {goal:g} "
                                        f"s){old}", SIZES)
    r = by_name.get("X@W backprop n=32")
    if r is not None and r.peak is not None:
        rss = f", max RSS of a fresh process {_memory(r.rss)}" if r.rss else ""
        line(r.peak < BACKPROP_MIB * MiB, f"X@W backprop n=32: tracemalloc peak "
                                          f"{_memory(r.peak)} (goal < {BACKPROP_MIB:g} MiB)"
                                          f"{rss}")
    return out


def machine(clock: str) -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    se = symengine()
    return (f"Machine: {model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"SymPy {sp.__version__}, "
            f"SymEngine {se.__version__ if se else 'not installed'}; "
            f"clock: {'process CPU time' if clock == 'cpu' else 'wall'} "
            "(whole-process rows: wall)")


def parse_args(argv: list[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, fewer repetitions")
    p.add_argument("--cases", default="", help="comma-separated groups or case names "
                   "(softmax, input, trig, xw, backprop, mlp, cli, sizes; 'X@W n=32')")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs of ours and SymEngine's route (best of) [3; quick 1]")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds allowed to SymPy's and SymEngine's routes per case [120]")
    p.add_argument("--repeat-below", type=float, default=10.0,
                   help="repeat only runs shorter than this many seconds [10]")
    p.add_argument("--trace-below", type=float, default=30.0,
                   help="tracemalloc peak for runs shorter than this [30 s], and for the "
                        "memory cases always")
    p.add_argument("--our-budget", type=float, default=900.0,
                   help="the package's time limit for each call of ours [900 s]")
    p.add_argument("--check-budget", type=float, default=600.0,
                   help="seconds allowed to the equality check per case [600]")
    p.add_argument("--numeric-entries", type=int, default=20_000,
                   help="entries compared with SymEngine's at a random point [20000]")
    p.add_argument("--memory-cap", type=float, default=8.0,
                   help="GiB of address space for the baselines' child process [8]")
    p.add_argument("--runs", type=int, default=None,
                   help="runs of each whole-process command (median) [9; quick 3]")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    p.add_argument("--no-sympy", action="store_true", help="skip SymPy's route")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--rss-of", metavar="CASE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.runs is None:
        args.runs = 3 if args.quick else 9
    return args


def selected(cases: list[Case], spec: str) -> tuple[list[Case], bool, bool]:
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    if not wanted:
        return cases, True, True
    known = {c.group for c in cases} | {c.name for c in cases} | {"cli", "sizes"}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"unknown case or group {unknown[0]!r}; known: {sorted(known)}")
    return [c for c in cases if c.group in wanted or c.name in wanted], "cli" in wanted, \
        "sizes" in wanted


def main(argv: list[str] | None = None) -> int:
    global LIMITS
    args = parse_args(argv)
    LIMITS = limits(args.our_budget)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    if args.rss_of:
        return _print_rss_of(args.rss_of, args)
    cases, with_cli, with_sizes = selected(all_cases(args.quick), args.cases)
    print(machine(args.clock), f"| budget {args.budget:g} s", flush=True)
    rows: list[Row] = []
    for case in cases:
        for r in run_case(case, args):
            rows.append(r)
            print(f"  {r.name}: sympy {_seconds(r.sympy_time)}, ours {_seconds(r.our_time)}, "
                  f"symengine {_seconds(r.symengine_time)}", flush=True)
    if with_cli:
        rows += cli_rows(args.runs, args)
    if with_sizes:
        rows += sizes_rows(args.runs, args)
    print()
    print(format_table(rows, args.markdown))
    print()
    print(machine(args.clock))
    print()
    print(format_notes(rows))
    met = goals(rows)
    if met:
        print("\nGoals:")
        print("\n".join(met))
    return 0


if __name__ == "__main__":
    sys.exit(main())
