"""Convolution, padding and concatenation at symbolic sizes: output sizes that are
expressions of the names (``n - k + 1``, ``n + 2``, ``n1 + n2``).

Oracles: the index forms at symbolic sizes, instantiated at concrete sizes and
indices, against the explicit Jacobian's entries at those sizes; backward rules
known to be right (proved for all sizes, and agreeing end to end at instantiated
sizes) and rules injected wrong by one index, a flipped kernel or a missing
factor (never proved: they differ); PyTorch's gradients where installed.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, backprop, jacobian
from jacobian_calc.cli.main import main
from jacobian_calc.core.dims import DimExpr, as_dim, as_sympy, symbol
from jacobian_calc.core.grid import shape_text
from jacobian_calc.core.tree import Name, Num, fn
from jacobian_calc.derive.instantiate import assignments, node_at, shape_at
from jacobian_calc.index.jacobian import index_jacobian
from jacobian_calc.index.prove import prove_step
from jacobian_calc.ops import registry
from jacobian_calc.parsing import parse_expression as parse

n, k, m, l = (symbol(c) for c in "nkml")  # noqa: E741 - the lectures' letters
VECTORS = {"x": ("n",), "w": ("k",)}
MATRICES = {"X": ("n", "m"), "W": ("k", "l")}


def run(*args):
    return CliRunner().invoke(main, list(args))


def proved_everywhere(r) -> bool:
    return r.agree and all(b.check.verdict == "proved" for b in r.backward)


# -- dimensions that are expressions ---------------------------------------------------------

def test_equal_expressions_are_one_dimension_with_one_text():
    a, b = as_dim(n - k + 1), as_dim(n + 1 - k)
    assert isinstance(a, DimExpr) and a == b and hash(a) == hash(b)
    assert str(a) == "n - k + 1" and a.expr == n - k + 1
    assert as_dim(n + k - k) == "n" and as_dim(sp.Integer(3)) == 3
    assert a != as_dim(n - k + 2)
    assert shape_text((a, 1)) == "(n-k+1)x1" and shape_text((a, "m")) == "(n-k+1)xm"


def test_an_expression_is_evaluated_at_concrete_sizes():
    assert shape_at((as_dim(n - k + 1), "n", 2), {"n": 6, "k": 3}) == (4, 6, 2)
    assert as_dim(n + 2 - k).at({"n": 3, "k": 4}) == 1


def test_assignments_keep_every_size_at_least_one_and_the_names_apart():
    fits = lambda s: s["n"] - s["k"] + 1 >= 1  # noqa: E731
    sizes = assignments(["n", "k"], fits=fits)
    assert len(sizes) == 3 and all(fits(s) and s["n"] != s["k"] for s in sizes)
    assert len({s["n"] for s in sizes}) > 1 and len({s["k"] for s in sizes}) > 1
    assert assignments(["N", "d"], fits=lambda s: True) == assignments(["N", "d"])


def test_no_fitting_sizes_is_said_plainly():
    with pytest.raises(JacobianError, match="at least 1"):
        assignments(["n", "k"], fits=lambda s: False)


# -- shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, shapes, want", [
    ("conv1d(x, w)", VECTORS, (as_dim(n - k + 1),)),
    ("conv1d(x, w, padding=2)", VECTORS, (as_dim(n - k + 5),)),
    ("conv2d(X, W)", MATRICES, (as_dim(n - k + 1), as_dim(m - l + 1))),
    ("pad(x, rows=2)", VECTORS, (as_dim(n + 4),)),
    ("concat([x, w])", VECTORS, (as_dim(n + k),)),
    ("conv1d(x, w) + conv1d(x, w)[::1]", VECTORS, (as_dim(n - k + 1),)),
])
def test_shape_rules_compute_sizes_from_the_names(expr, shapes, want):
    from jacobian_calc.symbolic.evaluate import infer_shape
    assert infer_shape(parse(expr), shapes) == want


def test_a_typed_partial_slice_at_a_symbolic_size_is_still_refused():
    with pytest.raises(JacobianError, match="needs its concrete length"):
        backprop("sum(x[:3])", "x", shapes={"x": ("n",)})


def test_a_stride_needs_concrete_sizes_and_says_why():
    r = run("sum(conv1d(x, w, stride=2))", "--wrt", "x", "--shape", "x=n", "--shape", "w=k",
            "--backprop")
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "stride 2 needs concrete sizes, not n" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_pooling_still_needs_concrete_sizes():
    r = run("sum(avgpool2d(X, 2))", "--wrt", "X", "--shape", "X=nxm", "--backprop")
    assert r.exit_code != 0 and "needs concrete sizes" in r.output


def test_sizes_that_cannot_fit_are_a_shape_error():
    with pytest.raises(JacobianError, match="padding less than the kernel"):
        backprop("sum(conv1d(x, w, padding=3))", "x", shapes={"x": ("n",), "w": (2,)})


# -- the commands ----------------------------------------------------------------------

def test_backprop_of_a_conv1d_is_proved_for_all_sizes():
    r = run("sum(conv1d(x, w)**2)", "--wrt", "w,x", "--shape", "x=n", "--shape", "w=k",
            "--backprop")
    assert r.exit_code == 0, r.output
    assert "dx = conv1d(2 * conv1d(x, w), flip(w), padding=k - 1)" in r.output
    assert "dw = conv1d(x, 2 * conv1d(x, w))" in r.output
    assert "Verified: 2 steps proved for all sizes; end to end agrees" in r.output
    assert "dw[k]" not in r.output  # the index is not named as the size k


def test_the_index_form_of_a_conv1d_states_its_ranges():
    r = run("conv1d(x, w)", "--wrt", "x", "--shape", "x=n", "--shape", "w=k", "--index-form")
    assert r.exit_code == 0, r.output
    assert "i = 1..n − k + 1, j = 1..n" in r.output
    assert "(∂y/∂x)[i,j] = w[j + 1 − i] [1 ≤ j + 1 − i ≤ k]" in r.output
    assert "shape (n-k+1) x n" in r.output


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("sum(conv1d(x, w)**2)", "x,w", VECTORS),
    ("sum(conv1d(x, w, padding=1)**2)", "x,w", VECTORS),
    ("mean(conv1d(x, w)**2)", "x,w", VECTORS),
    ("sum(tanh(conv1d(conv1d(x, w), w)))", "x,w", VECTORS),
    ("sum(tanh(conv2d(X, W)))", "X,W", MATRICES),
    ("sum(conv2d(X, W, padding=1)**2)", "X,W", MATRICES),
    ("sum(exp(pad(x, rows=2)))", "x", VECTORS),
    ("sum(concat([x, w])**2)", "x,w", VECTORS),
    ("sum(sin(concat([conv1d(x, w), w])))", "x,w", VECTORS),
])
def test_backprop_through_these_operations_is_proved_for_all_sizes(expr, wrt, shapes):
    r = backprop(expr, wrt, shapes=shapes)
    assert proved_everywhere(r), [(b.text, b.check) for b in r.backward]
    assert "proved for all sizes" in r.summary()


def test_mean_divides_by_the_output_size_as_an_expression():
    r = backprop("mean(conv1d(x, w)**2)", "w", shapes=VECTORS)
    (step,) = r.backward
    assert "(n + 1 - k)" in step.text or "(n - k + 1)" in step.text
    assert "n - k + 1=" not in r.summary()  # not a dimension of its own


def test_a_concrete_request_is_proved_for_all_sizes_too():
    r = backprop("sum(conv1d(x, w)**2)", "x,w", shapes={"x": (6,), "w": (3,)})
    assert proved_everywhere(r)
    assert [b.text for b in r.backward] == ["conv1d(2 * conv1d(x, w), flip(w), padding=2)",
                                            "conv1d(x, 2 * conv1d(x, w))"]


def test_json_and_latex_write_the_sizes_as_expressions():
    jsonschema = pytest.importorskip("jsonschema")
    import json

    from jacobian_calc.schema import schema
    args = ["sum(tanh(concat([x, conv1d(x, w)])))", "--wrt", "x,w", "--shape", "x=n",
            "--shape", "w=k", "--backprop"]
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    jsonschema.validate(doc, schema())
    assert [s["shape"] for s in doc["steps"]][:2] == [["n - k + 1"], ["2*n - k + 1"]]
    assert doc["summary"].startswith("6 steps proved for all sizes")
    one = ["conv1d(x, w)", "--wrt", "x", "--shape", "x=n", "--shape", "w=k", "--index-form"]
    doc = json.loads(run(*one, "--format", "json").output)
    jsonschema.validate(doc, schema())
    assert doc["jacobians"][0]["shape"][0] == "n - k + 1"
    assert r"i = 1, \dots, n - k + 1" in run(*one, "--format", "latex").output


# -- the index forms against the explicit Jacobians --------------------------------------------

def _as_symbols(expr):
    return expr.xreplace({x: sp.Symbol("_".join([str(x.base), *map(str, x.indices)]),
                                       real=True) for x in expr.atoms(sp.Indexed)})


@pytest.mark.parametrize("expr, wrt, shapes, sizes", [
    ("conv1d(x, w)", "x", VECTORS, [{"n": 5, "k": 3}, {"n": 4, "k": 4}, {"n": 3, "k": 1}]),
    ("conv1d(x, w)", "w", VECTORS, [{"n": 5, "k": 2}, {"n": 3, "k": 3}]),
    ("conv1d(x, w, padding=1)", "x", VECTORS, [{"n": 4, "k": 2}, {"n": 2, "k": 3}]),
    ("conv2d(X, W)", "W", MATRICES, [{"n": 3, "m": 4, "k": 2, "l": 3}]),
    ("pad(x, rows=1)", "x", VECTORS, [{"n": 3, "k": 1}]),
    ("concat([x, w])", "w", VECTORS, [{"n": 2, "k": 3}]),
    ("flip(conv1d(x, w))", "x", VECTORS, [{"n": 5, "k": 2}]),
])
def test_index_forms_at_concrete_sizes_equal_the_explicit_entries(expr, wrt, shapes, sizes):
    generic = index_jacobian(parse(expr), wrt, shapes)
    for at in sizes:
        concrete = {name: shape_at(s, at) for name, s in shapes.items()}
        explicit = jacobian(expr, wrt=wrt, shapes=concrete)
        for index in itertools.product(*(range(d) for d in explicit.shape)):
            values = {s: v + 1 for s, v in zip(generic.indices, index)}
            got = _as_symbols(generic.at(at, values))
            assert sp.expand(got - explicit.tensor[index]) == 0, (expr, at, index)


# -- wrong rules are never proved ---------------------------------------------------------------

def _shapes(p=0):
    out = as_dim(n + 2 * p - k + 1)
    return {**VECTORS, "y": (out,), "dy": (out,)}


X, W, DY = Name("x"), Name("w"), Name("dy")


def _prove(target, rule, p=0):
    step = fn.conv1d(X, W, padding=p) if p else fn.conv1d(X, W)
    return prove_step(rule, target=target, steps=[("y", step)], upstream="dy",
                      shapes=_shapes(p))


def test_the_right_rules_are_proved_for_all_sizes():
    assert _prove("x", fn.conv1d(DY, fn.flip(W), padding=as_dim(k - 1))).proved
    assert _prove("w", fn.conv1d(X, DY)).proved
    assert _prove("x", fn.conv1d(DY, fn.flip(W), padding=as_dim(k - 2)), 1).proved
    assert _prove("w", fn.conv1d(X, DY, padding=1), 1).proved


@pytest.mark.parametrize("target, rule, p", [
    ("x", fn.conv1d(DY, W, padding=as_dim(k - 1)), 0),  # the kernel not flipped
    ("w", fn.flip(fn.conv1d(X, DY)), 0),  # the gradient flipped
    ("w", fn.conv1d(X, DY) * Num(2), 0),  # a factor too many
    ("x", fn.conv1d(DY, fn.flip(W), padding=as_dim(k - 1)) / Num(2), 0),  # one missing
    ("w", fn.conv1d(fn.getitem(fn.pad(X, rows=1), index=((2, as_dim(n + 2), None),)), DY), 0),  # shift
    ("x", fn.conv1d(DY, fn.flip(W), padding=as_dim(k - 2)), 0),  # padding one short
    ("w", fn.conv1d(X, DY), 1),  # the input's padding left out
    ("x", fn.conv1d(DY, fn.flip(W), padding=as_dim(k - 1)), 1),  # the output's padding
])
def test_wrong_rules_differ(target, rule, p):
    proof = _prove(target, rule, p)
    assert proof.verdict == "differs", (proof.text, proof.note)


def _patch(monkeypatch, name, vjp):
    monkeypatch.setitem(registry._OPS, name, dataclasses.replace(registry._OPS[name], vjp=vjp))


def _full(kernel):
    """The full convolution's padding ``k - 1``."""
    return as_dim(as_sympy(kernel) - 1)


