"""The structural answers of jacobian_calc.symbolic.plain against SymPy's own."""

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobian_calc.symbolic.autodiff import gradient
from jacobian_calc.symbolic.plain import (factor_common, finite, monomial_sum,
                                          nothing_in_common, positive_finite)

REAL = sp.symbols("a b c d", real=True)
PLAIN = sp.symbols("p q")  # no assumptions: not known to be finite
x, y, z = sp.symbols("x y z")

factors = st.sampled_from([*REAL, *PLAIN, REAL[0] ** 2, REAL[1] ** 3, sp.sin(REAL[2]),
                           1 / REAL[3], sp.sqrt(REAL[0]), sp.Float(0.5)])
terms = st.builds(lambda c, fs: sp.Integer(c) * sp.Mul(*fs),
                  st.integers(-6, 6).filter(bool), st.lists(factors, min_size=0, max_size=3))
sums = st.lists(terms, min_size=1, max_size=5).map(lambda ts: sp.Add(*ts))


@settings(max_examples=400, deadline=None)
@given(sums)
def test_factor_common_is_factor_terms(e):
    assert factor_common(e) == sp.factor_terms(e)


@settings(max_examples=400, deadline=None)
@given(sums)
def test_a_monomial_sum_is_its_own_expand_mul(e):
    if monomial_sum(e):
        assert sp.expand_mul(e) == e


@settings(max_examples=400, deadline=None)
@given(st.lists(terms, min_size=1, max_size=4).map(lambda ts: sp.Mul(*[1 + t for t in ts])))
def test_finite_is_sympys_is_finite(e):
    assert finite(e) == (e.is_finite is True)


def test_the_fast_answers_are_taken_where_they_apply():
    assert nothing_in_common(x * y + z) and monomial_sum(3 * x ** 2 * y - z)
    assert not nothing_in_common(x * y + x * z)           # x in every term
    assert not nothing_in_common(2 * x + 4 * y)           # a common divisor
    assert not nothing_in_common(-x - y)                  # a common sign
    assert not nothing_in_common(x / 2 + y)               # not integer coefficients
    assert not nothing_in_common(x * sp.sin(y) + z)       # not a monomial
    assert not monomial_sum(x * (y + 1)) and not monomial_sum(x ** -1 + y)


def test_finite_of_polynomials_in_real_symbols_and_of_the_rest():
    a, b = REAL[:2]
    assert finite((a + 2 * b) ** 3 * a + 7)
    assert not finite(a + PLAIN[0])                        # unknown finiteness: SymPy says None
    assert not finite(1 / a) and not finite(a + sp.oo)
    assert finite(sp.sin(a) + a * b)                       # SymPy's answer, asked


def test_factor_common_leaves_large_entries_alone():
    big = sp.Add(*[x * s for s in sp.symbols("s:200")])
    assert factor_common(big) == big and sp.factor_terms(big) != big
    assert factor_common(big, max_nodes=10_000) == sp.factor_terms(big)


POS = sp.Symbol("r", positive=True)
atoms = st.sampled_from([*REAL, *PLAIN, POS, sp.Integer(2), sp.Rational(1, 3), sp.Integer(-1)])
exprs = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(sp.exp, inner), st.builds(lambda a, b: a + b, inner, inner),
    st.builds(lambda a, b: a * b, inner, inner),
    st.builds(sp.Pow, inner, st.sampled_from([sp.Integer(2), sp.Integer(-1), sp.Rational(1, 2)])),
    st.builds(sp.log, inner)), max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(exprs)
def test_positive_finite_is_never_contradicted_and_zero_log_terms_vanish(e):
    if positive_finite(e):
        assert e.is_positive is not False and e.is_finite is not False
        assert sp.Mul(0, sp.log(e)) == 0  # the derivative term it lets us skip


def test_softmax_denominator_is_positive_and_its_derivative_is_sympys():
    l = sp.symbols("l1:5", real=True)
    S = sp.Add(*map(sp.exp, l))
    assert positive_finite(S) and not positive_finite(S - 1) and not positive_finite(l[0])
    e = sp.exp(l[0]) / S
    found = gradient(e, set(l))
    assert all(found[s] == e.diff(s) for s in l)
