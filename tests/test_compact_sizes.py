"""Compact Jacobians and claims about a Jacobian at symbolic sizes (``X=Nxd``): derived once,
proved for all sizes in index notation, and checked in the test itself at concrete sizes
against the explicit Jacobian (reverse sweeps over the entries, no code of the compact
route involved)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import sympy as sp

from jacobian_calc import check_claims, jacobian
from jacobian_calc.core.grid import ndindex
from jacobian_calc.core.tree import Call, Name, Num
from jacobian_calc.derive import compact_sizes
from jacobian_calc.derive.instantiate import node_at, shapes_at
from jacobian_calc.index import algebra as I
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.evaluate import Env, evaluate
from jacobian_calc.symbolic.symbols import symbol_grid

LAYER = {"X": ("N", "d"), "W": ("d", "h"), "b": ("h",)}
#: Sizes all distinct, so that a transpose cannot pass.
AT = [{"N": 2, "d": 3, "h": 4, "K": 3, "m": 2, "n": 3},
      {"N": 4, "d": 2, "h": 3, "K": 4, "m": 3, "n": 2}]

#: (expression, wrt, shapes, layout, formula, where): vector and scalar inputs and outputs
MATRICES = [
    ("softmax(l)", "l", {"l": ("K",)}, "numerator", "diag(p) - outer(p, p)",
     {"p": "softmax(l)"}),
    ("x.T@W + b", "x", {"x": ("d",), "W": ("d", "h"), "b": ("h",)}, "numerator", "W.T", {}),
    ("x.T@W + b", "x", {"x": ("d",), "W": ("d", "h"), "b": ("h",)}, "denominator", "W", {}),
    ("A@x", "x", {"A": ("m", "n"), "x": ("n",)}, "numerator", "A", {}),
    ("sin(A@x)", "x", {"A": ("m", "n"), "x": ("n",)}, "numerator", "diag(cos(A @ x)) @ A", {}),
    ("sin(A@x)", "x", {"A": ("m", "n"), "x": ("n",)}, "denominator",
     "A.T @ diag(cos(A @ x))", {}),
    ("sum(x**2)", "x", {"x": ("n",)}, "numerator", "2 * x", {}),
    ("sigmoid(z)", "z", {"z": ("n",)}, "numerator", "diag(sigmoid(z) * (1 - sigmoid(z)))", {}),
]

#: (expression, wrt, shapes, linear map, vec form or None)
MAPS = [
    ("X@W", "W", {"X": ("N", "d"), "W": ("d", "h")}, "X @ dW", "kron(eye(n=h), X)"),
    ("X@W + b", "W", LAYER, "X @ dW", "kron(eye(n=h), X)"),
    ("X@W", "X", {"X": ("N", "d"), "W": ("d", "h")}, "dX @ W", "kron(W.T, eye(n=N))"),
    ("sigmoid(X@W + b)", "W", LAYER,
     "(X @ dW) * sigmoid(X @ W + b) * (1 - sigmoid(X @ W + b))", None),
    ("X.T", "X", {"X": ("N", "d")}, "dX.T", None),
]


def _equal(a, b) -> bool:
    return sp.simplify(sp.sympify(a) - sp.sympify(b)) == 0


def _concrete(expr, wrt, shapes, sizes, layout="numerator"):
    at = shapes_at(shapes, sizes)
    return at, jacobian(expr, wrt, shapes=at, layout=layout)


@pytest.mark.parametrize("expr, wrt, shapes, layout, formula, where", MATRICES,
                         ids=[f"{r[0]} d{r[1]} {r[3]}" for r in MATRICES])
def test_golden_compact_matrix_is_proved_for_all_sizes(expr, wrt, shapes, layout, formula,
                                                       where):
    J = jacobian(expr, wrt, shapes=shapes, layout=layout, compact=True)
    c = J.compact
    assert (c.kind, c.text) == ("matrix", formula)
    assert {n: t for n, _, t in c.where} == where
    assert (c.check.verdict, c.check.how) == ("proved", "for all sizes, in index notation")
    assert c.against == "the Jacobian's index form"
    # the test's own check: the formula at concrete sizes against the explicit entries
    for sizes in AT:
        at, explicit = _concrete(expr, wrt, shapes, sizes, layout)
        value = evaluate(node_at(c.inline_tree, sizes), Env(at))
        if value.shape != explicit.shape:
            value = value.reshape(explicit.shape)
        assert all(_equal(x, value[i]) for i, x in explicit.as_grid().items())


@pytest.mark.parametrize("expr, wrt, shapes, linear_map, vec", MAPS,
                         ids=[f"{r[0]} d{r[1]}" for r in MAPS])
def test_golden_linear_map_is_proved_for_all_sizes(expr, wrt, shapes, linear_map, vec):
    c = jacobian(expr, wrt, shapes=shapes, compact=True).compact
    assert (c.kind, c.text, c.vec_text or None) == ("linear map", linear_map, vec)
    assert c.check.verdict == "proved"
    assert c.check.how.startswith("for all sizes, in index notation")
    if vec:
        assert c.check.how.endswith("; the vec form checked at (N, d, h) = (2, 3, 4), "
                                    "(3, 4, 2), (4, 2, 3) (kron has no index form)")
    else:
        assert c.reason.startswith("no vec form was read off the map")
    d = "d" + wrt
    for sizes in AT:
        at, J = _concrete(expr, wrt, shapes, sizes)
        image = evaluate(parse_expression(linear_map), Env({**at, d: at[wrt]}))
        image = image.broadcast_to(J.out_shape)
        dirs = symbol_grid(d, at[wrt])
        for a in ndindex(J.out_shape):
            for b in ndindex(J.in_shape):
                assert _equal(sp.diff(image[a], dirs[b]), J[a + b])
        if vec:  # column-major flattening of the explicit Jacobian, written out here
            K = evaluate(node_at(parse_expression(vec), sizes), Env(at))
            assert K.shape == (math.prod(J.out_shape), math.prod(J.in_shape))
            for a in ndindex(J.out_shape):
                for b in ndindex(J.in_shape):
                    r = sum(i * math.prod(J.out_shape[:k]) for k, i in enumerate(a))
                    col = sum(i * math.prod(J.in_shape[:k]) for k, i in enumerate(b))
                    assert _equal(K[r, col], J[a + b])


def test_the_vec_form_states_its_symbolic_shape():
    c = jacobian("X@W", "W", shapes={"X": ("N", "d"), "W": ("d", "h")}, compact=True).compact
    assert c.vec_shape == ("(N*h)", "(d*h)") and c.shape == ("N", "h")


# -- the checker catches wrong forms ----------------------------------------------------------

def _wrong_tangent(change):
    real = compact_sizes._tangent

    def tangent(*args):
        return change(real(*args))
    return tangent


@pytest.mark.parametrize("change, what", [
    (lambda t: Call("mul", (Num(2), t)), "missing factor"),
    (lambda t: Call("neg", (t,)), "sign"),
    (lambda t: Call("matmul", (Name("X"), Call("transpose", (Name("dW"),)))), "transpose"),
])
def test_a_wrong_map_is_caught_at_symbolic_sizes(monkeypatch, change, what):
    monkeypatch.setattr(compact_sizes, "_tangent", _wrong_tangent(change))
    c = jacobian("X@W", "W", shapes={"X": ("N", "d"), "W": ("d", "d")}, compact=True).compact
    assert c.check.verdict == "differs", what
    assert c.vec_text == ""  # nothing more is read off a map that differs
    label, explicit, compact = c.check.mismatch
    assert label.startswith("J[") and " when N=" in label
    assert not math.isclose(float(explicit), float(compact))
    assert not c.ok


def test_a_transposed_matrix_is_caught_at_symbolic_sizes(monkeypatch):
    from jacobian_calc.derive import compact_jacobian  # where the matrix is read off
    real = compact_jacobian.matrix_of
    monkeypatch.setattr(compact_jacobian, "matrix_of",
                        lambda *a: Call("transpose", (real(*a),)))
    c = jacobian("sin(A@x)", "x", shapes={"A": ("n", "n"), "x": ("n",)}, compact=True).compact
    assert c.text == "A.T @ diag(cos(A @ x))"
    assert c.check.verdict == "differs" and c.check.mismatch[0].startswith("J[")


def test_undecided_is_said_plainly(monkeypatch):
    monkeypatch.setattr(compact_sizes.I, "decide",
                        lambda a, b, ctx: I.Decision(I.UNDECIDED, {}, "agrees at 3 sizes"))
    J = jacobian("softmax(l)", "l", shapes={"l": ("K",)}, compact=True)
    assert J.compact.check.verdict == "undecided"
    from jacobian_calc.render import compact_jacobian_text
    assert compact_jacobian_text(J.compact).endswith(
        "Not verified against the Jacobian's index form: undecided (in index notation: "
        "agrees at 3 sizes)")


def test_no_index_form_in_the_formula_is_refused_not_shown(monkeypatch):
    monkeypatch.setattr(compact_sizes, "without_index_form",
                        lambda tree: ["det"] if tree is not None else [])
    c = jacobian("softmax(l)", "l", shapes={"l": ("K",)}, compact=True).compact
    assert not c.found and "det has no index form" in str(c.reason)


# -- claims about a Jacobian at symbolic sizes ------------------------------------------------

@pytest.mark.parametrize("claim, line", [
    ("J = diag(p) - outer(p, p)", "proved   J = diag(p) - outer(p, p): equal to J for all sizes"),
    ("J = outer(p, p) - diag(p)", "refuted  J = outer(p, p) - diag(p): opposite sign: equals -J"),
    ("J = 2*(diag(p) - outer(p, p))",
     "refuted  J = 2*(diag(p) - outer(p, p)): equals J times 2: a 1/2 is missing"),
    ("J = (diag(p) - outer(p, p))/K",
     "refuted  J = (diag(p) - outer(p, p))/K: equals J times 1/K: a factor K is missing"),
    ("J = diag(p)", "refuted  J = diag(p): differs at J[2,2] when K=2: yours is 0.656444, J's "
                    "is 0.225525 at a random point"),
    ("J = p", "refuted  J = p: K, but J is KxK"),
])
def test_softmax_jacobian_claims_at_symbolic_sizes(claim, line):
    J = jacobian("softmax(l)", "l", shapes={"l": ("K",)})
    assert check_claims(J, claim)[0].line == line


@pytest.mark.parametrize("layout, right, transposed", [
    ("numerator", "J = A", "J = A.T"), ("denominator", "J = A.T", "J = A")])
def test_transposed_jacobian_claims_are_named(layout, right, transposed):
    J = jacobian("A@x", "x", shapes={"A": ("m", "n"), "x": ("n",)}, layout=layout)
    good, bad = check_claims(J, [right, transposed])
    assert good.line == f"proved   {right}: equal to J for all sizes"
    want = "nxm" if layout == "numerator" else "mxn"
    assert bad.line == (f"refuted  {transposed}: {want}, but J is {want[::-1]}; your formula is "
                        "the transpose of J")


def test_a_square_transposed_jacobian_claim_is_named():
    J = jacobian("x.T@A", "x", shapes={"A": ("n", "n"), "x": ("n",)})
    bad, good = check_claims(J, ["J = A", "J = A.T"])
    assert (bad.verdict, bad.kind, good.verdict) == ("refuted", "transpose", "proved")


def test_vec_form_claims_are_decided_at_three_size_assignments():
    J = jacobian("X@W", "W", shapes={"X": ("N", "d"), "W": ("d", "h")})
    right, swapped, doubled = check_claims(J, ["J_vec = kron(eye(h), X)",
                                               "J_vec = kron(X, eye(h))",
                                               "J_vec = kron(eye(h), 2*X)"])
    assert right.line == ("agrees   J_vec = kron(eye(h), X): equal to J_vec at 3 size "
                          "assignments (N=2, d=3, h=4; N=3, d=4, h=2; N=4, d=2, h=3); no index "
                          "form for kron, vec, so not proved for all sizes")
    assert (swapped.verdict, swapped.kind) == ("refuted", "entry")
    assert swapped.reason.endswith("(when N=2, d=3, h=4)")
    assert doubled.line == ("refuted  J_vec = kron(eye(h), 2*X): equals J_vec times 2: a 1/2 "
                            "is missing (when N=2, d=3, h=4)")


def test_an_undecided_jacobian_claim_is_said_plainly(monkeypatch):
    from jacobian_calc.derive import claims_sizes
    monkeypatch.setattr(claims_sizes.I, "decide",
                        lambda a, b, ctx: I.Decision(I.UNDECIDED, {}, "agrees at 3 sizes"))
    J = jacobian("softmax(l)", "l", shapes={"l": ("K",)})
    v = check_claims(J, "J = diag(p) - outer(p, p)")[0]
    assert v.line == ("undecided J = diag(p) - outer(p, p): not proved for all sizes, and no "
                      "size found where it differs from J (agrees at 3 sizes)")


# -- the command line -------------------------------------------------------------------------

def run(*args):
    return subprocess.run([sys.executable, "-m", "jacobian_calc", *args], capture_output=True,
                          text=True)


def test_cli_compact_at_symbolic_sizes():
    p = run("X@W", "--wrt", "W", "--shape", "X=Nxd", "--shape", "W=dxh", "--compact")
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(
        "Compact Jacobian, as a linear map of dW\n  dY = X @ dW   Nxh\n"
        "In vec form, vec(dY) = J_vec @ vec(dW) (vec stacks columns, column-major, as "
        "Magnus-Neudecker and matrixcalculus.org):\n"
        "  J_vec = kron(eye(n=h), X)   (N*h)x(d*h)\n"
        "Verified against the Jacobian's index form: proved (for all sizes, in index notation; "
        "the vec form checked at (N, d, h) = (2, 3, 4), (3, 4, 2), (4, 2, 3) (kron has no "
        "index form))\n")


def test_cli_jacobian_claims_at_symbolic_sizes_as_json():
    import jsonschema

    from jacobian_calc.schema import schema
    p = run("softmax(l)", "--wrt", "l", "--shape", "l=K", "--compact", "--format", "json",
            "--claim", "J = diag(p) - outer(p, p)", "--claim", "J = outer(p, p) - diag(p)")
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    jsonschema.validate(doc, schema())
    assert doc["jacobians"][0]["compact"]["against"] == "the Jacobian's index form"
    assert [(c["verdict"], c["kind"]) for c in doc["claims"]] == \
        [("proved", ""), ("refuted", "sign")]


def test_flattening_at_symbolic_sizes_is_a_clear_error_not_a_crash():
    p = run("kron(A,B)", "--wrt", "A", "--shape", "A=mxn", "--shape", "B=pxq")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == ("Error: kron() needs numbers for the sizes: its shape is a product of "
                        "sizes (N*h), which a symbolic shape cannot hold\n")


def test_a_claim_with_kron_about_j_is_decided_at_sizes():
    J = jacobian("X@W", "W", shapes={"X": ("N", "d"), "W": ("d", "h")})
    v = check_claims(J, "J = kron(eye(h), X)")[0]
    assert v.line == ("refuted  J = kron(eye(h), X): 8x12, but J is 2x4x3x4 (when N=2, d=3, "
                      "h=4)")
