"""Check my answer: claims proved or refuted, each with its exact verdict text."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from jacobian_calc import JacobianError, backprop, check_claims, hessian, jacobian
from jacobian_calc.schema import schema

LAYER = dict(shapes={"X": (4, 3), "W": (3, 2), "b": 2})


@pytest.fixture(scope="module")
def layer():
    return backprop("X@W + b", "W,b", **LAYER)


@pytest.fixture(scope="module")
def logistic():
    return backprop("mean(sigmoid(X@w))", "w", shapes={"X": (4, 3), "w": 3})


@pytest.mark.parametrize("claim, line", [
    ("dW = X.T @ dY", "proved   dW = X.T @ dY: equal to dW, entry by entry"),
    ("dW = dY.T @ X",
     "refuted  dW = dY.T @ X: 2x3, but dW is 3x2; your formula is the transpose of dW"),
    ("dW = -X.T @ dY", "refuted  dW = -X.T @ dY: opposite sign: equals -dW"),
    ("dW = 2 * X.T @ dY", "refuted  dW = 2 * X.T @ dY: equals dW times 2: a 1/2 is missing"),
    ("dW = X.T @ dY / 4",
     "refuted  dW = X.T @ dY / 4: equals dW times 1/4: a factor 4 is missing"),
    ("dW = dY @ X.T", "refuted  dW = dY @ X.T: shape mismatch in '@': dY (4x2) @ X.T (3x4) "
                      "(inner dimensions 2 and 3 differ)"),
    ("db = sum(dY, axis=0)", "proved   db = sum(dY, axis=0): equal to db, entry by entry"),
    ("db = sum(dY, axis=1)", "refuted  db = sum(dY, axis=1): 4, but db is 2"),
    ("db = sum(dY)", "refuted  db = sum(dY): a scalar, but db is 2"),
    ("Y = X @ W + b", "proved   Y = X @ W + b: equal to Y, entry by entry"),
])
def test_backprop_claims_have_exact_verdicts(layer, claim, line):
    (verdict,) = check_claims(layer, [claim])
    assert verdict.line == line


def test_a_wrong_formula_names_the_first_differing_entry_with_both_values(layer):
    (v,) = check_claims(layer, ["dW = X.T @ dY + W"])
    assert v.kind == "entry" and v.entry[0] == "dW[1,1]"
    yours, correct = v.entry[1], v.entry[2]
    assert v.reason == (f"differs at dW[1,1]: yours is {yours:.6g}, dW's is {correct:.6g} "
                        "at a random point")
    assert abs(yours - correct) > 1e-3


def test_missing_one_over_n_in_a_mean_and_named_steps(logistic):
    lines = [v.line for v in check_claims(logistic, [
        "dw = X.T @ (y * (1 - y)) / 4", "dw = X.T @ (y * (1 - y))", "dz = dy * y * (1 - y)",
        "dw = X.T @ dz"])]
    assert lines == [
        "proved   dw = X.T @ (y * (1 - y)) / 4: equal to dw, entry by entry",
        "refuted  dw = X.T @ (y * (1 - y)): equals dw times 4: a 1/4 is missing",
        "proved   dz = dy * y * (1 - y): equal to dz, entry by entry",
        "proved   dw = X.T @ dz: equal to dw, entry by entry"]


def test_jacobian_claims_use_the_outputs_name():
    J = jacobian("softmax(l)", "l", shapes={"l": 3})
    lines = [v.line for v in J.check_claims(["J = diag(p) - outer(p, p)",
                                             "J = outer(p, p) - diag(p)"])]
    assert lines == ["proved   J = diag(p) - outer(p, p): equal to J, entry by entry",
                     "refuted  J = outer(p, p) - diag(p): opposite sign: equals -J"]


def test_jacobian_claims_follow_the_layout():
    J = jacobian("x.T@W + b", "x", shapes={"x": 3, "W": (3, 2), "b": 2}, layout="denominator")
    assert [v.verdict for v in J.check_claims(["J = W", "J = W.T"])] == ["proved", "refuted"]
    assert J.check_claims(["J = W.T"])[0].kind == "transpose"


def test_square_transposed_jacobian_is_named():
    J = jacobian("A@x", "x", shapes={"A": (3, 3), "x": 3})
    assert J.check_claims(["J = A.T"])[0].line == \
        "refuted  J = A.T: equals the transpose of J"


def test_hessian_claims():
    H = hessian("x.T@A@x", "x", shapes={"x": 3, "A": (3, 3)})
    assert [v.verdict for v in H.check_claims(["H = A + A.T", "H = A"])] == \
        ["proved", "refuted"]


@pytest.mark.parametrize("claim, message", [
    ("dW = X.T @ dQ", "unknown name 'dQ' in the claim 'dW = X.T @ dQ'"),
    ("dW = __import__('os')", "strings are not allowed"),
    ("dW = __import__(X)", "invalid function name '__import__'"),
    ("dW = exec(X)", "unknown function 'exec'"),
    ("dW = X.T @ ", "invalid syntax"),
    ("Q = X", "the claim 'Q = X' is about 'Q', which names nothing computed here"),
    ("dW + 1 = X", "the left side of the claim 'dW + 1 = X' must name what it is about"),
    ("X.T @ dY", "a claim is NAME = FORMULA"),
])
def test_bad_claims_are_errors_never_verdicts(layer, claim, message):
    with pytest.raises(JacobianError) as info:
        check_claims(layer, [claim])
    assert message in str(info.value)


def run(*args):
    return subprocess.run([sys.executable, "-m", "jacobian_calc", *args], capture_output=True,
                          text=True)


LAYER_ARGS = ("X@W + b", "--wrt", "W", "--shape", "X=4x3", "--shape", "W=3x2", "--shape",
              "b=2", "--backprop")


def test_cli_transposed_claim_exits_1_naming_the_transpose():
    out = run(*LAYER_ARGS, "--claim", "dW = dY.T @ X")
    assert out.returncode == 1
    assert out.stdout.endswith(
        "Claims\n  refuted  dW = dY.T @ X: 2x3, but dW is 3x2; your formula is the transpose "
        "of dW\n")


def test_cli_correct_claim_exits_0():
    out = run(*LAYER_ARGS, "--claim", "dW = X.T @ dY")
    assert out.returncode == 0
    assert out.stdout.endswith("Claims\n  proved   dW = X.T @ dY: equal to dW, entry by entry\n")


def test_cli_bad_claim_is_one_error_line_exit_2():
    out = run(*LAYER_ARGS, "--claim", "dW = __import__('os').system('true')")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("Error: ") and "Traceback" not in out.stderr


def test_cli_claims_as_json_follow_the_schema():
    out = run(*LAYER_ARGS, "--claim", "dW = X.T @ dY", "--claim", "dW = 4 * X.T @ dY",
              "--format", "json")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, schema())
    assert [(c["verdict"], c["kind"], c.get("factor")) for c in doc["claims"]] == \
        [("proved", "", None), ("refuted", "factor", "4")]


def test_cli_jacobian_claim_with_compact():
    out = run("softmax(l)", "--wrt", "l", "--shape", "l=3", "--compact", "--claim",
              "J = diag(p) - outer(p, p)", "--format", "json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, schema())
    assert doc["jacobians"][0]["compact"]["compact"] == "diag(p) - outer(p, p)"
    assert doc["claims"][0]["verdict"] == "proved"


def test_cli_claims_print_as_text_or_json_only():
    out = run(*LAYER_ARGS, "--claim", "dW = X.T @ dY", "--format", "latex")
    assert out.returncode == 2 and "--claim prints verdicts as text or JSON" in out.stderr


def test_matrix_jacobian_claims_in_vec_form():
    J = jacobian("X@W", "W", shapes={"X": (4, 3), "W": (3, 2)})
    lines = [v.line for v in J.check_claims(["J_vec = kron(eye(2), X)", "J = X"])]
    assert lines == ["proved   J_vec = kron(eye(2), X): equal to J_vec, entry by entry",
                     "refuted  J = X: 4x3, but J is 4x2x3x2"]


def test_a_claim_may_not_use_its_own_answer(layer):
    with pytest.raises(JacobianError, match="unknown name 'dW'"):
        check_claims(layer, ["dW = dW"])
