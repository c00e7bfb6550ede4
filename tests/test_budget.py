"""Every request finishes or is refused: bounded work on every path, no raw exceptions,
nothing silently wrong.

Each input of the hostile probe that once ran away, failed with an internal
error or did something surprising is run here as the ``jac`` command: it must
end with a result, or with one ``Error:`` line naming the limit or the problem
(never ``internal error``). A request that ran away would be stopped by its
own ``--timeout`` and name that limit instead of the one expected, so the name
of the limit is what the tests check, never a time. The few cases that need a
process of their own (a full device as standard output, a terminal encoding)
run ``python -m jacobian_calc`` with a generous guard against hanging.
A property test then checks that random requests within the default limits
finish or are refused with exit status 2 and the name of a limit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jacobian_calc
from jacobian_calc import Limits, jacobian, read_json
from jacobian_calc.cli.main import main
from jacobian_calc.core import budget
from jacobian_calc.core.files import atomic_write

#: A process that has not ended after this long is hung (a guard, not a measure of speed).
HANG_SECONDS = 600
ROOT = Path(__file__).resolve().parents[1]


class Done:
    """What a ``jac`` run left: exit status and the bytes it wrote."""

    def __init__(self, returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def nested_lets(levels: int = 10) -> list[str]:
    args, previous = [], "x"
    for i in range(levels):
        args += ["--let", f"y{i}=sin({previous}) + cos({previous})"]
        previous = f"y{i}"
    return args


def run_jac(*args: str, env: dict | None = None, stdout=None) -> Done:
    """``jac args``: in this process, or in a fresh one when ``env`` or ``stdout`` is given."""
    if env is None and stdout is None:
        result = CliRunner().invoke(main, list(args))
        return Done(result.exit_code, result.stdout_bytes, result.stderr_bytes)
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    try:
        done = subprocess.run([sys.executable, "-m", "jacobian_calc", *args],
                              stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=HANG_SECONDS, env=environment)
    except subprocess.TimeoutExpired:
        pytest.fail(f"jac {' '.join(args)[:80]} hung")
    return Done(done.returncode, done.stdout, done.stderr)


def refused(*args: str, naming: str, **kwargs) -> str:
    """The request ends with exit status 2 and exactly one Error line that names ``naming``."""
    done = run_jac(*args, **kwargs)
    err = done.stderr.decode("utf-8", "replace")
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2, err
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    assert naming in lines[0], lines[0]
    return lines[0]


def answered(*args: str, **kwargs) -> str:
    done = run_jac(*args, **kwargs)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, err
    assert "Traceback" not in err
    return done.stdout.decode("utf-8")


# -- limits that cover every stage ------------------------------------------------------------

@pytest.mark.parametrize("wrt", [[], ["--wrt", "X"]])
def test_square_of_a_316_matrix_is_refused_with_or_without_wrt(wrt):
    refused("X@X", *wrt, "--shape", "X=316x316", naming="--max-entries")


def test_backprop_of_a_300x300_product_is_refused():
    args = ["X@W", "--wrt", "W", "--shape", "X=300x300", "--shape", "W=300x300", "--backprop"]
    if hasattr(jacobian_calc, "backprop"):
        line = refused(*args, naming="--max-")
        assert "--max-nodes" in line or "--max-entries" in line
    else:
        refused(*args, naming="--backprop is not available")


@pytest.mark.skipif(not hasattr(jacobian_calc, "backprop"), reason="backprop not in this branch")
def test_backprop_never_computes_a_huge_power():
    refused("sum((3*X)**(10**12))", "--wrt", "X", "--shape", "X=2", "--backprop",
            naming="--max-digits")


@pytest.mark.skipif(not hasattr(jacobian_calc, "backprop"), reason="backprop not in this branch")
def test_backprop_of_a_long_softmax_is_bounded_by_the_timeout():
    # --full: every step written out at l=200 (derived for all sizes, it is quick)
    line = refused("sum(softmax(l))", "--wrt", "l", "--shape", "l=200", "--backprop", "--full",
                   "--timeout", "2", naming="--timeout")
    assert "took longer than 2 s" in line


def test_sum_of_a_100x100_square_is_refused_by_its_node_estimate():
    line = refused("sum(X@X)", "--shape", "X=100x100", naming="--max-nodes")
    assert "X @ X" in line


def test_exp_of_a_fourth_power_prints_shared_subexpressions():
    out = answered("sum(exp(X@X@X@X))", "--shape", "X=8x8")
    assert "\nwhere\n  S1 = " in out
    assert len(out) < 2_000_000  # unshared it would be about 33 MB


@pytest.mark.parametrize("n", [100, pytest.param(200, marks=pytest.mark.slow)])
def test_softmax_json_names_the_denominator_once(n):
    out = answered("softmax(l)", "--shape", f"l={n}", "--format", "json")
    doc = json.loads(out)
    (name, total), = doc["shared"].items()
    assert total.count("exp(l_") == n
    entries = doc["jacobians"][0]["entries"]
    assert entries[0][1] == f"-exp(l_1)*exp(l_2)/{name}**2"
    assert len(out) < 6_000_000  # both forms of 40,000 entries; without sharing 160 MB


def test_shared_json_reads_back_to_the_same_entries():
    J = jacobian("softmax(l)", shapes={"l": 6})
    plain = read_json(J.to_json(shared=False))
    shared = read_json(J.to_json(shared=True))
    assert "shared" not in plain and "shared" in shared
    assert shared["jacobians"][0]["entries"] == plain["jacobians"][0]["entries"] == J.tensor


def test_shared_json_reads_back_in_plain_sympy():
    import sympy as sp
    J = jacobian("softmax(l)", shapes={"l": 4})
    doc = J.to_dict(shared=True)
    definitions = [(sp.Symbol(name), sp.sympify(text))
                   for name, text in doc["shared_sympy"].items()]
    for (i, j), expected in J.nonzeros().items():
        entry = sp.sympify(doc["jacobians"][0]["sympy"][i][j])
        for name, value in reversed(definitions):
            entry = entry.subs(name, value)
        assert sp.simplify(entry - expected) == 0


def test_ten_nested_lets_print_each_level_once():
    out = answered("y9", "--wrt", "x", *nested_lets())
    assert "where" in out and len(out) < 5_000


def test_ten_nested_lets_in_json_and_without_sharing():
    out = answered("y9", "--wrt", "x", "--format", "json", *nested_lets())
    assert "shared" in json.loads(out)
    line = refused("y15", "--wrt", "x", "--no-shared", *nested_lets(16),
                   naming="--max-output")
    assert "characters" in line


def test_chain_through_ten_nested_lets_does_not_expand():
    out = answered("y9", "--wrt", "x", "--chain", *nested_lets())
    assert "equals the direct Jacobian (verified)" in out


def test_a_power_that_would_compute_a_huge_integer_is_refused():
    refused("(3*x)**(10**12)", naming="--max-digits")
    refused("(2*x)**1000000", naming="--max-digits")
    refused("((2*x)**1000)**1000", naming="--max-digits")
    refused("(sqrt(2)*x)**100000", naming="--max-digits")


def test_point_with_a_huge_value_does_not_hang():
    refused("sin(x)", "--at", "x=E**E**E**E", naming="not a finite real number")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_simplify_timeout_must_be_finite(value):
    refused("x", "--simplify", "--simplify-timeout", value, naming="--simplify-timeout")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_timeout_must_be_positive_and_finite(value):
    refused("x", "--timeout", value, naming="--timeout")


def test_simplify_has_a_total_bound():
    line = refused("softmax(l)", "--shape", "l=30", "--simplify", "--timeout", "2",
                   naming="--timeout")
    assert "simplifying" in line


def test_timeout_covers_evaluation_and_differentiation():
    line = refused("sum(exp(X@X@X))", "--shape", "X=20x20", "--timeout", "0.3",
                   "--max-nodes", "100000000", naming="--timeout")
    assert "took longer than 0.3 s" in line


# -- false refusals: nesting measures real nesting (regressions) ------------------------------

def test_a_long_flat_sum_of_calls_is_not_nesting():
    answered(" + ".join(f"sin(x{i})" for i in range(1, 102)), "--wrt", "x1")


def test_a_flat_chain_of_divisions_is_not_nesting():
    answered("/".join(["x"] * 250))
    answered("@".join(["A"] * 120), "--shape", "A=2x2", "--wrt", "A")


def test_real_nesting_is_still_refused():
    refused("sin(" * 101 + "x" + ")" * 101, naming="--max-depth")


# -- internal errors become clear messages --------------------------------------------------

def test_complex_point_value():
    refused("x**2", "--at", "x=(-1)**(1/2)", naming="is complex")


@pytest.mark.parametrize("dims", ["²", "２", "٣", "2x²"])
def test_non_ascii_digits_in_a_shape(dims):
    refused("sum(X)", "--shape", f"X={dims}", naming="malformed dimensions")


def test_full_device_on_standard_output():
    with open("/dev/full", "wb") as full:
        refused("x*y", naming="No space left on device", stdout=full)


def test_full_device_as_output_file():
    refused("x*y", "-o", "/dev/full", naming="not a regular file")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "ascii"])
def test_non_utf8_terminal_encoding(encoding):
    out = answered("sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2",
                   env={"PYTHONIOENCODING": encoding})
    assert "/" in out and "x1" in out


# -- nothing silently wrong -------------------------------------------------------------------

def test_division_by_a_constant_zero():
    refused("x/(1-1)", naming="division by zero")
    refused("x/0", naming="division by zero")
    refused("x*log(1-1)", naming="infinite or undefined")


@pytest.mark.parametrize("args, naming", [
    (["sum(X@W)", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop",
      "--flatten"], "--flatten has no effect with --backprop"),
    (["y", "--wrt", "x", "--let", "y=2*x", "--chain", "--backprop"],
     "--chain has no effect with --backprop"),
    (["x**2", "--check"], "--check has no effect without --backprop"),
    (["x**2", "--upstream", "G"], "--upstream has no effect without --backprop"),
    (["x**2", "--inline"], "--inline has no effect without --backprop"),
    (["x**2", "--expand"], "--expand has no effect without --backprop"),
    (["x**2", "--onehot", "T"], "--onehot has no effect without --backprop"),
    (["sum(X)", "--wrt", "X", "--shape", "X=2", "--backprop", "--layout", "denominator"],
     "--layout has no effect with --backprop"),
    (["x**2", "--simplify-timeout", "3"], "--simplify-timeout has no effect without --simplify"),
    (["x**2", "--matrix-env", "bmatrix"], "--matrix-env has no effect without --format latex"),
    (["x**2", "--full", "--format", "json"], "--full has no effect with --format json"),
    (["x**2", "--full", "--at", "x=1"], "--full has no effect with --at"),
    (["x**2", "--no-shared", "--at", "x=1"], "--no-shared has no effect with --at"),
    (["--rules", "--wrt", "x"], "--wrt has no effect with --rules"),
    (["x", "--rules"], "--rules takes no expression"),
])
def test_options_that_do_not_apply_are_errors(args, naming):
    refused(*args, naming=naming)


@pytest.mark.parametrize("args, naming", [
    (["x*y", "--layout", "numerator", "--layout", "denominator"], "--layout may be given once"),
    (["x*y", "--format", "json", "--format=text"], "--format may be given once"),
    (["x*y", "--wrt", "x", "--wrt", "y"], "--wrt may be given once"),
    (["x*y", "--simplify", "--no-simplify"], "may be given once"),
    (["x*y", "--at", "x=1,y=2", "--at", "x=2,y=1"], "--at may be given once"),
    (["x*y", "--timeout", "5", "--timeout", "6"], "--timeout may be given once"),
    (["sum(X)", "--shape", "X=2", "--shape", "X=3"], "declared twice"),
])
def test_a_repeated_single_value_option_is_an_error(args, naming):
    refused(*args, naming=naming)


def test_repeatable_options_may_repeat():
    answered("y2", "--wrt", "x", "--let", "y1=2*x", "--let", "y2=y1**2")


@pytest.mark.skipif(not hasattr(jacobian_calc, "backprop"), reason="backprop not in this branch")
@pytest.mark.parametrize("upstream", ["X", "W", "X_1_1"])
def test_upstream_name_colliding_with_an_input_is_an_error(upstream):
    line = refused("X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop",
                   "--upstream", upstream, naming=upstream)
    assert "agree" not in line


def test_output_name_colliding_with_an_input_is_an_error():
    refused("sigmoid(Y)", "--shape", "Y=2", "--in-terms-of-output", naming="Y")


def test_shared_names_avoid_names_in_use():
    out = answered("softmax(S1 * l)", "--shape", "l=3", "--wrt", "l", "--shared")
    assert "S2 = " in out and "  S1 = " not in out


# -- files --------------------------------------------------------------------------------------

def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".jac-")]


def test_output_refuses_devices_fifos_directories_and_symlinks(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link.symlink_to(target)
    for path, words in [("/dev/null", "not a regular file"), (str(fifo), "not a regular file"),
                        (str(tmp_path), "directory"), (str(link), "symbolic link")]:
        refused("x*y", "-o", path, naming=words)
    assert target.read_text() == "keep" and link.is_symlink()
    assert not _leftovers(tmp_path)


def test_output_keeps_the_mode_of_a_file_it_replaces(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    out.chmod(0o640)
    answered("x*y", "-o", str(out))
    assert "∂" in out.read_text() and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 128 + signal.SIGTERM),
                                            (signal.SIGINT, 130)])
def test_a_signal_during_the_write_leaves_no_temporary_file(tmp_path, signum, status):
    out = tmp_path / "out.txt"
    out.write_text("old")
    script = (
        "import os, signal, sys\n"
        # as started from a terminal: a job started in the background of a
        # non-interactive shell inherits SIGINT ignored, and then ignores it
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "real = os.fsync\n"
        f"def fsync(fd):\n    os.kill(os.getpid(), {int(signum)})\n    real(fd)\n"
        "os.fsync = fsync\n"
        "from jacobian_calc.cli.main import main\n"
        f"sys.argv = ['jac', 'x*y', '-o', {str(out)!r}]\n"
        "main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == status, done.stderr
    assert b"Traceback" not in done.stderr
    assert out.read_text() == "old"
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt,
                                     RuntimeError("boom")])
def test_any_exception_during_the_write_leaves_no_temporary_file(tmp_path, monkeypatch,
                                                                 failure):
    out = tmp_path / "out.txt"

    def fail(fd):
        raise failure
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises((jacobian_calc.JacobianError, KeyboardInterrupt, RuntimeError)):
        atomic_write(str(out), "text")
    assert not out.exists() and not _leftovers(tmp_path)


# -- the budget itself --------------------------------------------------------------------------

def test_the_budget_is_one_for_nested_calls():
    with budget.request(Limits(timeout=5)) as outer:
        with budget.request(Limits(timeout=100)) as inner:
            assert inner is outer
    assert budget.current() is None


def test_no_alarm_outlives_a_request():
    with budget.request(Limits(timeout=5)):
        assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_the_alarm_interrupts_work_no_check_reaches():
    give_up = time.monotonic() + HANG_SECONDS  # only so that a broken alarm fails, not hangs
    with pytest.raises(jacobian_calc.LimitError, match="took longer than 0.2 s"):
        with budget.request(Limits(timeout=0.2)):
            while time.monotonic() < give_up:
                pass


def test_an_interruption_leaves_sympy_evaluating():
    """An alarm that stops SymPy between changing its global flags and restoring them
    (``with evaluate(False)``) must not leave them changed for the next request."""
    import sympy as sp
    from sympy.core.parameters import global_parameters as flags
    import jacobian_calc.symbolic.algebra  # noqa: F401 - registers the guard
    with pytest.raises(jacobian_calc.LimitError):
        with budget.request(Limits(timeout=0.2)):
            flags.evaluate = False  # as if interrupted before evaluate.__exit__ ran
            while True:
                pass
    assert flags.evaluate is True
    x = sp.Symbol("x")
    assert x + x == 2 * x


def test_shared_printing_never_names_a_bound_variable():
    out = answered("f(g(x)*h(y)) + f(g(x)*h(y))**2", "--function", "f,g,h", "--shared")
    assert "_xi" not in "".join(line for line in out.splitlines() if line.startswith("  S"))


def test_limited_blocks_nest_within_the_request():
    with budget.request(Limits(timeout=5)):
        with pytest.raises(budget.OutOfTime):
            with budget.limited(0.05):
                while True:
                    pass
        budget.check()  # the request still has time


# -- the property: within the default limits, finished in time or refused by a limit --------

LETTERS = "ABCDFGHJKM"  # not E: that is the constant e


@st.composite
def requests(draw, largest: int = 80):
    """A shape-correct expression over declared arrays, its shapes and an input."""
    sizes = draw(st.lists(st.integers(1, largest), min_size=3, max_size=3))
    shapes: dict[tuple, str] = {}

    def variable(shape):
        if shape not in shapes:
            shapes[shape] = LETTERS[len(shapes)] if len(shapes) < len(LETTERS) else "Z"
        return shapes[shape]

    def expr(shape, depth):
        if depth == 0:
            return variable(shape) if shape else "a"
        kind = draw(st.sampled_from(["fn", "bin", "matmul", "sum", "softmax", "T", "scalar"]))
        if kind == "fn":
            f = draw(st.sampled_from(["exp", "sin", "tanh", "sigmoid", "relu", "sqrt"]))
            return f"{f}({expr(shape, depth - 1)})"
        if kind == "bin":
            op = draw(st.sampled_from(["+", "-", "*"]))
            return f"({expr(shape, depth - 1)} {op} {expr(shape, depth - 1)})"
        if kind == "matmul" and len(shape) == 2:
            inner = draw(st.sampled_from(sizes))
            return f"({expr((shape[0], inner), depth - 1)} @ {expr((inner, shape[1]), depth - 1)})"
        if kind == "sum" and len(shape) <= 1:
            extra = draw(st.sampled_from(sizes))
            if not shape:
                return f"sum({expr((extra,), depth - 1)})"
            return f"sum({expr((shape[0], extra), depth - 1)}, axis=1)"
        if kind == "softmax" and shape:
            return f"softmax({expr(shape, depth - 1)})"
        if kind == "T" and len(shape) == 2:
            return f"{expr(shape[::-1], depth - 1)}.T"
        if kind == "scalar":
            return f"(a * {expr(shape, depth - 1)})"
        return f"({expr(shape, depth - 1)} + {expr(shape, 0)})"

    rank = draw(st.sampled_from([0, 1, 2, 2]))
    shape = tuple(draw(st.sampled_from(sizes)) for _ in range(rank))
    text = expr(shape, draw(st.integers(1, 4)))
    declared = {name: s for s, name in shapes.items() if s}
    args = [text]
    for name, s in declared.items():
        args += ["--shape", f"{name}={'x'.join(map(str, s))}"]
    names = sorted(declared) + (["a"] if re.search(r"\ba\b", text) else [])
    if names:
        args += ["--wrt", draw(st.sampled_from(names))]
    args += ["--format", draw(st.sampled_from(["text", "json"]))]
    return args


def finished_or_refused_by_a_limit(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 2), (args, result.output)
    assert "internal error" not in result.output and "Traceback" not in result.output, args
    limits = [limit for limit in ("max-nodes", "max-entries", "max-output", "timeout",
                                  "max-digits") if f"--{limit}" in result.output]
    event(f"refused by --{limits[0]}" if result.exit_code == 2 and limits else
          f"exit status {result.exit_code}")
    if result.exit_code == 2:
        assert limits, (args, result.output)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(requests(largest=12))
def test_random_small_requests_finish_or_are_refused_by_a_limit(args):
    finished_or_refused_by_a_limit(args)


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(requests())
def test_random_requests_finish_in_time_or_are_refused_by_a_limit(args):
    finished_or_refused_by_a_limit(args)


def test_work_is_measured_in_budget_checks(work):
    """The ``work`` fixture that the tests use instead of clocks counts real work."""
    jacobian("sum(exp(X@X))", shapes={"X": (3, 3)})
    small = work.checks
    jacobian("sum(exp(X@X))", shapes={"X": (6, 6)})
    assert 0 < small < work.checks - small
