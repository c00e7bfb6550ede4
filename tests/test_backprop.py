"""Backprop as a lecture writes it: golden compact forms, every step checked against
its explicit contraction, a wrong rule caught and named, agreement with PyTorch."""

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import BackpropResult, JacobianError, backprop
from jacobian_calc.cli.main import main
from jacobian_calc.core.grid import ndindex
from jacobian_calc.core.tree import Num, fn
from jacobian_calc.ops import registry
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.float_tree import float_evaluate
from jacobian_calc.symbolic.symbols import entry_symbol, symbol_grid

MNIST = {"X": (4, 3), "W": (3, 2), "b": (2,)}
MLP = {"X": (4, 3), "W1": (3, 5), "b1": (5,), "W2": (5, 3), "b2": (3,), "T": (4, 3)}
MLP_EXPR = "-mean(T*log(softmax(tanh(X@W1 + b1)@W2 + b2)))"
M23 = {"X": (2, 3)}
SQ = {"X": (2, 2)}
MN = {"M": (2, 2), "N": (2, 2)}
CE = {"Z": (4, 3), "T": (4, 3)}
MLP_STEPS = ["dW2 = Y1.T @ dZ2", "db2 = sum(dZ2, axis=0)", "dY1 = dZ2 @ W2.T",
             "dZ1 = dY1 * (1 - Y1**2)", "dW1 = X.T @ dZ1", "db1 = sum(dZ1, axis=0)"]

