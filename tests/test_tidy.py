"""The rewrite rules of compact formulas: each one fires on its example, gives the
expected text, and keeps the value (at random points); tidying as a whole keeps
the value of random formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobian_calc.core.grid import ndindex
from jacobian_calc.core.tree import Call, Name, Num, substitute
from jacobian_calc.derive.tidy import RULES, Tidy, present, tidy
from jacobian_calc.ops.text import to_source
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.evaluate import infer_shape
from jacobian_calc.symbolic.float_tree import float_evaluate


def random_values(shapes, onehot=(), seed=0, low=0.3, high=1.7):
    """Values away from 0 (rules cancel x/x); one-hot targets one-hot by rows."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in shapes.items():
        if name in onehot:
            array = np.zeros(shape)
            for index in ndindex(shape[:-1]):
                array[index + (rng.integers(shape[-1]),)] = 1.0
            values[name] = array
        else:
            values[name] = rng.uniform(low, high, shape) * rng.choice([-1, 1], shape)
    return values


def same_value(a, b, shapes, onehot=()):
    for seed in range(3):
        values = random_values(shapes, onehot, seed)
        left = float_evaluate(a, values)
        right = np.broadcast_to(float_evaluate(b, values), np.shape(left))
        if not np.allclose(left, right, rtol=1e-10, atol=1e-12):
            return False
    return True


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_example(rule):
    before, after, shapes = rule.example
    steps = {name: parse_expression(text) for name, text in rule.steps}
    t = Tidy(shapes, rule.onehot, steps=steps)
    result = present(t.normal(parse_expression(before)))
    assert to_source(result) == after
    assert rule.name in t.fired or rule.name in _fired_in_candidates(t)
    assert same_value(parse_expression(before), substitute(result, steps), shapes,
                      rule.onehot)
    assert infer_shape(result, shapes) == infer_shape(parse_expression(before), shapes)


def _fired_in_candidates(t: Tidy) -> list[str]:
    """Rules that fired while a multiplied-out candidate was tidied."""
    return t.plain().fired if t._plain is not None else []


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_has_a_docstring(rule):
    assert rule.doc and "->" in rule.doc


M = {"X": (2, 3), "Y": (2, 3), "T": (2, 3), "P": (2, 3), "dY": (2, 3), "b": (3,)}

PRESENTED = [
    ("dY * (1 - Y**2)", "dY * (1 - Y**2)"),             # not multiplied out
    ("dY * Y * (1 - Y)", "dY * Y * (1 - Y)"),
    ("P * (dY - sum(dY * P, axis=1, keepdims=True))",
     "P * (dY - sum(dY * P, axis=1, keepdims=True))"),
    ("dY * (1 / X)", "dY / X"),
    ("-1/12 * T * (1 / P)", "-T / (12 * P)"),
    ("2/3 * (Y - T)", "2/3 * (Y - T)"),
    ("-(T - Y) / 4", "(Y - T) / 4"),
    ("-X - Y", "-(X + Y)"),
    ("Y - X + X - Y + 3", "3 * ones_like(Y)"),
    ("X - X + b", "b * ones_like(X)"),
    ("1 * ones_like(X) / 6", "ones_like(X) / 6"),
    ("-(X * Y)", "-X * Y"),
    ("X / Y / Y", "X / Y**2"),
    ("1 / (X + 1) - 1 / (X + 1)**2", "1 / (X + 1) - 1 / (X + 1)**2"),
    ("sum(dY, axis=0) + b - b", "sum(dY, axis=0)"),
]


@pytest.mark.parametrize("before,after", PRESENTED, ids=[p[0] for p in PRESENTED])
def test_presented_as_a_lecture_writes_it(before, after):
    result = tidy(parse_expression(before), M)
    assert to_source(result) == after
    assert same_value(parse_expression(before), result, M)


def test_softmax_cross_entropy_cancels():
    shapes = {"P": (4, 3), "T": (4, 3)}
    rule = parse_expression("P * (dP - sum(dP * P, axis=1, keepdims=True))")
    fused = Call("mul", (Num(1), rule))
    from jacobian_calc.core.tree import substitute
    fused = substitute(rule, {"dP": parse_expression("-T / (12 * P)")})
    assert to_source(tidy(fused, shapes)) == "(P * sum(T, axis=1, keepdims=True) - T) / 12"
    assert to_source(tidy(fused, shapes, onehot=("T",))) == "(P - T) / 12"


def test_quadratic_form_is_symmetric():
    shapes = {"A": (3, 3), "x": (3,)}
    gradient = parse_expression("(A @ x).T + x.T @ A")
    assert to_source(tidy(gradient, shapes)) == "(A + A.T) @ x"


