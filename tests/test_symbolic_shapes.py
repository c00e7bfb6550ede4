"""Shapes with dimension names: ``--shape X=Nxd``, ``shapes={"X": ("N", "d")}``,
``MatrixSymbol("X", N, d)``; shape rules on names, and clear one-line errors."""

from __future__ import annotations

import re

import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, hessian, jacobian
from jacobian_calc.cli.main import main
from jacobian_calc.core.tree import Name
from jacobian_calc.derive.problem import prepare
from jacobian_calc.ops.registry import size_node
from jacobian_calc.parsing import parse_dims, parse_expression
from jacobian_calc.symbolic.evaluate import infer_shape

MLP = {"X": ("N", "d"), "W": ("d", "h"), "b": ("h",)}


@pytest.mark.parametrize("text, shape", [
    ("Nxd", ("N", "d")), ("3xh", (3, "h")), ("h", ("h",)), ("N, d", ("N", "d")),
    ("nx,h", ("nx", "h")), ("nx", ("nx",)), ("2x3", (2, 3)), ("K", ("K",)),
    ("n_in x n_out", ("n_in", "n_out")), ("d×4", ("d", 4)),
])
def test_dimensions_parse(text, shape):
    assert parse_dims(text) == shape


@pytest.mark.parametrize("text, words", [
    ("Nx0", "positive"), ("N x", "malformed"), ("exp x d", "built-in name"),
    ("1N x d", "malformed"), ("print x d", "Python built-in"),
])
def test_bad_dimensions_are_refused(text, words):
    with pytest.raises(JacobianError, match=re.escape(words)):
        parse_dims(text)


@pytest.mark.parametrize("expr, shape", [
    ("X@W + b", ("N", "h")),
    ("X.T", ("d", "N")),
    ("X.T @ X", ("d", "d")),
    ("sum(X, axis=0)", ("d",)),
    ("mean(X, axis=1, keepdims=True)", ("N", 1)),
    ("mean(tanh(X@W + b))", ()),
    ("softmax(X@W, axis=0)", ("N", "h")),
    ("eye(d) @ W", ("d", "h")),
    ("sum(X@W)/N", ()),
    ("trace(X.T@X)", ()),
    ("outer(b, b)", ("h", "h")),
    ("X * sum(X, axis=1, keepdims=True)", ("N", "d")),
])
def test_shape_rules_work_on_names(expr, shape):
    assert infer_shape(parse_expression(expr), MLP) == shape


@pytest.mark.parametrize("expr, shapes, words", [
    ("X@W", {"X": ("N", "d"), "W": ("e", "h")}, "inner dimensions d and e differ"),
    ("X + W", {"X": ("N", "d"), "W": ("d", "h")}, "cannot broadcast X (Nxd) and W (dxh)"),
    ("trace(X)", {"X": ("N", "d")}, "needs a square matrix, got X (Nxd)"),
    ("X@W", {"X": ("N", 3), "W": ("d", "h")}, "inner dimensions 3 and d differ"),
    ("eye(d) @ x", {"x": (3,)}, "inner dimensions d and 3 differ"),
])
def test_shape_errors_name_the_dimensions(expr, shapes, words):
    with pytest.raises(JacobianError, match=re.escape(words)):
        infer_shape(parse_expression(expr), shapes)


def test_mean_factor_is_the_product_of_the_names():
    assert str(size_node(("N", "h"))) == "N * h"
    assert str(size_node((4, 3))) == "12"


def test_api_and_sympy_declare_the_same_names():
    N, d = sp.symbols("N d", integer=True, positive=True)
    X = sp.MatrixSymbol("X", N, d)
    problem = prepare(X.T, symbolic=True)
    assert problem.shapes == {"X": ("N", "d")}
    assert prepare("X@W + b", shapes=MLP, symbolic=True).dimensions == {"N", "d", "h"}
    mixed = prepare("X@W", shapes={"X": "Nx3", "W": (3, "h")}, symbolic=True)
    assert mixed.component_shapes() == [("N", "h")]


@pytest.mark.parametrize("shapes, words", [
    ({"X": ("N", "d"), "N": (3,)}, "both a dimension name and a declared array"),
    ({"X": ("N", 2.5)}, "must be integers or dimension names"),
    ({"X": ("N", "")}, "invalid dimension name"),
])
def test_bad_symbolic_declarations(shapes, words):
    with pytest.raises(JacobianError, match=re.escape(words)):
        prepare("sum(X)", shapes=shapes, symbolic=True)


def test_explicit_entries_need_numbers():
    with pytest.raises(JacobianError, match="explicit entries need concrete sizes, and X is Nxd"):
        hessian("sum(X@W + b)", wrt="W", shapes=MLP)


def test_a_jacobian_at_symbolic_sizes_is_its_index_form():
    J = jacobian("X@W + b", wrt="W", shapes=MLP)
    assert J.symbolic and not J.entries
    assert J.index.text() == "(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]"
    assert J.index.ranges == "i = 1..N, j = 1..h, k = 1..d, l = 1..h"


def test_cli_refuses_explicit_entries_in_one_line():
    result = CliRunner().invoke(main, ["sum(X@W + b)", "--wrt", "W", "--shape", "X=Nxd",
                                       "--shape", "W=dxh", "--shape", "b=h", "--hessian"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: explicit entries need concrete")


def test_cli_shape_error_with_names_is_one_line():
    result = CliRunner().invoke(main, ["X@W", "--wrt", "W", "--shape", "X=Nxd",
                                       "--shape", "W=exh", "--backprop"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: shape mismatch in '@': X (Nxd) @ W (exh) "
                                     "(inner dimensions d and e differ)")


def test_a_dimension_name_in_the_expression_is_a_scalar():
    problem = prepare("sum(X)/N", shapes=MLP, symbolic=True)
    assert Name("N") in set(problem.subtree_shapes()[1])
    assert problem.component_shapes() == [()]
