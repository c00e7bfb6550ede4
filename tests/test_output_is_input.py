"""Output is input: every entry the calculator prints reads back, as text and from a
JSON document, and means the same. ``x_1`` is a plain scalar name when no array ``x``
is declared; with ``x`` declared, ``x_1`` in an expression is its first entry."""

import json
import random

import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacobian_calc import JacobianError, backprop, hessian, jacobian, read_json
from jacobian_calc.cli.main import main
from jacobian_calc.symbolic.read_json import read_entry
from jacobian_calc.symbolic.symbols import symbol_grid

SHAPES = {"x": (3,), "A": (3, 3)}
pytestmark = pytest.mark.filterwarnings("ignore:.*does not appear")
X = list(symbol_grid("x", (3,)).flat)
UNARY = ["sin({})", "exp({})", "tanh({})", "({})**2", "sigmoid({})", "({}) * c"]
TEMPLATES = ["sum({f} * {g})", "({f}).T@A@({g})", "sum({f}) * x.T@x", "sum({f} * (A@{g}))",
             "x.T@A@x * sum({f})"]


@st.composite
def expressions(draw):
    f = draw(st.sampled_from(UNARY)).format("x")
    g = draw(st.sampled_from(UNARY)).format(draw(st.sampled_from(["x", "A@x", "x - 1"])))
    return draw(st.sampled_from(TEMPLATES)).format(f=f, g=g)


def printed_entries(expr: str) -> list[str]:
    """The gradient's entries as ``jac --format json`` prints them."""
    out = CliRunner().invoke(main, [expr, "--shape", "x=3", "--shape", "A=3x3", "--wrt", "x",
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    return out.output, json.loads(out.output)["jacobians"][0]["entries"]


def oracle(entry: sp.Expr) -> list[sp.Expr]:
    """SymPy's own derivative of one entry with respect to x_1, x_2, x_3."""
    return [sp.diff(entry, s) for s in X]


def same(a, b) -> bool:
    """Equal entries: identical after expansion, else equal at random points."""
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for p, q in zip(a, b):
        d = sp.expand(sp.sympify(p) - sp.sympify(q))
        if d == 0:
            continue
        rng = random.Random(0)
        for _ in range(3):
            point = {s: sp.Rational(rng.randint(-20, 20), 10) for s in d.free_symbols}
            if abs(complex(d.xreplace(point).evalf(30))) > 1e-20:
                return False
    return True


SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(expressions(), st.integers(0, 2))
def test_printed_entries_read_back_as_text_and_mean_the_same(expr, which):
    _, entries = printed_entries(expr)
    text = entries[which]
    value = read_entry(text)
    assert same([value], [list(jacobian(expr, wrt="x", shapes=SHAPES).as_grid().flat)[which]])
    want = oracle(value)
    declared = jacobian(text, wrt="x", shapes=SHAPES)  # x_1..x_3: the entries of x
    assert same(list(declared.as_grid().flat), want)
    plain = jacobian(text, wrt="x_1,x_2,x_3")  # no array x: plain scalars
    assert same(list(plain.as_grid().flat), want)


@SETTINGS
@given(expressions(), st.integers(0, 2))
def test_entries_of_a_json_document_read_back(expr, which):
    document, _ = printed_entries(expr)
    entry = read_json(document)["jacobians"][0]["entries"][which]
    want = oracle(entry)
    assert same(list(jacobian(entry, wrt="x", shapes=SHAPES).as_grid().flat), want)
    assert same(list(jacobian(entry, wrt="x_1,x_2,x_3").as_grid().flat), want)


def test_the_reported_gradient_entry_differentiates_again():
    text = "A_1_1*x_1 + A_1_2*x_2/2 + A_1_3*x_3/2"
    for args in (["--wrt", "x_1,x_2,x_3"], ["--shape", "x=3", "--wrt", "x"]):
        out = CliRunner().invoke(main, [text, *args])
        assert out.exit_code == 0, out.output
        assert "A_1_2/2" in out.output and "A_1_3/2" in out.output


@pytest.mark.parametrize("expr,message", [
    ("x_4", "'x_4' is not an entry of x (3)"),
    ("x_0 + x_1", "'x_0' is not an entry of x (3)"),
    ("x_1_1", "'x_1_1' is not an entry of x (3)"),
    ("A_1 * x_1", "'A_1' is not an entry of A (3x3)"),
])
def test_names_that_are_no_entry_of_a_declared_array_are_refused(expr, message):
    with pytest.raises(JacobianError, match=message.replace("(", r"\(").replace(")", r"\)")):
        jacobian(expr, wrt="x", shapes=SHAPES)


def test_routes_of_whole_arrays_read_entries_as_indexing():
    r = backprop("x_1 * sum(x)", "x", shapes=SHAPES)
    assert r.agree and r.proved, r.summary()
    assert r.steps[-1].text == "x[0] * sum(x)"
    h = hessian("x_1 * sum(x)", "x", shapes=SHAPES)
    assert h.compact.found and h.compact.ok
    assert h.matrix[0, 0] == 2 and h.matrix[0, 1] == 1 and h.matrix[1, 1] == 0


def test_plain_entry_names_work_on_every_route():
    r = backprop("x_1 * x_2**2", "x_1,x_2")
    assert r.agree and [g.text for g in r.gradients.values()] == ["x_2**2", "2 * x_1 * x_2"]


def test_the_readme_says_entries_read_back():
    import pathlib
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    assert "with `x` declared (`--shape x=3`), `x_1 … x_3` in an" in readme
    assert backprop("x_2 * x_3", "x", shapes={"x": (3,)}).steps[-1].text == "x[1] * x[2]"
    with pytest.raises(JacobianError, match="'x_4' is not an entry of x"):
        jacobian("x_4", wrt="x", shapes={"x": (3,)})
    assert list(jacobian("x_1 * x_2", wrt="x_1,x_2").as_grid().flat) == [
        sp.Symbol("x_2", real=True), sp.Symbol("x_1", real=True)]


def test_an_entry_name_of_an_array_of_symbolic_size_is_refused_plainly():
    with pytest.raises(JacobianError, match="'x_1' names an entry of x, whose size"):
        jacobian("x_1 + sum(x)", wrt="x", shapes={"x": "n"})
