"""max, min, maximum, minimum, clip and where: PyTorch's conventions at ties and
boundaries, by both routes (explicit entries and compact backward rules), the hinge
and Huber losses end to end, and what the parser reads and refuses."""

from __future__ import annotations

import numpy as np
import pytest

from jacobian_calc import JacobianError, backprop, jacobian
from jacobian_calc.symbolic.float_tree import float_evaluate

torch = pytest.importorskip("torch")


def _explicit(expr, wrt, shapes, point):
    """The explicit Jacobian at ``point`` as (output entries, wrt entries)."""
    J = jacobian(expr, wrt=wrt, shapes=shapes)
    return J.evaluate({k: v.tolist() if np.ndim(v) else float(v) for k, v in point.items()})


def _compact(expr, wrt, shapes, point, upstream):
    """The compact gradient (VJP) at ``point`` for the upstream gradient ``upstream``."""
    r = backprop(expr, wrt, shapes=shapes)
    assert r.agree, r.disagreement()
    env = dict(point)
    if r.out_shape:
        env[r.upstream] = upstream
    value = float_evaluate(r.gradients[wrt].inline_tree, env)
    return np.broadcast_to(value * (1.0 if r.out_shape else upstream), np.shape(point[wrt]))


def _torch_jacobian(func, point, wrt):
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in point.items()}

    def f(x):
        return func({**tensors, wrt: x})
    return torch.autograd.functional.jacobian(f, tensors[wrt]).numpy()


def _torch_vjp(func, point, wrt, upstream):
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=(k == wrt))
               for k, v in point.items()}
    out = func(tensors)
    (grad,) = torch.autograd.grad(out, tensors[wrt], torch.as_tensor(upstream))
    return grad.numpy()


#: expression, shapes, wrt, PyTorch, a point with ties or boundaries
TIES = [
    ("max(X)", {"X": (2, 3)}, "X", lambda v: torch.amax(v["X"]),
     {"X": np.array([[1.0, 3.0, 3.0], [3.0, 0.0, -1.0]])}),
    ("max(X, axis=1)", {"X": (2, 3)}, "X", lambda v: torch.amax(v["X"], dim=1),
     {"X": np.array([[2.0, 2.0, 2.0], [1.0, 5.0, 5.0]])}),
    ("max(X, axis=0, keepdims=True)", {"X": (3, 2)}, "X",
     lambda v: torch.amax(v["X"], dim=0, keepdim=True),
     {"X": np.array([[1.0, 4.0], [1.0, 4.0], [0.0, 4.0]])}),
    ("min(X, axis=0)", {"X": (3, 2)}, "X", lambda v: torch.amin(v["X"], dim=0),
     {"X": np.array([[1.0, -4.0], [1.0, 4.0], [1.0, -4.0]])}),
    ("min(x)", {"x": (4,)}, "x", lambda v: torch.amin(v["x"]),
     {"x": np.array([0.5, -1.0, -1.0, -1.0])}),
    ("maximum(X, Y)", {"X": (2, 2), "Y": (2, 2)}, "X", lambda v: torch.maximum(v["X"], v["Y"]),
     {"X": np.array([[1.0, 2.0], [3.0, -1.0]]), "Y": np.array([[1.0, 0.0], [3.0, 2.0]])}),
    ("maximum(X, Y)", {"X": (2, 2), "Y": (2, 2)}, "Y", lambda v: torch.maximum(v["X"], v["Y"]),
     {"X": np.array([[1.0, 2.0], [3.0, -1.0]]), "Y": np.array([[1.0, 0.0], [3.0, 2.0]])}),
    ("minimum(x, y)", {"x": (3,), "y": (3,)}, "y", lambda v: torch.minimum(v["x"], v["y"]),
     {"x": np.array([1.0, 2.0, -3.0]), "y": np.array([1.0, 0.0, 2.0])}),
    ("clip(x, -1, 1)", {"x": (5,)}, "x", lambda v: torch.clamp(v["x"], -1.0, 1.0),
     {"x": np.array([-2.0, -1.0, 0.0, 1.0, 2.0])}),
    ("clip(x, l, h)", {"x": (4,), "l": (4,), "h": (4,)}, "l",
     lambda v: torch.clamp(v["x"], v["l"], v["h"]),
     {"x": np.array([-2.0, -1.0, 0.5, 2.0]), "l": np.array([-1.0, -1.0, -1.0, -1.0]),
      "h": np.array([1.0, 1.0, 1.0, 2.0])}),
    ("clip(x, l, h)", {"x": (4,), "l": (4,), "h": (4,)}, "h",
     lambda v: torch.clamp(v["x"], v["l"], v["h"]),
     {"x": np.array([-2.0, -1.0, 0.5, 2.0]), "l": np.array([-1.0, -1.0, -1.0, -1.0]),
      "h": np.array([1.0, 1.0, 1.0, 2.0])}),
    ("where(x >= 1, x**2, 3 * x)", {"x": (3,)}, "x",
     lambda v: torch.where(v["x"] >= 1, v["x"] ** 2, 3 * v["x"]),
     {"x": np.array([1.0, 0.5, 2.0])}),
    ("where(x > 1, x**2, 3 * x)", {"x": (3,)}, "x",
     lambda v: torch.where(v["x"] > 1, v["x"] ** 2, 3 * v["x"]),
     {"x": np.array([1.0, 0.5, 2.0])}),
]


