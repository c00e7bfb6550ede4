"""canonical_mul / canonical_add / symbol_dot must build exactly what SymPy builds.

They skip SymPy's general flattening when it cannot change the result; these
tests compare them with ``sympy.Mul`` / ``sympy.Add`` argument for argument on
random expressions, including the cases where they must defer to SymPy
(repeated bases, numeric bases, I, infinities, unevaluated products).
"""

import random

import pytest
import sympy as sp

from jacobian_calc.symbolic.autodiff import gradient
from jacobian_calc.symbolic.canonical import canonical_add, canonical_mul, symbol_dot
from jacobian_calc.symbolic.functions import relu, sigmoid, softplus

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


def test_gradient_matches_diff():
    l = sp.symbols("l1:5", real=True)
    S = sp.Add(*map(sp.exp, l))
    for i, li in enumerate(l):
        p = sp.exp(li) / S
        grad = gradient(p, l)
        for lj in l:
            assert sp.expand(grad.get(lj, 0) - p.diff(lj)) == 0
