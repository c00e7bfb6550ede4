"""Property tests: random expressions, Jacobians checked against finite differences.

Each random expression is generated twice in parallel: as text for the
calculator, and as an independent numeric function (``sympy.lambdify`` of an
expression built directly in SymPy for the scalar grammar; plain NumPy for the
matrix grammar). The oracle never goes through the calculator's parser or
evaluator. Points where a kink (``abs``, ``relu``) lies within reach of the
finite-difference step, or where values blow up, are rejected.

An independent autodiff (PyTorch, float64) is used where installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacobian_calc import jacobian
from jacobian_calc.symbolic.symbols import entry_symbol

H = 1e-6  # central difference step
#: Examples per property; JAC_EXAMPLES=2000 for a long local run.
EXAMPLES = int(os.environ.get("JAC_EXAMPLES", 50))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

pytestmark = pytest.mark.filterwarnings("ignore:.*does not appear")


def exact(value: float) -> sp.Rational:
    """A float as an exact SymPy number (the binary value, no rounding games)."""
    return sp.Rational(value)


# -- the scalar grammar ----------------------------------------------------------------

VARS = ("x1", "x2", "x3")
PLAIN = {name: sp.Symbol(name, real=True) for name in VARS}  # built here, not by the calculator


@dataclass
class S:
    """One scalar expression, as text and as a plain SymPy expression."""

    text: str
    expr: sp.Expr
    kinks: list = field(default_factory=list)  # arguments of abs / relu


def _wrap(fmt: str, build: Callable, kink: bool = False):
    def make(a: S) -> S:
        return S(fmt.format(a.text), build(a.expr), a.kinks + ([a.expr] if kink else []))
    return make


UNARY_S = [
    _wrap("sin({})", sp.sin),
    _wrap("cos({})", sp.cos),
    _wrap("tan({})", sp.tan),
    _wrap("exp({})", sp.exp),
    _wrap("log(({})**2 + 1)", lambda a: sp.log(a**2 + 1)),
    _wrap("sqrt(({})^2 + 1)", lambda a: sp.sqrt(a**2 + 1)),
    _wrap("abs({})", sp.Abs, kink=True),
    _wrap("sigmoid({})", lambda a: 1 / (1 + sp.exp(-a))),
    _wrap("relu({})", lambda a: sp.Max(0, a), kink=True),
    _wrap("softplus({})", lambda a: sp.log(1 + sp.exp(a))),
    _wrap("tanh({})", sp.tanh),
    _wrap("atan({})", sp.atan),
    _wrap("({})**2", lambda a: a**2),
    _wrap("({})^3", lambda a: a**3),
    _wrap("(({})**2 + 1)**-2", lambda a: (a**2 + 1)**-2),
    _wrap("-({})", lambda a: -a),
]


def _binary(fmt: str, build: Callable):
    def make(a: S, b: S) -> S:
        return S(fmt.format(a.text, b.text), build(a.expr, b.expr), a.kinks + b.kinks)
    return make


BINARY_S = [
    _binary("({}) + ({})", lambda a, b: a + b),
    _binary("({}) - ({})", lambda a, b: a - b),
    _binary("({}) * ({})", lambda a, b: a * b),
    _binary("({}) / (({})**2 + 1)", lambda a, b: a / (b**2 + 1)),
    _binary("({}) / (2 + sin({}))", lambda a, b: a / (2 + sp.sin(b))),
]

LEAVES_S = ([S(v, PLAIN[v]) for v in VARS]
            + [S("2", sp.Integer(2)), S("3", sp.Integer(3)), S("0.5", sp.Rational(1, 2)),
               S("pi", sp.pi), S("1.25", sp.Rational(5, 4))])


@st.composite
def scalar_exprs(draw, depth: int = 3) -> S:
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        # variables twice as likely as constants
        return draw(st.sampled_from(LEAVES_S[:3] * 2 + LEAVES_S[3:]))
    if draw(st.booleans()):
        return draw(st.sampled_from(UNARY_S))(draw(scalar_exprs(depth - 1)))
    op = draw(st.sampled_from(BINARY_S))
    return op(draw(scalar_exprs(depth - 1)), draw(scalar_exprs(depth - 1)))


points = st.lists(st.floats(-2, 2, allow_nan=False, allow_infinity=False),
                  min_size=3, max_size=3)


def _lambdify(exprs):
    return sp.lambdify([PLAIN[v] for v in VARS], exprs, modules="math")


def _central_differences(func, x: np.ndarray, n_out: int, h: float = H) -> np.ndarray:
    fd = np.zeros((n_out, len(x)))
    for j in range(len(x)):
        step = np.zeros(len(x))
        step[j] = h
        fd[:, j] = (np.array(func(*(x + step))) - np.array(func(*(x - step)))) / (2 * h)
    return fd


def _well_conditioned(fd: np.ndarray, fd_2h: np.ndarray, scale: float) -> bool:
    """Whether the difference quotient can be trusted at this point.

    The truncation error of a central difference grows as h²: if steps h and
    2h disagree by more than the tolerance, the function is too curved here
    (e.g. close to a pole of tan) and the point says nothing about the rule.
    """
    return bool(np.all(np.abs(fd - fd_2h) < 1e-6 * (1 + np.abs(fd)) + 1e-7 * scale))


def _safe_values(func, x):
    try:
        values = np.array(func(*x), dtype=float)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    return values if np.all(np.isfinite(values)) else None


def check_against_differences(text: str, x: np.ndarray, fd: np.ndarray, scale: float = 1.0):
    """Assert the calculator's Jacobian of ``text`` at ``x`` matches ``fd``; return it."""
    J = jacobian(text, wrt="x1,x2,x3")
    known = {s.name for s in J.in_symbols} | set(J.symbols())
    got = J.evaluate({n: exact(v) for n, v in zip(VARS, x) if n in known})
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6 * max(1.0, scale), err_msg=text)
    return J


