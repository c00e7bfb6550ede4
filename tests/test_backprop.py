"""Explicit contraction versus compact rules: every rule, composites, a wrong rule."""

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import rules
from jacobian_calc.backprop import backprop
from jacobian_calc.cli import main
from jacobian_calc.numeric import float_eval
from jacobian_calc.shapes import entry_symbol, symbol_array

# (expression, wrt, shapes, expected compact text or None)
RULE_CASES = [
    ("X@W", "X,W", {"X": (3, 2), "W": (2, 4)}, {"W": "X.T @ dY", "X": "dY @ W.T"}),
    ("A@x", "A,x", {"A": (2, 3), "x": (3,)}, {"A": "outer(dY, x)", "x": "A.T @ dY"}),
    ("x@B", "x,B", {"x": (2,), "B": (2, 3)}, {"x": "B @ dY", "B": "outer(x, dY)"}),
    ("x@y", "x,y", {"x": (3,), "y": (3,)}, {"x": "y", "y": "x"}),
    ("M + N", "M,N", {"M": (2, 3), "N": (2, 3)}, {"M": "dY", "N": "dY"}),
    ("M - N", "M,N", {"M": (2, 3), "N": (2, 3)}, {"M": "dY", "N": "-dY"}),
    ("M * N", "M,N", {"M": (2, 3), "N": (2, 3)}, {"M": "dY * N", "N": "dY * M"}),
    ("hadamard(M, N)", "M", {"M": (2, 2), "N": (2, 2)}, {"M": "dY * N"}),
    ("M / N", "M,N", {"M": (2, 2), "N": (2, 2)}, {"M": "dY / N"}),
    ("c * M", "c,M", {"M": (2, 3)}, {"c": "sum(dY * M)", "M": "dY * c"}),
    ("M**3", "M", {"M": (2, 2)}, {"M": "3 * dY * M**2"}),
    ("M.T", "M", {"M": (2, 3)}, {"M": "dY.T"}),
    ("X@W + b", "b", {"X": (4, 3), "W": (3, 2), "b": (2,)}, {"b": "sum(dY, axis=0)"}),
    ("exp(X)", "X", {"X": (2, 3)}, {"X": "dY * Y"}),
    ("log(X)", "X", {"X": (2, 3)}, {"X": "dY * (1 / X)"}),
    ("sigmoid(X)", "X", {"X": (2, 3)}, {"X": "dY * Y * (1 - Y)"}),
    ("tanh(X)", "X", {"X": (2, 3)}, {"X": "dY * (1 + Y) * (1 - Y)"}),
    ("relu(X)", "X", {"X": (2, 3)}, {"X": "dY * step(X)"}),
    ("sum(X)", "X", {"X": (2, 3)}, {"X": "ones_like(X)"}),
    ("mean(X)", "X", {"X": (2, 3)}, {"X": "1/6 * ones_like(X)"}),
    ("sum(X, axis=0)", "X", {"X": (2, 3)}, {"X": "ones_like(X) * dY"}),
    ("sum(X, axis=1)", "X", {"X": (2, 3)}, None),
    ("softmax(l)", "l", {"l": (4,)}, {"l": "Y * (dY - sum(dY * Y))"}),
    ("softmax(L)", "L", {"L": (2, 3)}, {"L": "Y * (dY - sum(dY * Y, axis=1, keepdims=True))"}),
    ("outer(a, b)", "a,b", {"a": (2,), "b": (3,)}, {"a": "dY @ b", "b": "dY.T @ a"}),
    ("sin(X) + cos(X) * tan(X)", "X", {"X": (2, 2)}, None),
    ("sqrt(X) + atan(X) + softplus(X) + abs(X)", "X", {"X": (2, 2)}, None),
    ("sinh(X) * cosh(X) + sec(X) + csc(X) + cot(X)", "X", {"X": (2, 2)}, None),
    ("X**Y", "X,Y", {"X": (2, 2), "Y": (2, 2)}, None),
]


@pytest.mark.parametrize("expr,wrt,shapes,expected", RULE_CASES,
                         ids=[c[0] for c in RULE_CASES])
def test_rule_agrees(expr, wrt, shapes, expected):
    for g in backprop(expr, wrt, shapes=shapes):
        assert g.agree, (expr, g.wrt, g.mismatch)
        assert g.symbolic is True
        assert g.max_abs_error < 1e-9
        if expected:
            assert g.compact_text == expected.get(g.wrt, g.compact_text)


