"""jacobian_calc against SymPy's own route, case by case, in one run.

    python benchmarks/run.py                      # every case at full size
    python benchmarks/run.py --quick              # small sizes, one repetition
    python benchmarks/run.py --cases softmax,xw   # some groups (or names: "xw n=32")
    python benchmarks/run.py --budget 60 --markdown

Every case computes the same thing by both routes, asserts that the two results
are equal entry by entry (structurally, else after ``expand``, else after
``simplify``; the ``check`` column says which was needed), and prints one row:
SymPy's time, ours, their ratio and our peak memory (tracemalloc).

How it is timed
---------------
* SymPy's cache is cleared before every timed call, so neither route profits
  from work the other (or an earlier repetition) did.
* Ours is the best of ``--repeat`` calls, then one more call under tracemalloc
  for the peak memory. SymPy's route runs once, in a forked child with a time
  budget (``--budget``) and an address-space cap (``--memory-cap``): a
  baseline that would take longer is skipped with a note instead of stalling
  the run, and one that would exhaust memory fails alone.
* The clock is process CPU time by default: both routes are single-threaded
  and the machine may be shared; ``--clock wall`` measures elapsed time.
* The CLI row starts fresh interpreters, best of five, wall clock.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import multiprocessing as mp
import os
import platform
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable, Iterable

import sympy as sp
from sympy.core.cache import clear_cache

import jacobian_calc as jc
from jacobian_calc.shapes import scalar_symbol

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
#: The explicit softmax string for K=100 is 110,000 characters, a sum of 100 terms.
LIMITS = jc.Limits(max_length=10 ** 7, max_depth=10 ** 4)


@dataclass
class Case:
    """One row: both routes, and how to tell that their results are equal.

    ``ours`` and ``sympy`` take no arguments (their inputs are built before
    timing starts) and return something ``check(ours_result, sympy_result)``
    understands; ``check`` raises AssertionError on a difference and returns
    the name of the cheapest test that proved equality.
    """

    group: str
    name: str
    ours: Callable[[], object]
    sympy: Callable[[], object] | None
    check: Callable[[object, object], str]
    note: str = ""


@dataclass
class Row:
    name: str
    sympy_time: float | None = None
    our_time: float | None = None
    peak: int | None = None
    check: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.sympy_time is None or not self.our_time:
            return None
        return self.sympy_time / self.our_time


# -- equality -----------------------------------------------------------------------

def same_entries(ours: Iterable, theirs: Iterable, mask: dict | None = None) -> str:
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
    return ", ".join(f"{k} {v}" if len(ours) > 1 else k for k, v in used.items() if v)


def _equal_by(a: sp.Expr, b: sp.Expr, mask: dict | None) -> str:
    if a == b:
        return "identical"
    difference = (a - b).xreplace(mask) if mask else a - b
    if sp.expand(difference) == 0:
        return "expand"
    if sp.simplify(a - b) == 0:
        return "simplify"
    raise AssertionError(f"entries differ:\n  ours:  {a}\n  sympy: {b}")


def _dense(result) -> list:
    """Entries of a JacobianResult, a Matrix or an Array, row-major."""
    tensor = result.tensor if isinstance(result, jc.JacobianResult) else result
    return list(sp.flatten(tensor.tolist())) if hasattr(tensor, "tolist") else [tensor]


# -- cases: softmax and the dense trig system --------------------------------------------

def softmax_case(K: int, source: str = "string") -> Case:
    """Explicit K x K Jacobian of softmax written out component by component.

    ``source``: ours is given the text (``"string"``) or the same SymPy
    expressions as SymPy's route (``"sympy"``).
    """
    l = [scalar_symbol(f"l{i + 1}") for i in range(K)]
    total = " + ".join(f"exp(l{j + 1})" for j in range(K))
    text = ", ".join(f"exp(l{i + 1})/({total})" for i in range(K))
    wrt = ",".join(map(str, l))
    S = sp.Add(*[sp.exp(s) for s in l])
    p = sp.Matrix([sp.exp(s) / S for s in l])
    of = text if source == "string" else list(p)
    return Case("softmax", f"softmax K={K}", note=_input_note(source),
                ours=lambda: jc.jacobian(of, wrt=wrt, limits=LIMITS).tensor,
                sympy=lambda: p.jacobian(l),
                check=lambda a, b: same_entries(_dense(a), _dense(b)))


def _input_note(source: str) -> str:
    return ("ours parses the text" if source == "string"
            else "ours is given SymPy's own expressions")


def trig_case(n: int, source: str = "string", seed: int = 0) -> Case:
    """f_i = x_i * sin(sum_j c_ij x_j) with integer c_ij, an n x n Jacobian."""
    rng = random.Random(seed)
    c = [[rng.randint(-5, 5) for _ in range(n)] for _ in range(n)]
    x = [scalar_symbol(f"x{i + 1}") for i in range(n)]
    f = sp.Matrix([x[i] * sp.sin(sp.Add(*[c[i][j] * x[j] for j in range(n)]))
                   for i in range(n)])
    text = ", ".join(f"x{i + 1}*sin(" + " + ".join(f"({c[i][j]})*x{j + 1}" for j in range(n))
                     + ")" for i in range(n))
    wrt = ",".join(map(str, x))
    of = text if source == "string" else list(f)
    return Case("trig", f"trig n={n}", note=_input_note(source),
                ours=lambda: jc.jacobian(of, wrt=wrt, limits=LIMITS).tensor,
                sympy=lambda: f.jacobian(x),
                check=lambda a, b: same_entries(_dense(a), _dense(b)))


# -- cases: X@W backprop ------------------------------------------------------------------

def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: scalar_symbol(f"{name}_{i + 1}_{j + 1}"))


def xw_case(n: int, with_sympy: bool = True) -> Case:
    """dW for Y = X@W: 4-D Jacobian, contraction with dY, compact form, agreement."""
    X, W, dY = _matrix("X", n, n), _matrix("W", n, n), _matrix("dY", n, n)
    shapes = {"X": (n, n), "W": (n, n)}

    def ours():
        [g] = jc.backprop("X@W", "W", shapes=shapes, upstream="dY")
        assert g.agree and g.compact_text == "X.T @ dY", (g.agree, g.compact_text)
        return g.explicit

    def sympy():
        J = sp.derive_by_array(X * W, W)  # J[k, l, i, j] = dY_ij / dW_kl
        dW = sp.tensorcontraction(sp.tensorproduct(J, sp.Array(dY)), (2, 4), (3, 5))
        compact = X.T * dY
        assert sp.Matrix(dW.tolist()) == compact
        return dW

    return Case("xw", f"X@W n={n}", ours=ours, sympy=sympy if with_sympy else None,
                check=lambda a, b: same_entries(_dense(a), _dense(b)),
                note="" if with_sympy else "SymPy's route not attempted: n^6 dense product")


# -- case: two-layer MLP ----------------------------------------------------------------------

MLP = "mean((tanh(X@W1 + b1)@W2 + b2)**2)"


def mlp_case(batch: int = 16, width: int = 16) -> Case:
    """Gradients of a two-layer MLP's mean squared output w.r.t. W1, b1, W2, b2."""
    shapes = {"X": (batch, width), "W1": (width, width), "b1": (width,),
              "W2": (width, width), "b2": (width,)}
    X, W1, W2 = _matrix("X", batch, width), _matrix("W1", width, width), _matrix("W2", width, width)
    b1 = [scalar_symbol(f"b1_{j + 1}") for j in range(width)]
    b2 = [scalar_symbol(f"b2_{j + 1}") for j in range(width)]
    ones = sp.ones(batch, 1)
    H = (X * W1 + ones * sp.Matrix([b1])).applyfunc(sp.tanh)
    O = H * W2 + ones * sp.Matrix([b2])
    params = [W1, sp.Matrix(b1), W2, sp.Matrix(b2)]
    mask = {h: sp.Dummy() for h in set(H)} | {o: sp.Dummy() for o in set(O)}

    def ours():
        grads = jc.backprop(MLP, "W1,b1,W2,b2", shapes=shapes, symbolic=False)
        assert all(g.agree for g in grads), [(g.wrt, g.mismatch) for g in grads]
        return [list(g.explicit) for g in grads]

    def sympy():
        loss = sp.Add(*[o ** 2 for o in O]) / (batch * width)
        return [[loss.diff(w) for w in P] for P in params]

    def check(a, b):
        return same_entries(sum(a, []), sum(b, []), mask)

    return Case("mlp", f"MLP {batch}x{width}", ours=ours, sympy=sympy, check=check,
                note="agreement of our two routes checked numerically (symbolic=False)")