@SETTINGS
@given(components=st.lists(scalar_exprs(), min_size=1, max_size=3), x=points)
def test_scalar_jacobian_matches_finite_differences(components, x):
    x = np.array(x)
    text = ", ".join(c.text for c in components)
    func = _lambdify([c.expr for c in components])
    values = _safe_values(func, x)
    assume(values is not None and np.all(np.abs(values) < 1e4))
    kinks = [k for c in components for k in c.kinks]
    if kinks:
        kink_values = _safe_values(_lambdify(kinks), x)
        assume(kink_values is not None and np.all(np.abs(kink_values) > 1e-3))
    for sign in (1, -1):  # the step must not leave the safe region
        assume(_safe_values(func, x + sign * H) is not None)

    fd = _central_differences(func, x, len(components))
    assume(np.all(np.abs(fd) < 1e5))
    for sign in (1, -1):
        assume(_safe_values(func, x + sign * 2 * H) is not None)
    fd_2h = _central_differences(func, x, len(components), 2 * H)
    assume(_well_conditioned(fd, fd_2h, float(np.max(np.abs(values)))))
    J = check_against_differences(text, x, fd, scale=float(np.max(np.abs(values))))
    assert J.shape == (len(components), 3)

    den = jacobian(text, wrt="x1,x2,x3", layout="denominator")
    assert den.shape == (3, len(components))
    assert den.tensor == J.tensor.T


def _heaviside(x, h0=0.5):
    return 1.0 if x > 0 else 0.0 if x < 0 else h0


@SETTINGS
@given(components=st.lists(scalar_exprs(), min_size=1, max_size=2), x=points)
def test_scalar_jacobian_matches_sympy_diff(components, x):
    """Tight agreement with sympy.diff of the independently built expressions."""
    x = np.array(x)
    exprs = [c.expr for c in components]
    kinks = [k for c in components for k in c.kinks]
    if kinks:
        kink_values = _safe_values(_lambdify(kinks), x)
        assume(kink_values is not None and np.all(np.abs(kink_values) > 1e-9))
    rows = [[sp.diff(e, PLAIN[v]) for v in VARS] for e in exprs]
    oracle = sp.lambdify([PLAIN[v] for v in VARS], rows,
                         modules=[{"Heaviside": _heaviside}, "math"])
    want = _safe_values(oracle, x)
    assume(want is not None and np.all(np.abs(want) < 1e8))
    J = jacobian(", ".join(c.text for c in components), wrt="x1,x2,x3")
    known = set(J.symbols())
    got = J.evaluate({n: exact(v) for n, v in zip(VARS, x) if n in known})
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


# -- the matrix grammar ---------------------------------------------------------------------

NAMES = "ABCDFGHKMNPQRUVWXYZ"


@dataclass
class M:
    """One array expression, as text and as a NumPy function of the variables."""

    text: str
    func: Callable  # (env, kinks) -> ndarray
    shape: tuple


