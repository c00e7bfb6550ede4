"""kron, vec and reshape: shapes, the stated orders, explicit against compact, PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from jacobian_calc import JacobianError, backprop, jacobian
from jacobian_calc.core.grid import ndindex
from jacobian_calc.parsing import parse_expression
from jacobian_calc.symbolic.evaluate import Env, evaluate, infer_shape


@pytest.mark.parametrize("expr, shapes, message", [
    ("kron(a, B)", {"a": (2,), "B": (3, 2)},
     "kron() needs two matrices or two vectors, got a (2) and B (3x2)"),
    ("vec(x)", {}, "vec() needs a vector or a matrix, got x (scalar)"),
    ("reshape(X, 4)", {"X": (2, 3)}, "reshape() cannot make X (2x3) into 4: 6 entries, not 4"),
    ("reshape(X, 2, 2)", {"X": (2, 3)},
     "reshape() cannot make X (2x3) into 2x2: 6 entries, not 4"),
    ("reshape(X)", {"X": (2, 3)}, "reshape() needs the new shape"),
])
def test_shape_errors(expr, shapes, message):
    with pytest.raises(JacobianError) as info:
        infer_shape(parse_expression(expr), shapes)
    assert message in str(info.value)


def _grid(text, shapes):
    return evaluate(parse_expression(text), Env(shapes))


def test_vec_stacks_columns_and_reshape_reads_rows():
    X = _grid("X", {"X": (2, 3)})
    assert [str(e) for e in _grid("vec(X)", {"X": (2, 3)}).flat] == \
        ["X_1_1", "X_2_1", "X_1_2", "X_2_2", "X_1_3", "X_2_3"]
    assert _grid("reshape(X, 3, 2)", {"X": (2, 3)}).flat == X.flat
    assert _grid("reshape(X, 6)", {"X": (2, 3)}).shape == (6,)


def test_kron_blocks_are_a_ij_times_b():
    K = _grid("kron(A, B)", {"A": (2, 2), "B": (2, 3)})
    A, B = sp.Symbol("A_1_2", real=True), sp.Symbol("B_2_3", real=True)
    assert K.shape == (4, 6) and K[1, 5] == A * B


def test_the_vec_identity_of_a_matrix_product():
    """vec(A @ X @ B) = kron(B.T, A) @ vec(X), entry by entry, exactly."""
    S = {"A": (2, 3), "X": (3, 2), "B": (2, 2)}
    left = _grid("vec(A @ X @ B)", S)
    right = _grid("kron(B.T, A) @ vec(X)", S)
    assert all(sp.expand(a - b) == 0 for a, b in zip(left.flat, right.flat))


@pytest.mark.parametrize("expr, shapes, wrt", [
    ("kron(A, B)", {"A": (2, 2), "B": (2, 3)}, "A"),
    ("kron(A, B)", {"A": (2, 2), "B": (2, 3)}, "B"),
    ("kron(a, b)", {"a": (2,), "b": (3,)}, "a"),
    ("vec(X @ W)", {"X": (2, 3), "W": (3, 2)}, "W"),
    ("reshape(X, 3, 2) @ W", {"X": (2, 3), "W": (2, 2)}, "X"),
    ("sum(kron(A, B) * C)", {"A": (2, 2), "B": (2, 1), "C": (4, 2)}, "B"),
])
def test_compact_backward_rule_equals_the_explicit_contraction(expr, shapes, wrt):
    r = backprop(expr, wrt, shapes=shapes)
    assert r.proved and r.agree


@pytest.mark.parametrize("expr, shapes, func", [
    ("kron(A, B)", {"A": (2, 3), "B": (2, 2)}, lambda t, v: t.kron(v["A"], v["B"])),
    ("kron(a, b)", {"a": (3,), "b": (2,)}, lambda t, v: t.kron(v["a"], v["b"])),
    ("vec(A)", {"A": (2, 3)}, lambda t, v: v["A"].T.reshape(-1)),
    ("reshape(A, 3, 2)", {"A": (2, 3)}, lambda t, v: v["A"].reshape(3, 2)),
    ("reshape(A, 6)", {"A": (2, 3)}, lambda t, v: v["A"].reshape(6)),
])
def test_values_and_jacobians_match_pytorch(expr, shapes, func):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    values = {k: rng.uniform(-1, 1, s) for k, s in shapes.items()}
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
    at = {k: v.tolist() for k, v in values.items()}
    for name in shapes:
        J = jacobian(expr, name, shapes=shapes)
        expected = torch.autograd.functional.jacobian(
            lambda x: func(torch, {**tensors, name: x}), tensors[name])
        assert np.allclose(J.evaluate(at), expected.numpy(), atol=1e-12)
    value = _grid(expr, shapes)
    explicit = np.array([float(e.subs({sp.Symbol(f"{k}_{'_'.join(str(i + 1) for i in ix)}", real=True): values[k][ix]
                                       for k in shapes for ix in ndindex(shapes[k])}))
                         for e in value.flat]).reshape(value.shape)
    assert np.allclose(explicit, func(torch, tensors).numpy(), atol=1e-12)


def test_generated_code_runs_against_pytorch_autograd():
    pytest.importorskip("torch")
    from jacobian_calc import check_code
    for language in ("numpy", "torch"):
        r = backprop("sum(vec(X @ W) * kron(a, b))", "W",
                     shapes={"X": (2, 3), "W": (3, 2), "a": 2, "b": 2})
        assert check_code(r, language).ok


def test_sympy_kronecker_product_reads_as_kron():
    A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 3)
    J = jacobian(sp.kronecker_product(A, B), wrt=A)
    assert J.shape == (4, 6, 2, 2)
    assert str(J[1, 5, 0, 1]) == "B_2_3" and J[1, 5, 1, 0] == 0


def test_latex_writes_the_kronecker_product_with_otimes():
    from jacobian_calc.render.formula_latex import formula_latex
    assert formula_latex(parse_expression("kron(eye(2), X) @ vec(W)")) == \
        r"\left(I_{2} \otimes X\right) \operatorname{vec}\left(W\right)"
