"""Symmetric matrices (``symmetric=["S"]``, ``--symmetric S``): entries S_i_j and S_j_i
are one symbol, and the derivative is the Matrix Cookbook's G + G.T - diag(G), checked
exactly on the Cookbook's examples and numerically by perturbing both entries at once."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, jacobian
from jacobian_calc.cli.main import main
from jacobian_calc.symbolic.symbols import entry_symbol


def _symmetric(name: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, n, lambda i, j: entry_symbol(name, (min(i, j), max(i, j))))


def _general(name: str, n: int, m: int | None = None) -> sp.Matrix:
    return sp.Matrix(n, m or n, lambda i, j: entry_symbol(name, (i, j)))


def _cookbook(G: sp.Matrix) -> sp.Matrix:
    """G + G.T - diag(G): the derivative w.r.t. the independent entries."""
    return G + G.T - sp.diag(*G.diagonal())


def _zero(M) -> bool:
    return all(sp.simplify(e) == 0 for e in M)


@pytest.mark.parametrize("n", [2, 3])
def test_logdet(n):
    J = jacobian("logdet(S)", wrt="S", shapes={"S": (n, n)}, symmetric=["S"])
    S = _symmetric("S", n)
    assert _zero(sp.Matrix(J.tensor) - _cookbook(S.inv().T))
    assert _zero(sp.Matrix(J.tensor) - (2 * S.inv() - sp.diag(*S.inv().diagonal())))


@pytest.mark.parametrize("n", [2, 3])
def test_quadratic_form(n):
    J = jacobian("a.T @ S @ a", wrt="S", shapes={"S": (n, n), "a": n}, symmetric="S")
    a = sp.Matrix(n, 1, lambda i, j: entry_symbol("a", (i,)))
    assert sp.Matrix(J.tensor) == (_cookbook(a * a.T)).applyfunc(sp.expand)


def test_trace_of_a_product():
    J = jacobian("trace(A @ S)", wrt="S", shapes={"S": (3, 3), "A": (3, 3)}, symmetric=["S"])
    A = _general("A", 3)
    assert sp.Matrix(J.tensor) == _cookbook(A.T)


def test_a_general_matrix_is_unchanged():
    J = jacobian("trace(A @ S)", wrt="S", shapes={"S": (3, 3), "A": (3, 3)})
    assert sp.Matrix(J.tensor) == _general("A", 3).T


def test_entries_are_the_derivatives_of_the_independent_entries():
    """Central differences moving S_i_j and S_j_i together."""
    rng = np.random.default_rng(0)
    U = rng.uniform(-0.3, 0.3, (3, 3))
    S0 = 2 * np.eye(3) + U + U.T
    a = rng.uniform(-1, 1, 3)
    J = jacobian("logdet(S) + a @ S @ S @ a", wrt="S", shapes={"S": (3, 3), "a": 3},
                 symmetric=["S"])
    ours = J.evaluate({"S": S0.tolist(), "a": a.tolist()})

    def f(S):
        return np.log(np.linalg.det(S)) + a @ S @ S @ a

    h = 1e-6
    for i in range(3):
        for j in range(3):
            E = np.zeros((3, 3))
            E[i, j] = E[j, i] = h
            assert ours[i, j] == pytest.approx((f(S0 + E) - f(S0 - E)) / (2 * h), abs=1e-6)


def test_the_convention_is_stated():
    J = jacobian("logdet(S)", wrt="S", shapes={"S": (2, 2)}, symmetric=["S"])
    assert any("G + G.T - diag(G)" in w for w in J.warnings)
    result = CliRunner().invoke(main, ["logdet(S)", "--shape", "S=2x2", "--symmetric", "S"])
    assert result.exit_code == 0
    assert "S is symmetric" in result.output and "Matrix Cookbook" in result.output


@pytest.mark.parametrize("args, message", [
    (["x", "--symmetric", "S"], "S is not declared"),
    (["x", "--symmetric", "S", "--shape", "S=2x3"], "S is declared 2x3"),
    (["logdet(S)", "--symmetric", "S", "--shape", "S=2x2", "--backprop"], "for Jacobians"),
])
def test_refusals(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output


def test_api_refusal():
    with pytest.raises(JacobianError, match="needs a square matrix"):
        jacobian("sum(x)", shapes={"x": 3}, symmetric=["x"])