class Pool:
    """Declared variables: one name per shape, created on demand."""

    def __init__(self):
        self.by_shape: dict[tuple, str] = {}

    def name(self, shape: tuple) -> str:
        if shape not in self.by_shape:
            self.by_shape[shape] = NAMES[len(self.by_shape)]
        return self.by_shape[shape]

    @property
    def shapes(self) -> dict[str, tuple]:
        return {name: shape for shape, name in self.by_shape.items()}


def _leaf(pool: Pool, shape: tuple) -> M:
    if shape == ():
        return M("s", lambda env, k: env["s"], ())
    name = pool.name(shape)
    return M(name, lambda env, k: env[name], shape)


def _np_softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _np_relu(z, kinks):
    kinks.append(np.min(np.abs(z)) if np.size(z) else np.inf)
    return np.maximum(z, 0.0)


ELEMENTWISE_M = {
    "sin": lambda z, k: np.sin(z), "cos": lambda z, k: np.cos(z),
    "tanh": lambda z, k: np.tanh(z), "exp": lambda z, k: np.exp(z),
    "sigmoid": lambda z, k: 1 / (1 + np.exp(-z)), "atan": lambda z, k: np.arctan(z),
    "softplus": lambda z, k: np.logaddexp(0.0, z), "relu": _np_relu,
}

dims = st.integers(1, 3)


@st.composite
def matrix_exprs(draw, pool: Pool, shape: tuple, depth: int = 3) -> M:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return _leaf(pool, shape)
    rules = ["unary", "binary", "scale"]
    if shape:
        rules += ["matmul", "softmax"]
    if len(shape) == 2:
        rules += ["transpose", "bias"]
    if len(shape) == 1:
        rules += ["reduce_axis"]
    if shape == ():
        rules += ["reduce", "dot"]
    rule = draw(st.sampled_from(rules))
    sub = lambda s: draw(matrix_exprs(pool, s, depth - 1))  # noqa: E731
    if rule == "unary":
        name = draw(st.sampled_from(sorted(ELEMENTWISE_M)))
        a, f = sub(shape), ELEMENTWISE_M[name]
        return M(f"{name}({a.text})", lambda env, k: f(a.func(env, k), k), shape)
    if rule == "binary":
        op = draw(st.sampled_from(["+", "-", "*"]))
        a, b = sub(shape), sub(shape)
        ops = {"+": np.add, "-": np.subtract, "*": np.multiply}
        return M(f"({a.text}) {op} ({b.text})",
                 lambda env, k: ops[op](a.func(env, k), b.func(env, k)), shape)
    if rule == "scale":
        c = draw(st.sampled_from(["2", "0.5", "s"]))
        a = sub(shape)
        value = {"2": lambda env: 2.0, "0.5": lambda env: 0.5, "s": lambda env: env["s"]}[c]
        return M(f"{c}*({a.text})", lambda env, k: value(env) * a.func(env, k), shape)
    if rule == "matmul":
        inner = draw(dims)
        if len(shape) == 2:
            a, b = sub((shape[0], inner)), sub((inner, shape[1]))
        elif draw(st.booleans()):
            a, b = sub((shape[0], inner)), sub((inner,))
        else:
            a, b = sub((inner,)), sub((inner, shape[0]))
        return M(f"({a.text}) @ ({b.text})",
                 lambda env, k: a.func(env, k) @ b.func(env, k), shape)
    if rule == "dot":
        inner = draw(dims)
        a, b = sub((inner,)), sub((inner,))
        return M(f"({a.text}) @ ({b.text})",
                 lambda env, k: np.asarray(a.func(env, k) @ b.func(env, k)), ())
    if rule == "softmax":
        a = sub(shape)
        return M(f"softmax({a.text})", lambda env, k: _np_softmax(a.func(env, k)), shape)
    if rule == "transpose":
        a = sub(shape[::-1])
        return M(f"({a.text}).T", lambda env, k: a.func(env, k).T, shape)
    if rule == "bias":
        a, b = sub(shape), sub((shape[1],))
        return M(f"({a.text}) + {b.text}" if b.text.isalpha() else f"({a.text}) + ({b.text})",
                 lambda env, k: a.func(env, k) + b.func(env, k), shape)
    if rule == "reduce_axis":
        fn = draw(st.sampled_from(["sum", "mean"]))
        other = draw(dims)
        axis = draw(st.sampled_from([0, 1]))
        a = sub((other, shape[0]) if axis == 0 else (shape[0], other))
        np_fn = {"sum": np.sum, "mean": np.mean}[fn]
        return M(f"{fn}({a.text}, axis={axis})",
                 lambda env, k: np_fn(a.func(env, k), axis=axis), shape)
    # reduce: a scalar loss from an array
    fn = draw(st.sampled_from(["sum", "mean"]))
    inner_shape = draw(st.sampled_from([(draw(dims),), (draw(dims), draw(dims))]))
    a = sub(inner_shape)
    np_fn = {"sum": np.sum, "mean": np.mean}[fn]
    return M(f"{fn}({a.text})", lambda env, k: np.asarray(np_fn(a.func(env, k))), ())


