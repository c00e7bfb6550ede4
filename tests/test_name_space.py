"""One name space per request: a user's name is never a generated one.

The reproduction of issue 27 (the user's ``dZ`` and the gradient ``dZ`` were one
name) and a property test: user names drawn from the patterns of generated names
(``dZ``, ``Z1``, ``P``, ``H``, ``V1``, ``np``, ``torch``...) give the same numbers, by
every route and in every generated module, as neutral names (the renamed baseline);
a name the generated code needs itself is refused with a one-line error, never shared.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacobian_calc import JacobianError, backprop, hessian, to_numpy_code
from jacobian_calc.core.names import GENERATED_CODE_NAMES
from jacobian_calc.derive.naming import Namer
from jacobian_calc.render.code_check import load_module

#: Names of the kinds the calculator generates, and names the generated code uses.
POOL = ["dZ", "Z", "Z1", "dZ1", "P", "dP", "H", "dH", "V1", "V", "v", "U", "dU", "L", "dL",
        "Y", "dY", "dW", "W", "X", "dX", "S", "Hv", "HV", "u", "ddZ", "G", "g", "np",
        "torch", "forward", "backward", "gradient", "hessian", "hvp"]
NEUTRAL = ["q1", "q2", "q3", "q4"]
SHAPES = ((4, 3), (3, 2))

def _backprop(a, b, c, e):
    """``mean(sigmoid(c) * e)`` with ``c = a @ b``, ``e = tanh(c)``, w.r.t. ``b``."""
    return backprop(f"mean(sigmoid({c})*{e})", b, shapes={a: SHAPES[0], b: SHAPES[1]},
                    lets={c: f"{a}@{b}", e: f"tanh({c})"}, points=2)


def _backprop_numbers(names, point):
    """The gradient by the result's two routes and by its generated module (or the
    one-line refusal of the module)."""
    a, b, _, _ = names
    r = _backprop(*names)
    assert r.agree, r.disagreement()
    at = {a: point[0], b: point[1]}
    values = r.evaluate(at)[b]
    try:
        module = load_module(to_numpy_code(r))
    except JacobianError as exc:
        assert "\n" not in str(exc) and "uses the name" in str(exc)
        return values.explicit, values.compact, None
    code = module.backward(**at)[b]
    return values.explicit, values.compact, np.asarray(code)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(POOL), min_size=4, max_size=4, unique=True))
def test_backprop_names_never_shared(names):
    _backprop_case(names)


@pytest.mark.parametrize("names", [["X", "W", "Z", "dZ"], ["dZ", "W", "Z", "np"],
                                   ["Z1", "V1", "dU", "U"], ["P", "H", "dH", "dY"]])
def test_backprop_names_of_generated_kinds(names):
    _backprop_case(names)


def _backprop_case(names):
    a, b, c, e = names
    if f"d{b}" in names:
        with pytest.raises(JacobianError, match="rename one of them|gradient"):
            _backprop(*names)
        return
    rng = np.random.default_rng(1)
    point = (rng.uniform(-1, 1, SHAPES[0]), rng.uniform(-1, 1, SHAPES[1]))
    got = _backprop_numbers(names, point)
    want = _backprop_numbers(NEUTRAL, point)
    for g, w in zip(got, want):
        if g is not None:
            np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float),
                                       rtol=1e-9, atol=1e-12)
    if not set(names) & GENERATED_CODE_NAMES:
        assert got[2] is not None  # only the generated code's own names are refused


def _hessian_numbers(names, wrt, point):
    """Every block of the explicit Hessian, and the generated module's gradient and
    Hessian (or Hessian-vector product) at ``point``, in the order of ``NEUTRAL``."""
    a, b, c = names
    shapes = {a: (2, 3), b: 3}
    H = hessian(f"{c}*sum(sigmoid({a}@{b}))", wrt=",".join(names[i] for i in wrt),
                shapes=shapes)
    assert H.symmetric
    at = dict(zip(names, point))
    blocks = H.evaluate(at)
    out = [blocks[names[i], names[j]] for i in wrt for j in wrt]
    try:
        module = load_module(to_numpy_code(H))
    except JacobianError as exc:
        assert "\n" not in str(exc) and "uses the name" in str(exc)
        return out, None
    gradient = module.gradient(**at)
    out += [gradient[names[i]] for i in wrt]
    if len(wrt) == 1:
        out.append(module.hessian(**at))
    else:
        code = module.hvp.__code__
        params = code.co_varnames[:code.co_argcount]
        inputs = params[:-len(wrt)]  # then one direction per variable, in wrt's order
        args = [at[p] for p in inputs] + [np.linspace(0.5, 1.5, np.size(point[i])).reshape(
            np.shape(point[i])) for i in wrt]
        product = module.hvp(*args)
        out += [product[names[i]] for i in wrt]
    return out, module


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(POOL), min_size=3, max_size=3, unique=True),
       st.sampled_from([(1,), (0, 1)]))
def test_hessian_names_never_shared(names, wrt):
    _hessian_case(names, wrt)


@pytest.mark.parametrize("names, wrt", [(["V", "v", "Hv_v"], (0, 1)), (["A", "x", "dx"], (1,)),
                                        (["s", "dA", "hessian"], (0, 1))])
def test_hessian_names_of_generated_kinds(names, wrt):
    _hessian_case(names, wrt)


def _hessian_case(names, wrt):
    rng = np.random.default_rng(2)
    point = (rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 3), 0.7)
    got, module = _hessian_numbers(names, wrt, point)
    want, _ = _hessian_numbers(NEUTRAL[:3], wrt, point)
    assert len(got) == len(want) or module is None
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float),
                                   rtol=1e-9, atol=1e-12)
    if not set(names) & GENERATED_CODE_NAMES:
        assert module is not None


def test_the_reproduction_gives_the_right_gradient_and_code():
    """``mean(sigmoid(Z)*dZ)`` with ``Z = X@W``, ``dZ = tanh(Z)``: the step Z is renamed
    (and said), every check agrees, and the NumPy module matches finite differences."""
    r = _backprop("X", "W", "Z", "dZ")
    assert r.agree and r.proved
    assert any("written U here" in w for w in r.warnings)
    assert [s.name for s in r.steps] == ["U", "dZ", "L"]
    module = load_module(to_numpy_code(r))
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=SHAPES[0]), rng.normal(size=SHAPES[1])

    def loss(W):
        Z = X @ W
        return np.mean(1 / (1 + np.exp(-Z)) * np.tanh(Z))

    numeric = np.zeros_like(W)
    for index in np.ndindex(W.shape):
        step = np.zeros_like(W)
        step[index] = 1e-6
        numeric[index] = (loss(W + step) - loss(W - step)) / 2e-6
    np.testing.assert_allclose(module.backward(X=X, W=W)["W"], numeric, atol=1e-8)
    assert abs(module.forward(X=X, W=W)["L"] - loss(W)) < 1e-12


def test_the_reproduction_on_the_command_line(tmp_path):
    args = [sys.executable, "-m", "jacobian_calc", "mean(sigmoid(Z)*dZ)", "--wrt", "W",
            "--shape", "X=4x3", "--shape", "W=3x2", "--let", "Z=X@W", "--let", "dZ=tanh(Z)",
            "--backprop"]
    text = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "DISAGREE" not in text.stderr and "written U here" in text.stderr
    code = subprocess.run(args + ["--format", "numpy", "--check"], capture_output=True,
                          text=True, timeout=120)
    assert code.returncode == 0, code.stderr
    assert "dU = (dZ * sigmoid(U) * (1 - sigmoid(U))) / 8" in code.stdout


def test_hessian_gradient_locals_never_shadow_a_parameter():
    """``x*y*dx`` w.r.t. x, y: the generated gradient() must not overwrite the input dx
    before dy reads it."""
    H = hessian("sum(x*y*dx)", wrt="x,y", shapes={"x": 3, "y": 3, "dx": 3})
    module = load_module(to_numpy_code(H))
    x, y, dx = np.array([1.0, 2, 3]), np.array([4.0, 5, 6]), np.array([7.0, 8, 9])
    got = module.gradient(x=x, y=y, dx=dx)
    assert got["x"].tolist() == (y * dx).tolist() and got["y"].tolist() == (x * dx).tolist()


def test_one_namer_knows_every_kind_of_name():
    namer = Namer({"X", "dZ"}, gradients=True)
    assert not namer.free("Z") and not namer.free("x") and not namer.free("np")
    assert not namer.free("sin") and not namer.free("exec")
    assert namer.take("U") == "U" and not namer.free("dU") and not namer.free("u")
