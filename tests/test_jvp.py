"""Forward-mode tangents derived from the backward rules, the rewrite rules of second
derivatives, and reading a matrix off a formula linear in a vector."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from jacobian_calc.core.tree import Name, names
from jacobian_calc.derive.hessian_rules import EXTRA_RULES, INPUT_RULES, make_signs_rule, \
    rewrite_input, tidy_more
from jacobian_calc.derive.jvp import jvp
from jacobian_calc.derive.linear_map import matrix_of
from jacobian_calc.ops.text import to_source
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.evaluate import infer_shape
from jacobian_calc.symbolic.float_tree import float_evaluate

from op_cases import ALL_CASES, sample

# -- every operation's tangent against finite differences -----------------------------------


def _domain_values(case, rng):
    return {n: sample(n, s, case.domain.get(n, "any"), rng) for n, s in case.shapes.items()} | \
        ({} if case.wrt in case.shapes else {case.wrt: sample(case.wrt, (),
                                                               case.domain.get(case.wrt, "any"),
                                                               rng)})


@pytest.mark.parametrize("name,case", ALL_CASES, ids=[f"{n}: {c.id}" for n, c in ALL_CASES])
def test_every_operations_tangent_matches_finite_differences(name, case):
    node = parse_expression(case.expr)
    shapes = dict(case.shapes)
    shapes.setdefault(case.wrt, ())
    shapes["V"] = shapes[case.wrt]
    tangent = jvp(node, {case.wrt: Name("V")}, shapes)
    rng = np.random.default_rng(0)
    values = _domain_values(case, rng)
    values["V"] = rng.uniform(-1, 1, shapes[case.wrt])
    if tangent is None:  # a zero tangent: the expression does not move
        got = 0.0
    else:
        assert infer_shape(tangent, shapes) == infer_shape(node, shapes)
        got = float_evaluate(tangent, values)
    h = 1e-6
    plus, minus = dict(values), dict(values)
    plus[case.wrt] = values[case.wrt] + h * values["V"]
    minus[case.wrt] = values[case.wrt] - h * values["V"]
    fd = (float_evaluate(node, plus) - float_evaluate(node, minus)) / (2 * h)
    assert np.allclose(got, fd, rtol=1e-5, atol=1e-6), to_source(tangent)


TANGENTS = [
    ("tanh(X @ W)", "W", "V", "(X @ V) * (1 - tanh(X @ W)**2)"),
    ("softmax(x)", "x", "v", "softmax(x) * (v - sum(v * softmax(x)))"),
    ("inv(A)", "A", "Y", "-(inv(A) @ (Y @ inv(A)))"),
    ("det(A)", "A", "Y", "sum(Y * inv(A).T) * det(A)"),
    ("(A + A.T) @ x", "x", "v", "(A + A.T) @ v"),
]


@pytest.mark.parametrize("expr,wrt,direction,text", TANGENTS, ids=[t[0] for t in TANGENTS])
def test_tangents_read_like_the_lectures(expr, wrt, direction, text):
    shapes = {"X": (2, 3), "W": (3, 2), "V": (3, 2), "x": (3,), "v": (3,), "A": (3, 3),
              "Y": (3, 3)}
    tangent = jvp(parse_expression(expr), {wrt: Name(direction)}, shapes)
    assert to_source(tidy_more(tangent, shapes)) == text


def test_a_constant_has_no_tangent():
    assert jvp(parse_expression("ones_like(X) * 2"), {"X": Name("V")},
               {"X": (2, 2), "V": (2, 2)}) is None
    assert jvp(parse_expression("A @ x"), {"y": Name("v")},
               {"A": (2, 2), "x": (2,), "y": (2,), "v": (2,)}) is None


# -- the rewrite rules of second derivatives ---------------------------------------------------

RULES = EXTRA_RULES + INPUT_RULES + (make_signs_rule(["t"]),)


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_rule_keeps_value_and_shape(rule):
    before, after, shapes = rule.example
    a, b = parse_expression(before), parse_expression(after)
    assert infer_shape(a, shapes) == infer_shape(b, shapes)
    rng = np.random.default_rng(1)
    for _ in range(3):
        values = {n: (rng.choice([-1.0, 1.0], shapes[n]) if n == "t" else
                      rng.uniform(0.2, 1.0, shapes.get(n, ())))
                  for n in names(a) | names(b)}
        assert np.allclose(float_evaluate(a, values), float_evaluate(b, values))


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_rule_does_what_its_example_says(rule):
    before, after, shapes = rule.example
    rules = (rule,) if rule in INPUT_RULES else None
    if rules:
        out, used = rewrite_input(parse_expression(before), shapes)
        assert to_source(out) == after and used
        return
    signs = ["t"] if rule.name == "unit_powers" else []
    assert to_source(tidy_more(parse_expression(before), shapes, signs=signs)) == after


def test_softmax_is_recognised_only_along_its_own_axis():
    shapes = {"X": (2, 3), "x": (3,)}
    good = parse_expression("exp(X - expand_dims(logsumexp(X, axis=1), 1))")
    bad = parse_expression("exp(X - logsumexp(X))")  # over all entries: not a row softmax
    assert to_source(tidy_more(good, shapes)) == "softmax(X, axis=1)"
    assert "softmax" not in to_source(tidy_more(bad, shapes))
    assert to_source(tidy_more(parse_expression("exp(x - logsumexp(x))"), shapes)) == \
        "softmax(x)"


# -- matrices read off linear formulas -------------------------------------------------------

S = {"A": (3, 3), "B": (3, 3), "x": (3,), "v": (3,), "p": (3,), "X": (4, 3), "d": (4,),
     "c": ()}
LINEAR = [
    ("v", "eye(n=3)"),
    ("(A + A.T) @ v", "A + A.T"),
    ("2 * (A.T @ (A @ v))", "2 * (A.T @ A)"),
    ("X.T @ (d * (X @ v)) / 4", "(X.T @ diag(d) @ X) / 4"),
    ("p * (v - sum(p * v))", "diag(p) - outer(p, p)"),
    ("c * v + A @ v", "c * eye(n=3) + A"),
    ("v @ A", "A.T"),
    ("-(B @ v) + p * (p @ v)", "outer(p, p) - B"),
]


@pytest.mark.parametrize("formula,matrix", LINEAR, ids=[c[0] for c in LINEAR])
def test_matrix_of_a_linear_formula(formula, matrix):
    m = matrix_of(parse_expression(formula), "v", S, Name("x"))
    assert to_source(tidy_more(m, S)) == matrix
    rng = np.random.default_rng(2)
    values = {n: rng.uniform(-1, 1, S[n]) for n in S}
    columns = [float_evaluate(parse_expression(formula), {**values, "v": e}) for e in np.eye(3)]
    assert np.allclose(float_evaluate(m, values), np.stack(columns, axis=1))


@pytest.mark.parametrize("formula", ["v * v", "sin(v)", "A @ v + x", "sum(v) * v"])
def test_formulas_not_linear_as_written_have_no_matrix(formula):
    assert matrix_of(parse_expression(formula), "v", S, Name("x")) is None


def test_the_explicit_and_compact_routes_share_nothing_but_the_expression():
    """The explicit Hessian never reads a backward rule (sympy.diff agrees with it)."""
    from jacobian_calc import hessian
    H = hessian("sum(tanh(x) * x)", "x", shapes={"x": (2,)}, compact=False)
    x1, x2 = sp.symbols("x_1 x_2", real=True)
    f = sp.tanh(x1) * x1 + sp.tanh(x2) * x2
    assert sp.simplify(H.matrix - sp.hessian(f, [x1, x2])) == sp.zeros(2, 2)
