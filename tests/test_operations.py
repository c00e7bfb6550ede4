"""Every operation, declared once, checked from every side.

Driven by the rule-test table in ``tests/op_cases.py``: each row's explicit
Jacobian is compared with PyTorch's autograd (float64) at random points of the
operation's domain, and its forward value with PyTorch's; the registry itself
is checked for completeness, and a new operation registered in one place is
shown to reach the parser, shapes, evaluation, ``--rules`` and ``--help``.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobian_calc import JacobianError, backprop, jacobian
from jacobian_calc.cli.main import main
from jacobian_calc.ops import NotDifferentiable, Op, get, operations, register, unregister
from jacobian_calc.ops.registry import CATEGORIES, LANGUAGES, REQUIRED, same_shape
from jacobian_calc.ops.text import rule_line
from jacobian_calc.symbolic.evaluate import Env, evaluate
from jacobian_calc.symbolic.float_tree import float_evaluate
from jacobian_calc.symbolic.numeric import float_eval
from jacobian_calc.symbolic.symbols import entry_symbol, symbol_grid
from jacobian_calc.parsing import parse_expression

from op_cases import ALL_CASES, CASES, Case, sample

try:
    import torch
    torch.set_default_dtype(torch.float64)
except ImportError:  # the oracle tests skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# -- the registry ------------------------------------------------------------------------

def test_every_operation_has_a_row():
    missing = sorted({op.name for op in operations()} - set(CASES))
    assert not missing, f"operations without a row in tests/op_cases.py: {missing}"


@pytest.mark.parametrize("op", operations(), ids=lambda op: op.name)
def test_every_operation_has_every_part(op: Op):
    for part in REQUIRED:
        if part == "rule" and op.derivative is not None:
            continue
        assert getattr(op, part) not in (None, ""), (op.name, part)
    assert op.category in CATEGORIES
    assert all(op.code.get(lang) for lang in LANGUAGES)
    assert callable(op.shape) and callable(op.evaluate) and callable(op.numpy)
    assert callable(op.vjp) or isinstance(op.vjp, NotDifferentiable)
    assert rule_line(op)
    assert len({k.name for k in op.keywords}) == len(op.keywords)


def _cube(**changes) -> Op:
    parts = dict(
        name="cube", category="elementwise", doc="x**3, for the test of the registry",
        rule="", arity=(1, 1), shape=same_shape,
        evaluate=lambda S, args, kw: args[0].map(lambda e: S.pow(e, S.Integer(3))),
        vjp=lambda v: (v.g * 3 * v.x ** 2,), numpy=lambda np, x, **kw: x ** 3,
        code={"numpy": "({0})**3", "torch": "({0})**3"},
        latex=lambda p: f"{p.arg(0, 5)}^{{3}}",
        derivative=lambda X, Y: 3 * X ** 2)
    parts.update(changes)
    return Op(**parts)


def test_registering_an_operation_without_a_shape_rule_fails_loudly():
    with pytest.raises(TypeError, match="missing shape"):
        register(_cube(shape=None))
    with pytest.raises(TypeError, match="torch"):
        register(_cube(code={"numpy": "x"}))


@pytest.fixture
def cube():
    register(_cube())
    yield
    unregister("cube")


def test_an_operation_declared_in_one_place_reaches_every_layer(cube):
    runner = CliRunner()
    rules = runner.invoke(main, ["--rules"]).output
    assert "cube(X)" in rules and "dX = dY * (3 * X**2)" in rules
    assert "cube" in runner.invoke(main, ["--help"]).output
    J = jacobian("cube(x1), x2", wrt="x1,x2")
    assert J.tensor == sp.Matrix([[3 * sp.Symbol("x1", real=True) ** 2, 0], [0, 1]])
    out = runner.invoke(main, ["cube(X)", "--shape", "X=1x2"])
    assert out.exit_code == 0 and "3*X_1_1**2" in out.output
    with pytest.raises(JacobianError, match="cube"):
        jacobian("cube(x, y)")


def test_aliases_are_the_same_operation():
    assert jacobian("arcsin(x)").tensor == jacobian("asin(x)").tensor
    assert jacobian("ln(x)").tensor == jacobian("log(x)").tensor


# -- values against PyTorch ------------------------------------------------------------------

def _point(case: Case, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    names = set(case.shapes) | {n for n in _scalar_names(case)}
    return {n: sample(n, case.shapes.get(n, ()), case.domain.get(n, "any"), rng)
            for n in sorted(names)}


def _scalar_names(case: Case) -> set[str]:
    from jacobian_calc.core.tree import names
    return names(parse_expression(case.expr)) - set(case.shapes)


def _our_point(values: dict[str, np.ndarray]) -> dict:
    return {n: (v.tolist() if v.ndim else float(v)) for n, v in values.items()}


@needs_torch
@pytest.mark.parametrize("name, case", ALL_CASES, ids=[c.id for _, c in ALL_CASES])
@pytest.mark.parametrize("seed", [0, 1])
def test_explicit_jacobian_matches_torch(name, case, seed):
    values = _point(case, seed)
    J = jacobian(case.expr, wrt=case.wrt, shapes=case.shapes)
    ours = J.evaluate(_our_point(values))
    tensors = {n: torch.tensor(v) for n, v in values.items()}

    def f(x):
        return case.torch(torch, {**tensors, case.wrt: x})

    theirs = torch.autograd.functional.jacobian(f, tensors[case.wrt]).numpy()
    np.testing.assert_allclose(ours.reshape(-1), theirs.reshape(-1), rtol=1e-9, atol=1e-10)


@needs_torch
@pytest.mark.parametrize("name, case", ALL_CASES, ids=[c.id for _, c in ALL_CASES])
def test_forward_value_matches_torch(name, case):
    values = _point(case, 2)
    shapes = {k: (v,) if isinstance(v, int) else v for k, v in case.shapes.items()}
    grid = evaluate(parse_expression(case.expr), Env(shapes))
    symbols = {}
    for n, v in values.items():
        for index, symbol in symbol_grid(n, np.shape(v)).items():
            symbols[symbol] = v[index] if index else float(v)
    ours = np.array([float(x) for x in float_eval(grid.flat, symbols)])
    theirs = case.torch(torch, {n: torch.tensor(v) for n, v in values.items()})
    np.testing.assert_allclose(ours, theirs.detach().numpy().reshape(-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, case", ALL_CASES, ids=[c.id for _, c in ALL_CASES])
def test_float_evaluation_of_the_operation_matches_its_entries(name, case):
    """Each operation's NumPy part (float evaluation) agrees with its SymPy entries."""
    values = _point(case, 3)
    node = parse_expression(case.expr)
    shapes = {k: (v,) if isinstance(v, int) else v for k, v in case.shapes.items()}
    symbols = {}
    for n, v in values.items():
        for index, symbol in symbol_grid(n, np.shape(v)).items():
            symbols[symbol] = v[index] if index else float(v)
    entries = evaluate(node, Env(shapes)).flat
    expected = np.array([float(x) for x in float_eval(entries, symbols)])
    got = np.asarray(_float_tree(node, values), dtype=float).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _float_tree(node, values):
    from jacobian_calc.core.tree import Name, Num
    if isinstance(node, Name):
        return values[node.id]
    if isinstance(node, Num):
        return float(node.value)
    op = get(node.op)
    return op.numpy(np, *(_float_tree(a, values) for a in node.args), **op.options(node.kwargs))