@pytest.mark.parametrize("expr, shapes, wrt, func, point", TIES,
                         ids=[f"{t[0]} d{t[2]}" for t in TIES])
def test_explicit_jacobian_matches_torch_at_ties(expr, shapes, wrt, func, point):
    ours = _explicit(expr, wrt, shapes, point)
    theirs = _torch_jacobian(func, point, wrt)
    np.testing.assert_allclose(ours.reshape(-1), theirs.reshape(-1), atol=1e-12)


@pytest.mark.parametrize("expr, shapes, wrt, func, point", TIES,
                         ids=[f"{t[0]} d{t[2]}" for t in TIES])
def test_compact_gradient_matches_torch_at_ties(expr, shapes, wrt, func, point):
    out_shape = tuple(func({k: torch.tensor(v) for k, v in point.items()}).shape)
    upstream = np.random.default_rng(0).uniform(0.5, 1.5, out_shape)
    ours = _compact(expr, wrt, shapes, point, upstream)
    theirs = _torch_vjp(func, point, wrt, upstream)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_amax_splits_the_gradient_among_the_tied_entries():
    J = _explicit("max(x)", "x", {"x": (4,)}, {"x": np.array([2.0, 2.0, 2.0, 1.0])})
    assert J.reshape(-1).tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])


def test_relu_and_maximum_with_zero_differ_only_at_zero():
    """relu'(0) = 1 (the lectures'); maximum(0, x)'(0) = 1/2 (torch.maximum's)."""
    at = {"x": 0.0}
    assert jacobian("relu(x)").evaluate(at).item() == 1.0
    assert jacobian("max(0, x)").evaluate(at).item() == 0.5
    assert jacobian("max(0, x)").evaluate({"x": 0.25}).item() == 1.0


# -- losses end to end ---------------------------------------------------------------------

HINGE = "mean(max(0, 1 - y * (X @ w)))"
HUBER = "mean(where(abs(X @ w - t) <= 1, (X @ w - t)**2 / 2, abs(X @ w - t) - 1/2))"


