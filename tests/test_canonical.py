"""The canonical constructors and the Differentiator must build exactly what SymPy builds.

canonical_mul / canonical_add / symbol_dot skip SymPy's general flattening
when it cannot change the result; these tests compare them with
``sympy.Mul`` / ``sympy.Add`` argument for argument on random expressions,
including the cases where they must merge powers as SymPy does or defer to
SymPy (numeric bases, I, infinities, unevaluated products).

The Differentiator must return what ``sympy.diff`` returns, structurally
(same classes, same arguments in the same order), for Jacobians
(``Matrix.jacobian``) and for random expressions.

Self-contained: only ``jacobian_calc.autodiff`` and ``jacobian_calc.canonical``
are imported, so that the file moves with those two modules.
"""

import os
import random

import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sympy.core.cache import clear_cache

from jacobian_calc.symbolic import autodiff
from jacobian_calc.symbolic.autodiff import Differentiator, gradient
from jacobian_calc.symbolic.canonical import canonical_add, canonical_mul, symbol_dot


class sigmoid(sp.Function):  # noqa: N801 - a Function with its own fdiff
    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)


class relu(sp.Function):  # noqa: N801
    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 1)


class softplus(sp.Function):  # noqa: N801
    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])


a, b, c = sp.symbols("a b c")
x = sp.Symbol("x", real=True)
SYMBOLS = [a, b, c, x, sp.Symbol("X_1_2", real=True), sp.Symbol("x"), sp.Dummy("d")]
SPECIAL = [sp.pi, sp.E, sp.I, sp.oo, sp.zoo, sp.Float(1.5), sp.sqrt(2), sp.Rational(-3, 4)]
FUNCTIONS = [sp.sin, sp.tanh, sp.log, sp.Abs, sigmoid, relu, softplus, sp.Function("f"),
             lambda e: sp.Heaviside(e, 1)]


def _atom(rng):
    r = rng.random()
    if r < 0.5:
        return rng.choice(SYMBOLS)
    if r < 0.8:
        return sp.Integer(rng.randint(-3, 3))
    return rng.choice(SPECIAL)


def _expr(rng, depth):
    if depth == 0 or rng.random() < 0.3:
        return _atom(rng)
    k = rng.random()
    sub = [_expr(rng, depth - 1) for _ in range(rng.randint(2, 3))]
    if k < 0.2:
        return sp.Add(*sub)
    if k < 0.4:
        return sp.Mul(*sub)
    if k < 0.45:  # what 2*(x + y)*3 and -(x + y) leave behind
        return sp.Mul(rng.choice([-1, 2, 3]), sp.Add(*sub), evaluate=False)
    if k < 0.6:
        return sp.Pow(sub[0], rng.choice([2, -1, -2, sp.Rational(1, 2), a, 2 * b]))
    if k < 0.7:
        return sp.exp(rng.choice([1, -1, 2]) * sub[0])
    return rng.choice(FUNCTIONS)(sub[0])


def _same(got, want):
    assert type(got) is type(want) and got == want and got.args == want.args, (got, want)


@pytest.mark.parametrize("seed", range(4))
def test_canonical_mul_and_add_build_what_sympy_builds(seed):
    rng = random.Random(seed)
    for _ in range(400):
        try:
            args = [_expr(rng, rng.randint(0, 2)) for _ in range(rng.randint(1, 5))]
        except (ValueError, TypeError):  # e.g. Heaviside of a non-real argument
            continue
        if rng.random() < 0.3:
            args.append(rng.choice(args) * rng.choice([1, 2, -1]))
        for fast, slow in ((canonical_mul, sp.Mul), (canonical_add, sp.Add)):
            try:
                want = slow(*args)
            except (ValueError, TypeError):
                continue
            _same(fast(*args), want)


@pytest.mark.parametrize("factors", [
    (x, 3, x), (sp.exp(a), sp.exp(2 * a)), (sp.exp(-(a + b)), c), (2, a + b),
    (sp.sqrt(2), sp.sqrt(3)), (0, sp.oo), (x, x ** -1), (sp.I, sp.I), (a, sp.Rational(1, 2)),
])
def test_canonical_mul_defers_where_mul_merges(factors):
    _same(canonical_mul(*factors), sp.Mul(*factors))


