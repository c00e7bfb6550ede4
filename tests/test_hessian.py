"""Hessians: explicit ones against sympy.hessian (exactly) and PyTorch (float64), their
symmetry, both layouts, printing, and every compact form proved against its explicit
Hessian -- with a wrong rule caught."""

from __future__ import annotations

import dataclasses
import os
import json
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import HessianResult, JacobianError, LimitError, Limits, hessian, to_latex
from jacobian_calc.cli.main import main
from jacobian_calc.core.grid import ndindex
from jacobian_calc.core.tree import Num
from jacobian_calc.ops import registry
from jacobian_calc.symbolic.evaluate import Env, evaluate
from jacobian_calc.symbolic.numeric import float_eval
from jacobian_calc.symbolic.symbols import symbol_grid
from jacobian_calc.parsing import parse_expression

try:
    import torch
except ImportError:  # the oracle tests skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

X3 = {"x": (3,), "A": (3, 3)}
LOGREG = {"X": (4, 3), "w": (3,), "t": (4,)}
LAYER = {"X": (3, 2), "W": (2, 2), "b": (2,), "T": (3, 2)}


def sympy_value(expr: str, shapes: dict) -> sp.Expr:
    """The expression's (scalar) SymPy value, in the calculator's entry symbols."""
    return evaluate(parse_expression(expr), Env(shapes)).item()


def symbols_of(names: str, shapes: dict) -> list:
    """Every entry of the variables, in order (how sympy.hessian takes them)."""
    out = []
    for name in names.split(","):
        out += list(symbol_grid(name, shapes.get(name, ())).flat)
    return out


# -- against sympy.hessian, exactly -------------------------------------------------------

SYMPY_CASES = [
    ("x.T@A@x", "x", X3),
    ("norm(A@x - b)**2", "x", {"A": (3, 2), "x": (2,), "b": (3,)}),
    ("logsumexp(x)", "x", {"x": (3,)}),
    ("sum(exp(x) * sin(x))", "x", {"x": (3,)}),
    ("trace(X.T@A@X)", "X", {"X": (2, 2), "A": (2, 2)}),
    ("logdet(X)", "X", {"X": (2, 2)}),
    ("mean(sigmoid(X@W + b))", "W,b", {"X": (3, 2), "W": (2, 2), "b": (2,)}),
    ("sum(tanh(X@w)) + c * sum(w**2)", "w,c", {"X": (2, 3), "w": (3,)}),
    ("sin(x1*x2) + x1**3 * exp(x2)", "x1,x2", {}),
]


@pytest.mark.parametrize("expr,wrt,shapes", SYMPY_CASES, ids=[c[0] for c in SYMPY_CASES])
def test_explicit_hessian_equals_sympy_hessian(expr, wrt, shapes):
    H = hessian(expr, wrt, shapes=shapes, compact=False)
    f = sympy_value(expr, shapes)
    expected = sp.hessian(f, symbols_of(wrt, shapes))
    assert H.matrix.shape == expected.shape
    assert (H.matrix - expected).applyfunc(sp.simplify) == sp.zeros(*expected.shape)
    assert H.symmetry.verdict == "symmetric"
    assert H.matrix == H.matrix.T or (H.matrix - H.matrix.T).applyfunc(sp.simplify).is_zero_matrix