# (name, expression, wrt, shapes, options, backward steps, fully substituted gradients)
GOLDEN = [
    ("affine layer", "X@W + b", "W,b,X", MNIST, {"upstream": "dZ"},
     ["dW = X.T @ dZ", "db = sum(dZ, axis=0)", "dX = dZ @ W.T"], None),
    ("sigmoid", "sigmoid(X)", "X", M23, {}, ["dX = dY * Y * (1 - Y)"],
     {"X": "dY * sigmoid(X) * (1 - sigmoid(X))"}),
    ("tanh", "tanh(X)", "X", M23, {}, ["dX = dY * (1 - Y**2)"], None),
    ("relu", "relu(X)", "X", M23, {}, ["dX = dY * step(X)"], None),
    ("exp", "exp(X)", "X", M23, {}, ["dX = dY * Y"], {"X": "dY * exp(X)"}),
    ("log", "log(X)", "X", M23, {}, ["dX = dY / X"], None),
    ("softmax rows", "softmax(Z)", "Z", {"Z": (2, 3)}, {"upstream": "dP"},
     ["dZ = P * (dP - sum(dP * P, axis=1, keepdims=True))"], None),
    ("softmax of a vector", "softmax(l)", "l", {"l": (4,)}, {"upstream": "dp"},
     ["dl = p * (dp - sum(dp * p))"], None),
    ("softmax axis 0", "softmax(Z, axis=0)", "Z", {"Z": (2, 3)}, {"upstream": "dP"},
     ["dZ = P * (dP - sum(dP * P, axis=0, keepdims=True))"], None),
    ("cross-entropy", "-mean(T*log(softmax(Z)))", "Z", CE, {},
     ["dZ = (P * sum(T, axis=1, keepdims=True) - T) / 12"], None),
    ("cross-entropy, one-hot", "-mean(T*log(softmax(Z)))", "Z", CE, {"onehot": "T"},
     ["dZ = (P - T) / 12"], {"Z": "(softmax(Z) - T) / 12"}),
    ("cross-entropy over the batch", "-sum(T*log(softmax(Z)))/4", "Z", CE, {"onehot": "T"},
     ["dZ = (P - T) / 4"], None),
    ("binary cross-entropy", "-mean(T*log(sigmoid(X@w)) + (1-T)*log(1-sigmoid(X@w)))", "w",
     {"X": (4, 3), "w": (3,), "T": (4,)}, {}, ["dz = (y - T) / 4", "dw = X.T @ dz"],
     {"w": "(X.T @ (sigmoid(X @ w) - T)) / 4"}),
    ("MSE", "mean((Y - T)**2)", "Y", {"Y": (3,), "T": (3,)}, {}, ["dY = 2/3 * (Y - T)"], None),
    ("L2 regularisation", "lam*sum(W**2)", "W", {"W": (3, 2)}, {}, ["dW = 2 * lam * W"], None),
    ("regression with L2", "mean((X@W - T)**2) + lam*sum(W**2)", "W",
     {"X": (4, 3), "W": (3, 2), "T": (4, 2)}, {},
     ["dW = 2 * lam * W", "dZ = (Z - T) / 4", "dW += X.T @ dZ"],
     {"W": "2 * lam * W + (X.T @ (X @ W - T)) / 4"}),
    ("quadratic form", "x.T@A@x", "x", {"x": (3,), "A": (3, 3)}, {},
     ["dx = (A + A.T) @ x"], None),
    ("aT X b", "a.T@X@b", "X", {"a": (2,), "X": (2, 3), "b": (3,)}, {},
     ["dX = outer(a, b)"], None),
    ("trace(A X)", "trace(A@X)", "X", {"A": (2, 2), "X": (2, 2)}, {}, ["dX = A.T"], None),
    ("trace(X.T A X)", "trace(X.T@A@X)", "X", {"A": (2, 2), "X": (2, 2)}, {},
     ["dX = (A + A.T) @ X"], None),
    ("trace(X)", "trace(X)", "X", SQ, {}, ["dX = eye_like(X)"], None),
    ("sum", "sum(X)", "X", M23, {}, ["dX = ones_like(X)"], None),
    ("mean", "mean(X)", "X", M23, {}, ["dX = ones_like(X) / 6"], None),
    ("sum of columns", "sum(X, axis=0)", "X", M23, {}, ["dX = dy * ones_like(X)"], None),
    ("sum of rows", "sum(X, axis=1)", "X", M23, {},
     ["dX = expand_dims(dy, axis=1) * ones_like(X)"], None),
    ("mean of columns", "mean(X, axis=0)", "X", M23, {}, ["dX = (dy * ones_like(X)) / 2"],
     None),
    ("det", "det(X)", "X", SQ, {}, ["dX = L * inv(X).T"], {"X": "det(X) * inv(X).T"}),
    ("logdet", "logdet(X)", "X", SQ, {}, ["dX = inv(X).T"], None),
    ("inv", "inv(X)", "X", SQ, {}, ["dX = -(Y.T @ dY @ Y.T)"],
     {"X": "-(inv(X).T @ dY @ inv(X).T)"}),
    ("least squares", "norm(A@x - b)**2", "x", {"A": (3, 2), "x": (2,), "b": (3,)}, {},
     ["dz = 2 * (z - b)", "dx = A.T @ dz"], {"x": "2 * (A.T @ (A @ x - b))"}),
    ("norm", "norm(x)", "x", {"x": (3,)}, {}, ["dx = x / L"], {"x": "x / norm(x)"}),
    ("logsumexp", "logsumexp(x)", "x", {"x": (3,)}, {}, ["dx = exp(x - L)"], None),
    ("log_softmax", "log_softmax(Z)", "Z", {"Z": (2, 3)}, {},
     ["dZ = dY - exp(Y) * sum(dY, axis=1, keepdims=True)"], None),
    ("diag of a vector", "diag(x)", "x", {"x": (3,)}, {}, ["dx = diag(dY)"], None),
    ("diag of a matrix", "diag(X)", "X", {"X": (3, 3)}, {}, ["dX = diag(dy)"], None),
    ("outer", "outer(a, b)", "a,b", {"a": (2,), "b": (3,)}, {},
     ["da = dY @ b", "db = dY.T @ a"], None),
    ("M + N", "M + N", "M,N", MN, {}, ["dM = dY", "dN = dY"], None),
    ("M - N", "M - N", "M,N", MN, {}, ["dM = dY", "dN = -dY"], None),
    ("M * N", "M * N", "M,N", MN, {}, ["dM = dY * N", "dN = dY * M"], None),
    ("sigmoid layer, mean", "mean(sigmoid(X@W + b))", "W,b", MNIST, {},
     ["dY = ones_like(Y) / 8", "dZ = dY * Y * (1 - Y)", "dW = X.T @ dZ",
      "db = sum(dZ, axis=0)"], None),
    ("2-layer MLP", MLP_EXPR, "W1,b1,W2,b2", MLP, {},
     ["dZ2 = (P * sum(T, axis=1, keepdims=True) - T) / 12"] + MLP_STEPS, None),
    ("2-layer MLP, one-hot", MLP_EXPR, "W1,b1,W2,b2", MLP, {"onehot": "T"},
     ["dZ2 = (P - T) / 12"] + MLP_STEPS,
     {"W2": "(tanh(X @ W1 + b1).T @ (softmax(tanh(X @ W1 + b1) @ W2 + b2) - T)) / 12",
      "b2": "sum(softmax(tanh(X @ W1 + b1) @ W2 + b2) - T, axis=0) / 12"}),
    ("autograd by hand", "(a*w1 + b1)**2", "w1", {}, {}, ["dw1 = 2 * (a * w1 + b1) * a"],
     None),
]