def test_symbol_dot_is_matmul_entry():
    X = sp.symbols("X_1_1:4", real=True)
    W = sp.symbols("W_1_1:4", real=True)
    _same(symbol_dot(X, W), sp.Add(*[p * q for p, q in zip(X, W)]))
    assert symbol_dot([a, b], [b, a]) is None  # a*b + b*a is collected to 2*a*b
    assert symbol_dot([a], [a]) is None  # a*a is a power


@pytest.mark.parametrize("factors", [
    (sp.exp(a), sp.exp(a)), (sp.exp(a), sp.exp(-2 * a), b), ((a + b) ** -1, (a + b) ** -1, c),
    ((a + b) ** -1, (a + b) ** 2), (sp.sqrt(a), sp.sqrt(a)), (a ** 2, a ** -2), (x ** a, x ** a),
    (sp.exp(x) / (sp.exp(x) + sp.exp(a)), -sp.exp(x) / (sp.exp(x) + sp.exp(a)) ** 2),
    (a ** sp.Rational(1, 3), a ** sp.Rational(2, 3), 2), (a ** 1.5, a ** 0.5),
])
def test_canonical_mul_merges_powers_as_mul_does(factors):
    _same(canonical_mul(*factors), sp.Mul(*factors))


def test_gradient_matches_diff():
    l = sp.symbols("l1:5", real=True)
    S = sp.Add(*map(sp.exp, l))
    for li in l:
        p = sp.exp(li) / S
        grad = gradient(p, l)
        for lj in l:
            _same(grad.get(lj, sp.S.Zero), p.diff(lj))


# -- Jacobians equal to Matrix.jacobian ------------------------------------------------

def _jacobian(exprs, symbols):
    """The Jacobian by one Differentiator, as a Matrix (zeros where no derivative)."""
    d = Differentiator(symbols)
    rows = [d.gradient(e) for e in exprs]
    return sp.Matrix([[row.get(s, sp.S.Zero) for s in symbols] for row in rows])


def _same_matrix(got, want):
    assert got.shape == want.shape
    for g, w in zip(got, want):
        _same(g, w)


@pytest.mark.parametrize("K", [1, 2, 3, 7])
def test_softmax_jacobian_is_sympys(K):
    l = sp.symbols(f"l1:{K + 1}", real=True)
    S = sp.Add(*map(sp.exp, l))
    f = sp.Matrix([sp.exp(s) / S for s in l])
    _same_matrix(_jacobian(list(f), l), f.jacobian(l))


def test_softmax_jacobian_with_separate_copies_of_the_denominator():
    """Entries built independently (as from text) share the work by equality."""
    l = sp.symbols("l1:6", real=True)
    f = []
    for s in l:
        clear_cache()  # else SymPy's cache hands out the same denominator
        f.append(sp.exp(s) / sp.Add(*map(sp.exp, l)))
    assert f[0].args[0] is not f[1].args[0] and f[0].args[0] == f[1].args[0]
    _same_matrix(_jacobian(f, l), sp.Matrix(f).jacobian(l))


@pytest.mark.parametrize("n, seed", [(1, 0), (3, 1), (6, 2), (9, 3)])
def test_trig_jacobian_is_sympys(n, seed):
    rng = random.Random(seed)
    x = sp.symbols(f"x1:{n + 1}", real=True)
    f = sp.Matrix([x[i] * sp.sin(sp.Add(*[rng.randint(-5, 5) * xj for xj in x]))
                   for i in range(n)])
    _same_matrix(_jacobian(list(f), x), f.jacobian(x))


def test_symbols_with_equal_child_derivatives_share_the_result():
    x = sp.symbols("x1:4", real=True)
    f = x[0] * sp.sin(2 * x[1] + 2 * x[2] + x[0])
    g = Differentiator(x).gradient(f)
    assert g[x[1]] is g[x[2]]
    _same(g[x[1]], f.diff(x[1]))


def test_local_rules_replace_fdiff():
    """tan is differentiated as sec**2, the one deliberate difference from diff."""
    t = sp.Symbol("t", real=True)
    _same(gradient(sp.tan(2 * t), [t])[t], 2 * sp.sec(2 * t) ** 2)


