"""Property-based fuzzing of the parser, the CLI and the generalized Jacobians.

Three properties:

* any text given to :func:`jacobian_calc.parse` ends in a result or a
  :class:`JacobianError`, never another exception;
* any text given to ``jac`` exits with status 0 or 2, never prints a
  traceback, and reports failures on an ``Error:`` line;
* the generalized Jacobian of a random well-formed matrix expression agrees,
  entry by entry, with central finite differences at a random point.

The number of examples per test is ``JAC_FUZZ_EXAMPLES`` (default 200); a long
campaign is a run of this file with a large value (see benchmarks/FUZZ.md).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacobian_calc import JacobianError, jacobian, parse
from jacobian_calc.symbolic.evaluate import Env, evaluate
from jacobian_calc.cli.main import main
from jacobian_calc.symbolic.numeric import float_eval
from jacobian_calc.parsing import parse_expression

EXAMPLES = int(os.environ.get("JAC_FUZZ_EXAMPLES", "200"))
CLI_EXAMPLES = int(os.environ.get("JAC_FUZZ_CLI_EXAMPLES", str(max(EXAMPLES // 4, 50))))
GRAD_EXAMPLES = int(os.environ.get("JAC_FUZZ_GRAD_EXAMPLES", str(max(EXAMPLES // 4, 40))))

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=list(HealthCheck))
CLI_FUZZ = settings(FUZZ, max_examples=CLI_EXAMPLES)
GRAD_FUZZ = settings(FUZZ, max_examples=GRAD_EXAMPLES)

# -- token soup ------------------------------------------------------------------

VALID_TOKENS = [
    "x", "y", "x1", "x2", "A", "W", "b", "alpha", "beta", "gamma", "f", "g", "pi", "E",
    "0", "1", "2", "10", "0.5", "1e3", "1e-3", "3.", ".5", "1_000", "999999",
    "sin", "cos", "tan", "exp", "log", "ln", "sqrt", "abs", "sigmoid", "relu",
    "softplus", "tanh", "asin", "sum", "mean", "softmax", "hadamard", "outer",
    "ones_like", "axis=0", "axis=1", "keepdims=True",
    "+", "-", "*", "/", "**", "^", "@", ".T", "(", ")", ",", " ", "\t", "\n",
]
JUNK_TOKENS = [
    "'", '"', "[", "]", "{", "}", "#", "\\", "$", "?", "`", ";", ":", "=", "==", "<", ">",
    "!", "&", "|", "%", "~", "//", ".", "..", "...", "_", "__import__", "lambda", "if",
    "else", "not", "and", "or", "None", "True", "yield", "await", "def", "import",
    "0x1F", "0b1", "1j", "1e999", "9" * 60, "\x00", "\u200b", "\u00a0", "\u2003",
    "\u03b1", "\u0430", "\u0445", "\uff58", "\u2212", "\u00d7", "\u2019", "\ud800",
    "\r", "\x7f", "\x1b", "é", "ß", "∂", "x.real", "f(x)(y)", "x[0]",
]
TOKENS = VALID_TOKENS + JUNK_TOKENS

token_soup = st.lists(st.sampled_from(TOKENS), min_size=0, max_size=30).map("".join)
valid_soup = st.lists(st.sampled_from(VALID_TOKENS), min_size=1, max_size=25).map("".join)
byte_text = st.tuples(st.binary(max_size=60),
                      st.sampled_from(["replace", "surrogateescape"])).map(
    lambda p: p[0].decode("utf-8", errors=p[1]))
any_text = st.one_of(token_soup, valid_soup, byte_text, st.text(max_size=40))


def _parse_or_refuse(text: str) -> None:
    try:
        result = parse(text)
    except JacobianError as exc:
        assert str(exc)
        if exc.col is not None:
            assert exc.source is not None
            assert 0 <= exc.col <= len(exc.source)
        return
    assert isinstance(result, list) and result


@FUZZ
@given(any_text)
def test_parse_gives_a_result_or_a_jacobian_error(text):
    _parse_or_refuse(text)


# -- the CLI -------------------------------------------------------------------

OPTION_SETS = [
    [], ["--wrt", "x"], ["--wrt", "x,y"], ["--at", "x=1,y=2"], ["--at", "x=0"],
    ["--simplify", "--simplify-timeout", "0.5"], ["--layout", "denominator"],
    ["--format", "json"], ["--format", "latex"], ["--shape", "A=2x2", "--shape", "x=2"],
    ["--shape", "W=2x3", "--wrt", "W"], ["--chain", "--let", "y=x^2"],
    ["--flatten", "--shape", "A=2x2"], ["--max-depth", "3"], ["--max-length", "5"],
]


def _run_cli(text: str, options: list[str]):
    runner = CliRunner()
    result = runner.invoke(main, [text, *options], catch_exceptions=True)
    output = result.output
    assert result.exit_code in (0, 2), (text, options, result.exit_code, output,
                                        result.exception)
    assert "Traceback" not in output, (text, options, output)
    if result.exit_code == 2:
        assert "Error:" in output, (text, options, output)
        assert "internal error" not in output, (text, options, output)
    return result


@CLI_FUZZ
@given(st.one_of(token_soup, valid_soup, byte_text), st.sampled_from(OPTION_SETS))
def test_cli_exits_0_or_2_with_an_error_line(text, options):
    _run_cli(text, options)


# -- random matrix expressions vs finite differences ---------------------------------

UNARY_SMOOTH = ["sin", "cos", "tanh", "sigmoid", "exp", "softplus", "atan"]


def _var(shape, draw, names):
    name = {0: "s", 1: "v", 2: "M"}[len(shape)] + "x".join(map(str, shape))
    if shape == ():
        name = draw(st.sampled_from(["s", "t"]))
    names[name] = shape
    return name


@st.composite
def matrix_expr(draw, shape, depth=0):
    """Text of a random expression of the given shape, recording its variables."""
    names = draw(st.shared(st.builds(dict), key="names"))
    if depth >= 3 or draw(st.integers(0, 4)) == 0:
        return _var(shape, draw, names)
    choices = ["unary", "add", "mul", "scale"]
    if len(shape) == 2:
        choices += ["matmul", "transpose", "bias", "sum_axis"]
    if len(shape) == 1:
        choices += ["matvec", "softmax", "sum_axis"]
    if shape == ():
        choices += ["sum", "mean"]
    kind = draw(st.sampled_from(choices))
    sub = lambda s: draw(matrix_expr(s, depth + 1))  # noqa: E731
    dim = lambda: draw(st.integers(1, 3))  # noqa: E731
    if kind == "unary":
        return f"{draw(st.sampled_from(UNARY_SMOOTH))}({sub(shape)})"
    if kind == "add":
        return f"({sub(shape)} {draw(st.sampled_from(['+', '-']))} {sub(shape)})"
    if kind == "mul":
        return f"({sub(shape)} * {sub(shape)})"
    if kind == "scale":
        return f"({sub(())} * {sub(shape)})"
    if kind == "matmul":
        j = dim()
        return f"({sub((shape[0], j))} @ {sub((j, shape[1]))})"
    if kind == "matvec":
        j = dim()
        return f"({sub((shape[0], j))} @ {sub((j,))})"
    if kind == "transpose":
        return f"{sub((shape[1], shape[0]))}.T"
    if kind == "bias":
        return f"({sub(shape)} + {sub((shape[1],))})"
    if kind == "softmax":
        return f"softmax({sub(shape)})"
    if kind == "sum_axis":
        if len(shape) == 1:
            return f"sum({sub((dim(), shape[0]))}, axis=0)"
        return f"(mean({sub(shape)}, axis=1, keepdims=True) * {sub(shape)})"
    inner = draw(st.sampled_from([(dim(),), (dim(), dim())]))
    return f"{kind}({sub(inner)})"


@st.composite
def matrix_problem(draw):
    shape = draw(st.sampled_from([(), (2,), (3,), (2, 2), (2, 3), (1, 3)]))
    names = draw(st.shared(st.builds(dict), key="names"))
    text = draw(matrix_expr(shape))
    wrt = draw(st.sampled_from(sorted(names)))
    seed = draw(st.integers(0, 2**31 - 1))
    return text, dict(names), wrt, seed


def _finite_difference_check(text, names, wrt, seed):
    shapes = {n: s for n, s in names.items() if s}
    result = jacobian(text, wrt=wrt, shapes=shapes)
    out = evaluate(parse_expression(text), Env(shapes))
    out_flat = list(out.flat)
    symbols = sorted({s for e in out_flat for s in e.free_symbols}, key=str)
    rng = np.random.default_rng(seed)
    point = {s: float(rng.uniform(-1.0, 1.0)) for s in symbols}
    in_shape = names[wrt]
    inputs = Env(shapes).lookup(wrt).flat
    for sym in inputs:
        point.setdefault(sym, float(rng.uniform(-1.0, 1.0)))
    dense = result.as_object_array()
    out_shape = out.shape
    if out_shape and in_shape:
        assert dense.shape == tuple(out_shape) + tuple(in_shape), (text, dense.shape)
    assert dense.size == len(out_flat) * len(inputs), (text, dense.shape)
    analytic = np.asarray(float_eval(list(dense.reshape(-1)), point),
                          dtype=float).reshape(len(out_flat), len(inputs))
    h = 1e-6
    for j, sym in enumerate(inputs):
        plus, minus = dict(point), dict(point)
        plus[sym] += h
        minus[sym] -= h
        f_plus = np.asarray(float_eval(out_flat, plus), dtype=float)
        f_minus = np.asarray(float_eval(out_flat, minus), dtype=float)
        numeric = (f_plus - f_minus) / (2 * h)
        np.testing.assert_allclose(analytic[:, j], numeric, rtol=1e-4, atol=1e-5,
                                   err_msg=f"{text} wrt {wrt} (input entry {sym})")


@GRAD_FUZZ
@given(matrix_problem())
def test_random_matrix_expressions_match_finite_differences(problem):
    _finite_difference_check(*problem)


@pytest.mark.parametrize("text, names, wrt", [
    ("sum(sigmoid(M2x3 @ M3x2 + v2))", {"M2x3": (2, 3), "M3x2": (3, 2), "v2": (2,)}, "M3x2"),
    ("softmax(M2x3 @ v3)", {"M2x3": (2, 3), "v3": (3,)}, "v3"),
    ("mean(tanh(M2x2.T * s))", {"M2x2": (2, 2), "s": ()}, "M2x2"),
])
def test_fixed_matrix_expressions_match_finite_differences(text, names, wrt):
    _finite_difference_check(text, names, wrt, 1)
