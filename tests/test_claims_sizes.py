"""Claims at symbolic sizes (X=Nxd): decided in index notation for all sizes, exact lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jacobian_calc import backprop, check_claims

LAYER = {"X": ("N", "d"), "W": ("d", "h"), "b": ("h",)}
SOFTMAX_CE = "-sum(T*log(softmax(X@W+b)))/N"


@pytest.fixture(scope="module")
def layer():
    return backprop("X@W + b", "W", shapes=LAYER)


@pytest.fixture(scope="module")
def softmax_ce():
    return backprop(SOFTMAX_CE, "W", shapes={**LAYER, "T": ("N", "h")}, onehot=["T"])


@pytest.mark.parametrize("claim, line", [
    ("dW = X.T @ dY", "proved   dW = X.T @ dY: equal to dW for all sizes"),
    ("dW = dY.T @ X",
     "refuted  dW = dY.T @ X: hxd, but dW is dxh; your formula is the transpose of dW"),
    ("dW = -X.T @ dY", "refuted  dW = -X.T @ dY: opposite sign: equals -dW"),
    ("dW = X.T @ dY / 4",
     "refuted  dW = X.T @ dY / 4: equals dW times 1/4: a factor 4 is missing"),
    ("dW = X.T", "refuted  dW = X.T: dxN, but dW is dxh"),
    ("dW = dY @ X.T", "refuted  dW = dY @ X.T: shape mismatch in '@': dY (Nxh) @ X.T (dxN) "
                      "(inner dimensions h and d differ)"),
    ("dW = X.T @ (dY*dY)",
     "refuted  dW = X.T @ (dY*dY): differs at dW[2,4] when N=2, d=3, h=4: yours is 0.688677, "
     "dW's is 0.861451 at a random point"),
])
def test_layer_claims_at_symbolic_sizes(layer, claim, line):
    assert check_claims(layer, claim)[0].line == line


@pytest.mark.parametrize("claim, line", [
    ("dZ = (P - T)/N", "proved   dZ = (P - T)/N: equal to dZ for all sizes"),
    ("dZ = P - T", "refuted  dZ = P - T: equals dZ times N: a 1/N is missing"),
    ("dZ = (T - P)/N", "refuted  dZ = (T - P)/N: opposite sign: equals -dZ"),
    ("dW = X.T @ (P - T) / N", "proved   dW = X.T @ (P - T) / N: equal to dW for all sizes"),
    ("dW = X.T @ (P - T)", "refuted  dW = X.T @ (P - T): equals dW times N: a 1/N is missing"),
])
def test_softmax_cross_entropy_claims_at_symbolic_sizes(softmax_ce, claim, line):
    assert check_claims(softmax_ce, claim)[0].line == line


def test_the_missing_factor_is_the_size():
    v = check_claims(backprop(SOFTMAX_CE, "W", shapes={**LAYER, "T": ("N", "h")},
                              onehot=["T"]), "dZ = P - T")[0]
    assert (v.verdict, v.kind, v.factor) == ("refuted", "factor", "N")


def test_no_index_form_is_decided_at_three_size_assignments():
    r = backprop("logdet(W) + sum(X@W)", "W", shapes={"X": ("N", "d"), "W": ("d", "d")})
    right, wrong = check_claims(r, ["dW = inv(W).T + X.T @ ones_like(X@W)",
                                    "dW = -inv(W).T - X.T @ ones_like(X@W)"])
    assert right.line == ("agrees   dW = inv(W).T + X.T @ ones_like(X@W): equal to dW at 3 size "
                          "assignments (N=2, d=3; N=3, d=4; N=4, d=2); no index form for inv, "
                          "so not proved for all sizes")
    assert wrong.line == ("refuted  dW = -inv(W).T - X.T @ ones_like(X@W): opposite sign: "
                          "equals -dW (when N=2, d=3)")


def run(*args):
    return subprocess.run([sys.executable, "-m", "jacobian_calc", *args], capture_output=True,
                          text=True)


CLI = ["X@W + b", "--wrt", "W", "--shape", "X=Nxd", "--shape", "W=dxh", "--shape", "b=h",
       "--backprop"]


def test_cli_correct_claim_at_symbolic_sizes_exits_0():
    p = run(*CLI, "--claim", "dW = X.T @ dY")
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("Claims\n  proved   dW = X.T @ dY: equal to dW for all sizes\n")


def test_cli_transposed_claim_at_symbolic_sizes_exits_1():
    p = run(*CLI, "--claim", "dW = dY.T @ X")
    assert p.returncode == 1, p.stderr
    assert "refuted  dW = dY.T @ X: hxd, but dW is dxh; your formula is the transpose of dW" \
        in p.stdout


def test_cli_claims_at_symbolic_sizes_as_json_follow_the_schema():
    import json

    import jsonschema

    from jacobian_calc.schema import schema
    p = run(*CLI, "--claim", "dW = X.T @ dY", "--claim", "dW = -X.T @ dY", "--format", "json")
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    jsonschema.validate(doc, schema())
    assert [(c["verdict"], c["kind"]) for c in doc["claims"]] == \
        [("proved", ""), ("refuted", "sign")]


def test_jacobian_claims_and_compact_at_symbolic_sizes_are_decided_for_all_sizes():
    """No longer refused: the compact form and claims about J are proved in index notation
    (more in test_compact_sizes.py)."""
    from jacobian_calc import jacobian
    shapes = {"X": ("N", "d"), "w": ("d",)}
    r = jacobian("X@w", wrt="w", shapes=shapes, compact=True)
    assert (r.compact.text, r.compact.check.verdict) == ("X", "proved")
    assert r.compact.check.how == "for all sizes, in index notation"
    right, transposed = check_claims(r, ["J = X", "J = X.T"])
    assert right.line == "proved   J = X: equal to J for all sizes"
    assert transposed.line == ("refuted  J = X.T: dxN, but J is Nxd; your formula is the "
                               "transpose of J")


def test_a_claim_without_relus_mask_is_refuted_at_symbolic_sizes():
    r = backprop("mean(relu(X@W))", "W", shapes={"X": ("N", "d"), "W": ("d", "h")})
    [right, wrong] = check_claims(r, ["dW = X.T @ (step(X@W)/(N*h))",
                                      "dW = X.T @ (ones_like(X@W)/(N*h))"])
    assert right.verdict == "proved"
    assert wrong.verdict == "refuted" and wrong.reason.startswith("differs at dW[")
