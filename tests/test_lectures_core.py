"""The scalar and vector lecture examples, exactly, in both layouts.

Each case is one row of a table: the expression, the inputs, the expected
numerator-layout Jacobian (built directly in SymPy from the calculator's real
symbols). The denominator layout must be its transpose. See
``shared/LECTURES.md`` for the catalogue these rows come from.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

from jacobian_calc import JacobianError, chain, jacobian, jacobians, parse
from jacobian_calc.symbolic.evaluate import evaluate as evaluate_node
from jacobian_calc.symbolic.symbols import scalar_symbol

LAYOUTS = ("numerator", "denominator")

t, x, y = (scalar_symbol(n) for n in ("t", "x", "y"))
x1, x2, x3, x4 = (scalar_symbol(f"x{i}") for i in range(1, 5))
a, b1, w1 = (scalar_symbol(n) for n in ("a", "b1", "w1"))
y1, y2 = scalar_symbol("y1"), scalar_symbol("y2")
pi = sp.pi
d = x1 - x2


def expected_in(layout: str, numerator: sp.Matrix) -> sp.Matrix:
    """The expected matrix in ``layout``: denominator is the transpose."""
    return numerator if layout == "numerator" else numerator.T


def assert_same(got: sp.Matrix, want: sp.Matrix, exact: bool = True) -> None:
    """Entry-wise equality; ``exact=False`` allows different but equal forms."""
    assert got.shape == want.shape, (got.shape, want.shape)
    for g, w in zip(got, want):
        if exact:
            assert g == w, f"{g} != {w}"
        else:
            assert sp.simplify((g - w).rewrite(sp.cos)) == 0, f"{g} != {w}"


# -- the table: (id, expression, wrt, expected numerator Jacobian, exact?) ---------

CASES = [
    # Lecture 5, item 1: dots on a circle, R -> R^2, a 2 x 1 column.
    ("L5.1 circle", "cos(2*pi*t), sin(2*pi*t)", "t",
     sp.Matrix([[-2 * pi * sp.sin(2 * pi * t)], [2 * pi * sp.cos(2 * pi * t)]]), True),
    # Lecture 5, item 2: f: R -> R^n is an n x 1 column of df_i/dx.
    ("L5.2 R->R^4", "x, x**2, x**3, exp(x)", "x",
     sp.Matrix([[1], [2 * x], [3 * x**2], [sp.exp(x)]]), True),
    # Lecture 5, item 3: R^2 -> R^3, 3 x 2. The second row is (-sin, +sin):
    # the slide prints cos(x1-x2) for d cos(x1-x2)/dx2; the correct entry is sin(x1-x2).
    ("L5.3 sin cos tan", "sin(x1-x2), cos(x1-x2), tan(x1-x2)", "x1,x2",
     sp.Matrix([[sp.cos(d), -sp.cos(d)],
                [-sp.sin(d), sp.sin(d)],
                [sp.sec(d)**2, -sp.sec(d)**2]]), True),
    # Lecture 5, item 4: f: R^m -> R^n (here m = 4, n = 3), rows are gradients.
    ("L5.4 R^4->R^3", "x1*x2 + x3, x4**2 - x1, sin(x2*x3)", "x1,x2,x3,x4",
     sp.Matrix([[x2, x1, 1, 0],
                [-1, 0, 0, 2 * x4],
                [0, x3 * sp.cos(x2 * x3), x2 * sp.cos(x2 * x3), 0]]), True),
    # Lecture 5, item 8 (also 003, item 4): the four shape cases.
    ("L5.8 scalar/scalar 1x1", "x**3", "x", sp.Matrix([[3 * x**2]]), True),
    ("L5.8 scalar/vector 1xn", "x1**2 + x2*x3", "x1,x2,x3",
     sp.Matrix([[2 * x1, x3, x2]]), True),
    ("L5.8 vector/scalar mx1", "t, t**2, sin(t)", "t",
     sp.Matrix([[1], [2 * t], [sp.cos(t)]]), True),
    ("L5.8 vector/vector mxn", "x1*x2, x1 + x2, x2**3", "x1,x2",
     sp.Matrix([[x2, x1], [1, 1], [0, 3 * x2**2]]), True),
    # 002, item 2: the chain rule for z = f(g(x)).
    ("002.2 chain sin(x^2)", "sin(x**2)", "x", sp.Matrix([[2 * x * sp.cos(x**2)]]), True),
    ("002.2 chain exp(sin)", "exp(sin(x))", "x",
     sp.Matrix([[sp.cos(x) * sp.exp(sp.sin(x))]]), True),
    # 002, item 3: the gradient of f: R^N -> R is a 1 x N row.
    ("002.3 gradient", "x1**2*x2 + exp(x3)", "x1,x2,x3",
     sp.Matrix([[2 * x1 * x2, x1**2, sp.exp(x3)]]), True),
    # 003, item 2: the gradient of 10 x^2 y^2.
    ("003.2 10x^2y^2", "10*x^2*y^2", "x,y", sp.Matrix([[20 * x * y**2, 20 * x**2 * y]]), True),
    # 003, item 3: Jacobian = stack of gradients.
    ("003.3 paper", "3*x^2*y, 2*x + y^8", "x,y",
     sp.Matrix([[6 * x * y, 3 * x**2], [2, 8 * y**7]]), True),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_lecture_case(case, layout):
    _, expr, wrt, want, exact = case
    J = jacobian(expr, wrt=wrt, layout=layout)
    assert J.layout == layout
    assert J.wrt == wrt.split(",")
    assert isinstance(J.tensor, sp.Matrix)
    assert J.shape == expected_in(layout, want).shape
    assert_same(J.tensor, expected_in(layout, want), exact)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_lecture_case_default_wrt(case):
    """Without --wrt the inputs are all free names in natural order: same result."""
    _, expr, wrt, want, _ = case
    J = jacobian(expr)
    assert J.wrt == wrt.split(",")
    assert J.tensor == want


@pytest.mark.filterwarnings("ignore:.*does not appear")
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rows_are_gradients_of_components(case):
    """A Jacobian is a stack of gradients (Lecture 5, item 4; 003, item 3)."""
    _, expr, wrt, want, _ = case
    components = [str(c) for c in parse(expr)]
    full = jacobian(expr, wrt=wrt).tensor
    for i, component in enumerate(components):
        row = jacobian(component, wrt=wrt).tensor
        assert row.shape == (1, len(wrt.split(",")))
        assert row == full[i, :]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_agrees_with_sympy_jacobian(case):
    """An independent derivation: SymPy's Matrix.jacobian of the same components."""
    _, expr, wrt, _, _ = case
    symbols = [scalar_symbol(n) for n in wrt.split(",")]
    values = [evaluate_node(c)[()] for c in parse(expr)]
    reference = sp.Matrix(values).jacobian(symbols)
    got = jacobian(expr, wrt=wrt).tensor
    assert_same(got, reference, exact=False)