# The old per-operation table, ported: (expression, wrt, shapes, expected gradients or None)
RULE_CASES = [
    ("X@W", "X,W", {"X": (3, 2), "W": (2, 4)}, {"W": "X.T @ dY", "X": "dY @ W.T"}),
    ("A@x", "A,x", {"A": (2, 3), "x": (3,)}, {"A": "outer(dy, x)", "x": "A.T @ dy"}),
    ("x@B", "x,B", {"x": (2,), "B": (2, 3)}, {"x": "B @ dy", "B": "outer(x, dy)"}),
    ("x@y", "x,y", {"x": (3,), "y": (3,)}, {"x": "y", "y": "x"}),
    ("hadamard(M, N)", "M", MN, {"M": "dY * N"}),
    ("M / N", "M,N", MN, {"M": "dY / N", "N": "(-dY * M) / N**2"}),
    ("c * M", "c,M", {"M": (2, 3)}, {"c": "sum(dY * M)", "M": "dY * c"}),
    ("M**3", "M", MN, {"M": "3 * dY * M**2"}),
    ("M.T", "M", {"M": (2, 3)}, {"M": "dY.T"}),
    ("X@W + b", "b", MNIST, {"b": "sum(dY, axis=0)"}),
    ("X@W + b", "b", {"X": (2, 3), "W": (3, 2), "b": (1, 2)},
     {"b": "sum(dY, axis=0, keepdims=True)"}),
    ("sin(X) + cos(X) * tan(X)", "X", SQ, None),
    ("sqrt(X) + atan(X) + softplus(X) + abs(X)", "X", SQ, None),
    ("sinh(X) * cosh(X) + sec(X) + csc(X) + cot(X)", "X", SQ, None),
    ("asin(X/2) + acos(X/2) + asinh(X) + atanh(X/2)", "X", SQ, None),
    ("X**Y", "X,Y", {"X": (2, 2), "Y": (2, 2)}, {"X": "dF * Y * X**(Y - 1)"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,expected", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_every_rule_agrees_with_its_explicit_contraction(expr, wrt, shapes, expected):
    r = backprop(expr, wrt, shapes=shapes)
    assert r.agree and r.proved, r.summary()
    for var, text in (expected or {}).items():
        assert r.gradients[var].text == text


def steps_text(r: BackpropResult) -> list[str]:
    return [f"{b.name} {'+=' if b.accumulate else '='} {b.text}" for b in r.backward]


@pytest.mark.parametrize("name,expr,wrt,shapes,options,steps,inline", GOLDEN,
                         ids=[g[0] for g in GOLDEN])
def test_golden(name, expr, wrt, shapes, options, steps, inline):
    r = backprop(expr, wrt, shapes=shapes, **options)
    assert steps_text(r) == steps
    assert r.agree and r.proved, r.summary()
    for var, text in (inline or {}).items():
        assert r.gradients[var].inline_text == text
    assert r.end_to_end.points >= 1


def test_golden_table_is_large_enough():
    assert len(GOLDEN) >= 25


def test_mlp_forward_steps_and_summary():
    r = backprop(MLP_EXPR, "W1,b1,W2,b2", shapes=MLP)
    assert [f"{s.name} = {s.text}" for s in r.steps] == [
        "Z1 = X @ W1 + b1", "Y1 = tanh(Z1)", "Z2 = Y1 @ W2 + b2", "P = softmax(Z2)",
        "L = -mean(T * log(P))"]
    assert [g.text for g in r.gradients.values()] == [
        "X.T @ dZ1", "sum(dZ1, axis=0)", "Y1.T @ dZ2", "sum(dZ2, axis=0)"]
    assert r.summary().startswith("7 steps proved symbolically; end to end agrees at 3 points")
    fused = r.backward[0]
    assert fused.through == ("L", "P") and fused.fused == (("dP", "-T / (12 * P)"),)


def test_mlp_does_bounded_work(work):
    """About 100 budget checks; its time is measured by ``benchmarks/run.py`` (case ``mlp``)."""
    backprop(MLP_EXPR, "W1,b1,W2,b2", shapes=MLP)
    assert 0 < work.checks < 500


def test_mlp_explicit_entries_are_in_each_steps_symbols():
    r = backprop(MLP_EXPR, "W1,b1,W2,b2", shapes=MLP)
    P, T = symbol_grid("P", (4, 3)), symbol_grid("T", (4, 3))
    dZ2 = r.backward[0]
    assert sp.expand(dZ2.explicit[0, 0] - (P[0, 0] * sum(T.flat[:3]) - T[0, 0]) / 12) == 0
    assert dZ2.contraction == "dZ2[k,l] = ∂L/∂Z2[k,l]"
    dW2 = r.backward[1]
    assert dW2.contraction == "dW2[k,l] = Σ_ij dZ2[i,j] ∂Z2[i,j]/∂W2[k,l]"
    assert dW2.symbols == ("Y1_i_j", "dZ2_i_j")
    assert all(len(str(e)) < 80 for b in r.backward for e in b.explicit.flat)


def test_softmax_step_explicit_in_its_own_symbols():
    r = backprop("softmax(Z)", "Z", shapes={"Z": (2, 3)}, upstream="dP", explicit=True)
    P, dP = symbol_grid("P", (2, 3)), symbol_grid("dP", (2, 3))
    entry = r.backward[0].explicit[0, 0]
    expected = P[0, 0] * (dP[0, 0] - sum(dP[0, j] * P[0, j] for j in range(3)))
    assert sp.expand(entry - expected) == 0
    assert entry.free_symbols <= set(P.flat) | set(dP.flat)


# -- the checker catches wrong rules ---------------------------------------------------

def patch_rule(monkeypatch, name, vjp):
    monkeypatch.setitem(registry._OPS, name, dataclasses.replace(registry._OPS[name], vjp=vjp))


CHAIN = ("sum(sigmoid(tanh(X@W)))", "W", {"X": (2, 3), "W": (3, 2)})
WRONG_TANH = {
    "0.1 % off": lambda v: (v.g * (1 - v.out ** 2) * Num(Fraction(1001, 1000)),),
    "wrong sign": lambda v: (-(v.g * (1 - v.out ** 2)),),
}


@pytest.mark.parametrize("how", WRONG_TANH)
def test_wrong_rule_in_the_middle_of_a_chain_is_caught_and_named(monkeypatch, how):
    expr, wrt, shapes = CHAIN
    assert backprop(expr, wrt, shapes=shapes).agree
    patch_rule(monkeypatch, "tanh", WRONG_TANH[how])
    r = backprop(expr, wrt, shapes=shapes)
    assert not r.agree
    assert [b.name for b in r.backward] == ["dY2", "dY1", "dZ", "dW"]
    assert [b.check.verdict for b in r.backward] == ["proved", "proved", "differs", "proved"]
    bad = r.backward[2]
    assert bad.name == "dZ" and bad.through == ("Y1",)
    assert bad.check.mismatch[0] == "dZ_1_1"
    assert r.disagreement().startswith("dZ = ")
    assert "DIFFERS" in r.summary() and not r.end_to_end.check.ok


def test_wrong_softmax_rule_is_caught_in_the_fused_step(monkeypatch):
    patch_rule(monkeypatch, "softmax", lambda v: (
        v.out * (v.g - fn.sum(v.g * v.out, axis=-1, keepdims=True)) * Num(Fraction(999, 1000)),))
    r = backprop(MLP_EXPR, "W1", shapes=MLP)
    assert not r.agree
    assert r.backward[0].check.verdict == "differs" and r.backward[0].through == ("L", "P")


def test_wrong_rule_checked_through_the_outputs_is_caught(monkeypatch):
    patch_rule(monkeypatch, "det", lambda v: (
        v.g * v.out * fn.inv(v.x).T * Num(Fraction(1001, 1000)),))
    r = backprop("det(X)", "X", shapes=SQ)
    assert r.backward[0].check.verdict == "differs"


def test_a_tiny_error_is_not_proved_and_is_caught_exactly(monkeypatch):
    tiny = Num(Fraction(10 ** 12 + 1, 10 ** 12))
    patch_rule(monkeypatch, "sum", lambda v: (v.g * fn.ones_like(v.x) * tiny,))
    r = backprop("sum(X * X)", "X", shapes=SQ)
    assert r.backward[0].check.verdict == "agrees"  # below float tolerance, not proved
    assert r.end_to_end.check.verdict == "differs"
    assert "exactly" in r.end_to_end.check.how and not r.agree
    assert r.disagreement().startswith("end to end, dX_1_1 at a rational point, exactly: ")


def test_right_rules_are_proved_not_just_sampled():
    r = backprop("inv(X)", "X", shapes=SQ, explicit=True)
    assert r.backward[0].check.verdict == "proved"
    assert "written through the inputs" in r.backward[0].check.how


def test_a_step_without_index_form_is_checked_at_the_requested_sizes_and_says_so():
    r = backprop("inv(X)", "X", shapes=SQ)
    check = r.backward[0].check
    assert check.verdict == "proved" and r.backward[0].explicit.size == SQ["X"][0] ** 2
    assert check.how == ("at the requested sizes, with the outputs written through the inputs; "
                         "no index form for inv")
    assert r.summary().startswith("1 step checked at the requested sizes; end to end agrees")


# -- agreement with PyTorch (float64) ----------------------------------------------------

def compact_gradients(r: BackpropResult, values: dict) -> dict:
    """The backward steps run with NumPy, as a training loop would."""
    known = dict(values)
    for s in r.steps:
        known[s.name] = float_evaluate(s.expr, known)
    for b in r.backward:
        value = float_evaluate(b.tree, known)
        known[b.name] = known[b.name] + value if b.accumulate else value
    return {g.wrt: np.broadcast_to(known.get(g.name, 0.0), g.shape)
            for g in r.gradients.values()}


def inline_gradients(r: BackpropResult, values: dict) -> dict:
    return {g.wrt: np.broadcast_to(float_evaluate(g.inline_tree, values), g.shape)
            for g in r.gradients.values()}


def sample(shapes: dict, seed: int = 0, onehot=()) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        if name in onehot:
            out[name] = np.eye(shape[-1])[rng.integers(shape[-1], size=shape[:-1])]
        elif len(shape) == 2 and shape[0] == shape[1]:
            out[name] = np.eye(shape[0]) + rng.uniform(-0.3, 0.3, shape)
        else:
            out[name] = rng.uniform(0.2, 1.0, shape) * rng.choice([-1, 1], shape)
    return out


TORCH_CASES = [
    ("trace(A@X)", "X", {"A": (2, 2), "X": (2, 2)}, lambda t, v: t.trace(v["A"] @ v["X"])),
    ("trace(X.T@A@X)", "X", {"A": (3, 3), "X": (3, 2)},
     lambda t, v: t.trace(v["X"].T @ v["A"] @ v["X"])),
    ("det(X)", "X", {"X": (3, 3)}, lambda t, v: t.linalg.det(v["X"])),
    ("logdet(X)", "X", {"X": (3, 3)}, lambda t, v: t.logdet(v["X"])),
    ("inv(X)", "X", {"X": (3, 3)}, lambda t, v: t.linalg.inv(v["X"])),
    ("norm(A@x - b)**2", "x", {"A": (3, 2), "x": (2,), "b": (3,)},
     lambda t, v: t.linalg.norm(v["A"] @ v["x"] - v["b"]) ** 2),
    ("norm(X)", "X", {"X": (2, 3)}, lambda t, v: t.linalg.norm(v["X"])),
    ("norm(x, 1)", "x", {"x": (3,)}, lambda t, v: t.sum(t.abs(v["x"]))),
    ("logsumexp(X, axis=1)", "X", {"X": (2, 3)}, lambda t, v: t.logsumexp(v["X"], 1)),
    ("logsumexp(x)", "x", {"x": (4,)}, lambda t, v: t.logsumexp(v["x"], 0)),
    ("log_softmax(Z)", "Z", {"Z": (2, 3)}, lambda t, v: t.log_softmax(v["Z"], -1)),
    ("softmax(Z, axis=0)", "Z", {"Z": (2, 3)}, lambda t, v: t.softmax(v["Z"], 0)),
    ("diag(x)", "x", {"x": (3,)}, lambda t, v: t.diag(v["x"])),
    ("diag(X)", "X", {"X": (3, 3)}, lambda t, v: t.diag(v["X"])),
    ("outer(a, b)", "a,b", {"a": (2,), "b": (3,)}, lambda t, v: t.outer(v["a"], v["b"])),
    ("x.T@A@x", "x", {"x": (3,), "A": (3, 3)}, lambda t, v: v["x"] @ v["A"] @ v["x"]),
    ("a.T@X@b", "X", {"a": (2,), "X": (2, 3), "b": (3,)},
     lambda t, v: v["a"] @ v["X"] @ v["b"]),
    ("mean(sigmoid(X@W + b))", "W,b", MNIST,
     lambda t, v: t.mean(t.sigmoid(v["X"] @ v["W"] + v["b"]))),
    (MLP_EXPR, "W1,b1,W2,b2", MLP, lambda t, v: -t.mean(
        v["T"] * t.log(t.softmax(t.tanh(v["X"] @ v["W1"] + v["b1"]) @ v["W2"] + v["b2"], -1)))),
    ("mean(relu(X@W)**2)", "W", {"X": (4, 3), "W": (3, 2)},
     lambda t, v: t.mean(t.relu(v["X"] @ v["W"]) ** 2)),
]


@pytest.mark.parametrize("expr,wrt,shapes,torch_fn", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_agrees_with_pytorch_autograd(expr, wrt, shapes, torch_fn):
    torch = pytest.importorskip("torch")
    r = backprop(expr, wrt, shapes=shapes)
    assert r.agree and r.proved, r.summary()
    values = sample(shapes)
    tensors = {n: torch.tensor(a, dtype=torch.float64, requires_grad=True)
               for n, a in values.items()}
    out = torch_fn(torch, tensors)
    if r.upstream != "1":
        up = sample({r.upstream: r.out_shape}, seed=1)
        values.update(up)
        out = (out * torch.tensor(up[r.upstream], dtype=torch.float64)).sum()
    names = wrt.split(",")
    expected = torch.autograd.grad(out, [tensors[n] for n in names])
    for got in (compact_gradients(r, values), inline_gradients(r, values)):
        for n, e in zip(names, expected):
            assert np.allclose(got[n], e.detach().numpy(), rtol=1e-10, atol=1e-12), n


# -- names, labels, warnings, collisions --------------------------------------------------

def test_generated_names_never_look_like_user_names():
    r = backprop("mean(tanh(Y@W)) + sum(y)", "W", shapes={"Y": (4, 3), "W": (3, 2), "y": 2})
    user = {"Y", "W", "y"}
    generated = [s.name for s in r.steps]
    assert generated == ["Z", "H", "L"]
    assert not {g.lower() for g in generated} & {u.lower() for u in user}


def test_a_user_variable_named_like_a_gradient_moves_the_generated_names():
    r = backprop("mean((X@W + dZ)**2)", "W", shapes={"X": (2, 2), "W": (2, 2), "dZ": (2, 2)})
    assert [s.name for s in r.steps] == ["U", "L"]
    assert steps_text(r)[-1] == "dW = X.T @ dU"


def test_the_loss_is_named_apart_from_a_user_L():
    r = backprop("mean(L*x)", "x", shapes={"x": (3,)})
    assert r.output == "J" and r.gradients["x"].label == "∂J/∂x"


def test_labels_use_the_outputs_own_name():
    r = backprop(MLP_EXPR, "W1", shapes=MLP)
    assert r.output == "L" and r.gradients["W1"].label == "∂L/∂W1"
    assert "∂L/∂W1 = dW1 = X.T @ dZ1" in r.to_text()


def test_lets_name_the_forward_steps():
    r = backprop("mean(A)", "W", shapes={"X": (3, 2), "W": (2, 2), "b": (2,)},
                 lets={"Z": "X@W + b", "A": "relu(Z)"})
    assert [s.name for s in r.steps] == ["Z", "A", "L"]
    assert steps_text(r) == ["dA = ones_like(A) / 6", "dZ = dA * step(Z)", "dW = X.T @ dZ"]
    assert r.gradients["W"].inline_text == "(X.T @ step(X @ W + b)) / 6"


def test_legend_lists_only_the_symbols_that_appear_with_their_indices():
    r = backprop("(a*w1 + b1)**2", "w1")
    assert r.backward[0].symbols == ("a", "b1", "w1")
    r = backprop("X@W + b", "b", shapes=MNIST, explicit=True)
    assert r.backward[0].symbols == ("dY_i_j",)
    r = backprop("c * x", "c", shapes={"x": (3,)}, explicit=True)
    assert r.backward[0].symbols == ("x_i", "dy_i")


def test_absent_variable_has_a_zero_gradient_and_a_warning():
    with pytest.warns(UserWarning, match="x12 does not appear"):
        r = backprop("x11 + x22", "x11,x12")
    assert r.gradients["x12"].text == "0" and r.gradients["x11"].text == "1"
    assert r.warnings == ["x12 does not appear in the expression; its derivatives are all zero"]
    assert r.agree


def test_absent_array_variable_is_zero_with_its_shape():
    with pytest.warns(UserWarning):
        r = backprop("sum(X)", "X,W", shapes={"X": (2, 2), "W": (2, 3)})
    assert r.gradients["W"].shape == (2, 3) and r.gradients["W"].text == "0"


@pytest.mark.parametrize("upstream,words", [("X", "is also a name"),
                                            ("dX", "would read as the gradient of X"),
                                            ("W", "is also a name")])
def test_upstream_must_not_collide(upstream, words):
    with pytest.raises(JacobianError, match=words):
        backprop("X@W", "W", shapes={"X": (2, 2), "W": (2, 2)}, upstream=upstream)


def test_gradient_name_must_not_collide():
    with pytest.raises(JacobianError, match="dx, which is also a name"):
        backprop("x * dx", "x")


def test_upstream_rename():
    r = backprop("X@W", "W", shapes={"X": (2, 2), "W": (2, 2)}, upstream="G", explicit=True)
    assert r.gradients["W"].text == "X.T @ G"
    assert entry_symbol("G", (0, 0)) in r.backward[0].explicit[0, 0].free_symbols


def test_upstream_names_the_output():
    r = backprop("A@W + b", "W,b,A", shapes={"A": (4, 3), "W": (3, 2), "b": (2,)},
                 upstream="dZ")
    assert r.output == "Z" and steps_text(r)[0] == "dW = A.T @ dZ"
    assert r.gradients["W"].label == "dZ·∂Z/∂W"


def test_scalar_output_is_seeded_with_one():
    r = backprop("sum(X * X)", "X", shapes={"X": (2, 2)}, expand=True)
    assert r.upstream == "1"
    x = symbol_grid("X", (2, 2))
    assert all(sp.expand(e - 2 * s) == 0 for e, s in zip(r.gradients["X"].expanded.flat, x.flat))


def test_expanded_gradient_is_the_contraction_with_the_upstream():
    r = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)}, expand=True)
    X = sp.Matrix(symbol_grid("X", (2, 3)).tolist())
    dY = sp.Matrix(symbol_grid("dY", (2, 2)).tolist())
    expanded = sp.Matrix(r.gradients["W"].expanded.tolist())
    assert (expanded - X.T * dY).expand() == sp.zeros(3, 2)


def test_simplify_applies_to_the_explicit_entries():
    plain = backprop("(x**2 - 1)/(x - 1)", "x", expand=True)
    simple = backprop("(x**2 - 1)/(x - 1)", "x", expand=True, simplify=True)
    assert plain.gradients["x"].expanded.item() != 1
    assert simple.gradients["x"].expanded.item() == 1


def test_missing_rule_names_the_operation():
    with pytest.raises(JacobianError, match=r"no compact backprop rule for f\(\)"):
        backprop("f(x)", "x", functions=["f"])


def test_onehot_must_be_a_used_array():
    with pytest.raises(JacobianError, match="does not use"):
        backprop("sum(Z)", "Z", shapes={"Z": (2, 2)}, onehot="T")


def test_rational_expressions_are_also_checked_exactly():
    r = backprop("x.T@A@x", "x", shapes={"x": (3,), "A": (3, 3)})
    assert r.end_to_end.exact_points == 2
    assert backprop("tanh(X)", "X", shapes=M23).end_to_end.exact_points == 0


def test_composites_match_finite_differences():
    expr, shapes = "mean((tanh(X@W1 + b1)@W2 + b2)**2)", {
        "X": (3, 2), "W1": (2, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
    r = backprop(expr, "W1,b1,W2,b2", shapes=shapes)
    values = sample(shapes, seed=3)
    root = parse_expression(expr)
    got = compact_gradients(r, values)
    for name in ("W1", "b1", "W2", "b2"):
        fd = np.zeros(shapes[name])
        for index in ndindex(shapes[name]):
            plus, minus = dict(values), dict(values)
            plus[name] = values[name].copy()
            minus[name] = values[name].copy()
            plus[name][index] += 1e-6
            minus[name][index] -= 1e-6
            fd[index] = (float_evaluate(root, plus) - float_evaluate(root, minus)) / 2e-6
        assert np.allclose(got[name], fd, atol=1e-6)


# -- the command line ---------------------------------------------------------------------

MLP_ARGS = ["--wrt", "W1,b1,W2,b2", "--shape", "X=4x3", "--shape", "W1=3x5", "--shape",
            "b1=5", "--shape", "W2=5x3", "--shape", "b2=3", "--shape", "T=4x3", "--backprop",
            "--", "-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))"]


def jac(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_mlp():
    result = jac(*MLP_ARGS)
    assert result.exit_code == 0, result.output
    assert "dZ2 = (P * sum(T, axis=1, keepdims=True) - T) / 12" in result.output
    assert "∂L/∂W1 = dW1 = X.T @ dZ1" in result.output
    assert "Verified: 7 steps proved symbolically; end to end agrees at 3 points" in \
        result.output


def test_cli_onehot_inline_expand():
    out = jac(*MLP_ARGS[:-2], "--onehot", "T", "--inline", "--", MLP_ARGS[-1]).output
    assert "dZ2 = (P - T) / 12" in out
    assert "Gradients, fully substituted" in out and "softmax(tanh(X @ W1 + b1)" in out
    out = jac("X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop",
              "--expand").output
    assert "dW expanded, in the variables' entries:" in out
    assert "dW_1_1 = X_1_1*dY_1_1 + X_2_1*dY_2_1" in out


def test_cli_json():
    result = jac("mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=4x3", "--shape",
                 "W=3x2", "--shape", "b=2", "--backprop", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["output"] == "L" and doc["upstream"] == "1" and doc["agree"] is True
    assert [g["wrt"] for g in doc["gradients"]] == ["W", "b"]
    assert doc["gradients"][0]["compact"] == "X.T @ dZ"
    assert doc["gradients"][0]["shape"] == [3, 2]
    assert [b["verdict"] for b in doc["backward"]] == ["proved"] * 4
    assert [b["how"].startswith("for all sizes") for b in doc["backward"]] == [True] * 4
    assert doc["backward"][2]["contraction"] == \
        "dW[k,l] = Σ_i Σ_j dZ[i,j] X[i,k] δ[j,l] = Σ_i X[i,k] dZ[i,l] = (X.T @ dZ)[k,l]"
    assert doc["summary"].startswith("4 steps proved for all sizes; end to end agrees")


def test_cli_json_with_expand_keeps_the_explicit_entries():
    result = jac("mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=4x3", "--shape",
                 "W=3x2", "--shape", "b=2", "--backprop", "--format", "json", "--expand")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [b["verdict"] for b in doc["backward"]] == ["proved"] * 4
    assert len(doc["backward"][2]["explicit"]) == 3
    assert doc["summary"].startswith("4 steps proved symbolically; end to end agrees")


def test_cli_check_exit_status(monkeypatch):
    args = ["sigmoid(X)", "--wrt", "X", "--shape", "X=2x2", "--backprop", "--check"]
    assert jac(*args).exit_code == 0
    patch_rule(monkeypatch, "sigmoid", lambda v: (v.g * v.out,))
    result = jac(*args)
    assert result.exit_code == 1
    assert "DISAGREE" in result.output


def test_cli_absent_variable_warns():
    result = jac("x11 + x22", "--wrt", "x11,x12", "--backprop")
    assert result.exit_code == 0
    assert "Warning: x12 does not appear" in result.output
    assert "∂L/∂x12 = dx12 = 0" in result.output


def test_cli_upstream_collision_is_an_error():
    result = jac("X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop",
                 "--upstream", "X")
    assert result.exit_code == 2
    assert "--upstream name 'X' is also a name" in result.output


def test_cli_simplify_is_used(monkeypatch):
    calls = []
    from jacobian_calc.derive import step_check as module
    real = module.simplify_entry
    monkeypatch.setattr(module, "simplify_entry", lambda e, s: calls.append(e) or real(e, s))
    jac("tanh(X)", "--wrt", "X", "--shape", "X=2x2", "--backprop", "--simplify", "--full")
    assert len(calls) == 4


def test_cli_latex_of_backprop_prints_the_backward_steps():
    result = jac("exp(X)", "--wrt", "X", "--shape", "X=2x2", "--backprop", "--format", "latex")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == r"\begin{aligned} dX &= dY \odot Y \end{aligned}"


def test_cli_rules_lists_every_lecture_rule():
    out = jac("--rules").output
    for piece in ["A.T @ dY", "Y * (1 - Y)", "1 - Y**2", "step(X)", "softmax"]:
        assert piece in out


@pytest.mark.parametrize("flat", ["step", "sign"])
def test_a_step_with_zero_derivative_ends_its_path(flat):
    """``step`` and ``sign`` have derivative 0: the gradient through them is 0, and no
    later rule reads an upstream gradient that was never computed."""
    r = backprop(f"mean({flat}(X@W)) + sum(W)", wrt="W", shapes={"X": (2, 2), "W": (2, 2)})
    assert r.agree
    assert r.gradients["W"].text == "ones_like(W)"
    r = backprop(f"mean({flat}(X@W))", wrt="W", shapes={"X": (2, 2), "W": (2, 2)})
    assert r.agree and r.gradients["W"].text == "0"
