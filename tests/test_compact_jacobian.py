"""Compact Jacobians: a golden table, each formula proved in the test itself against the
explicit Jacobian, entry by entry (SymPy's simplify of the difference, no code of the
compact route involved)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import sympy as sp

from jacobian_calc import jacobian
from jacobian_calc.core.grid import Grid, ndindex
from jacobian_calc.core.tree import substitute
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.evaluate import Env, evaluate
from jacobian_calc.symbolic.symbols import symbol_grid

AFFINE = {"x": 3, "W": (3, 2), "b": 2}
BATCH = {"X": (4, 3), "w": 3}

#: (expression, wrt, shapes, numerator formula, denominator formula, where)
MATRICES = [
    # Lecture 5, item 7: softmax
    ("softmax(l)", "l", {"l": 3}, "diag(p) - outer(p, p)", "diag(p) - outer(p, p)",
     {"p": "softmax(l)"}),
    # Lecture 5, item 5: the affine layer, one sample
    ("x.T@W + b", "x", AFFINE, "W.T", "W", {}),
    ("x.T@W + b", "b", AFFINE, "eye(n=2)", "eye(n=2)", {}),
    # Lecture 5, item 6: the mini-batch, one neuron
    ("X@w + b", "w", BATCH, "X", "X.T", {}),
    ("X@w + b", "b", BATCH, "ones_like(X @ w + b)", "ones_like(X @ w + b)", {}),
    # Lecture 5, item 8: the four shape cases
    ("sin(t)", "t", {}, "cos(t)", "cos(t)", {}),                          # scalar / scalar
    ("sum(x**2)", "x", {"x": 3}, "2 * x", "2 * x", {}),                  # scalar f, vector x
    ("a*t", "t", {"a": 3}, "a", "a", {}),                                # vector f, scalar t
    ("A@x", "x", {"A": (2, 3), "x": 3}, "A", "A.T", {}),                 # vector / vector
    # matrixcalculus.org and the lectures' element-wise layers
    ("sin(A@x)", "x", {"A": (2, 2), "x": 2}, "diag(cos(A @ x)) @ A",
     "A.T @ diag(cos(A @ x))", {}),
    ("sigmoid(z)", "z", {"z": 3}, "diag(sigmoid(z) * (1 - sigmoid(z)))",
     "diag(sigmoid(z) * (1 - sigmoid(z)))", {}),
    ("tanh(W@x + b)", "x", {"W": (2, 3), "x": 3, "b": 2}, "diag(1 - tanh(W @ x + b)**2) @ W",
     "W.T @ diag(1 - tanh(W @ x + b)**2)", {}),
    ("x.T@A@x", "x", {"x": 3, "A": (3, 3)}, "(A + A.T) @ x", "(A + A.T) @ x", {}),
    ("norm(x)", "x", {"x": 3}, "x / norm(x)", "x / norm(x)", {}),
    ("x*y", "x", {"x": 3, "y": 3}, "diag(y)", "diag(y)", {}),
    ("logsumexp(x)", "x", {"x": 3}, "softmax(x)", "softmax(x)", {}),
    ("relu(x)", "x", {"x": 3}, "diag(step(x))", "diag(step(x))", {}),
    ("mean(x)", "x", {"x": 4}, "ones_like(x) / 4", "ones_like(x) / 4", {}),
]

#: (expression, wrt, shapes, linear map, vec form): matrix inputs or outputs
MAPS = [
    ("X@W", "W", {"X": (4, 3), "W": (3, 2)}, "X @ dW", "kron(eye(n=2), X)"),
    ("X@W + b", "W", {"X": (4, 3), "W": (3, 2), "b": 2}, "X @ dW", "kron(eye(n=2), X)"),
    ("x.T@W + b", "W", AFFINE, "dW.T @ x", "kron(eye(n=2), expand_dims(x, axis=0))"),
    ("A@X@B", "X", {"A": (2, 3), "X": (3, 2), "B": (2, 2)}, "A @ dX @ B", "kron(B.T, A)"),
    ("X@W + b", "b", {"X": (4, 3), "W": (3, 2), "b": 2}, "db * ones_like(X @ W + b)",
     "kron(eye(n=2), sum(eye(n=4), axis=1, keepdims=True))"),
]


def _shapes(shapes: dict) -> dict:
    return {k: (v,) if isinstance(v, int) else tuple(v) for k, v in shapes.items()}


def _value(text: str, shapes: dict, where: dict) -> Grid:
    tree = substitute(parse_expression(text),
                      {n: parse_expression(t) for n, t in where.items()})
    return evaluate(tree, Env(_shapes(shapes)))


def _equal(a, b) -> bool:
    return sp.simplify(sp.sympify(a) - sp.sympify(b)) == 0


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("expr, wrt, shapes, num, den, where", MATRICES,
                         ids=[f"{r[0]} d{r[1]}" for r in MATRICES])
def test_golden_compact_jacobian_is_proved_against_the_explicit_one(expr, wrt, shapes, num,
                                                                    den, where, layout):
    J = jacobian(expr, wrt, shapes=shapes, layout=layout, compact=True)
    expected = num if layout == "numerator" else den
    assert J.compact.text == expected
    assert dict((n, t) for n, _, t in J.compact.where) == where
    assert J.compact.check.verdict == "proved"
    # the proof in the test: the golden formula against the explicit entries
    value = _value(expected, shapes, where)
    explicit = J.as_grid()
    if value.shape != explicit.shape:  # a scalar's row, or a scalar input's column
        assert value.size == explicit.size
        value = value.reshape(explicit.shape)
    assert all(_equal(x, value[i]) for i, x in explicit.items())


@pytest.mark.parametrize("expr, wrt, shapes, linear_map, vec", MAPS,
                         ids=[f"{r[0]} d{r[1]}" for r in MAPS])
def test_matrix_jacobians_are_a_linear_map_and_its_vec_form(expr, wrt, shapes, linear_map,
                                                            vec):
    J = jacobian(expr, wrt, shapes=shapes, compact=True)
    c = J.compact
    assert (c.kind, c.text, c.vec_text) == ("linear map", linear_map, vec)
    assert c.check.verdict == "proved"
    shapes = _shapes(shapes)
    d = "d" + wrt
    # the map: its derivative by each entry of dW is the explicit Jacobian's slice
    image = evaluate(parse_expression(linear_map), Env({**shapes, d: shapes[wrt]}))
    image = image.broadcast_to(J.out_shape)
    dirs = symbol_grid(d, shapes[wrt])
    for a in ndindex(J.out_shape):
        for b in ndindex(J.in_shape):
            assert _equal(sp.diff(image[a], dirs[b]), J[a + b])
    # the vec form: column-major flattening of the explicit Jacobian, written out here
    K = evaluate(parse_expression(vec), Env(shapes))
    assert K.shape == (math.prod(J.out_shape), math.prod(J.in_shape))
    for a in ndindex(J.out_shape):
        for b in ndindex(J.in_shape):
            r = sum(i * math.prod(J.out_shape[:k]) for k, i in enumerate(a))
            col = sum(i * math.prod(J.in_shape[:k]) for k, i in enumerate(b))
            assert _equal(K[r, col], J[a + b])


def test_a_list_of_scalar_components_says_why_there_is_no_compact_form():
    # Lecture 5, items 1 and 3: the circle and r(x) are lists of scalar components
    J = jacobian("cos(2*pi*t), sin(2*pi*t)", "t", compact=True)
    assert not J.compact.found
    assert J.compact.reason.startswith("a list of scalar components")
    J = jacobian("sin(x1-x2), cos(x1-x2), tan(x1-x2)", "x1,x2", compact=True)
    assert not J.compact.found


def test_a_map_with_a_transposed_matrix_has_no_vec_form_and_says_so():
    c = jacobian("X.T@A", "X", shapes={"X": (2, 2), "A": (2, 2)}, compact=True).compact
    assert (c.text, c.vec_text, c.check.verdict) == ("dX.T @ A", "", "proved")
    assert "commutation matrix" in c.reason


def test_compact_is_off_by_default_and_checked_as_a_flag():
    assert jacobian("sin(x)", "x").compact is None
    with pytest.raises(TypeError):
        jacobian("sin(x)", "x", compact="yes")


def run(*args):
    return subprocess.run([sys.executable, "-m", "jacobian_calc", *args], capture_output=True,
                          text=True)


def test_cli_softmax_compact_prints_the_lecture_form_with_its_proof():
    out = run("softmax(l)", "--wrt", "l", "--shape", "l=3", "--compact")
    assert out.returncode == 0
    assert out.stdout.endswith(
        "Compact Jacobian (numerator layout)\n"
        "  J       = diag(p) - outer(p, p)   3x3\n"
        "  where p = softmax(l)\n"
        "Verified against the explicit Jacobian: proved (symbolically, entry by entry)\n")


def test_cli_matrix_jacobian_states_the_vec_convention():
    out = run("X@W", "--wrt", "W", "--shape", "X=4x3", "--shape", "W=3x2", "--compact")
    assert "  dY = X @ dW   4x2" in out.stdout
    assert "column-major, as Magnus-Neudecker" in out.stdout
    assert "  J_vec = kron(eye(n=2), X)   8x6" in out.stdout


def test_compact_applies_to_jacobians_only():
    out = run("x.T@A@x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3", "--hessian",
              "--compact")
    assert out.returncode == 2 and "--compact has no effect with --hessian" in out.stderr


def test_latex_shows_the_compact_jacobian_next_to_the_explicit_one():
    J = jacobian("softmax(l)", "l", shapes={"l": 3}, compact=True)
    tex = J.to_latex()
    assert tex.endswith(r"\begin{gathered} \frac{\partial y}{\partial l} = "
                        r"\operatorname{diag}\left(p\right) - p p^{\top} \\ "
                        r"p = \operatorname{softmax}\left(l\right) \end{gathered} "
                        r"\end{gathered}")
    J = jacobian("X@W", "W", shapes={"X": (2, 2), "W": (2, 2)}, compact=True)
    tex = J.to_latex(derivation=True)
    assert r"\operatorname{vec}\left(dY\right) = \left(I_{2} \otimes X\right) " \
           r"\operatorname{vec}\left(dW\right)" in tex
    assert "proved (symbolically, entry by entry)" in tex


from jacobian_calc.derive.compact_rules import COMPACT_RULES  # noqa: E402
from jacobian_calc.derive.hessian_rules import EXTRA_RULES  # noqa: E402
from jacobian_calc.derive.tidy import RULES, Tidy, present  # noqa: E402
from jacobian_calc.ops.text import to_source  # noqa: E402
from jacobian_calc.symbolic.evaluate import infer_shape  # noqa: E402
from jacobian_calc.symbolic.float_tree import float_evaluate  # noqa: E402


@pytest.mark.parametrize("rule", COMPACT_RULES, ids=[r.name for r in COMPACT_RULES])
def test_compact_rule_example_fires_and_keeps_the_value(rule):
    import numpy as np
    before, after, shapes = rule.example
    t = Tidy(shapes, rules=RULES + EXTRA_RULES + COMPACT_RULES)
    result = present(t.normal(parse_expression(before)))
    assert to_source(result) == after and rule.name in t.fired
    assert rule.doc and "->" in rule.doc
    assert infer_shape(result, shapes) == infer_shape(parse_expression(before), shapes)
    rng = np.random.default_rng(0)
    values = {n: rng.uniform(-1.5, 1.5, s) for n, s in shapes.items()}
    assert np.allclose(float_evaluate(parse_expression(before), values),
                       float_evaluate(result, values), rtol=1e-12, atol=1e-12)


def test_compact_with_values_at_a_point_is_refused():
    out = run("sin(x)", "--compact", "--at", "x=1")
    assert out.returncode == 2 and "--compact has no effect with --at" in out.stderr
