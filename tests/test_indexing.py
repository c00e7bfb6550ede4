"""Indexing and slicing NumPy's way, 0-based (entries shown 1-based), scatter as the
backward rule, concat and stack: random shapes by both routes, printing that reads
back, and what the parser refuses."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jacobian_calc import JacobianError, backprop, jacobian
from jacobian_calc.ops.text import to_source
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.float_tree import float_evaluate


@pytest.mark.parametrize("n, m", [(1, 1), (1, 3), (3, 1), (2, 4), (4, 3)])
def test_random_shapes_agree(n, m):
    shapes = {"X": (n, m), "Y": (n, m), "x": (m,)}
    for expr in ("X[0]", "X[-1, :]", "X[:, ::2]", "X[n0:, m0:] * 2".replace(
            "n0", str(n // 2)).replace("m0", str(m // 2)), "sum(X[:, -1]) * x",
                 "concat([X, Y], axis=0)", "concat([X, Y * X], axis=1)",
                 "stack([x, x * x], axis=1)", "stack([X, Y])"):
        for wrt in ("X", "Y", "x"):
            if not re.search(rf"\b{wrt}\b", expr):
                continue
            r = backprop(expr, wrt, shapes=shapes)
            assert r.agree, (expr, n, m, r.disagreement())
            assert all(b.check.verdict == "proved" for b in r.backward), expr


def test_indices_are_0_based_and_entries_1_based():
    J = jacobian("x[0] * x[-1]", wrt="x", shapes={"x": 3})
    x = [s for s in J.in_symbols]
    assert [s.name for s in x] == ["x_1", "x_2", "x_3"]
    assert list(J.tensor) == [x[2], 0, x[0]]


def test_slices_match_numpy():
    X = np.arange(20.0).reshape(4, 5)
    for text, want in [("X[1:, :]", X[1:, :]), ("X[::2]", X[::2]), ("X[:, -1]", X[:, -1]),
                       ("X[1:3, 4]", X[1:3, 4]), ("X[-2:, 1::3]", X[-2:, 1::3])]:
        got = float_evaluate(parse_expression(text), {"X": X})
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("text", ["X[1:, 0]", "X[::2, -1]", "scatter(G, X[1:, :])",
                                  "concat([A, B], axis=1)", "stack([a, b])", "(A + B)[0]"])
def test_printed_formulas_read_back(text):
    node = parse_expression(text)
    assert parse_expression(to_source(node)) == node


def test_the_backward_rule_scatters():
    r = backprop("sum(X[1:, 0] * y)", "X", shapes={"X": (3, 2), "y": 2})
    assert r.backward[-1].text == "scatter(y, X[1:, 0])"


@pytest.mark.parametrize("expr, shapes, message", [
    ("x[3]", {"x": 3}, "index 3 is out of range"),
    ("x[-4]", {"x": 3}, "out of range"),
    ("X[0, 0, 0]", {"X": (2, 2)}, "3 indices for 2 axes"),
    ("x[2:1]", {"x": 3}, "selects nothing"),
    ("x[0]", {}, "a scalar has no entries to index"),
    ("concat([x, X], axis=0)", {"x": 3, "X": (2, 3)}, "agree except along axis 0"),
    ("stack([x, y])", {"x": 3, "y": 2}, "one shape"),
    ("concat([a, b])", {}, "needs vectors or matrices"),
])
def test_shape_errors(expr, shapes, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(expr, shapes=shapes)


@pytest.mark.parametrize("text, message", [
    ("x[i]", "indices are integer literals"),
    ("x[1 + 1]", "indices are integer literals"),
    ("x[::-1]", "step must be positive"),
    ("x[::0]", "step must be positive"),
    ("x[...]", "'...' is not supported"),
    ("x[None]", "None"),
    ("concat(x, y)", "takes a list"),
    ("concat([x])", "two or more"),
    ("scatter(y, x)", "values and a selection"),
    ("[x, y]", "lists are not allowed"),
])
def test_refusals(text, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(text, shapes={"x": 3, "y": 3})
