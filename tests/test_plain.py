"""The structural answers of jacobian_calc.symbolic.plain against SymPy's own."""

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobian_calc.symbolic.plain import (factor_common, finite, monomial_sum,
                                          nothing_in_common)

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