@st.composite
def matrix_problems(draw):
    pool = Pool()
    shape = draw(st.sampled_from([(), (draw(dims),), (draw(dims), draw(dims))]))
    expr = draw(matrix_exprs(pool, shape))
    assume(pool.shapes)  # at least one declared array to differentiate by
    used = [n for n in pool.shapes if n in expr.text]
    assume(used)
    wrt = draw(st.sampled_from(sorted(used)))
    seed = draw(st.integers(0, 2**32 - 1))
    return expr, pool.shapes, wrt, seed


def _point(shapes: dict, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    env = {name: rng.uniform(-1, 1, size=shape) for name, shape in shapes.items()}
    env["s"] = np.float64(rng.uniform(0.5, 1.5))
    return env


def _at(env: dict, J) -> dict:
    """Entry-symbol values for the names that the result knows about."""
    at = {"s": exact(float(env["s"]))}
    for name, value in env.items():
        if name == "s":
            continue
        for index in np.ndindex(*value.shape):
            at[entry_symbol(name, index).name] = exact(float(value[index]))
    known = {s.name for s in J.in_symbols} | set(J.symbols())
    return {k: v for k, v in at.items() if k in known}


def _tensor_differences(expr: M, env: dict, wrt: str, h: float = H) -> np.ndarray:
    base = env[wrt]
    out_shape = np.shape(expr.func(env, []))
    fd = np.zeros(out_shape + base.shape)
    for index in np.ndindex(*base.shape):
        plus, minus = dict(env), dict(env)
        plus[wrt], minus[wrt] = base.copy(), base.copy()
        plus[wrt][index] += h
        minus[wrt][index] -= h
        diff = (np.asarray(expr.func(plus, [])) - np.asarray(expr.func(minus, []))) / (2 * h)
        fd[(Ellipsis,) + index] = diff
    return fd


@SETTINGS
@given(problem=matrix_problems())
def test_matrix_jacobian_matches_finite_differences(problem):
    expr, shapes, wrt, seed = problem
    env = _point(shapes, seed)
    kinks: list = []
    with np.errstate(all="ignore"):
        value = np.asarray(expr.func(env, kinks))
    assume(np.all(np.isfinite(value)) and np.all(np.abs(value) < 1e4))
    assume(not kinks or min(kinks) > 1e-4)

    J = jacobian(expr.text, wrt=wrt, shapes=shapes)
    assert J.out_shape == value.shape, expr.text  # shape inference agrees with NumPy
    assert J.in_shape == shapes[wrt]
    got = J.evaluate(_at(env, J))
    with np.errstate(all="ignore"):
        fd = _tensor_differences(expr, env, wrt)
        fd_2h = _tensor_differences(expr, env, wrt, 2 * H)
    assume(np.all(np.isfinite(fd_2h)))
    assume(_well_conditioned(fd, fd_2h, float(np.max(np.abs(value)))))
    assert got.shape == fd.shape
    scale = max(1.0, float(np.max(np.abs(value))))
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6 * scale, err_msg=expr.text)

    den = J.with_layout("denominator")
    k = len(J.out_shape)
    perm = tuple(range(k, got.ndim)) + tuple(range(k))
    np.testing.assert_array_equal(den.evaluate(_at(env, J)), np.transpose(got, perm))
    n_out = int(np.prod(J.out_shape))
    assert J.flatten() == sp.Matrix(J.as_object_array().reshape(n_out, -1).tolist())


# -- the checker itself must be able to fail ------------------------------------------------