# -- Lecture 5, item 1: the dots on the circle --------------------------------------

CIRCLE = "cos(2*pi*t), sin(2*pi*t)"
CIRCLE_POINTS = [  # t, r(t), dr/dt(t)
    (sp.Integer(0), (1, 0), (0, 2 * pi)),
    (sp.Rational(1, 4), (0, 1), (-2 * pi, 0)),
    (sp.Rational(1, 2), (-1, 0), (0, -2 * pi)),
    (sp.Rational(3, 4), (0, -1), (2 * pi, 0)),
]


@pytest.mark.parametrize("t0, r0, v0", CIRCLE_POINTS, ids=["t=0", "t=.25", "t=.5", "t=.75"])
def test_circle_values_of_r(t0, r0, v0):
    r = [evaluate_node(c)[()] for c in parse(CIRCLE)]
    assert [c.subs(t, t0) for c in r] == list(r0)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("t0, r0, v0", CIRCLE_POINTS, ids=["t=0", "t=.25", "t=.5", "t=.75"])
def test_circle_velocity_exact_and_numeric(t0, r0, v0, layout):
    J = jacobian(CIRCLE, wrt="t", layout=layout)
    want = expected_in(layout, sp.Matrix([[v0[0]], [v0[1]]]))
    assert J.tensor.subs(t, t0) == want
    numeric = J.evaluate({"t": float(t0)})
    assert numeric.shape == want.shape
    np.testing.assert_allclose(numeric, np.array(want.evalf(), dtype=float), atol=1e-12)


def test_circle_velocity_is_tangent():
    """dr/dt is perpendicular to r: r · r' = 0 for every t."""
    r = sp.Matrix([evaluate_node(c)[()] for c in parse(CIRCLE)])
    v = jacobian(CIRCLE, wrt="t").tensor
    assert sp.simplify((r.T * v)[0, 0]) == 0