def test_shapes_of_vector_matrix_and_several_variables():
    assert hessian("x.T@A@x", "x", shapes=X3).tensor.shape == (3, 3)
    H = hessian("trace(X.T@A@X)", "X", shapes={"X": (2, 3), "A": (2, 2)})
    assert H.tensor.shape == (2, 3, 2, 3)  # X.shape + X.shape
    H = hessian("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (3, 2), "W": (2, 4), "b": (4,)})
    assert H.pairs() == [("W", "W"), ("W", "b"), ("b", "W"), ("b", "b")]
    assert [H.block(u, v).shape for u, v in H.pairs()] == [(2, 4, 2, 4), (2, 4, 4),
                                                           (4, 2, 4), (4, 4)]
    assert H.matrix.shape == (12, 12)


def test_vector_output_gives_the_third_order_tensor_in_both_layouts():
    num = hessian("sin(x1*x2), x1**3*x2, x2**2", "x1,x2")
    den = hessian("sin(x1*x2), x1**3*x2, x2**2", "x1,x2", layout="denominator")
    assert num.tensor.shape == (3, 2, 2) and den.tensor.shape == (2, 2, 3)
    for i, k, p in ndindex((3, 2, 2)):
        assert num.tensor[i, k, p] == den.tensor[k, p, i]
    x1, x2 = sp.symbols("x1 x2", real=True)
    for i, f in enumerate([sp.sin(x1 * x2), x1 ** 3 * x2, x2 ** 2]):
        H = sp.hessian(f, [x1, x2])
        assert all(sp.simplify(num.tensor[i, k, p] - H[k, p]) == 0 for k, p in ndindex((2, 2)))
    assert not num.compact.found and "scalar output" in num.compact.reason


def test_layouts_coincide_for_a_scalar():
    H = hessian("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (3, 2), "W": (2, 2), "b": (2,)})
    D = H.with_layout("denominator")
    for key in H.pairs():
        assert H.blocks[key].as_grid().flat == D.blocks[key].as_grid().flat


def test_mixed_blocks_mirror_each_other():
    H = hessian("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (3, 2), "W": (2, 2), "b": (2,)})
    Wb, bW = H.block("W", "b"), H.block("b", "W")
    for k, l, p in ndindex((2, 2, 2)):
        assert sp.simplify(Wb[k, l, p] - bW[p, k, l]) == 0


def test_sympy_input():
    x, y = sp.symbols("x y")
    H = hessian(x ** 2 * y + sp.exp(x * y), [x, y])
    assert (H.matrix - sp.hessian(x ** 2 * y + sp.exp(x * y), [x, y])).expand() == \
        sp.zeros(2, 2)


# -- against PyTorch, in float64 ------------------------------------------------------------

TORCH_CASES = [
    ("x.T@A@x", "x", X3, lambda t, v: v["x"] @ v["A"] @ v["x"]),
    ("logsumexp(x)", "x", {"x": (4,)}, lambda t, v: t.logsumexp(v["x"], 0)),
    ("trace(X.T@A@X)", "X", {"X": (2, 3), "A": (2, 2)},
     lambda t, v: t.trace(v["X"].T @ v["A"] @ v["X"])),
    ("logdet(X)", "X", {"X": (3, 3)}, lambda t, v: t.logdet(v["X"])),
    ("mean(log(1 + exp(-t * (X @ w))))", "w", LOGREG,
     lambda t, v: t.mean(t.log(1 + t.exp(-v["t"] * (v["X"] @ v["w"]))))),
    ("mean(sigmoid(X@W + b))", "W,b", {"X": (3, 2), "W": (2, 3), "b": (3,)},
     lambda t, v: t.mean(t.sigmoid(v["X"] @ v["W"] + v["b"]))),
    ("-mean(T*log(softmax(X@W + b)))", "W,b", LAYER,
     lambda t, v: -t.mean(v["T"] * t.log_softmax(v["X"] @ v["W"] + v["b"], -1))),
    ("mean(tanh(X@W)**2) + sum(W**3)", "W", {"X": (3, 2), "W": (2, 2)},
     lambda t, v: t.mean(t.tanh(v["X"] @ v["W"]) ** 2) + t.sum(v["W"] ** 3)),
]


def _sample(shapes: dict, rng) -> dict:
    out = {}
    for name, shape in shapes.items():
        if len(shape) == 2 and shape[0] == shape[1]:
            out[name] = np.eye(shape[0]) + rng.uniform(-0.3, 0.3, shape)
        else:
            out[name] = rng.uniform(0.2, 1.0, shape) * rng.choice([-1, 1], shape)
    return out


@needs_torch
@pytest.mark.parametrize("expr,wrt,shapes,torch_fn", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_explicit_hessian_equals_pytorch(expr, wrt, shapes, torch_fn):
    H = hessian(expr, wrt, shapes=shapes, compact=False)
    values = _sample(shapes, np.random.default_rng(1))
    names = wrt.split(",")
    fixed = {n: torch.tensor(a, dtype=torch.float64) for n, a in values.items()
             if n not in names}
    xs = tuple(torch.tensor(values[n], dtype=torch.float64) for n in names)
    expected = torch.autograd.functional.hessian(
        lambda *a: torch_fn(torch, {**fixed, **dict(zip(names, a))}), xs)
    got = H.evaluate({n: values[n] for n in values})
    for i, u in enumerate(names):
        for j, v in enumerate(names):
            want = expected[i][j].numpy()
            assert np.allclose(got[(u, v)], want, rtol=1e-10, atol=1e-12), (u, v)
    assert H.symmetry.verdict == "symmetric"


@needs_torch
def test_vector_output_against_pytorch():
    H = hessian("sin(A@x)", "x", shapes={"A": (2, 3), "x": (3,)})
    values = _sample({"A": (2, 3), "x": (3,)}, np.random.default_rng(2))
    A = torch.tensor(values["A"])
    want = torch.autograd.functional.jacobian(
        lambda x: torch.autograd.functional.jacobian(lambda y: torch.sin(A @ y), x,
                                                     create_graph=True),
        torch.tensor(values["x"]))
    assert np.allclose(H.evaluate(values)[("x", "x")], want.numpy(), rtol=1e-10, atol=1e-12)


# -- symmetry is checked, not assumed -----------------------------------------------------

def test_symmetry_is_stated_with_the_number_of_pairs():
    H = hessian("x.T@A@x", "x", shapes=X3)
    assert H.symmetric and H.symmetry.pairs == 3
    assert "Symmetric: H = H.T (3 pairs proved equal)" in H.to_text()


def test_an_asymmetric_table_is_reported():
    from jacobian_calc.derive.hessian import check_symmetry
    H = hessian("x.T@A@x", "x", shapes=X3, compact=False)
    block = H.block("x")
    entries = dict(block.entries)
    entries[(0, 1)] = entries[(0, 1)] + 1
    broken = {("x", "x"): dataclasses.replace(block, entries=entries)}
    s = check_symmetry(broken, H.variables, ())
    assert s.verdict == "not symmetric" and s.mismatch[:2] == ("∂²/∂x1∂x2", "∂²/∂x2∂x1")


# -- compact Hessians, each proved against its explicit Hessian ---------------------------

# (expression, wrt, shapes, options, kind, formulas, where)
COMPACT = [
    ("x.T@A@x", "x", X3, {}, "matrix", ["H = A + A.T"], []),
    ("norm(A@x - b)**2", "x", {"A": (3, 2), "x": (2,), "b": (3,)}, {}, "matrix",
     ["H = 2 * (A.T @ A)"], []),
    ("logsumexp(x)", "x", {"x": (3,)}, {}, "matrix", ["H = diag(p) - outer(p, p)"],
     ["p = softmax(x)"]),
    ("mean(log(1 + exp(-t * (X @ w))))", "w", LOGREG, {"signs": "t"}, "matrix",
     ["H = (X.T @ diag(s * (1 - s)) @ X) / 4"], ["s = sigmoid(-t * (X @ w))"]),
    ("mean(log(1 + exp(-t * (X @ w))))", "w", LOGREG, {}, "matrix",
     ["H = (X.T @ diag(t**2 * s * (1 - s)) @ X) / 4"], ["s = sigmoid(-t * (X @ w))"]),
    ("-mean(t*log(sigmoid(X@w)) + (1-t)*log(1-sigmoid(X@w)))", "w", LOGREG, {}, "matrix",
     ["H = (X.T @ diag(s * (1 - s)) @ X) / 4"], ["s = sigmoid(X @ w)"]),
    ("sum(exp(x))", "x", {"x": (3,)}, {}, "matrix", ["H = diag(exp(x))"], []),
    ("-mean(T*log(softmax(X@W + b)))", "W,b", LAYER, {"onehot": "T"}, "hvp",
     ["(Hv)_W = (X.T @ (P * (X @ v_W + v_b - sum(P * (X @ v_W + v_b), axis=1, "
      "keepdims=True)))) / 6",
      "(Hv)_b = sum(P * (X @ v_W + v_b - sum(P * (X @ v_W + v_b), axis=1, keepdims=True)), "
      "axis=0) / 6"], ["P = softmax(X @ W + b)"]),
    ("mean(sigmoid(X@W))", "W", {"X": (3, 2), "W": (2, 2)}, {}, "hvp",
     ["HV = (X.T @ ((X @ V) * S * (1 - S) * (1 - 2 * S))) / 6"], ["S = sigmoid(X @ W)"]),
    ("trace(X.T@A@X)", "X", {"X": (2, 2), "A": (2, 2)}, {}, "hvp", ["HV = (A + A.T) @ V"], []),
    ("logdet(X)", "X", {"X": (2, 2)}, {}, "hvp", ["HV = -(inv(X) @ (V @ inv(X))).T"], []),
]


@pytest.mark.parametrize("expr,wrt,shapes,options,kind,formulas,where", COMPACT,
                         ids=[f"{c[0]} {c[3]}" for c in COMPACT])
def test_compact_hessian_is_proved_against_the_explicit_one(expr, wrt, shapes, options, kind,
                                                            formulas, where):
    H = hessian(expr, wrt, shapes=shapes, **options)
    c = H.compact
    assert c.kind == kind, c.reason
    assert [f"{t.label} = {t.text}" for t in c.terms] == formulas
    assert [f"{n} = {text}" for n, _, text in c.where] == where
    assert c.check.verdict == "proved", c.check
    assert H.symmetric


def test_compact_entries_equal_the_explicit_ones_independently():
    """The verdict recomputed here without the library's checker."""
    H = hessian("x.T@A@x", "x", shapes=X3)
    tree = H.compact.terms[0].inline_tree
    compact = evaluate(tree, Env(X3))
    explicit = H.block("x").as_grid()
    assert all(sp.expand(a - b) == 0 for a, b in zip(compact.flat, explicit.flat))


def patch_rule(monkeypatch, name, vjp):
    monkeypatch.setitem(registry._OPS, name, dataclasses.replace(registry._OPS[name], vjp=vjp))


def test_a_wrong_rule_gives_a_compact_hessian_that_is_caught(monkeypatch):
    off = Num(Fraction(1001, 1000))
    patch_rule(monkeypatch, "sigmoid", lambda v: (v.g * v.out * (1 - v.out) * off,))
    H = hessian("-mean(t*log(sigmoid(X@w)) + (1-t)*log(1-sigmoid(X@w)))", "w", shapes=LOGREG)
    assert H.compact.check.verdict == "differs"
    assert H.compact.check.mismatch[0].startswith("H_")
    assert not H.compact.ok and H.symmetric  # the explicit route never reads the rules
    assert "DIFFERS at" in H.to_text()


def test_a_wrong_tangent_is_caught(monkeypatch):
    """The tangents come from the same backward rules: a rule off only in its second
    derivative (softmax's, used once for the gradient and again for the tangent) is caught."""
    from jacobian_calc.core.tree import fn
    patch_rule(monkeypatch, "softmax", lambda v: (
        v.out * (v.g - fn.sum(v.g * v.out, axis=-1, keepdims=True)) * Num(Fraction(999, 1000)),))
    H = hessian("logsumexp(x) + sum(softmax(x) * c)", "x", shapes={"x": (3,), "c": (3,)})
    assert H.compact.check.verdict == "differs"


def test_where_no_compact_form_is_found_it_says_so():
    H = hessian("f(x1) * x2", "x1,x2", functions=["f"])
    assert not H.compact.found
    assert "scalars" in H.compact.reason
    text = H.to_text()
    assert "Compact Hessian: none" in text and "The explicit Hessian above is the answer" in text
    H = hessian("f(sum(x))", "x", shapes={"x": (2,)}, functions=["f"])
    assert not H.compact.found and "no compact backprop rule for f()" in H.compact.reason
    assert "Compact Hessian: none" in H.to_text()


def test_no_matrix_form_falls_back_to_the_hessian_vector_product():
    H = hessian("sum(x * x) * sum(x)", "x", shapes={"x": (3,)})
    assert H.compact.kind in ("matrix", "hvp") and H.compact.check.verdict == "proved"
    H = hessian("sum(sin(x @ outer(x, x)))", "x", shapes={"x": (2,)})
    assert H.compact.found and H.compact.check.ok


def test_signs_must_be_used_arrays():
    with pytest.raises(JacobianError, match="does not use"):
        hessian("sum(x**2)", "x", shapes={"x": (2,)}, signs="t")


def test_oversized_hessian_is_refused_before_any_work():
    with pytest.raises(LimitError, match="the Hessian would have 1,000,000 entries"):
        hessian("sum(x**2)", "x", shapes={"x": (1000,)}, limits=Limits(max_entries=100_000))


# -- printing -----------------------------------------------------------------------------

def test_text_of_the_done_when_example():
    text = hessian("x.T@A@x", "x", shapes=X3).to_text()
    assert "∂²f/∂x∂x =" in text
    assert "x1 │       2*A_1_1  A_1_2 + A_2_1  A_1_3 + A_3_1" in text
    assert "H = A + A.T" in text and "proved" in text


def test_flatten_at_and_four_dimensional_blocks():
    H = hessian("trace(X.T@A@X)", "X", shapes={"X": (2, 2), "A": (2, 2)})
    assert "∂²f/∂X∂X[k=1, l=1] =" in H.to_text()
    flat = H.to_text(flatten=True)
    assert "X11 │" in flat and "[k=" not in flat
    values = H.evaluate({"X": [[1, 2], [3, 4]], "A": [[1, 0], [0, 2]]})
    assert values[("X", "X")].shape == (2, 2, 2, 2)
    assert values[("X", "X")][0, 0, 0, 0] == 2 and values[("X", "X")][1, 0, 1, 0] == 4


def test_json_document():
    doc = hessian("x.T@A@x", "x", shapes=X3).to_dict()
    assert doc["blocks"][0]["shape"] == [3, 3]
    assert doc["blocks"][0]["entries"][0][1] == "A_1_2 + A_2_1"
    assert doc["symmetry"]["verdict"] == "symmetric"
    assert doc["compact"]["terms"][0]["compact"] == "A + A.T"
    assert doc["compact"]["verdict"] == "proved"
    json.dumps(doc)


def test_latex():
    tex = to_latex(hessian("x.T@A@x", "x", shapes={"x": (2,), "A": (2, 2)}))
    assert tex.startswith(r"\begin{gathered} \frac{\partial^2 f}{\partial x \, \partial "
                          r"x^{\top}} = \begin{pmatrix} 2 A_{11} & A_{12} + A_{21}")
    assert tex.endswith(r"H = A + A^{\top} \end{gathered}")  # one display, pasteable
    tex = to_latex(hessian("logsumexp(x)", "x", shapes={"x": (2,)}), derivation=True)
    assert r"p = \operatorname{softmax}\left(x\right)" in tex and "symmetric" in tex


def test_result_type_and_repr():
    H = hessian("x.T@A@x", "x", shapes=X3)
    assert isinstance(H, HessianResult)
    assert repr(H) == "<HessianResult ∂²f/∂(x)² numerator symmetric, compact=matrix>"


# -- the command line -----------------------------------------------------------------------

def jac(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_done_when():
    result = jac("x.T@A@x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3", "--hessian")
    assert result.exit_code == 0, result.output
    assert "2*A_1_1" in result.output and "H = A + A.T" in result.output


def test_cli_blocks_flatten_at_json_latex_spy(tmp_path):
    args = ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=3x2", "--shape", "W=2x2",
            "--shape", "b=2", "--hessian"]
    out = jac(*args).output
    for title in ("∂²f/∂W∂W[k=1, l=1] =", "∂²f/∂W∂b[k=1] =", "∂²f/∂b∂W[b1] =",
                  "∂²f/∂b∂b ="):
        assert title in out
    assert re.search(r"\(Hv\)_W +=", out)
    assert "W11 │" in jac(*args, "--flatten").output
    doc = json.loads(jac(*args, "--format", "json", "--at",
                         "X=[[1,2],[3,4],[5,6]],W=[[0,1],[1,0]],b=[0,0]").output)
    assert [b["shape"] for b in doc["blocks"]] == [[2, 2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2]]
    assert isinstance(doc["blocks"][3]["values"][0][0], float)
    assert r"\frac{\partial^2 f}{\partial W \, \partial b^{\top}}" in \
        jac(*args, "--format", "latex").output
    target = tmp_path / "h.png"
    assert jac(*args, "--spy", str(target)).exit_code == 0 and target.stat().st_size > 0


def test_cli_denominator_and_signs():
    out = jac("sin(x1*x2), x1**3*x2", "--wrt", "x1,x2", "--hessian", "--layout",
              "denominator").output
    assert "denominator layout: the output's axes last" in out
    out = jac("mean(log(1 + exp(-t * (X @ w))))", "--wrt", "w", "--shape", "X=4x3", "--shape",
              "w=3", "--shape", "t=4", "--hessian", "--signs", "t").output
    assert re.search(r"H += \(X\.T @ diag\(s \* \(1 - s\)\) @ X\) / 4", out)
    assert "where s = sigmoid(-t * (X @ w))" in out


def test_cli_check_exits_1_when_the_compact_form_differs(monkeypatch):
    args = ["mean(sigmoid(X@w))", "--wrt", "w", "--shape", "X=3x2", "--shape", "w=2",
            "--hessian", "--check"]
    assert jac(*args).exit_code == 0
    patch_rule(monkeypatch, "sigmoid", lambda v: (v.g * v.out,))
    result = jac(*args)
    assert result.exit_code == 1 and "DISAGREE" in result.output


def test_cli_hessian_with_backprop_is_refused():
    result = jac("sum(x**2)", "--wrt", "x", "--shape", "x=2", "--hessian", "--backprop")
    assert result.exit_code == 2 and "choose one" in result.output


def test_float_eval_agrees_with_torch_on_a_compact_form():
    """The compact form evaluated in floats equals the explicit one at a point."""
    H = hessian("logsumexp(x)", "x", shapes={"x": (3,)})
    values = {s: np.float64(v) for s, v in zip(symbol_grid("x", (3,)).flat, [0.1, -0.4, 0.7])}
    explicit = float_eval(H.block("x").as_grid().flat, values)
    compact = float_eval(evaluate(H.compact.terms[0].inline_tree, Env({"x": (3,)})).flat, values)
    assert np.allclose(explicit, compact, rtol=1e-12)


@pytest.mark.slow
def test_hessian_documents_compile_with_pdflatex(tmp_path):
    """A Hessian as a standalone derivation: blocks, 4-D blocks, a compact form."""
    import shutil
    import subprocess
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("JAC_REQUIRE_PDFLATEX"):
            pytest.fail("pdflatex is required (JAC_REQUIRE_PDFLATEX is set) but not installed")
        pytest.skip("pdflatex not installed")
    path = tmp_path / "hessian.tex"
    result = jac("mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=3x2", "--shape",
                 "W=2x2", "--shape", "b=2", "--hessian", "--derivation", "--standalone",
                 "-o", str(path))
    assert result.exit_code == 0, result.output
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error",
                          "-no-shell-escape", path.name], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    assert path.with_suffix(".pdf").stat().st_size > 1000