def test_tidy_is_idempotent():
    for before, _ in PRESENTED:
        once = tidy(parse_expression(before), M)
        assert tidy(once, M) == once


# -- random formulas keep their value -----------------------------------------------------

NAMES = ["X", "Y", "P"]


def formulas(depth: int = 3):
    leaf = st.one_of(st.sampled_from([Name(n) for n in NAMES]),
                     st.integers(1, 4).map(Num))
    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda ab: Call("add", ab)),
            st.tuples(children, children).map(lambda ab: Call("mul", ab)),
            st.tuples(children, children).map(lambda ab: Call("div", ab)),
            children.map(lambda a: Call("neg", (a,))),
            children.map(lambda a: Call("pow", (a, Num(2)))),
            children.map(lambda a: Call("transpose", (Call("transpose", (a,)),))),
        )
    return st.recursive(leaf, extend, max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(formulas())
def test_tidy_keeps_the_value_of_random_formulas(node):
    shapes = {n: (2, 2) for n in NAMES}
    values = random_values(shapes, seed=1)
    before = float_evaluate(node, values)
    if not np.all(np.isfinite(before)) or np.max(np.abs(before)) > 1e6:
        return  # a near-zero denominator: nothing to compare
    after = float_evaluate(tidy(node, shapes), values)
    assert np.allclose(np.broadcast_to(after, np.shape(before)), before, rtol=1e-8, atol=1e-9)


# -- identities with a precondition: applied only where it is proved --------------------

S = {"x": (3,), "X": (2, 3), "Y": (2, 3), "z": (3,), "q": (3,)}

PROVED_ONLY = [
    # (formula, tidied, whether the identity applies)
    ("exp(log(x))", "exp(log(x))", False),                  # x > 0 is not known
    ("exp(log(exp(x) + 1))", "exp(x) + 1", True),
    ("exp(log(softmax(z))) * q", "softmax(z) * q", True),
    ("exp(log(sigmoid(X) * (1 - Y)))", "exp(log(sigmoid(X) * (1 - Y)))", False),
    ("sqrt(x**2)", "sqrt(x**2)", False),                    # x >= 0 is not known
    ("sqrt(relu(x)**2)", "relu(x)", True),
    ("sqrt(x**2 + 1)**2", "x**2 + 1", True),                # defined only where >= 0
    ("sqrt(x**2 + 1)**-2", "1 / sqrt(x**2 + 1)**2", False),  # kept: lecture writes **3
    ("sum(x - mean(x))", "0", True),
    ("sum(x - mean(X))", "sum(x - mean(X))", False),        # not centred on itself
    ("sum(X - mean(X, axis=1, keepdims=True), axis=0)",
     "sum(X - mean(X, axis=1, keepdims=True), axis=0)", False),  # another axis
    ("mean(X - mean(X, axis=0, keepdims=True), axis=0) @ x", "0", True),
    ("2 * X / 2", "X", True),                               # fold_numbers across a quotient
    ("2 * (Y @ X.T) / (2 * sum(X))", "(Y @ X.T) / sum(X)", True),
    ("sum(softmax(X, axis=1), axis=0) * x", "sum(softmax(X, axis=1), axis=0) * x", False),
]


@pytest.mark.parametrize("before, after, applies", PROVED_ONLY)
def test_identity_only_where_proved(before, after, applies):
    """``applies``: documents whether the identity holds there (``after`` pins it)."""
    tree = parse_expression(before)
    result = tidy(tree, S)
    assert to_source(result) == after
    positive_values = {k: np.abs(v) + 0.1 for k, v in random_values(S).items()}
    for values in (random_values(S), positive_values):
        left = float_evaluate(tree, values)
        right = np.broadcast_to(float_evaluate(result, values), np.shape(left))
        finite = np.isfinite(left)
        assert np.allclose(left[finite], np.asarray(right)[finite], rtol=1e-9, atol=1e-12)


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.01, 3))
@settings(max_examples=40, deadline=None)
def test_signs_proved_are_true(a, b, c):
    from jacobian_calc.derive.tidy import nonnegative, positive
    shapes = {"a": (), "b": (), "c": ()}
    values = {"a": a, "b": b, "c": c}
    for text in ("exp(a) + c", "sigmoid(a) * exp(b)", "a**2 + exp(b)", "relu(a) + b**2",
                 "sqrt(exp(a)) / (1 + exp(b))", "a**2", "a - b", "a * b", "c",
                 "abs(a) * sqrt(c)", "softplus(a)"):
        tree = parse_expression(text)
        value = float(float_evaluate(tree, values))
        if positive(tree):
            assert value > 0, text
        if nonnegative(tree):
            assert value >= 0, text
    assert not positive(parse_expression("c")) and not nonnegative(parse_expression("a * b"))
    del shapes