def test_finite_difference_check_catches_a_wrong_derivative(monkeypatch):
    """A derivative rule off by 0.1 % is caught by the check used above."""
    from jacobian_calc.symbolic import autodiff
    x = np.array([0.4, -0.3, 1.2])
    func = _lambdify([sp.sin(PLAIN["x1"]) * PLAIN["x2"]])
    fd = _central_differences(func, x, 1)
    check_against_differences("sin(x1)*x2", x, fd)
    monkeypatch.setitem(autodiff.local_rules(), sp.sin,
                        lambda a: sp.cos(a) * sp.Rational(1001, 1000))
    with pytest.raises(AssertionError):
        check_against_differences("sin(x1)*x2", x, fd)


# -- PyTorch as an independent oracle ----------------------------------------------------------

TORCH_VECTOR_CASES = [
    ("sin(x1)*x2, exp(x1 - x3), x2**2*tanh(x3)",
     lambda x: [x[0].sin() * x[1], (x[0] - x[2]).exp(), x[1] ** 2 * x[2].tanh()]),
    ("sigmoid(x1*x2 + x3), softplus(x2) - atan(x1)",
     lambda x: [(x[0] * x[1] + x[2]).sigmoid(),
                __import__("torch").nn.functional.softplus(x[1]) - x[0].atan()]),
    ("log(x1**2 + 1)/sqrt(x2**2 + 1), abs(x3)*cos(x1)",
     lambda x: [(x[0] ** 2 + 1).log() / (x[1] ** 2 + 1).sqrt(), x[2].abs() * x[0].cos()]),
    ("relu(x1 - x2)*x3, tan(x2)/(2 + sin(x3))",
     lambda x: [(x[0] - x[1]).relu() * x[2], x[1].tan() / (2 + x[2].sin())]),
]


@pytest.mark.parametrize("text, func", TORCH_VECTOR_CASES, ids=[c[0] for c in TORCH_VECTOR_CASES])
@pytest.mark.parametrize("point", [(0.3, -0.8, 1.1), (-1.2, 0.5, -0.4)])
def test_vector_functions_match_torch(text, func, point):
    torch = pytest.importorskip("torch")
    x = torch.tensor(point, dtype=torch.float64)
    want = torch.autograd.functional.jacobian(lambda v: torch.stack(func(v)), x).numpy()
    J = jacobian(text, wrt="x1,x2,x3")
    got = J.evaluate({f"x{i + 1}": exact(v) for i, v in enumerate(point)
                      if f"x{i + 1}" in set(J.symbols())})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_affine_sigmoid_wrt_W_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    X, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    Xt, bt = torch.tensor(X), torch.tensor(b)
    want = torch.autograd.functional.jacobian(
        lambda w: torch.sigmoid(Xt @ w + bt), torch.tensor(W)).numpy()
    J = jacobian("sigmoid(X@W + b)", wrt="W", shapes={"X": (3, 4), "W": (4, 2), "b": 2})
    at = {entry_symbol(n, i).name: exact(float(v[i]))
          for n, v in (("X", X), ("W", W), ("b", b)) for i in np.ndindex(*v.shape)}
    got = J.evaluate(at)
    assert got.shape == want.shape == (3, 2, 4, 2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    den = J.with_layout("denominator").evaluate(at)
    np.testing.assert_allclose(den, np.transpose(want, (2, 3, 0, 1)), rtol=1e-12, atol=1e-14)


def test_softmax_cross_entropy_like_loss_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    X, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    Xt = torch.tensor(X)
    want = torch.autograd.functional.jacobian(
        lambda w: torch.softmax(Xt @ w, dim=-1), torch.tensor(W)).numpy()
    J = jacobian("softmax(X@W)", wrt="W", shapes={"X": (2, 3), "W": (3, 4)})
    at = {entry_symbol(n, i).name: exact(float(v[i]))
          for n, v in (("X", X), ("W", W)) for i in np.ndindex(*v.shape)}
    np.testing.assert_allclose(J.evaluate(at), want, rtol=1e-11, atol=1e-14)


def test_relu_at_zero_differs_from_torch_by_convention():
    """The lectures use relu'(0) = 1; PyTorch uses 0. Away from 0 they agree."""
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.0, -0.5, 0.7], dtype=torch.float64)
    want = torch.autograd.functional.jacobian(torch.relu, x).numpy()
    J = jacobian("relu(x)", wrt="x", shapes={"x": 3})
    got = J.evaluate({"x_1": 0, "x_2": exact(-0.5), "x_3": exact(0.7)})
    assert want[0, 0] == 0.0 and got[0, 0] == 1.0
    np.testing.assert_array_equal(got[1:, 1:], want[1:, 1:])
