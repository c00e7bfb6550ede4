"""Convolution and pooling: the banded Jacobian, the CNN lecture's backward rules
proved step by step, a small CNN end to end against PyTorch autograd, and max
pooling's convention at ties (torch.amax of each window)."""

from __future__ import annotations

import numpy as np
import pytest

from jacobian_calc import JacobianError, backprop, jacobian
from jacobian_calc.symbolic.float_tree import float_evaluate

CNN = "-mean(sum(T * log_softmax(maxpool2d(relu(conv2d(X, W1)), 2) @ W2 + b), axis=1))"
CNN_SHAPES = {"X": (6, 6), "W1": (3, 3), "W2": (2, 3), "b": (3,), "T": (2, 3)}


def test_the_lecture_rules_are_the_backward_steps():
    r = backprop("sum(relu(conv2d(X, W)) * G)", "W,X",
                 shapes={"X": (4, 4), "W": (2, 2), "G": (3, 3)})
    texts = {b.name: b.text for b in r.backward}
    assert texts["dW"] == "conv2d(X, dY)"
    assert texts["dX"] == "conv2d(dY, flip(W), padding=1)"
    assert all(b.check.verdict == "proved" for b in r.backward)


@pytest.mark.parametrize("stride, padding, n, k", [
    (1, 0, 5, 3), (2, 0, 5, 2), (2, 1, 6, 3), (3, 2, 7, 3), (1, 1, 4, 2), (2, 0, 4, 3)])
def test_every_stride_and_padding_is_proved(stride, padding, n, k):
    for expr, shapes in [
        (f"conv2d(X, W, stride={stride}, padding={padding})", {"X": (n, n + 1), "W": (k, k)}),
        (f"conv2d(X, W, stride={stride}, padding={padding})",
         {"X": (n + 1, n), "W": (k, k + 1)}),
        (f"conv1d(x, w, stride={stride}, padding={padding})", {"x": (n,), "w": (k,)}),
    ]:
        wrt = "X,W" if "X" in shapes else "x,w"
        r = backprop(expr, wrt, shapes=shapes)
        assert r.agree, (expr, r.disagreement())
        assert all(b.check.verdict == "proved" for b in r.backward), expr


def test_the_jacobian_is_banded():
    J = jacobian("conv1d(x, w, stride=2)", wrt="x", shapes={"x": (9,), "w": (3,)})
    M = np.array(J.tensor.tolist(), dtype=object)
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            assert (M[i, j] != 0) == (0 <= j - 2 * i < 3)


def test_spy_draws_the_band(tmp_path):
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main
    out = tmp_path / "band.png"
    result = CliRunner().invoke(main, ["conv1d(x, w)", "--shape", "x=8", "--shape", "w=3",
                                       "--wrt", "x", "--spy", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("seed", [0, 1])
def test_a_small_cnn_backprops_end_to_end_like_torch(seed):
    t = _torch()
    F = t.nn.functional
    r = backprop(CNN, "W1,W2,b,X", shapes=CNN_SHAPES)
    assert r.agree, r.disagreement()
    assert all(b.check.verdict == "proved" for b in r.backward)
    rng = np.random.default_rng(seed)
    point = {n: rng.uniform(-1, 1, s) for n, s in CNN_SHAPES.items()}
    tensors = {n: t.tensor(v, dtype=t.float64, requires_grad=True) for n, v in point.items()}
    h = F.max_pool2d(F.relu(F.conv2d(tensors["X"][None, None], tensors["W1"][None, None])), 2)
    z = h[0, 0] @ tensors["W2"] + tensors["b"]
    loss = -t.mean(t.sum(tensors["T"] * t.log_softmax(z, dim=1), dim=1))
    loss.backward()
    for name in ("W1", "W2", "b", "X"):
        ours = float_evaluate(r.gradients[name].inline_tree, point)
        np.testing.assert_allclose(ours, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12)


def _windows_amax(t, X, k):
    n1, n2 = (X.shape[0] // k) * k, (X.shape[1] // k) * k
    blocks = X[:n1, :n2].reshape(n1 // k, k, n2 // k, k)
    return t.amax(blocks, dim=(1, 3))


@pytest.mark.parametrize("X", [
    np.array([[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0],
              [3.0, 3.0, 0.0, 1.0], [5.0, 5.0, 5.0, 5.0]]),
    np.zeros((4, 4)),
])
def test_maxpool_splits_ties_as_amax_of_each_window(X):
    t = _torch()
    shapes = {"X": X.shape}
    r = backprop("sum(maxpool2d(X, 2) * G)", "X", shapes={**shapes, "G": (2, 2)})
    G = np.array([[1.0, 2.0], [3.0, 4.0]])
    ours = float_evaluate(r.gradients["X"].inline_tree, {"X": X, "G": G})
    Xt = t.tensor(X, requires_grad=True)
    (t.sum(_windows_amax(t, Xt, 2) * t.tensor(G))).backward()
    np.testing.assert_allclose(ours, Xt.grad.numpy(), atol=1e-12)
    J = jacobian("maxpool2d(X, 2)", wrt="X", shapes=shapes).evaluate({"X": X.tolist()})
    np.testing.assert_allclose(np.tensordot(G, J, axes=2), Xt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("expr, shapes, message", [
    ("conv2d(X, W, padding=2)", {"X": (4, 4), "W": (2, 3)}, "padding less than"),
    ("conv2d(X, w)", {"X": (4, 4), "w": 3}, "two matrices"),
    ("conv1d(x, w)", {"x": 2, "w": 3}, "no larger than"),
    ("conv1d(x, w, padding=3)", {"x": 5, "w": 3}, "padding less than the kernel size"),
    ("maxpool2d(X, 5)", {"X": (4, 4)}, "larger than"),
    ("maxpool2d(x, 2)", {"x": 4}, "needs a matrix"),
    ("avgpool2d(X)", {"X": (4, 4)}, "window size"),
    ("dilate(X, stride=2, rows=2)", {"X": (2, 2)}, "rows of at least 3"),
])
def test_shape_errors_name_the_operands(expr, shapes, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(expr, shapes=shapes)


def test_bad_options_are_refused():
    with pytest.raises(JacobianError, match="stride must be a positive integer"):
        jacobian("conv1d(x, w, stride=0)", shapes={"x": 5, "w": 2})
    with pytest.raises(JacobianError, match="padding must be a non-negative integer"):
        jacobian("conv1d(x, w, padding=-1)", shapes={"x": 5, "w": 2})