COMPOSITES = [
    ("mean(sigmoid(X@W + b))", "W,b,X", {"X": (4, 3), "W": (3, 2), "b": (2,)}),
    ("softmax(X@W)", "W,X", {"X": (2, 3), "W": (3, 3)}),
    ("mean((tanh(X@W1 + b1)@W2 + b2)**2)", "W1,b1,W2,b2",
     {"X": (3, 2), "W1": (2, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}),
]


def _central_difference(expr, shapes, var, point, h=1e-6):
    """d expr / d var by central differences, on the explicit scalar loss."""
    from jacobian_calc.arrays import Env, evaluate
    from jacobian_calc.parser import parse_expression
    out = evaluate(parse_expression(expr), Env(shapes))
    assert out.shape == ()
    loss = out[()]
    grads = np.zeros(shapes[var])
    for index in np.ndindex(*shapes[var]):
        s = entry_symbol(var, index)
        plus, minus = dict(point), dict(point)
        plus[s] = point[s] + h
        minus[s] = point[s] - h
        grads[index] = (float_eval([loss], plus)[0] - float_eval([loss], minus)[0]) / (2 * h)
    return grads


@pytest.mark.parametrize("expr,wrt,shapes", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_composites_agree_and_match_finite_differences(expr, wrt, shapes):
    results = backprop(expr, wrt, shapes=shapes)
    assert all(g.agree for g in results)
    if "softmax" in expr:
        return  # non-scalar output: contraction with dY checked symbolically above
    rng = np.random.default_rng(1)
    point = {s: rng.uniform(-1, 1) for name, shape in shapes.items()
             for s in symbol_array(name, shape).flat}
    for g in results:
        numeric = float_eval(list(g.explicit_array.flat), point)
        fd = _central_difference(expr, shapes, g.wrt, point)
        assert np.allclose(np.array(numeric).reshape(fd.shape), fd, atol=1e-6)


def test_named_intermediates_read_like_the_lecture():
    g = backprop("mean(sigmoid(X@W + b))", "W", shapes={"X": (4, 3), "W": (3, 2), "b": (2,)})[0]
    assert [(n, str(e)) for n, e in g.steps] == [
        ("Z", "X @ W + b"), ("Y", "sigmoid(Z)"), ("J", "mean(Y)")]
    assert [(n, str(e)) for n, e in g.backward] == [
        ("dY", "1/8 * ones_like(Y)"), ("dZ", "dY * Y * (1 - Y)")]
    assert g.compact_text == "X.T @ (1/8 * Y * (1 - Y))"


def test_wrong_rule_is_caught(monkeypatch):
    monkeypatch.setitem(rules.ELEMENTWISE_DERIVATIVES, "sigmoid",
                        lambda X, Y: rules.mul(Y, rules.ir.Add((rules.num(1), Y), (1, 1))))
    g = backprop("sigmoid(X)", "X", shapes={"X": (2, 2)})[0]
    assert not g.agree
    assert g.mismatch is not None and g.mismatch[0] == (1, 1)


def test_slightly_wrong_rule_is_caught(monkeypatch):
    monkeypatch.setitem(rules.ELEMENTWISE_DERIVATIVES, "exp",
                        lambda X, Y: rules.mul(rules.num(sp.Rational(1001, 1000)), Y))
    assert not backprop("exp(X)", "X", shapes={"X": (2, 2)})[0].agree


def test_cli_check_exit_status(monkeypatch):
    args = ["sigmoid(X)", "--wrt", "X", "--shape", "X=2x2", "--backprop", "--check"]
    assert CliRunner().invoke(main, args).exit_code == 0
    monkeypatch.setitem(rules.ELEMENTWISE_DERIVATIVES, "sigmoid", lambda X, Y: Y)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "DISAGREE" in result.output


def test_cli_backprop_json_shape():
    import json
    result = CliRunner().invoke(main, ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape",
                                       "X=4x3", "--shape", "W=3x2", "--shape", "b=2",
                                       "--backprop", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["upstream"] == "1"
    assert [g["wrt"] for g in doc["gradients"]] == ["W", "b"]
    w = doc["gradients"][0]
    assert w["shape"] == [3, 2] and w["agree"] is True and w["max_abs_error"] == 0.0
    assert w["compact"] == "X.T @ (1/8 * Y * (1 - Y))"
    assert len(w["explicit"]) == 3 and len(w["explicit"][0]) == 2


def test_cli_rules_lists_every_lecture_rule():
    out = CliRunner().invoke(main, ["--rules"]).output
    for piece in ["X.T @ dY", "dY * Y * (1 - Y)", "(1 + Y) * (1 - Y)", "step(X)", "softmax"]:
        assert piece in out


def test_missing_rule_names_the_operation():
    result = CliRunner().invoke(main, ["f(X)", "--wrt", "X", "--shape", "X=2", "--backprop"])
    assert result.exit_code == 2
    assert "no compact backprop rule for f()" in result.output


def test_upstream_rename():
    g = backprop("X@W", "W", shapes={"X": (2, 2), "W": (2, 2)}, upstream="G")[0]
    assert g.compact_text == "X.T @ G"
    assert sp.Symbol("G_1_1", real=True) in g.explicit[0, 0].free_symbols


def test_explicit_is_contraction_with_upstream():
    g = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})[0]
    X = sp.Matrix(symbol_array("X", (2, 3)).tolist())
    dY = sp.Matrix(symbol_array("dY", (2, 2)).tolist())
    assert (g.explicit - X.T * dY).expand() == sp.zeros(3, 2)


def test_lets_name_the_forward_steps():
    g = backprop("mean(A)", "W", shapes={"X": (3, 2), "W": (2, 2), "b": (2,)},
                 lets={"Z": "X@W + b", "A": "relu(Z)"})[0]
    assert [n for n, _ in g.steps] == ["Z", "A", "J"]
    assert g.compact_text == "X.T @ (1/6 * step(Z))"
    assert g.agree


def test_upstream_seed_scalar_output_is_one():
    g = backprop("sum(X * X)", "X", shapes={"X": (2, 2)})[0]
    assert g.upstream == "1"
    x = symbol_array("X", (2, 2))
    assert all(sp.expand(g.explicit_array[i] - 2 * x[i]) == 0 for i in np.ndindex(2, 2))


def test_compact_latex_brackets_a_product_before_a_matrix_product():
    g = backprop("sigmoid(X@W)", "X", shapes={"X": (2, 3), "W": (3, 2)})[0]
    assert g.compact_text == "(dY * Y * (1 - Y)) @ W.T"
    assert g.compact_latex.startswith(r"\left(dY \odot Y")
    assert g.compact_latex.endswith(r"\right) W^{\top}")
