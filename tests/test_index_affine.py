"""Index notation with affine index arithmetic: flip, pad, slices, convolution, pooling.

Oracles: the sums written out term by term at concrete sizes (δ-elimination with
range brackets must not change any value), rules known to be right and rules known
to be wrong by one index, a direction or a factor (the prover must prove the first
and never the second), and counts of the prover's work on deep compositions.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp

from jacobian_calc import backprop, jacobian
from jacobian_calc.index import algebra as I
from jacobian_calc.index.prove import prove_step
from jacobian_calc.parsing import parse_expression as parse
from jacobian_calc.symbolic.evaluate import node_shapes

i, j, k, l = (I.index(c) for c in "ijkl")  # noqa: E741 - the lectures' letters
n, m = I.size("n"), I.size("m")


# -- the algebra: affine δs, brackets, reflections ---------------------------------------------

def test_an_affine_delta_is_summed_out_keeping_its_range_as_a_bracket():
    a = I.fresh()
    y = I.entry("y", (a,))
    ctx = I.Context({k: n})
    shifted = I.canonical(I.summation(y * I.delta(a - 1, k), (a, n)), ctx)
    assert shifted == I.InRange(k, 0, n - 1) * I.entry("y", (k + 1,))
    assert I.canonical(I.summation(y * I.delta(a - 1, k), (a, n + 1)), ctx) == \
        I.entry("y", (k + 1,))  # k + 1 <= n + 1 always: no bracket


def test_a_reflection_needs_no_bracket():
    a = I.fresh()
    e = I.summation(I.entry("y", (a,)) * I.delta(n + 1 - a, k), (a, n))
    assert I.canonical(e, I.Context({k: n})) == I.entry("y", (n + 1 - k,))


def test_a_delta_with_coefficient_two_stays():
    a = I.fresh()
    e = I.summation(I.entry("y", (a,)) * I.delta(2 * a - 1, k), (a, n))
    assert I.canonical(e, I.Context({k: 2 * n})).has(sp.KroneckerDelta)


def test_a_bracket_out_of_reach_makes_the_term_vanish():
    a = I.fresh()
    e = I.summation(I.entry("y", (a,)) * I.delta(a + n, k), (a, n))  # a + n > n >= k
    assert I.canonical(e, I.Context({k: n})) == 0


def test_in_range_is_a_sympy_expression_with_its_piecewise():
    bracket = I.InRange(k - 1, 1, 3)
    piecewise = bracket.rewrite(sp.Piecewise)
    assert isinstance(piecewise, sp.Piecewise)
    for value in range(-2, 7):
        assert bracket.subs(k, value) == piecewise.subs(k, value) == (1 if 2 <= value <= 4 else 0)
    assert I.InRange(n, 1, n) == 1 and I.InRange(n + 1, 1, n) == 0
    x = I.entry("x", (k,))
    assert I.derivative(bracket * x, I.entry("x", (j,))) == bracket * I.delta(k, j)
    from jacobian_calc.index.printing import latex, text
    assert text(bracket) == "[1 ≤ k − 1 ≤ 3]"
    assert latex(bracket) == r"\left[1 \le k - 1 \le 3\right]"


def test_a_reflected_summation_index_is_the_same_sum():
    r = I.fresh()
    left = I.summation(I.entry("w", (r,)) * I.entry("y", (k - r + 1,)), (r, 3))
    right = I.summation(I.entry("w", (4 - r,)) * I.entry("y", (k + r - 3,)), (r, 3))
    assert I.decide(left, right, I.Context({k: n})).verdict == "proved"
    shifted = I.summation(I.entry("w", (4 - r,)) * I.entry("y", (k + r - 2,)), (r, 3))
    assert I.decide(left, shifted, I.Context({k: n})).verdict == "differs"


def _random_sum(rng):
    """``Σ_a Σ_b x[a] y[b] δ[p a + q b + c, k]`` (a bracket sometimes), small random
    coefficients, over ranges n and m."""
    a, b = I.fresh(), I.fresh()
    p, q = rng.choice([-2, -1, 1, 2]), rng.choice([-1, 0, 1])
    c = rng.randint(-3, 3)
    body = I.entry("x", (a,)) * I.entry("y", (b,)) * I.delta(p * a + q * b + c, k)
    if rng.random() < 0.5:
        body = body * I.InRange(a - b + rng.randint(-1, 1), 1, n)
    if rng.random() < 0.3:
        body = body * I.delta(b, rng.choice([k, n + 1 - k, sp.Integer(2)]))
    if rng.random() < 0.4:  # a bracket on one summation index: its range narrowed
        body = body * I.InRange(a + rng.randint(-1, 1), rng.choice([1, 2, 3]),
                                rng.choice([n, sp.Integer(2), n - 1]))
    if rng.random() < 0.4:  # read backwards: the reflection a -> n + 1 - a
        body = body * I.entry("z", (n + 1 - a,))
    return I.summation(body, (a, n), (b, m))


def test_delta_elimination_never_changes_a_value():
    """The oracle: every sum written out term by term at concrete sizes and indices."""
    rng = random.Random(7)
    for _ in range(40):
        e = _random_sum(rng)
        size_k = rng.choice([n, m, n + m])
        ctx = I.Context({k: size_k})
        form = I.canonical(e, ctx)
        for sizes in ({n: 3, m: 2}, {n: 2, m: 4}):
            for at in range(1, int(size_k.subs(sizes)) + 1):
                want, got = (_valued(I.written_out(x, {**sizes, k: at})) for x in (e, form))
                assert sp.expand(got - want) == 0, (e, form, sizes, at)


def _valued(e):
    """Every entry a rational of its name and indices (out-of-range ones too: a term
    that reads one must be multiplied by a bracket that is 0 there)."""
    return e.xreplace({x: sp.Rational(7 * len(str(x.base)) + sum((3 + 5 * p) * int(v)
                                                                  for p, v in
                                                                  enumerate(x.indices)), 11)
                       + (sp.Rational(1, 3) if str(x.base) == "y" else 0)
                       for x in e.atoms(sp.Indexed)})


# -- the operations' own rules proved, wrong ones caught ---------------------------------------

CASES = [
    # expression, shapes, input, its own rule, wrong rules (shift, direction, factor)
    ("flip(x)", {"x": ("n",)}, "x", "flip(dF)", ["dF", "2 * flip(dF)"]),
    ("flip(X)", {"X": ("N", "d")}, "X", "flip(dF)", ["flip(dF).T.T * 1 + dF - dF + dF"]),
    ("flip(x)", {"x": (5,)}, "x", "flip(dF)", ["scatter(flip(dF)[1:], x[:4])"]),
    ("pad(X, rows=1)", {"X": (3, "d")}, "X", "dF[1:4, :]",
     ["dF[0:3, :]", "dF[2:5, :]", "dF[1:4, :] / 2"]),
    ("x[1:]", {"x": (5,)}, "x", "scatter(dF, x[1:])",
     ["scatter(dF, x[:4])", "scatter(flip(dF), x[1:])"]),
    ("x[::2]", {"x": (5,)}, "x", "scatter(dF, x[::2])",
     ["scatter(dF, x[:3])", "scatter(dF, x[2:])", "scatter(flip(dF), x[::2])"]),
    ("conv1d(x, w)", {"x": (5,), "w": (3,)}, "x", "conv1d(dF, flip(w), padding=2)",
     ["conv1d(dF, w, padding=2)", "conv1d(pad(dF, rows=3)[2:9], flip(w))",
      "2 * conv1d(dF, flip(w), padding=2)"]),
    ("conv1d(x, w)", {"x": (5,), "w": (3,)}, "w", "conv1d(x, dF)",
     ["conv1d(flip(x), dF)", "conv1d(x, flip(dF))", "conv1d(x[1:], dF[:2])"]),
    ("conv2d(X, W, padding=1)", {"X": (4, 3), "W": (2, 2)}, "X",
     "conv2d(dF, flip(W))", ["conv2d(dF, W)", "conv2d(flip(dF), flip(W))"]),
    ("conv2d(X, W, stride=2)", {"X": (5, 4), "W": (2, 2)}, "W",
     "conv2d(X, dilate(dF, cols=3, rows=4, stride=2))",
     ["conv2d(X, dilate(flip(dF), cols=3, rows=4, stride=2))",
      "conv2d(X, pad(dilate(dF, cols=3, rows=4, stride=2), rows=1)[:4, :])"]),
    ("conv1d(x, w, stride=2, padding=1)", {"x": (6,), "w": (3,)}, "x",
     "conv1d(dilate(dF, rows=6, stride=2), flip(w), padding=1)",
     ["conv1d(dilate(dF, rows=6, stride=2), w, padding=1)",
      "conv1d(dilate(dF, rows=6, stride=2), flip(w), padding=1) / 2"]),
    ("avgpool2d(X, 2)", {"X": (4, 4)}, "X", "upsample(dF, k=2) / 4",
     ["upsample(dF, k=2)", "upsample(flip(dF), k=2) / 4", "upsample(dF.T, k=2) / 4"]),
    ("dilate(x, stride=2)", {"x": (3,)}, "x", "dF[::2]", ["dF[:3]", "flip(dF[::2])"]),
    ("upsample(X, k=2)", {"X": (2, 3)}, "X", "avgpool2d(dF, 2) * 4",
     ["avgpool2d(dF, 2)", "avgpool2d(flip(dF), 2) * 4"]),
]


def _prove(expr, shapes, wrt, rule):
    node = parse(expr)
    shapes = dict(shapes)
    out = node_shapes(node, shapes)[node]
    shapes.update({"F": out, "dF": out})
    return prove_step(parse(rule), target=wrt, steps=[("F", node)], upstream="dF",
                      shapes=shapes)


@pytest.mark.parametrize("expr, shapes, wrt, rule, wrong", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_the_rule_is_proved_and_a_wrong_one_differs(expr, shapes, wrt, rule, wrong):
    proof = _prove(expr, shapes, wrt, rule)
    assert proof.verdict == "proved", (proof.text, proof.note)
    for bad in wrong:
        proof = _prove(expr, shapes, wrt, bad)
        assert proof.verdict == "differs", (bad, proof.text, proof.note)
        assert proof.witness["left"] != proof.witness["right"]


def test_the_rectangular_kernel_rule_pads_each_axis():
    proof = _prove("conv2d(X, W)", {"X": (4, 5), "W": (2, 3)}, "X",
                   "conv2d(pad(dF, rows=1, cols=2), flip(W))")
    assert proof.verdict == "proved"
    proof = _prove("conv2d(X, W)", {"X": (4, 5), "W": (2, 3)}, "X",
                   "conv2d(pad(dF, rows=2, cols=1), flip(W.T).T)")
    assert proof.verdict != "proved"


# -- the prover's work stays bounded -------------------------------------------------------------

DEEP = [
    ("flip(flip(flip(flip(X)))) * X", {"X": ("N", "d")}, "X"),
    ("flip(pad(flip(X), rows=1, cols=1))[1:4, 1:3]", {"X": (3, 2)}, "X"),
    ("conv1d(flip(x), flip(w), padding=1)", {"x": (5,), "w": (3,)}, "x"),
    ("conv1d(flip(x), flip(w), padding=1)", {"x": (5,), "w": (3,)}, "w"),
    ("avgpool2d(pad(flip(X), rows=1, cols=1), 2)", {"X": (2, 2)}, "X"),
]


@pytest.mark.parametrize("expr, shapes, wrt", DEEP, ids=[d[0] for d in DEEP])
def test_the_prover_terminates_on_deep_compositions(expr, shapes, wrt, monkeypatch):
    """Each case finishes with a verdict in a bounded number of δ-eliminations."""
    calls = []
    original = I._eliminate_delta

    def counted(*args):
        calls.append(1)
        assert len(calls) < 20000, "the δ-elimination does not terminate"
        return original(*args)
    monkeypatch.setattr(I, "_eliminate_delta", counted)
    J = jacobian(expr, wrt=wrt, shapes={n: tuple(3 if isinstance(d, str) else d for d in s)
                                        for n, s in shapes.items()})
    rules = __import__("jacobian_calc.derive.vjp", fromlist=["local_vjps"])
    from jacobian_calc.core.tree import Call, Name
    parts = rules.local_vjps(parse(expr), Name("F"), Name("dF"),
                             {**shapes, "F": node_shapes(parse(expr), shapes)[parse(expr)]},
                             {wrt})
    rule = parts[wrt][0] if len(parts[wrt]) == 1 else Call("add", parts[wrt])
    from jacobian_calc.ops.text import to_source
    proof = _prove(expr, shapes, wrt, to_source(rule))
    assert proof.verdict == "proved", (proof.text, proof.note)
    assert J.shape and len(calls) < 20000


def test_the_elimination_loop_is_capped(monkeypatch):
    """Even a δ that would be rewritten forever stops after MAX_ELIMINATIONS rounds."""
    monkeypatch.setattr(I, "_eliminate_delta", lambda t, d, ctx: I.Term(t.coeff, t.sums,
                                                                         dict(t.factors)))
    a = I.fresh()
    t = I.Term(sp.S.One, [(a, n)], {I.delta(a, k + 1): sp.S.One})
    assert I.eliminate(t, I.Context({k: n})) is not None


# -- backprop at symbolic sizes ---------------------------------------------------------------

@pytest.mark.parametrize("expr, wrt, shapes", [
    ("sum(tanh(flip(X) @ W))", "W,X", {"X": ("N", "d"), "W": ("d", "h")}),
    ("sum(flip(x) * x)", "x", {"x": ("n",)}),
    ("sum(pad(X, rows=1)**2)", "X", {"X": (3, "d")}),
    ("sum(X[1:, :] * Y)", "X", {"X": (4, "d"), "Y": (3, "d")}),
])
def test_backprop_through_affine_operations_is_proved_for_all_sizes(expr, wrt, shapes):
    r = backprop(expr, wrt, shapes=shapes)
    assert r.agree
    assert [b.check.verdict for b in r.backward] == ["proved"] * len(r.backward)
    assert all(b.check.how.startswith("for all sizes") for b in r.backward)


def test_concat_and_stack_have_index_forms():
    from jacobian_calc.index.jacobian import index_jacobian
    assert index_jacobian(parse("concat([x, y], axis=0)"), "y", {"x": (3,), "y": (2,)}).text() \
        == "(∂Y/∂y)[i,j] = [1 ≤ i − 3 ≤ 2] δ[j,i − 3]"
    assert index_jacobian(parse("stack([x, y])"), "x", {"x": ("n",), "y": ("n",)}).text() == \
        "(∂Y/∂x)[i,j,k] = δ[1,i] δ[j,k]"
    r = backprop("sum(tanh(stack([x, y]) @ W))", "x,W", shapes={"x": ("n",), "y": ("n",),
                                                            "W": ("n", "h")})
    assert r.agree and {b.check.verdict for b in r.backward} == {"proved"}
    proof = _prove("concat([X, Y], axis=1)", {"X": ("N", 2), "Y": ("N", 1)}, "X", "dF[:, :2]")
    assert proof.verdict == "proved"
    assert _prove("concat([X, Y], axis=1)", {"X": ("N", 2), "Y": ("N", 1)}, "X",
                  "dF[:, 1:]").verdict == "differs"


def test_the_cli_says_when_an_index_form_holds_the_requested_sizes():
    from click.testing import CliRunner
    from jacobian_calc.cli.main import main
    out = CliRunner().invoke(main, ["conv1d(x, w, padding=1)", "--wrt", "x", "--shape", "x=4",
                                    "--shape", "w=3", "--index-form"])
    assert out.exit_code == 0, out.output
    assert ("Index form, at these sizes (i = 1..4, j = 1..4):\n"
            "  (∂y/∂x)[i,j] = w[j + 2 − i] [1 ≤ j + 2 − i ≤ 3]") in out.output
    out = CliRunner().invoke(main, ["flip(X)", "--wrt", "X", "--shape", "X=Nxd"])
    assert out.exit_code == 0, out.output
    assert ("Index form, the same at every size (i = 1..N, j = 1..d, k = 1..N, l = 1..d):\n"
            "  (∂Y/∂X)[i,j,k,l] = δ[k,N + 1 − i] δ[l,d + 1 − j]") in out.output


def test_narrowed_and_reflected_sums_never_change_a_value(monkeypatch):
    """Single sums with a bracket on their index and entries read backwards: the
    narrowing of the range and the reflection must keep every value."""
    rng = random.Random(11)
    used = {"narrowed": 0, "reflected": 0}
    narrow, reflect = I._tightened, I._reflections

    def narrowed(t, ctx):
        out = narrow(t, ctx)
        used["narrowed"] += out is not t
        return out

    def reflected(t, ctx):
        out = reflect(t, ctx)
        used["reflected"] += len(out) > 1 or out[0] is not t
        return out
    monkeypatch.setattr(I, "_tightened", narrowed)
    monkeypatch.setattr(I, "_reflections", reflected)
    for _ in range(50):
        a = I.fresh()
        body = I.entry("x", (rng.choice([a, n + 1 - a, a + k - 1, k + 1 - a]),))
        body = body * I.InRange(a + rng.randint(-2, 2), rng.choice([1, 2, 0]),
                                rng.choice([n, n - 1, sp.Integer(2), n + 1]))
        if rng.random() < 0.5:
            body = body * I.entry("z", (rng.choice([n + 1 - a, a]),))
        e = I.summation(body, (a, n))
        ctx = I.Context({k: n})
        form = I.canonical(e, ctx)
        for size in (2, 3, 5):
            for at in range(1, size + 1):
                want, got = (_valued(I.written_out(x, {n: size, k: at})) for x in (e, form))
                assert sp.expand(got - want) == 0, (e, form, size, at)
    assert used["narrowed"] >= 10 and used["reflected"] >= 10, used
