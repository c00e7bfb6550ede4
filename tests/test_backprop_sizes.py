"""Backprop at symbolic sizes: the steps derived once, with the sizes as names, and
checked at instantiated sizes in which every dimension differs."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, backprop
from jacobian_calc.cli.main import main
from jacobian_calc.core.tree import Num, fn
from jacobian_calc.derive import backprop_sizes
from jacobian_calc.derive.backprop_sizes import rule_at
from jacobian_calc.derive.instantiate import assignments, node_at, sizes_text
from jacobian_calc.ops import registry
from jacobian_calc.ops.reductions import restore

LAYER = {"A": ("N", "l"), "W": ("l", "K"), "b": ("K",)}
MLP_EXPR = "-sum(T*log(softmax(tanh(X@W1 + b1)@W2 + b2)))/N"
MLP = {"X": "Nxd", "W1": "dxh", "b1": "h", "W2": "hxK", "b2": "K", "T": "NxK"}


def steps(r) -> dict[str, str]:
    return {b.name: b.text for b in r.backward}


@pytest.fixture
def instantiated(monkeypatch):
    """Steps checked at instantiated sizes only (not first proved for all sizes)."""
    monkeypatch.setattr(backprop_sizes, "PROVE", False)


def settled(r) -> bool:
    """Every step proved for all sizes or checked at instantiated ones."""
    return all(b.check.verdict in ("proved", "checked") for b in r.backward)


# -- golden compact results at symbolic sizes --------------------------------------------

def test_a_layer_at_symbolic_sizes_reads_as_lecture_9():
    r = backprop("A@W + b", "A,W,b", shapes=LAYER, upstream="dZ")
    assert steps(r) == {"dA": "dZ @ W.T", "dW": "A.T @ dZ", "db": "sum(dZ, axis=0)"}
    assert [s.shape for s in r.steps] == [("N", "K")]
    assert {g: r.gradients[g].shape for g in r.gradients} == LAYER
    assert all(b.check.verdict == "proved" for b in r.backward) and r.agree
    assert r.backward[1].contraction == ("dW[k,l] = Σ_i Σ_j dZ[i,j] A[i,k] δ[j,l] = "
                                         "Σ_i A[i,k] dZ[i,l] = (A.T @ dZ)[k,l]")
    assert r.summary().startswith("3 steps proved for all sizes; end to end agrees at 3 "
                                  "points")


def test_a_layer_checked_at_instantiated_sizes(instantiated):
    r = backprop("A@W + b", "A,W,b", shapes=LAYER, upstream="dZ")
    assert steps(r) == {"dA": "dZ @ W.T", "dW": "A.T @ dZ", "db": "sum(dZ, axis=0)"}
    assert all(b.check.verdict == "checked" for b in r.backward) and r.agree
    assert r.summary().startswith("3 steps checked at sizes (N, l, K) = (2, 3, 4), "
                                  "(3, 4, 2), (4, 2, 3); end to end agrees at 3 points")


def test_operations_without_index_form_are_checked_by_instantiation_and_say_so():
    r = backprop("logdet(X) + sum(tanh(X@W))", "W,X", shapes={"X": "nxn", "W": "nxh"})
    verdicts = {b.name + ("+" if b.accumulate else ""): b.check for b in r.backward}
    assert verdicts["dY"].verdict == "checked"
    assert verdicts["dY"].how.endswith("; no index form for logdet")
    assert verdicts["dW"].verdict == "proved" and verdicts["dZ"].verdict == "proved"
    assert r.summary().startswith("3 steps proved for all sizes, 2 steps checked") and r.agree


def test_softmax_cross_entropy_at_symbolic_sizes():
    r = backprop(MLP_EXPR, "W1,b1,W2,b2", shapes=MLP, onehot="T")
    assert steps(r) == {"dZ2": "(P - T) / N", "dW2": "Y1.T @ dZ2", "db2": "sum(dZ2, axis=0)",
                        "dY1": "dZ2 @ W2.T", "dZ1": "dY1 * (1 - Y1**2)", "dW1": "X.T @ dZ1",
                        "db1": "sum(dZ1, axis=0)"}
    assert r.backward[0].fused == (("dP", "-T / (N * P)"),)
    assert r.agree and r.end_to_end.points == 3
    assert r.summary().startswith("7 steps proved for all sizes; end to end agrees at 3 "
                                  "points")


def test_mean_divides_by_the_product_of_the_names():
    r = backprop("mean(sigmoid(X@W))", "W", shapes={"X": "Nxd", "W": "dxh"})
    assert steps(r)["dY"] == "ones_like(Y) / (N * h)"
    assert r.agree


@pytest.mark.parametrize("expr, wrt, shapes, want", [
    ("sum(tanh(X@W))/N", "W", {"X": "Nxd", "W": "dxh"}, {"dY": "ones_like(Y) / N"}),
    ("sum(softmax(X@W, axis=0) * T)", "W", {"X": "Nxd", "W": "dxh", "T": "Nxh"}, {}),
    ("sum((X.T@X + eye(d)) @ W)", "W", {"X": "Nxd", "W": "dxh"}, {}),
    ("logdet(X)", "X", {"X": "nxn"}, {"dX": "inv(X).T"}),
    ("x.T@A@x", "x", {"A": "nxn", "x": "n"}, {}),
    ("trace(X.T@X)/(N*d)", "X", {"X": "Nxd"}, {}),
    ("sum(outer(u, v) * X)", "u,v", {"u": "N", "v": "d", "X": "Nxd"}, {}),
])
def test_more_operations_at_symbolic_sizes(expr, wrt, shapes, want, monkeypatch):
    r = backprop(expr, wrt, shapes=shapes)
    assert r.agree and settled(r), r.summary()
    monkeypatch.setattr(backprop_sizes, "PROVE", False)
    r = backprop(expr, wrt, shapes=shapes)
    assert r.agree and all(b.check.verdict == "checked" for b in r.backward), r.summary()
    for name, text in want.items():
        assert steps(r)[name] == text


def test_a_sympy_matrix_symbol_with_symbolic_sizes():
    N, d, h = sp.symbols("N d h", integer=True, positive=True)
    X, W = sp.MatrixSymbol("X", N, d), sp.MatrixSymbol("W", d, h)
    r = backprop(X * W, "W")
    assert steps(r) == {"dW": "X.T @ dY"} and r.agree


# -- the instantiated sizes -----------------------------------------------------------------

def test_every_assignment_keeps_the_dimensions_apart():
    for count in range(1, 6):
        sizes = assignments([f"n{i}" for i in range(count)])
        assert len(sizes) == 3
        for s in sizes:
            assert len(set(s.values())) == count and min(s.values()) >= 2
        for dim in sizes[0]:
            assert len({s[dim] for s in sizes}) == 3  # each dimension takes three values
    assert sizes_text(assignments(["N", "d"])) == "(N, d) = (2, 3), (3, 4), (4, 2)"
    assert sizes_text(assignments(["n"])) == "n = 2, 3, 4"


def test_instantiated_steps_equal_the_concrete_size_derivation(instantiated):
    """The symbolic derivation at (N, d, h, K) = (3, 4, 5, 2) is the concrete one."""
    sym = backprop(MLP_EXPR, "W1,b1,W2,b2", shapes=MLP, onehot="T")
    sizes = {"N": 3, "d": 4, "h": 5, "K": 2}
    concrete = backprop(MLP_EXPR.replace("/N", "/3"), "W1,b1,W2,b2", onehot="T",
                        shapes={"X": (3, 4), "W1": (4, 5), "b1": 5, "W2": (5, 2), "b2": 2,
                                "T": (3, 2)})
    assert [str(node_at(b.tree, sizes)) for b in sym.backward] == \
        [b.text for b in concrete.backward]
    at = assignments(["N", "d", "h", "K"])[1]
    assert at == sizes
    for b in sym.backward[1:]:  # the steps' explicit entries are shown at the first sizes
        assert b.at == "N=2, d=3, h=4, K=5"
    first = backprop(MLP_EXPR.replace("/N", "/2"), "W1,b1,W2,b2", onehot="T",
                     shapes={"X": (2, 3), "W1": (3, 4), "b1": 4, "W2": (4, 5), "b2": 5,
                             "T": (2, 5)})
    for b, c in zip(sym.backward, first.backward):
        assert b.explicit.flat == c.explicit.flat


def test_rule_at_substitutes_names_and_sizes():
    r = backprop("sum(tanh(X@W))/N", "W", shapes={"X": "Nxd", "W": "dxh"})
    from jacobian_calc.derive import steps as bp  # noqa: PLC0415 - the internal rule type
    rule = bp._Rule("Y", ["L"], Num(1), r.backward[0].tree)
    assert str(rule_at(rule, {"N": 4}).tree) == "ones_like(Y) / 4"


# -- the checker catches wrong rules at symbolic sizes ----------------------------------------

def patch_rule(monkeypatch, name, vjp):
    monkeypatch.setitem(registry._OPS, name, dataclasses.replace(registry._OPS[name], vjp=vjp))


SQUARE = ("sum(tanh(X@W))", "X", {"X": "Nxd", "W": "dxd"})


def test_a_transposed_rule_is_caught(monkeypatch):
    expr, wrt, shapes = SQUARE
    assert backprop(expr, wrt, shapes=shapes).agree
    patch_rule(monkeypatch, "matmul", lambda v: (v.g @ v.args[1], v.args[0].T @ v.g))
    r = backprop(expr, wrt, shapes=shapes)
    assert not r.agree
    bad = r.backward[-1]
    assert (bad.name, bad.text, bad.check.verdict) == ("dX", "dZ @ W", "differs")
    assert bad.check.how.endswith("at N=2, d=3")
    assert r.disagreement().startswith("dX = dZ @ W (step Z) differs")
    assert "DIFFERS" in r.summary()


def test_a_missing_one_over_n_is_caught(monkeypatch):
    shapes = {"X": "Nxd", "W": "dxh"}
    patch_rule(monkeypatch, "mean", lambda v: (restore(v, v.g) * fn.ones_like(v.x),))
    r = backprop("mean(tanh(X@W))", "W", shapes=shapes)
    assert not r.agree
    assert r.backward[0].name == "dY" and r.backward[0].check.verdict == "differs"
    assert [b.check.verdict for b in r.backward[1:]] == ["proved", "proved"]


def test_a_flipped_sign_is_caught(monkeypatch):
    patch_rule(monkeypatch, "tanh", lambda v: (-(v.g * (1 - v.out ** 2)),))
    r = backprop(MLP_EXPR, "W1", shapes=MLP, onehot="T")
    assert not r.agree
    bad = [b.name for b in r.backward if b.check.verdict == "differs"]
    assert bad == ["dZ1"]
    assert not r.end_to_end.check.ok


def test_an_error_of_one_in_a_thousand_is_caught(monkeypatch):
    patch_rule(monkeypatch, "softmax", lambda v: (
        v.out * (v.g - fn.sum(v.g * v.out, axis=-1, keepdims=True)) * Num(Fraction(999, 1000)),))
    r = backprop(MLP_EXPR, "W1", shapes=MLP, onehot="T")
    assert r.backward[0].check.verdict == "differs"


# -- the command line --------------------------------------------------------------------------

FIRST = ["X@W + b", "--wrt", "W,b", "--shape", "X=Nxd", "--shape", "W=dxh", "--shape", "b=h",
         "--backprop"]


def test_the_issue_s_first_command():
    result = CliRunner().invoke(main, FIRST)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "  Y = X @ W + b   Nxh" in out
    assert "  dW = X.T @ dY\n" in out and "  db = sum(dY, axis=0)\n" in out
    assert "dW[k,l] = Σ_i Σ_j dY[i,j] X[i,k] δ[j,l] = Σ_i X[i,k] dY[i,l] = (X.T @ dY)[k,l]" \
        in out
    assert "Verified: 2 steps proved for all sizes; end to end agrees at 3 points" in out


def test_the_issue_s_first_command_instantiated(instantiated):
    result = CliRunner().invoke(main, FIRST)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "  Y = X @ W + b   Nxh" in out
    assert "  dW = X.T @ dY\n" in out and "  db = sum(dY, axis=0)\n" in out
    assert "(symbols X_i_j, dY_i_j; entries at N=2, d=3, h=4)" in out
    assert ("Verified: 2 steps checked at sizes (N, d, h) = (2, 3, 4), (3, 4, 2), (4, 2, 3); "
            "end to end agrees at 3 points") in out


def test_expand_needs_concrete_sizes():
    with pytest.raises(JacobianError, match="needs concrete sizes"):
        backprop("X@W", "W", shapes={"X": "Nxd", "W": "dxh"}, expand=True)


def test_a_dimension_is_not_a_variable():
    with pytest.raises(JacobianError):
        backprop("sum(X)/N", "N", shapes={"X": "Nxd"})


# -- concrete sizes: derived size-generically, checked at small sizes when large ----------------

RELU = "mean((relu(X@W1+b1)@W2+b2 - T)**2)"


def relu_shapes(n, d, h, k):
    return {"X": (n, d), "W1": (d, h), "b1": h, "W2": (h, k), "b2": k, "T": (n, k)}


def test_generalize_keeps_only_the_equalities_the_shape_rules_need():
    from jacobian_calc.derive.generalize import generalize  # noqa: PLC0415
    from jacobian_calc.parsing import parse_expression  # noqa: PLC0415
    general, sizes = generalize(parse_expression("trace(A@X)"), {"A": (3, 3), "X": (3, 3)})
    assert general == {"A": ("A_rows", "A_cols"), "X": ("A_cols", "A_rows")}
    general, sizes = generalize(parse_expression("sum(eye(3)@W + X*c)"),
                                {"W": (3, 2), "X": (3, 2), "c": (3, 1)})
    assert general == {"W": (3, "W_cols"), "X": (3, "W_cols"), "c": (3, 1)}
    assert sizes == {"W_cols": 2}


def test_a_large_request_is_checked_at_small_sizes_and_says_so(instantiated):
    r = backprop(RELU, "W1,b1,W2,b2", shapes=relu_shapes(32, 8, 32, 4))
    assert steps(r) == {"db2": "sum(dZ2, axis=0)",
                        "dZ2": "(Z2 - T) / 64", "dW2": "Y1.T @ dZ2",
                        "dY1": "dZ2 @ W2.T", "dZ1": "dY1 * step(Z1)", "dW1": "X.T @ dZ1",
                        "db1": "sum(dZ1, axis=0)"}
    assert all(b.check.verdict == "checked" for b in r.backward) and r.agree
    assert r.summary().startswith(
        "7 steps checked at sizes (X_rows, X_cols, W1_cols, W2_cols) = (2, 3, 4, 5), "
        "(3, 4, 5, 2), (4, 5, 2, 3) (the requested (32, 8, 32, 4) not written out); "
        "end to end agrees at 3 points")
    assert r.gradients["W1"].shape == (8, 32) and r.backward[0].at.startswith("X_rows=2")
    with pytest.raises(JacobianError, match="explicit=True"):
        r.evaluate("X=0")


@pytest.mark.parametrize("expr, wrt, shapes", [
    (RELU, "W1,b1,W2,b2", relu_shapes(4, 3, 5, 2)),
    (MLP_EXPR.replace("/N", "/4"), "W1,b1,W2,b2",
     {"X": (4, 3), "W1": (3, 5), "b1": 5, "W2": (5, 2), "b2": 2, "T": (4, 2)}),
    ("sum(sigmoid(X@W + b)) + trace(A@X.T@X)", "W,X", {"X": (3, 2), "W": (2, 2), "b": 2,
                                                       "A": (2, 2)}),
])
def test_the_small_size_route_shows_what_the_explicit_route_shows(expr, wrt, shapes):
    big = backprop(expr, wrt, shapes=shapes, explicit=True, onehot="T" if "T" in shapes
                   and "log" in expr else None)
    small = backprop(expr, wrt, shapes=shapes, explicit=False, onehot="T" if "T" in shapes
                     and "log" in expr else None)
    assert steps(small) == steps(big)
    assert [s.text for s in small.steps] == [s.text for s in big.steps]
    assert {n: g.text for n, g in small.gradients.items()} == \
        {n: g.text for n, g in big.gradients.items()}
    assert small.agree and settled(small)


def test_a_wrong_rule_is_caught_at_small_sizes(monkeypatch):
    patch_rule(monkeypatch, "matmul", lambda v: (v.g @ v.args[1], v.args[0].T @ v.g))
    r = backprop("sum(tanh(X@W))", "X", shapes={"X": (40, 30), "W": (30, 30)})
    assert not r.agree and r.backward[-1].check.verdict == "differs"
    assert "X_rows=2" in r.backward[-1].check.how  # W of 30x30 is not square for every size
    assert r.disagreement().startswith("dX = dZ @ W (step Z): the rule cannot be evaluated")


def test_full_keeps_the_requested_size(monkeypatch):
    args = [RELU, "--wrt", "W2", "--backprop", "--full"]
    for name, shape in relu_shapes(16, 8, 16, 4).items():
        shape = shape if isinstance(shape, tuple) else (shape,)
        args += ["--shape", f"{name}={'x'.join(map(str, shape))}"]
    out = CliRunner().invoke(main, args).output
    assert "proved (in the step's own symbols)" in out and "checked" not in out


def test_latex_declares_the_shapes_and_says_how_steps_were_checked(instantiated):
    from jacobian_calc.render.latex import to_latex  # noqa: PLC0415
    r = backprop("X@W + b", "W,b", shapes={"X": "Nxd", "W": "dxh", "b": "h"})
    tex = to_latex(r, derivation=True)
    assert (r"The inputs: $W \in \mathbb{R}^{d \times h}$, $X \in \mathbb{R}^{N \times d}$, "
            r"$b \in \mathbb{R}^{h}$, for every size.") in tex
    assert r"Y &= X W + b && \in \mathbb{R}^{N \times h}" in tex
    assert "Entry by entry at $N = 2$, $d = 3$, $h = 4$, in the step's own symbols" in tex
    assert "checked by instantiation" in tex


def test_json_at_symbolic_sizes_follows_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import json  # noqa: PLC0415

    from jacobian_calc.schema import schema  # noqa: PLC0415
    result = CliRunner().invoke(main, FIRST + ["--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    jsonschema.validate(doc, schema())
    assert doc["steps"][0]["shape"] == ["N", "h"]
    assert doc["backward"][0]["contraction"].startswith("dW[k,l] = Σ_i Σ_j dY[i,j] X[i,k]")
    assert doc["summary"].startswith("2 steps proved for all sizes")


def test_latex_derivation_at_symbolic_sizes_shows_the_index_notation_and_is_ascii():
    """A step proved for all sizes is typeset as its index-notation contraction (no empty
    matrix of entries), and the document has no character pdflatex cannot read."""
    from jacobian_calc import backprop, to_latex
    r = backprop("X@W + b", "W,b", shapes={"X": ("N", "d"), "W": ("d", "h"), "b": ("h",)})
    tex = to_latex(r, derivation=True, standalone=True)
    assert r"\delta_{jl}" in tex and "In index notation, for every size" in tex
    assert r"\begin{pmatrix}  \end{pmatrix}" not in tex
    assert all(ord(c) < 128 for c in tex), sorted({c for c in tex if ord(c) >= 128})


# -- concrete sizes: every request derived size-generically ---------------------------------

def test_a_concrete_request_is_proved_for_all_sizes_and_shown_at_its_sizes():
    r = backprop("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (4, 3), "W": (3, 2), "b": 2})
    assert steps(r) == {"dY": "ones_like(Y) / 8", "dZ": "dY * Y * (1 - Y)",
                        "dW": "X.T @ dZ", "db": "sum(dZ, axis=0)"}
    assert all(b.check.how.startswith("for all sizes") for b in r.backward)
    assert r.backward[0].contraction == "dY[k,l] = 1/8 = (ones_like(Y) / 8)[k,l]"
    assert r.summary().startswith("4 steps proved for all sizes; end to end agrees at 3 "
                                  "points (max error")
    values = r.evaluate("X=[[1,2,3],[0,1,0],[2,0,1],[1,1,1]],W=[[1,0],[0,1],[1,1]],b=[0,1]")
    assert all(v.agree for v in values.values())  # explicit gradients kept at these sizes


def test_explicit_and_expand_keep_the_old_route():
    shapes = {"X": (4, 3), "W": (3, 2), "b": 2}
    for kwargs in ({"explicit": True}, {"expand": True}):
        r = backprop("mean(sigmoid(X@W + b))", "W,b", shapes=shapes, **kwargs)
        assert r.summary().startswith("4 steps proved symbolically; end to end agrees")
        assert r.backward[2].explicit.size == 6


def test_a_concrete_request_too_large_to_write_out_says_where_it_was_checked():
    r = backprop(RELU, "W1,b1,W2,b2", shapes=relu_shapes(32, 8, 32, 4))
    assert r.summary() .startswith(
        "7 steps proved for all sizes; end to end agrees at 3 points at sizes X_rows=2, "
        "X_cols=3, W1_cols=4, W2_cols=5 (max error")
    assert r.backward[0].contraction == \
        "dZ2[k,l] = (Z2[k,l] − T[k,l]) / 64 = ((Z2 - T) / 64)[k,l]"


def test_an_absent_variable_still_warns_on_the_size_generic_route():
    with pytest.warns(UserWarning, match="W does not appear"):
        r = backprop("sum(tanh(X))", "X,W", shapes={"X": (40, 30), "W": (2, 3)})
    assert r.warnings == ["W does not appear in the expression; its derivatives are all zero"]


#: Small enough to check at the requested sizes, and too large to.
CONCRETE = {"cheap": (4, 3), "large": (40, 30)}


@pytest.mark.parametrize("size", CONCRETE)
def test_a_transposed_rule_is_caught_at_concrete_sizes(monkeypatch, size):
    n, d = CONCRETE[size]
    shapes = {"X": (n, d), "W": (d, d)}
    patch_rule(monkeypatch, "matmul", lambda v: (v.g @ v.args[1], v.args[0].T @ v.g))
    r = backprop("sum(tanh(X@W))", "X", shapes=shapes)
    assert not r.agree and "DIFFERS" in r.summary()
    bad = [b for b in r.backward if b.check.verdict == "differs"]
    assert [(b.name, b.text) for b in bad] == [("dX", "dZ @ W")]
    assert r.disagreement().startswith("dX = dZ @ W (step Z)")


@pytest.mark.parametrize("size", CONCRETE)
def test_a_missing_one_over_n_is_caught_at_concrete_sizes(monkeypatch, size):
    n, d = CONCRETE[size]
    patch_rule(monkeypatch, "mean", lambda v: (restore(v, v.g) * fn.ones_like(v.x),))
    r = backprop("mean(tanh(X@W))", "W", shapes={"X": (n, d), "W": (d, 2)})
    assert not r.agree and "DIFFERS" in r.summary()
    assert [b.check.verdict for b in r.backward] == ["differs", "proved", "proved"]
    assert r.backward[0].name == "dY"
    assert r.disagreement().startswith("dY = ones_like(Y) (step L)")


@pytest.mark.parametrize("size", CONCRETE)
def test_a_flipped_sign_is_caught_at_concrete_sizes(monkeypatch, size):
    n, d = CONCRETE[size]
    patch_rule(monkeypatch, "tanh", lambda v: (-(v.g * (1 - v.out ** 2)),))
    r = backprop("sum(tanh(X@W + b))", "W,b", shapes={"X": (n, d), "W": (d, 2), "b": 2})
    assert not r.agree and not r.end_to_end.check.ok
    assert [b.name for b in r.backward if b.check.verdict == "differs"] == ["dZ"]
    assert r.disagreement().startswith("dZ = dY * (Y**2 - 1) (step Y) differs")


@pytest.mark.parametrize("wrong", [lambda v: (v.g,), lambda v: (fn.flip(v.g) * Num(2),)],
                         ids=["not flipped", "a factor 2"])
def test_a_wrong_flip_rule_is_caught_at_symbolic_sizes(monkeypatch, wrong):
    shapes = {"X": "Nxd", "W": "dxh"}
    r = backprop("sum(tanh(flip(X) @ W))", "X", shapes=shapes)
    assert r.agree and {b.check.verdict for b in r.backward} == {"proved"}
    patch_rule(monkeypatch, "flip", wrong)
    r = backprop("sum(tanh(flip(X) @ W))", "X", shapes=shapes)
    assert not r.agree
    bad = [b for b in r.backward if b.check.verdict != "proved"]
    assert [b.name for b in bad] == ["dX"] and bad[0].check.verdict == "differs"


@pytest.mark.parametrize("expr, wrt, shapes, upstream, expected", [
    ("softmax(l)", "l", {"l": ("K",)}, "dp",
     r"dl_{k} = \sum_{i=1}^{K} dp_{i} \left(\frac{e^{l_{i}} \delta_{ik}}{\sum_{m=1}^{K} e^{l_{m}}}"
     r" - \frac{e^{l_{i}} e^{l_{k}}}{\left(\sum_{m=1}^{K} e^{l_{m}}\right)^{2}}\right)"),
    ("M - N", "N", {"M": ("a", "b"), "N": ("a", "b")}, None,
     r"dN_{kl} = \sum_{i=1}^{a} \sum_{j=1}^{b} dY_{ij} \left(-\delta_{ik} \delta_{jl}\right)"),
    ("X@W", "W", {"X": ("N", "d"), "W": ("d", "h")}, None,
     r"dW_{kl} = \sum_{i=1}^{N} \sum_{j=1}^{h} dY_{ij} X_{ik} \delta_{jl}"),
])
def test_the_latex_contraction_keeps_the_parentheses_of_the_text(expr, wrt, shapes, upstream,
                                                                  expected):
    """dp_i times a difference is typeset as dp_i (a - b), as the text writes it, never as
    dp_i a - b; a lone product needs none."""
    [s] = backprop(expr, wrt, shapes=shapes, upstream=upstream).backward
    assert s.derivation_tex[0] == expected


def test_a_rule_that_forgets_relus_mask_is_caught(monkeypatch):
    """relu's mask is 1 wherever the entries are positive: a rule without it must
    still differ at symbolic sizes."""
    patch_rule(monkeypatch, "relu", lambda v: (v.g,))
    r = backprop("mean(relu(X@W))", "W", shapes={"X": "Nxd", "W": "dxh"})
    assert not r.agree
    bad = [b for b in r.backward if b.check.verdict == "differs"]
    assert [b.name for b in bad] == ["dZ"]


def test_a_derivation_keeps_typed_decimals_and_writes_the_step_by_name():
    """GELU's tanh step: the derivation reads y[i], not tanh(...) again, and the typed
    0.7978845608 is not printed as 997355701/250000000000000."""
    r = backprop("mean(0.5*x*(1 + tanh(0.7978845608 * (x + 0.044715 * x**3))))", "x",
                 shapes={"x": ("n",)})
    assert r.agree
    [through_y] = [b for b in r.backward if b.accumulate]
    text = through_y.contraction
    assert "y[k]**2" in text and "tanh" not in text
    assert "250000000000000" not in text and "0.000003989422804" in text


# -- warnings at symbolic sizes, as at concrete ones ------------------------------------------

@pytest.mark.parametrize("expr, word", [("sum(X@W)", "does not appear in the expression"),
                                        ("sum(X@W + b - b)", "cancels out of the output")])
def test_an_absent_variable_warns_at_symbolic_sizes_as_at_concrete_ones(expr, word):
    symbolic = {"X": ("N", "d"), "W": ("d", "h"), "b": ("h",)}
    concrete = {"X": (2, 3), "W": (3, 4), "b": (4,)}
    want = [f"b {word}; its derivatives are all zero"]
    for shapes in (symbolic, concrete):
        with pytest.warns(UserWarning, match=f"b {word}"):
            r = backprop(expr, "W,b", shapes=shapes)
        assert r.warnings == want
    assert "X_1_1" not in " ".join(r.warnings)


def test_a_renamed_step_is_said_at_symbolic_sizes_as_at_concrete_ones():
    """dZ names an input, so the step the caller named Z is written otherwise, and the
    note says so at symbolic sizes too."""
    notes = []
    for shapes in ({"X": "Nxd", "W": "dxh", "dZ": "Nxh"},
                   {"X": "2x3", "W": "3x4", "dZ": "2x4"}):
        r = backprop("sum(tanh(X@W)) + sum(dZ)", "W", shapes=shapes, lets={"Z": "X@W"})
        notes.append(r.warnings)
    assert notes[0] == notes[1]
    assert any("the step Z is written" in w for w in notes[0])


def test_the_cli_prints_the_warnings_at_symbolic_sizes():
    result = CliRunner().invoke(main, ["sum(X@W)", "--shape", "X=Nxd", "--shape", "W=dxh",
                                       "--shape", "b=h", "--backprop", "--wrt", "W,b"])
    assert result.exit_code == 0, result.output
    assert "b does not appear in the expression; its derivatives are all zero" in result.output


# -- derivations without a repeated line ----------------------------------------------------

LN_ROW_MU = "mean(X, axis=1, keepdims=True)"
#: (expression, wrt, shapes): layer norm, over rows, attention, a layer, an activation.
DERIVATIONS = [
    ("(x - mean(x)) / sqrt(mean((x - mean(x))**2) + 1e-5)", "x", {"x": "n"}),
    (f"sum(G * (X - {LN_ROW_MU}) / sqrt(mean((X - {LN_ROW_MU})**2, axis=1, keepdims=True)"
     " + eps))", "X", {"X": "Nxd", "G": "Nxd"}),
    ("sum(softmax(Q@K.T/8, axis=1)@V)", "Q,K,V", {"Q": "Nxd", "K": "Nxd", "V": "Nxe"}),
    (MLP_EXPR, "W1,b1,W2,b2", MLP),
    ("sum(exp(X))", "X", {"X": "Nxd"}),
]


def _sides(line: str) -> list[str]:
    """The sides of a chain of equalities, text (``=``, ``+=``) or LaTeX."""
    return re.split(r" (?:=|\+=|\\mathrel\{\+\}=) ", line)


@pytest.mark.parametrize("expr, wrt, shapes", DERIVATIONS,
                         ids=["layer norm", "layer norm rows", "attention", "MLP", "exp"])
def test_no_derivation_repeats_a_line(expr, wrt, shapes):
    r = backprop(expr, wrt, shapes=shapes, onehot="T" if "T" in shapes else None)
    assert r.agree
    for b in r.backward:
        for sides in (_sides(b.contraction), _sides(" ".join(b.derivation_tex))):
            assert all(a != c for a, c in zip(sides, sides[1:])), sides


def test_a_step_that_only_renames_reads_as_one_elimination():
    """``dx = dc`` is the δ-elimination alone, written once; a step with a real
    elimination keeps all three sides, in text and LaTeX."""
    r = backprop(*DERIVATIONS[0][:2], shapes=DERIVATIONS[0][2])
    by = {(b.name, b.accumulate): b for b in r.backward}
    assert by["dx", False].contraction == "dx[k] = Σ_i dc[i] δ[i,k] = dc[k]"
    assert by["dx", False].derivation_tex == (r"dx_{k} = \sum_{i=1}^{n} dc_{i} \delta_{ik}",
                                              "= dc_{k}")
    [dY, _] = backprop("sum(exp(X))", "X", shapes={"X": "Nxd"}).backward
    assert dY.contraction == "dY[k,l] = 1 = ones_like(Y)[k,l]"
    assert dY.derivation_tex == ("dY_{kl} = 1",)
    layer = backprop("A@W + b", "W", shapes=LAYER, upstream="dZ").backward[0]
    assert len(_sides(layer.contraction)) == 4 and len(layer.derivation_tex) == 2