# -- running a case ----------------------------------------------------------------------------

def timed(func: Callable[[], object], clock: Callable[[], float]) -> tuple[float, object]:
    clear_cache()
    gc.collect()
    start = clock()
    result = func()
    return clock() - start, result


def peak_memory(func: Callable[[], object]) -> int:
    clear_cache()
    gc.collect()
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class _OverBudget(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise _OverBudget in the main thread after ``seconds`` of wall time."""
    def _alarm(signum, frame):
        raise _OverBudget
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def peak_rss_growth(case: Case, args) -> int | None:
    """Peak resident-set growth of one run of ours, in a fresh interpreter.

    A fresh process, because a forked one would reuse the memory this one
    has already freed and understate the growth.
    """
    command = [sys.executable, os.path.abspath(__file__), "--peak-of", case.name,
               "--input", args.input] + (["--quick"] if args.quick else [])
    done = subprocess.run(command, capture_output=True, text=True)
    try:
        return int(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _print_peak_of(name: str, args) -> int:
    case = next(c for c in all_cases(args.quick, args.input) if c.name == name)
    clear_cache()
    gc.collect()
    before = _rss()
    case.ours()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
    return 0


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_case(case: Case, args) -> Row:
    row = Row(case.name, notes=[case.note] if case.note else [])
    clock = CLOCKS[args.clock]
    times, ours = [], None
    try:
        with time_limit(args.our_budget):
            for _ in range(args.repeat):
                elapsed, ours = timed(case.ours, clock)
                times.append(elapsed)
                if elapsed > args.repeat_below:  # long runs vary little: one is enough
                    break
            row.our_time = min(times)
            if row.our_time < args.trace_below:
                row.peak = peak_memory(case.ours)
            else:  # tracemalloc would multiply a long run's time several fold
                row.peak = peak_rss_growth(case, args)
                row.notes.append("peak memory: resident-set growth of one run in a fresh "
                                 "process (ru_maxrss), not tracemalloc, for this long run")
    except _OverBudget:
        row.notes.append(f"ours stopped: over the {args.our_budget:g} s budget")
        return row
    if case.sympy is None or args.no_sympy:
        return row
    outcome = _baseline_in_child(case, ours, args)
    row.sympy_time, row.check, note = outcome
    if note:
        row.notes.append(note)
    return row


def _baseline_in_child(case: Case, ours, args) -> tuple[float | None, str, str]:
    """SymPy's route in a forked child (it inherits ``ours`` for the comparison)."""
    parent, child = mp.get_context("fork").Pipe(duplex=False)
    process = mp.get_context("fork").Process(target=_child, args=(case, ours, args, child))
    process.start()
    child.close()
    try:
        if not parent.poll(args.budget):
            return None, "", f"SymPy's route skipped: over the {args.budget:g} s budget"
        kind, value = parent.recv()
        if kind == "error":
            return None, "", f"SymPy's route failed: {value}"
        sympy_time = value
        if not parent.poll(args.check_budget):
            return sympy_time, "", f"equality check not finished in {args.check_budget:g} s"
        kind, value = parent.recv()
        if kind == "differ":
            raise AssertionError(f"{case.name}: results differ\n{value}")
        return sympy_time, value, ""
    except EOFError:
        return None, "", "SymPy's route died (memory cap?)"
    finally:
        process.kill()
        process.join()


def _child(case: Case, ours, args, conn) -> None:
    cap = int(args.memory_cap * 2 ** 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        elapsed, theirs = timed(case.sympy, CLOCKS[args.clock])
    except MemoryError:
        conn.send(("error", f"out of memory under the {args.memory_cap:g} GiB cap"))
        return
    except Exception as exc:  # report, never hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("time", elapsed))
    try:
        conn.send(("equal", case.check(ours, theirs)))
    except AssertionError as exc:
        conn.send(("differ", str(exc)))


# -- CLI cold start -------------------------------------------------------------------------------

def cli_row(runs: int = 5) -> Row:
    """Best-of-``runs`` wall time of the card example against ``import sympy``.

    The two commands alternate, so that a change in the machine's load hits
    both. Both run with bytecode caching allowed (as after ``pip install``):
    SymPy's ``.pyc`` files exist already, and one untimed run writes ours.
    """
    jac = shutil.which("jac")
    command = [jac] if jac else [sys.executable, "-m", "jacobian_calc"]
    command += ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2"]
    baseline = [sys.executable, "-c", "import sympy"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _wall(command, env)
    ours, base = math.inf, math.inf
    for _ in range(runs):
        ours = min(ours, _wall(command, env))
        base = min(base, _wall(baseline, env))
    return Row("CLI cold start (jac card)", sympy_time=base, our_time=ours,
               notes=["SymPy column: python -c 'import sympy'; wall clock, best of "
                      f"{runs}; ratio = import sympy / jac (target: at least 1/1.5 = 0.67)"])


def _wall(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


# -- the table -------------------------------------------------------------------------------------

def all_cases(quick: bool, source: str = "default") -> list[Case]:
    """The cases; softmax is given to us as text, trig as SymPy's own expressions."""
    text = "string" if source == "default" else source
    exprs = "sympy" if source == "default" else source
    if quick:
        return [softmax_case(10, text), trig_case(10, exprs), xw_case(4),
                xw_case(16, with_sympy=False), mlp_case(4, 4)]
    cases = [softmax_case(K, text) for K in (30, 60, 100)]
    cases += [trig_case(n, exprs) for n in (30, 60)]
    cases += [xw_case(n) for n in (8, 12, 16)]
    cases += [xw_case(n, with_sympy=False) for n in (32, 64)]
    cases.append(mlp_case())
    return cases


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g} s" if value >= 0.1 else f"{value * 1000:.3g} ms"


def _memory(value: int | None) -> str:
    return "—" if value is None else f"{value / 2 ** 20:.1f} MiB"


def format_table(rows: list[Row], markdown: bool) -> str:
    header = ["case", "SymPy", "ours", "ratio", "our peak memory", "check"]
    body = [[r.name, _seconds(r.sympy_time), _seconds(r.our_time),
             "—" if r.ratio is None else f"{r.ratio:.1f}x", _memory(r.peak), r.check or "—"]
            for r in rows]
    notes = [f"{r.name}: {n}" for r in rows for n in r.notes]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
    else:
        widths = [max(len(c[i]) for c in [header] + body) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
                 for cells in [header] + body]
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + [""] + [f"* {n}" for n in notes])


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"SymPy {sp.__version__}")


def parse_args(argv: list[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    p.add_argument("--cases", default="", help="comma-separated groups or case names "
                   "(softmax, trig, xw, mlp, cli)")
    p.add_argument("--repeat", type=int, default=None, help="timed runs of ours (best of)")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds allowed to SymPy's route per case [120]")
    p.add_argument("--repeat-below", type=float, default=10.0,
                   help="repeat only runs of ours shorter than this many seconds [10]")
    p.add_argument("--trace-below", type=float, default=30.0,
                   help="trace memory with tracemalloc only for runs shorter than this [30 s]; "
                        "longer ones report resident-set growth")
    p.add_argument("--our-budget", type=float, default=900.0,
                   help="seconds allowed to our route per case, all repetitions [900]")
    p.add_argument("--check-budget", type=float, default=600.0,
                   help="seconds allowed to the equality check per case [600]")
    p.add_argument("--memory-cap", type=float, default=8.0,
                   help="GiB of address space for SymPy's route [8]")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    p.add_argument("--input", choices=("default", "string", "sympy"), default="default",
                   help="softmax and trig: give ours the text or SymPy's own expressions "
                        "(default: softmax as text, trig as expressions)")
    p.add_argument("--no-sympy", action="store_true", help="time ours only")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--peak-of", metavar="CASE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    return args


def selected(cases: list[Case], spec: str) -> tuple[list[Case], bool]:
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    if not wanted:
        return cases, True
    keep = [c for c in cases if c.group in wanted or c.name in wanted]
    return keep, "cli" in wanted


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peak_of:
        return _print_peak_of(args.peak_of, args)
    cases, with_cli = selected(all_cases(args.quick, args.input), args.cases)
    print(machine(), f"| clock: {args.clock} | SymPy budget {args.budget:g} s", flush=True)
    rows = []
    for case in cases:
        rows.append(run_case(case, args))
        r = rows[-1]
        print(f"  {r.name}: sympy {_seconds(r.sympy_time)}, ours {_seconds(r.our_time)}"
              f"{' — ' + '; '.join(r.notes) if r.notes else ''}", flush=True)
    if with_cli:
        rows.append(cli_row(1 if args.quick else 5))
    print()
    print(format_table(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