@pytest.mark.parametrize("expr, func", [
    (HINGE, lambda v: torch.mean(torch.maximum(torch.tensor(0.0), 1 - v["y"] * (v["X"] @ v["w"])))),
    (HUBER, lambda v: torch.nn.functional.huber_loss(v["X"] @ v["w"], v["t"], delta=1.0)),
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hinge_and_huber_losses_backprop_end_to_end(expr, func, seed):
    rng = np.random.default_rng(seed)
    shapes = {"X": (5, 3), "w": (3,), "y": (5,), "t": (5,)}
    point = {"X": rng.uniform(-1, 1, (5, 3)), "w": rng.uniform(-2, 2, 3),
             "y": rng.choice([-1.0, 1.0], 5), "t": rng.uniform(-2, 2, 5)}
    r = backprop(expr, "w", shapes=shapes)
    assert r.agree, r.disagreement()
    assert all(s.check.verdict in ("proved", "agrees") for s in r.backward)
    ours = float_evaluate(r.gradients["w"].inline_tree, point)
    theirs = _torch_vjp(func, point, "w", 1.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_hinge_steps_read_like_the_lecture():
    r = backprop(HINGE, "w", shapes={"X": (5, 3), "w": (3,), "y": (5,)})
    steps = [f"{b.name} = {b.text}" for b in r.backward]
    assert "h = maximum(0, 1 - y * z)" in [f"{s.name} = {s.text}" for s in r.steps]
    assert steps[-1] == "dw = X.T @ dz"
    assert all(s.check.verdict == "proved" for s in r.backward)


# -- what is read, and what is refused --------------------------------------------------------

@pytest.mark.parametrize("expr, message", [
    ("max(x, 1)", r"max\(x, 1\) is ambiguous: write max\(x, axis=1\) .* maximum\(x, 1\)"),
    ("min(x, -1)", r"ambiguous"),
    ("max(a, b, c)", r"nest maximum\(\)"),
    ("x < 1", "comparisons are only allowed as the condition of where"),
    ("where(x, 1, 2)", r"where\(\) needs a comparison"),
    ("where(a < b < c, 1, 2)", "one comparison"),
    ("where(a == b, 1, 2)", "one comparison"),
    ("where(x > 0, x < 1, 2)", "only allowed as the condition"),
    ("where(exp(x > 0) > 1, 1, 2)", "only allowed as the condition"),
    ("where(x > 0, 1, 2) + (x > 0)", "only allowed as the condition"),
])
def test_the_parser_refuses_what_is_ambiguous_or_not_allowed(expr, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(expr)


def test_max_of_two_expressions_is_the_elementwise_maximum():
    assert jacobian("max(0, 1 - x)").tensor == jacobian("maximum(0, 1 - x)").tensor
    assert jacobian("min(a, b)").tensor == jacobian("minimum(a, b)").tensor


@pytest.mark.parametrize("expr, shapes, message", [
    ("maximum(X, Y)", {"X": (2, 3), "Y": (3, 2)}, "cannot broadcast"),
    ("minimum(X, y)", {"X": (2, 3), "y": 2}, "cannot broadcast"),
    ("max(x, axis=1)", {"x": 3}, "axis 1 is out of range"),
    ("min(X, axis=-3)", {"X": (2, 3)}, "axis"),
    ("clip(X, l, h)", {"X": (2, 3), "l": 2}, "cannot broadcast"),
    ("where(x > 0, X, 0)", {"x": 2, "X": (2, 3)}, "cannot broadcast"),
])
def test_shape_errors_name_the_operands(expr, shapes, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(expr, shapes=shapes)


def test_random_shapes_agree():
    for n, m in [(1, 1), (1, 3), (3, 1), (2, 4)]:
        for expr in ("max(X, axis=0)", "min(X, axis=1, keepdims=True)", "max(X)",
                     "maximum(X, b)", "clip(X, -1/2, b)", "where(X > b, X, b * X)"):
            r = backprop(expr, "X", shapes={"X": (n, m), "b": (m,)})
            assert r.agree, (expr, n, m, r.disagreement())


# -- refusals that help ------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("clamp(x, 0, 1)", "write clip"),
    ("amax(x)", r"write max\(X, axis=...\)"),
    ("heaviside(x)", r"write step\(x\)"),
    ("huber(r)", r"where\(abs\(r\) <= 1"),
    ("leaky_relu(x)", r"where\(x > 0"),
    ("argmax(x)", "no derivative"),
    ("Max(x)", "did you mean max"),
])
def test_another_spelling_is_named(text, message):
    with pytest.raises(JacobianError, match=message) as info:
        jacobian(text)
    assert "--function" not in str(info.value) and "{{" not in str(info.value)


@pytest.mark.parametrize("name, not_suggested", [
    ("maxx", "softmax"), ("mx", "softmax"), ("mn", "softmax"), ("mins", "softmin"),
])
def test_suggestions_are_typos_not_other_operations(name, not_suggested):
    with pytest.raises(JacobianError) as info:
        jacobian(f"{name}(x)")
    assert not_suggested not in str(info.value)


def test_function_is_suggested_for_an_unknown_function_of_scalars():
    with pytest.raises(JacobianError, match="undefined function of scalars must be declared"):
        jacobian("f(x)")


def test_a_typo_still_gets_the_closest_operation():
    with pytest.raises(JacobianError, match="did you mean log_softmax"):
        jacobian("logsoftmax(x)")


def test_printed_entries_read_back():
    """max/min entries print as maximum()/minimum(), where's as where(): the parser reads
    them back to the same SymPy entries."""
    from jacobian_calc import read_json
    J = jacobian("max(x) + maximum(x[0], 2) + minimum(x[1], x[2]) "
                 "+ where(x[1] > 0, clip(x[2], -1, 1), 0)", shapes={"x": 3})
    assert "maximum(x_1, maximum(x_2, x_3))" in J.to_json()
    back = read_json(J.to_json())["jacobians"][0]["entries"]
    assert list(back) == list(J.tensor)