def test_evaluate_accepts_a_string_point():
    J = jacobian(CIRCLE, wrt="t")
    np.testing.assert_allclose(J.evaluate("t=0.5"), [[0.0], [-2 * np.pi]], atol=1e-12)


# -- Lecture 5, item 3: the slide's slip ---------------------------------------------

def test_slide_slip_is_caught():
    """d cos(x1-x2)/dx2 is +sin(x1-x2), not the cos(x1-x2) the slide prints."""
    J = jacobian("sin(x1-x2), cos(x1-x2), tan(x1-x2)", wrt="x1,x2")
    assert J.tensor[1, 1] == sp.sin(d)
    assert J.tensor[1, 1] != sp.cos(d)


def test_tan_derivative_written_as_sec_squared():
    J = jacobian("tan(x1-x2)", wrt="x1,x2")
    assert J.tensor == sp.Matrix([[sp.sec(d)**2, -sp.sec(d)**2]])
    assert sp.simplify((J.tensor[0, 0] - (1 + sp.tan(d)**2)).rewrite(sp.cos)) == 0


# -- 002, item 1: the derivative as a linear approximation ---------------------------

def test_linear_approximation_of_gradient():
    """f(x + Δx) ≈ f(x) + J Δx with error O(|Δx|²) (002, items 1 and 3)."""
    expr = "x1**2*x2 + exp(x3)"
    f = lambda p: p[0]**2 * p[1] + np.exp(p[2])  # noqa: E731
    point = np.array([0.3, -1.2, 0.5])
    J = jacobian(expr, wrt="x1,x2,x3").evaluate(dict(zip(["x1", "x2", "x3"], point)))
    for h in (1e-3, 1e-4):
        step = h * np.array([1.0, -2.0, 0.5])
        error = abs(f(point + step) - f(point) - (J @ step)[0])
        assert error < 10 * h**2


# -- 002, item 5: autograd by hand, through intermediates ----------------------------