@pytest.mark.parametrize("vjp, bad", [
    (lambda v: (fn.conv1d(v.g, v.args[1], padding=_full(v.shapes[1][0])),
                fn.conv1d(v.args[0], v.g)), "dx"),  # flipped kernel left out
    (lambda v: (fn.conv1d(v.g, fn.flip(v.args[1]), padding=_full(v.shapes[1][0])),
                fn.conv1d(fn.getitem(fn.pad(v.args[0], rows=1), index=((2, as_dim(n + 2), None),)),
                          v.g)), "dw"),  # shifted by one
])
def test_a_wrong_rule_is_caught_in_a_backprop(monkeypatch, vjp, bad):
    _patch(monkeypatch, "conv1d", vjp)
    r = backprop("sum(tanh(conv1d(x, w)))", "x,w", shapes=VECTORS)
    assert not r.agree
    verdicts = {b.name: b.check.verdict for b in r.backward}
    assert verdicts[bad] == "differs", verdicts
    assert all(v in ("proved", "differs") for v in verdicts.values())


def test_a_missing_factor_is_caught_in_a_backprop(monkeypatch):
    _patch(monkeypatch, "pow", lambda v: (v.g * v.args[0],))
    r = backprop("sum(conv1d(x, w)**2)", "x,w", shapes=VECTORS)
    assert not r.agree
    assert {b.check.verdict for b in r.backward} == {"differs"}


