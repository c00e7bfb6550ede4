"""SymPy objects in, SymPy objects out, in the caller's own symbols."""

from __future__ import annotations

import pytest
import sympy as sp

from jacobian_calc import JacobianError, chain, jacobian, jacobians
from jacobian_calc.symbolic.symbols import entry_symbol


def test_caller_symbols_come_back_and_substitute():
    x, y = sp.symbols("x y")
    f = sp.Matrix([x * y, sp.sin(x) + y ** 2, sp.exp(x * y)])
    J = jacobian(f, wrt=[x, y])
    assert J.tensor == f.jacobian([x, y])
    assert J.tensor.subs(x, 1) == f.jacobian([x, y]).subs(x, 1)
    assert J.in_symbols == (x, y)


def test_symbols_with_assumptions_are_kept():
    t = sp.Symbol("t", positive=True)
    J = jacobian([sp.cos(2 * sp.pi * t), sp.sin(2 * sp.pi * t)], wrt=t)
    assert J.tensor == sp.Matrix([sp.cos(2 * sp.pi * t), sp.sin(2 * sp.pi * t)]).jacobian([t])


def test_matrix_symbols_declare_shapes():
    A, x = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("x", 3, 1)
    J = jacobian(A * x, wrt=A)
    assert J.shape == (2, 1, 2, 3)
    assert J.nnz == 6
    assert J[(1, 0, 1, 2)] == entry_symbol("x", (2, 0))
    assert J[(0, 0, 1, 2)] == 0


def test_matrix_expressions_of_the_cookbook():
    X = sp.MatrixSymbol("X", 2, 2)
    J = jacobian(sp.Trace(X.T * X), wrt=X)
    assert J.tensor == sp.Matrix(2, 2, lambda i, j: 2 * entry_symbol("X", (i, j)))
    assert jacobian(sp.Determinant(X), wrt=X).nnz == 4
    assert jacobian(X.inverse(), wrt=X).shape == (2, 2, 2, 2)


def test_matrix_symbol_and_declared_shape_must_agree():
    A = sp.MatrixSymbol("A", 2, 2)
    with pytest.raises(JacobianError, match="2x2 MatrixSymbol"):
        jacobian(sp.Trace(A), wrt=A, shapes={"A": (3, 3)})


@pytest.mark.parametrize("expr", [
    sp.Integral(sp.Symbol("x"), sp.Symbol("x")),
    sp.gamma(sp.Symbol("x")),
    sp.erf(sp.Symbol("x")),
    sp.Piecewise((1, sp.Symbol("x") > 0), (0, True)),
    sp.Symbol("x") + sp.I,
])
def test_what_cannot_be_understood_is_an_error(expr):
    with pytest.raises(JacobianError):
        jacobian(expr)


def test_undefined_sympy_functions_are_declared_by_their_existence():
    x = sp.Symbol("x")
    f = sp.Function("f")
    J = jacobian(f(x) * x, wrt=x)
    assert J.tensor == sp.Matrix([f(x) * x]).jacobian([x])


@pytest.mark.parametrize("bad, kind", [
    (None, TypeError), (3j, JacobianError), (object(), TypeError), ([], JacobianError),
])
def test_misuse_is_a_jacobian_error(bad, kind):
    with pytest.raises(kind) as info:
        jacobian(bad)
    assert isinstance(info.value, JacobianError)


@pytest.mark.parametrize("kwargs", [
    {"shapes": "X=2"}, {"shapes": {"X": "two"}}, {"shapes": {"X": 0}},
    {"wrt": 3}, {"lets": ["y=x"]}, {"layout": "diagonal"}, {"simplify": "yes"},
    {"limits": None}, {"functions": 3},
])
def test_bad_arguments_are_jacobian_errors(kwargs):
    with pytest.raises(JacobianError):
        jacobian("x*y", **kwargs)


def test_numpy_integers_are_dimensions():
    np = pytest.importorskip("numpy")
    assert jacobian("sum(X)", wrt="X", shapes={"X": (np.int64(2), 3)}).shape == (2, 3)


def test_cyclic_lets_are_an_error_not_a_recursion_error():
    lets = {f"y{i}": f"y{i + 1} + 1" for i in range(3000)}
    lets["y3000"] = "y0"
    with pytest.raises(JacobianError, match="cyclic"):
        jacobian("y0 * x", wrt="x", lets=lets)


def test_jacobians_and_chain_take_sympy_symbols():
    x1, x2 = sp.symbols("x1 x2")
    assert len(jacobians(x1 * x2, [x1, x2])) == 1
    c = chain("y2**2", [sp.Symbol("w1")], lets={"y1": "a*w1", "y2": "y1 + b1"})
    assert c.agree