def test_a_local_derivative_with_derivatives_goes_to_diff():
    """diff makes Derivatives canonical (variables sorted) in its result."""
    class Odd(sp.Function):
        def fdiff(self, argindex=1):
            return sp.Derivative(sp.Function("g")(a, b), b, a)

    e = Odd(x ** 2)
    _same(gradient(e, [x])[x], e.diff(x))


def test_deep_expressions_are_walked_without_recursion(monkeypatch):
    monkeypatch.setattr(autodiff, "_MAX_DEPTH", 5)
    e = x
    for i in range(30):
        e = (e + a) ** 2 if i % 2 else e * x + b
    g = gradient(e, [x, a, b])
    for s in (x, a, b):
        _same(g[s], e.diff(s))


# -- random expressions: the Differentiator against sympy.diff -------------------------

WRT = sp.symbols("u v w", real=True)
OTHERS = (sp.Symbol("p", positive=True), sp.Symbol("z"))
UNARY = [sp.exp, sp.log, sp.sin, sp.cos, sp.tanh, sp.atan, sp.sqrt, sp.Abs, sigmoid, relu,
         softplus, sp.Function("g"), lambda e: sp.Heaviside(e, 1)]
NUMBERS = [sp.Integer(n) for n in (-3, -2, -1, 1, 2, 3)] + [
    sp.Rational(1, 2), sp.Rational(-3, 4), sp.Float(1.5), sp.pi, sp.E, sp.I]
EXPONENTS = [2, 3, -1, -2, sp.Rational(1, 2), sp.Rational(-3, 2), sp.Float(0.5)]


@st.composite
def expressions(draw, depth=3):
    """A random expression over u, v, w (differentiated) and constants or other symbols."""
    if depth == 0 or draw(st.integers(0, 9)) < 3:
        return draw(st.sampled_from(WRT + WRT + OTHERS + tuple(NUMBERS)))
    kind = draw(st.sampled_from(["add", "mul", "pow", "sympow", "call", "repeat", "neg"]))
    sub = lambda: draw(expressions(depth=depth - 1))  # noqa: E731
    try:
        if kind == "add":
            return sp.Add(*[sub() for _ in range(draw(st.integers(2, 4)))])
        if kind == "mul":
            return sp.Mul(*[sub() for _ in range(draw(st.integers(2, 4)))])
        if kind == "pow":
            return sp.Pow(sub(), draw(st.sampled_from(EXPONENTS)))
        if kind == "sympow":
            return sp.Pow(sub(), sub())
        if kind == "repeat":  # shared subexpressions and powers of a common base
            e = sub()
            return sp.Mul(e, sp.exp(e), sp.exp(-2 * e) + e ** -1)
        if kind == "neg":  # what -(x + y) and 2*(x + y)*3 leave behind
            return sp.Mul(draw(st.sampled_from([-1, 2])), sp.Add(sub(), sub()), evaluate=False)
        return draw(st.sampled_from(UNARY))(sub())
    except (ValueError, TypeError, ZeroDivisionError):
        return draw(st.sampled_from(WRT))


#: Examples per property; JAC_EXAMPLES=3000 for a long local run.
EXAMPLES = int(os.environ.get("JAC_EXAMPLES", 150))
DIFF_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@DIFF_SETTINGS
@given(st.lists(expressions(), min_size=1, max_size=4))
def test_differentiator_is_sympy_diff(exprs):
    """One Differentiator for several expressions (shared work), each entry == diff."""
    expected = []
    for e in exprs:
        try:
            expected.append([e.diff(s) for s in WRT])
        except (ValueError, TypeError, NotImplementedError, RecursionError):
            assume(False)
    d = Differentiator(WRT)
    for e, want in zip(exprs, expected):
        for s, w in zip(WRT, want):
            _same(d.diff(e, s), w)
        g = d.gradient(e)
        assert {s: v for s, v in zip(WRT, want) if v is not sp.S.Zero} == g


@DIFF_SETTINGS
@given(st.lists(expressions(depth=2), min_size=2, max_size=6))
def test_canonical_mul_and_add_random(args):
    for fast, slow in ((canonical_mul, sp.Mul), (canonical_add, sp.Add)):
        try:
            want = slow(*args)
        except (ValueError, TypeError):
            continue
        _same(fast(*args), want)