# -- shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, shapes, message", [
    ("trace(X)", {"X": (2, 3)}, r"trace\(\) needs a square matrix, got X \(2x3\)"),
    ("det(x)", {"x": 3}, r"det\(\) needs a square matrix"),
    ("inv(X)", {"X": (7, 7)}, r"written out up to 6x6"),
    ("logdet(X)", {"X": (2, 3)}, "square matrix"),
    ("diag(X)", {"X": (2, 3)}, "square matrix"),
    ("outer(X, x)", {"X": (2, 2), "x": 2}, r"outer\(\) needs two vectors"),
    ("norm(X, 1)", {"X": (2, 2)}, "needs a vector"),
    ("softmax(x)", {}, "needs a vector or a matrix"),
    ("logsumexp(X, axis=2)", {"X": (2, 2)}, "axis"),
    ("sum(x, axis=1)", {"x": 3}, "axis 1 is out of range"),
    ("eye()", {}, r"eye\(\) needs its size"),
    ("eye_like(x)", {"x": 3}, "needs a matrix"),
    ("X @ x", {"X": (2, 3), "x": 2}, "inner dimensions 3 and 2 differ"),
    ("X + Y", {"X": (2, 3), "Y": (3, 2)}, "cannot broadcast"),
])
def test_shape_errors_name_the_operands(expr, shapes, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(expr, shapes=shapes)


# -- the Matrix Cookbook, exactly ----------------------------------------------------------------

def _matrix(name: str, n: int, m: int | None = None) -> sp.Matrix:
    m = n if m is None else m
    return sp.Matrix(n, m, lambda i, j: entry_symbol(name, (i, j)))


def _vector(name: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, 1, lambda i, j: entry_symbol(name, (i,)))


def _zero(M: sp.Matrix) -> bool:
    return all(sp.simplify(e) == 0 for e in M)


def test_cookbook_trace_of_AX_is_A_transposed():
    J = jacobian("trace(A @ X)", wrt="X", shapes={"A": (3, 3), "X": (3, 3)})
    assert J.tensor == _matrix("A", 3).T


def test_cookbook_trace_of_XtAX():
    J = jacobian("trace(X.T @ A @ X)", wrt="X", shapes={"A": (3, 3), "X": (3, 3)})
    A, X = _matrix("A", 3), _matrix("X", 3)
    assert _zero((J.tensor - (A + A.T) * X).applyfunc(sp.expand))


def test_cookbook_determinant():
    J = jacobian("det(X)", wrt="X", shapes={"X": (3, 3)})
    X = _matrix("X", 3)
    assert _zero(J.tensor - X.det() * X.inv().T)


def test_cookbook_log_determinant():
    J = jacobian("logdet(X)", wrt="X", shapes={"X": (2, 2)})
    assert _zero(J.tensor - _matrix("X", 2).inv().T)


def test_cookbook_bilinear_form_of_the_inverse():
    J = jacobian("a @ inv(X) @ b", wrt="X", shapes={"X": (2, 2), "a": 2, "b": 2})
    X, a, b = _matrix("X", 2), _vector("a", 2), _vector("b", 2)
    Xit = X.inv().T
    assert _zero(J.tensor - (-Xit * a * b.T * Xit))


def test_cookbook_least_squares():
    J = jacobian("norm(A @ x - b)**2", wrt="x", shapes={"A": (3, 2), "x": 2, "b": 3})
    A, x, b = _matrix("A", 3, 2), _vector("x", 2), _vector("b", 3)
    want = 2 * A.T * (A * x - b)
    assert _zero(sp.Matrix(J.tensor).reshape(2, 1) - want)


def test_sign_and_step_have_derivative_zero_everywhere():
    J = jacobian("sign(x) * y + step(x) * y", wrt="x,y")
    assert J.tensor[0, 0] == 0
    assert J.evaluate({"x": 0.5, "y": 2.0}).tolist() == [[0.0, 2.0]]
    assert J.evaluate({"x": -0.5, "y": 2.0}).tolist() == [[0.0, -1.0]]


# -- compact rules against the explicit route, and against PyTorch ----------------------------

@pytest.mark.parametrize("name, case", ALL_CASES, ids=[c.id for _, c in ALL_CASES])
def test_compact_rule_agrees_with_the_explicit_contraction(name, case):
    """Every step proved (or, where SymPy cannot decide, agreeing) and end to end agreeing."""
    result = backprop(case.expr, case.wrt, shapes=case.shapes)
    assert result.agree, result.disagreement()
    assert all(s.check.verdict in ("proved", "agrees") for s in result.backward)


@needs_torch
@pytest.mark.parametrize("name, case", ALL_CASES, ids=[c.id for _, c in ALL_CASES])
def test_compact_gradient_matches_torch(name, case):
    """The compact formula, evaluated with NumPy, is PyTorch's vector-Jacobian product."""
    result = backprop(case.expr, case.wrt, shapes=case.shapes)
    values = _point(case, 4)
    rng = np.random.default_rng(5)
    tensors = {n: torch.tensor(v, requires_grad=(n == case.wrt)) for n, v in values.items()}
    out = case.torch(torch, tensors)
    upstream = rng.uniform(-1, 1, tuple(out.shape))
    if out.requires_grad:
        (grad,) = torch.autograd.grad(out, tensors[case.wrt], torch.tensor(upstream))
    else:  # a step function: PyTorch records no derivative, which is 0
        grad = torch.zeros_like(tensors[case.wrt])
    env = dict(values)
    if result.out_shape:
        env[result.upstream] = upstream
    gradient = result.gradients[case.wrt]
    ours = float_evaluate(gradient.inline_tree, env)
    if not result.out_shape:  # a scalar's upstream gradient is 1: scale by PyTorch's
        ours = ours * upstream
    np.testing.assert_allclose(np.broadcast_to(ours, np.shape(values[case.wrt])),
                               grad.numpy(), rtol=1e-9, atol=1e-10)


TEMPLATES = [
    ("sum(X{axis})", lambda n, m: {"X": (n, m)}, "X"),
    ("mean(X{axis})", lambda n, m: {"X": (n, m)}, "X"),
    ("softmax(X{axis})", lambda n, m: {"X": (n, m)}, "X"),
    ("log_softmax(X{axis})", lambda n, m: {"X": (n, m)}, "X"),
    ("logsumexp(X{axis})", lambda n, m: {"X": (n, m)}, "X"),
    ("trace(A @ X)", lambda n, m: {"A": (n, n), "X": (n, n)}, "X"),
    ("det(X)", lambda n, m: {"X": (n, n)}, "X"),
    ("inv(X)", lambda n, m: {"X": (n, n)}, "X"),
    ("X @ W", lambda n, m: {"X": (n, m), "W": (m, n)}, "W"),
    ("norm(x)", lambda n, m: {"x": (n,)}, "x"),
    ("diag(x)", lambda n, m: {"x": (n,)}, "x"),
    ("outer(a, b)", lambda n, m: {"a": (n,), "b": (m,)}, "b"),
]


@given(st.sampled_from(TEMPLATES), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["", ", axis=0", ", axis=1"]))
@settings(max_examples=25, deadline=None)
def test_compact_rules_agree_on_random_shapes(template, n, m, axis):
    text, shapes, wrt = template
    expr = text.format(axis=axis)
    result = backprop(expr, wrt, shapes=shapes(n, m))
    assert result.agree, (expr, n, m, result.disagreement())