LETS = {"y1": "a*w1", "y2": "y1 + b1"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_autograd_by_hand_direct(layout):
    J = jacobian("y2**2", wrt="w1", lets=LETS, layout=layout)
    assert J.tensor == sp.Matrix([[2 * a * (a * w1 + b1)]])
    assert J.tensor[0, 0] == 2 * a * (a * w1 + b1)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_autograd_by_hand_chain(layout):
    c = chain("y2**2", "w1", lets=LETS, layout=layout)
    assert [f.tensor for f in c.factors] == [sp.Matrix([[2 * y2]]), sp.Matrix([[1]]),
                                             sp.Matrix([[a]])]
    assert [f.wrt for f in c.factors] == [["y2"], ["y1"], ["w1"]]
    assert c.direct.tensor == sp.Matrix([[2 * a * (a * w1 + b1)]])
    assert sp.expand(c.product[0, 0] - 2 * a * (a * w1 + b1)) == 0
    assert c.agree is True


def test_chain_of_sin_of_square():
    """002, item 2 with a named intermediate: dz/dx = dz/dy · dy/dx."""
    c = chain("sin(y)", "x", lets={"y": "x**2"})
    assert [f.tensor for f in c.factors] == [sp.Matrix([[sp.cos(y)]]), sp.Matrix([[2 * x]])]
    assert c.agree is True
    assert c.direct.tensor == sp.Matrix([[2 * x * sp.cos(x**2)]])


def test_chain_with_vector_intermediate_level():
    """Two intermediates on one level: the factors are 1x2 and 2x2."""
    c = chain("u*v", "x1,x2", lets={"u": "x1 + x2", "v": "x1 - x2"})
    u, v = scalar_symbol("u"), scalar_symbol("v")
    assert [f.shape for f in c.factors] == [(1, 2), (2, 2)]
    assert c.factors[0].tensor == sp.Matrix([[v, u]])
    assert c.factors[1].tensor == sp.Matrix([[1, 1], [1, -1]])
    assert c.agree is True
    assert c.product == sp.Matrix([[2 * x1, -2 * x2]])


def test_lets_are_substituted_before_differentiating():
    J = jacobian("y2**2", wrt="a,w1,b1", lets=LETS)
    inner = a * w1 + b1
    assert_same(J.tensor, sp.Matrix([[2 * w1 * inner, 2 * a * inner, 2 * inner]]), exact=False)


def test_differentiating_wrt_an_intermediate_is_refused():
    with pytest.raises(JacobianError, match="intermediate"):
        jacobian("y2**2", wrt="y1", lets=LETS)


# -- default wrt: natural order --------------------------------------------------------

@pytest.mark.parametrize("expr, order", [
    ("x10 + x2 + x1", ["x1", "x2", "x10"]),
    ("x2*x10", ["x2", "x10"]),
    ("b*a + c", ["a", "b", "c"]),
    ("w10*w9 + w100", ["w9", "w10", "w100"]),
    ("x1_10 + x1_2", ["x1_2", "x1_10"]),
])
def test_default_wrt_is_natural_order(expr, order):
    J = jacobian(expr)
    assert J.wrt == order
    assert J.shape == (1, len(order))


def test_default_wrt_columns_follow_natural_order():
    J = jacobian("x10**2 + 3*x2")
    assert J.tensor == sp.Matrix([[3, 2 * scalar_symbol("x10")]])


def test_explicit_wrt_order_is_respected():
    J = jacobian("x1**2 + 5*x2", wrt="x2,x1")
    assert J.tensor == sp.Matrix([[5, 2 * x1]])


def test_wrt_accepts_sympy_symbols_and_lists():
    assert jacobian("x1*x2", wrt=[x2, "x1"]).tensor == sp.Matrix([[x1, x2]])
    assert jacobian("x1*x2", wrt=x2).tensor == sp.Matrix([[x1]])


def test_sympy_expression_input_uses_real_symbols():
    """A SymPy expression built with plain symbols is differentiated like the string."""
    X, Y = sp.symbols("x y")
    J = jacobian(sp.sin(X) * Y)
    assert J.wrt == ["x", "y"]
    assert J.tensor == sp.Matrix([[Y * sp.cos(X), sp.sin(X)]])  # in the caller's symbols
    assert J.tensor == sp.Matrix([sp.sin(X) * Y]).jacobian([X, Y])


def test_constant_expression_has_no_variables():
    with pytest.raises(JacobianError, match="no variables"):
        jacobian("2 + 3")


# -- --wrt absent name: a zero column and a warning -----------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_absent_wrt_name_gives_zero_column_and_warning(layout):
    with pytest.warns(UserWarning, match="z does not appear"):
        J = jacobian("x1**2, x1*x2", wrt="x1,z,x2", layout=layout)
    want = sp.Matrix([[2 * x1, 0, 0], [x2, 0, x1]])
    assert J.tensor == expected_in(layout, want)
    assert any("z does not appear" in w for w in J.warnings)
    assert len(J.warnings) == 1


def test_present_names_give_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J = jacobian("x1*x2", wrt="x1,x2")
    assert J.warnings == []


# -- malformed wrt, cycles ---------------------------------------------------------------

@pytest.mark.parametrize("wrt, message", [
    ("x1,x1", "duplicate"),
    ("x1,x2,x1", "duplicate"),
    (["x1", "x1"], "duplicate"),
    ("x1,,x2", "malformed"),
    (",x1", "malformed"),
    ("x1,", "malformed"),
    ("", "malformed"),
    ("1x", "invalid"),
    ("x-1", "invalid"),
    ("x1 x2", "invalid"),
    ("_x", "invalid"),
    ("__import__", "invalid"),
    ("x1;x2", "invalid"),
    (["x1", 3], "malformed"),
    ([], "malformed"),
])
def test_bad_wrt_raises(wrt, message):
    with pytest.raises(JacobianError, match=message):
        jacobian("x1*x2", wrt=wrt)


@pytest.mark.parametrize("lets", [
    {"y1": "y1 + x"},
    {"y1": "y2 + x", "y2": "y1 * x"},
    {"u": "v + 1", "v": "w * 2", "w": "u - x"},
])
def test_cyclic_lets_raise(lets):
    first = next(iter(lets))
    with pytest.raises(JacobianError, match="cyclic"):
        jacobian(first, lets=lets)


def test_cyclic_lets_message_names_the_cycle_once():
    with pytest.raises(JacobianError) as info:
        jacobian("y1", lets={"y1": "y2 + x", "y2": "y1 * x"})
    assert str(info.value) == "cyclic intermediates: y1 -> y2 -> y1"


def test_let_with_empty_definition_raises():
    with pytest.raises(JacobianError, match="no definition"):
        jacobian("y1", lets={"y1": "  "})


def test_let_with_two_components_raises():
    with pytest.raises(JacobianError, match="one expression"):
        jacobian("y1", lets={"y1": "x, x**2"})


def test_unknown_layout_raises():
    with pytest.raises(JacobianError, match="unknown layout"):
        jacobian("x", layout="transpose")


def test_jacobian_with_two_groups_raises_and_jacobians_returns_both():
    shapes = {"A": (2, 2), "x": (2,)}
    with pytest.raises(JacobianError, match="jacobians"):
        jacobian("A@x", wrt="A,x", shapes=shapes)
    results = jacobians("A@x", wrt="A,x", shapes=shapes)
    assert [r.wrt for r in results] == [["A"], ["x"]]
    assert [r.shape for r in results] == [(2, 2, 2), (2, 2)]


# -- undefined functions stay symbolic ---------------------------------------------------

f = sp.Function("f", real=True)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_undefined_function_of_two_symbols(layout):
    J = jacobian("f(x1, x2)", layout=layout, functions=["f"])
    want = sp.Matrix([[sp.Derivative(f(x1, x2), x1), sp.Derivative(f(x1, x2), x2)]])
    assert J.tensor == expected_in(layout, want)


def test_undefined_function_of_expression_gives_subs():
    J = jacobian("f(x1*x2)", wrt="x1,x2", functions=["f"])
    assert all(e.has(sp.Subs) for e in J.tensor)
    assert sp.simplify(J.tensor[0, 0] - sp.diff(f(x1 * x2), x1)) == 0
    assert sp.simplify(J.tensor[0, 1] - sp.diff(f(x1 * x2), x2)) == 0


def test_undefined_function_composed_with_known():
    J = jacobian("sin(f(x))", wrt="x", functions=["f"])
    assert J.tensor == sp.Matrix([[sp.cos(f(x)) * sp.Derivative(f(x), x)]])


def test_undefined_function_cannot_be_evaluated():
    J = jacobian("f(x1, x2)", functions=["f"])
    with pytest.raises(JacobianError):
        J.evaluate({"x1": 1.0, "x2": 2.0})


# -- simplify option -----------------------------------------------------------------------

def test_simplify_option_simplifies_entries():
    raw = jacobian("(x**2 - 1)/(x - 1)", wrt="x")
    assert raw.tensor[0, 0] != 1
    assert sp.simplify(raw.tensor[0, 0]) == 1
    simple = jacobian("(x**2 - 1)/(x - 1)", wrt="x", simplify=True)
    assert simple.tensor == sp.Matrix([[1]])


def test_simplify_drops_entries_that_become_zero():
    raw = jacobian("sin(x)**2*cos(y) + cos(x)**2*cos(y)", wrt="x,y")
    simple = jacobian("sin(x)**2*cos(y) + cos(x)**2*cos(y)", wrt="x,y", simplify=True)
    assert simple.tensor == sp.Matrix([[0, -sp.sin(y)]])
    assert simple.nnz == 1
    assert raw.tensor[0, 1] != -sp.sin(y)


def test_nonzeros_and_nnz_of_sparse_matrix():
    J = jacobian("x1**2, x1*x2, x3", wrt="x1,x2,x3", layout="denominator")
    assert J.nonzeros() == {(0, 0): 2 * x1, (0, 1): x2, (1, 1): x1, (2, 2): sp.Integer(1)}
    assert J.nnz == 4
    assert J.size == 9
    assert J[1, 0] == 0 and J[0, 1] == x2


# -- evaluate at float points ----------------------------------------------------------------

@pytest.mark.parametrize("value", [0.25, -1.5, 0.1, 3.0])
def test_evaluate_at_float_point(value):
    J = jacobian("x**2, sin(x)", wrt="x")
    np.testing.assert_allclose(J.evaluate({"x": value}), [[2 * value], [np.cos(value)]],
                               rtol=1e-15)


def test_evaluate_does_not_snap_floats_to_nearby_surds():
    J = jacobian("x**2", wrt="x")
    got = J.evaluate({"x": 0.70710678})[0, 0]
    assert got == pytest.approx(2 * 0.70710678, rel=1e-13)


def test_evaluate_string_point_is_exact_decimal():
    J = jacobian("x**2", wrt="x")
    assert J.evaluate("x=0.70710678")[0, 0] == pytest.approx(1.41421356, rel=1e-15)