# -- instantiation -------------------------------------------------------------------------------

def test_rules_with_sizes_in_their_options_are_instantiated():
    rule = fn.conv1d(DY, fn.flip(W), padding=as_dim(k - 1))
    assert node_at(rule, {"n": 5, "k": 3}) == fn.conv1d(DY, fn.flip(W), padding=2)
    sliced = fn.getitem(X, index=((1, as_dim(n + 1), None),))
    assert node_at(sliced, {"n": 4}) == fn.getitem(X, index=((1, 5, None),))


def test_instantiated_checks_pick_sizes_where_the_output_exists(monkeypatch):
    from jacobian_calc.derive import backprop_sizes
    monkeypatch.setattr(backprop_sizes, "PROVE", False)
    r = backprop("sum(conv1d(x, w)**2)", "x,w", shapes=VECTORS)
    assert r.agree and {b.check.verdict for b in r.backward} == {"checked"}
    for text in r.sizes.split("= ", 1)[1].split("), ("):
        a, b = (int(v) for v in text.strip("()").split(", "))
        assert a > b  # n > k: the output's n - k + 1 entries at least 1, n and k apart


# -- PyTorch ---------------------------------------------------------------------------------------

def test_proved_rules_agree_with_pytorch_at_instantiated_sizes():
    torch = pytest.importorskip("torch")
    import numpy as np

    from jacobian_calc.symbolic.float_tree import float_evaluate
    r = backprop("sum(conv1d(x, w, padding=1)**2)", "x,w", shapes=VECTORS)
    for at in ({"n": 5, "k": 3}, {"n": 4, "k": 2}):
        rng = np.random.default_rng(0)
        values = {"x": rng.normal(size=at["n"]), "w": rng.normal(size=at["k"])}
        xt, wt = (torch.tensor(values[v], requires_grad=True) for v in "xw")
        loss = (torch.nn.functional.conv1d(xt[None, None], wt[None, None],
                                           padding=1)[0, 0] ** 2).sum()
        loss.backward()
        for step, want in ((s, {"x": xt, "w": wt}[s.target].grad) for s in r.backward):
            got = float_evaluate(node_at(step.tree, at), values)
            assert np.allclose(got, want.numpy(), rtol=1e-12, atol=1e-12), step.text


def test_a_derivation_reads_the_same_every_time():
    texts = {backprop("sum(conv1d(x, w)**2)", "x", shapes=VECTORS).backward[0].contraction
             for _ in range(3)}
    assert len(texts) == 1
