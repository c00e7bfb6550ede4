"""Generalized (3D/4D) Jacobians of the lecture examples, entry by entry.

Each row of ``CASES`` gives an expression with declared shapes, the input,
the expected output and input shapes, and the expected numerator-layout
entry as a function of (output index, input index), 0-based. The test builds
the whole expected tensor from that function and compares every entry, in
both layouts: the denominator layout has shape ``in.shape + out.shape`` and
entry ``[in_index + out_index]`` equal to the numerator entry
``[out_index + in_index]``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from jacobian_calc import JacobianError, jacobian, sigmoid, step
from jacobian_calc.symbolic.symbols import entry_symbol

LAYOUTS = ("numerator", "denominator")
ONE, ZERO = sp.Integer(1), sp.Integer(0)


def sym(name: str, *index: int) -> sp.Symbol:
    """Entry symbol from a 0-based index (``sym("W", 0, 1)`` is ``W_1_2``)."""
    return entry_symbol(name, index)


def delta(i, j) -> sp.Integer:
    return ONE if i == j else ZERO


# -- the table ----------------------------------------------------------------------
# (id, expression, wrt, shapes, out_shape, in_shape, entry(out_index, in_index))

m, n, N = 3, 2, 4  # lecture sizes: x in R^m, W in R^{m x n}, N samples

CASES = [
    # Lecture 5, item 5: z = x@W + b; dz/dx = Wᵀ (n x m).
    ("L5.5 dz/dx", "x@W + b", "x", {"x": m, "W": (m, n), "b": n}, (n,), (m,),
     lambda o, i: sym("W", i[0], o[0])),
    # dz/dW: n x m x n; dz_i/dW_kl = x_k if l == i.
    ("L5.5 dz/dW", "x@W + b", "W", {"x": m, "W": (m, n), "b": n}, (n,), (m, n),
     lambda o, i: sym("x", i[0]) if i[1] == o[0] else ZERO),
    # dz/db = I_n.
    ("L5.5 dz/db", "x@W + b", "b", {"x": m, "W": (m, n), "b": n}, (n,), (n,),
     lambda o, i: delta(o[0], i[0])),
    # Lecture 5, item 6: z = X@w + b, X (N x m); dz/dw = X.
    ("L5.6 dz/dw", "X@w + b", "w", {"X": (N, m), "w": m}, (N,), (m,),
     lambda o, i: sym("X", o[0], i[0])),
    # dz/db: the N x 1 column of ones (b is an undeclared scalar).
    ("L5.6 dz/db", "X@w + b", "b", {"X": (N, m), "w": m}, (N,), (1,),
     lambda o, i: ONE),
    # dz/dX: N x N x m; the slice for sample k has wᵀ in row k.
    ("L5.6 dz/dX", "X@w + b", "X", {"X": (N, m), "w": m}, (N,), (N, m),
     lambda o, i: sym("w", i[1]) if i[0] == o[0] else ZERO),
    # 000, item 2: y = A x, dy/dx = A.
    ("000.2 dy/dx", "A@x", "x", {"A": (2, 3), "x": 3}, (2,), (3,),
     lambda o, i: sym("A", o[0], i[0])),
    # 000, item 3: dy/dA is m x m x n with entries δ_ij x_k.
    ("000.3 dy/dA", "A@x", "A", {"A": (2, 3), "x": 3}, (2,), (2, 3),
     lambda o, i: sym("x", i[1]) * delta(o[0], i[0])),
    # 000, item 5: Y = X A, dY_ij/dA_kl = X_ik if j == l else 0 (4D).
    ("000.5 dY/dA", "X@A", "A", {"X": (2, 3), "A": (3, 2)}, (2, 2), (3, 2),
     lambda o, i: sym("X", o[0], i[0]) if o[1] == i[1] else ZERO),
    # and the other factor: dY_ij/dX_kl = A_lj if i == k.
    ("000.5 dY/dX", "X@A", "X", {"X": (2, 3), "A": (3, 2)}, (2, 2), (2, 3),
     lambda o, i: sym("A", i[1], o[1]) if o[0] == i[0] else ZERO),
    # Lecture 9, item 2: Z = A W + b with a broadcast bias; dZ_ij/db_k = δ_jk.
    ("L9.2 dZ/db", "A@W + b", "b", {"A": (N, 3), "W": (3, 2), "b": 2}, (N, 2), (2,),
     lambda o, i: delta(o[1], i[0])),
    ("L9.2 dZ/dW", "A@W + b", "W", {"A": (N, 3), "W": (3, 2), "b": 2}, (N, 2), (3, 2),
     lambda o, i: sym("A", o[0], i[0]) if o[1] == i[1] else ZERO),
    ("L9.2 dZ/dA", "A@W + b", "A", {"A": (N, 3), "W": (3, 2), "b": 2}, (N, 2), (N, 3),
     lambda o, i: sym("W", i[1], o[1]) if o[0] == i[0] else ZERO),
    # Lecture 9, item 9: binary element-wise operations.
    ("L9.9 M+N dM", "M + N", "M", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: delta(o, i)),
    ("L9.9 M+N dN", "M + N", "N", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: delta(o, i)),
    ("L9.9 M-N dM", "M - N", "M", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: delta(o, i)),
    ("L9.9 M-N dN", "M - N", "N", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: -delta(o, i)),
    ("L9.9 M*N dM", "M * N", "M", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: sym("N", *o) * delta(o, i)),
    ("L9.9 M*N dN", "M * N", "N", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: sym("M", *o) * delta(o, i)),
    ("L9.9 hadamard dN", "hadamard(M, N)", "N", {"M": (2, 3), "N": (2, 3)}, (2, 3), (2, 3),
     lambda o, i: sym("M", *o) * delta(o, i)),
    # Lecture 9, items 6 and 7: sum and mean give a tensor of X's shape.
    ("L9.6 sum", "sum(X)", "X", {"X": (2, 3)}, (), (2, 3), lambda o, i: ONE),
    ("L9.7 mean", "mean(X)", "X", {"X": (2, 3)}, (), (2, 3),
     lambda o, i: sp.Rational(1, 6)),
    ("L9.7 mean 3x4", "mean(X)", "X", {"X": (3, 4)}, (), (3, 4),
     lambda o, i: sp.Rational(1, 12)),
    # Transposes move indices.
    ("W.T", "W.T", "W", {"W": (2, 3)}, (3, 2), (2, 3),
     lambda o, i: delta(o, i[::-1])),
    # The loss is a scalar: gradient of xᵀ A x w.r.t. A is the outer product x xᵀ.
    ("000.4 x@A@x", "x@A@x", "A", {"A": (2, 2), "x": 2}, (), (2, 2),
     lambda o, i: sym("x", i[0]) * sym("x", i[1])),
]

# Lecture 9, item 8: unary element-wise functions, f'(X_ij) on the diagonal.
UNARY = [
    ("exp", sp.exp, lambda s: sp.exp(s)),
    ("log", sp.log, lambda s: 1 / s),
    ("sigmoid", sigmoid, lambda s: sigmoid(s) * (1 - sigmoid(s))),
    ("tanh", sp.tanh, lambda s: 1 - sp.tanh(s)**2),
    ("relu", None, lambda s: step(s)),
    ("sin", sp.sin, lambda s: sp.cos(s)),
    ("sqrt", sp.sqrt, lambda s: 1 / (2 * sp.sqrt(s))),
]
for name, _, deriv in UNARY:
    CASES.append((f"L9.8 {name}(X)", f"{name}(X)", "X", {"X": (2, 3)}, (2, 3), (2, 3),
                  (lambda d: lambda o, i: d(sym("X", *o)) * delta(o, i))(deriv)))

IDS = [c[0] for c in CASES]


def expected_dense(case, layout: str) -> np.ndarray:
    """The expected tensor as an object array in ``layout``."""
    _, _, _, _, out_shape, in_shape, entry = case
    shape = out_shape + in_shape if layout == "numerator" else in_shape + out_shape
    dense = np.empty(shape, dtype=object)
    for o in np.ndindex(*out_shape):
        for i in np.ndindex(*in_shape):
            dense[o + i if layout == "numerator" else i + o] = sp.sympify(entry(o, i))
    return dense


def entry_of(tensor, index):
    """Index a SymPy Matrix/Array (or a 0-d Array) with a tuple."""
    return tensor[index] if index else tensor[()]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tensor_entries(case, layout):
    _, expr, wrt, shapes, out_shape, in_shape, _ = case
    J = jacobian(expr, wrt=wrt, shapes=shapes, layout=layout)
    want = expected_dense(case, layout)
    assert J.out_shape == out_shape and J.in_shape == in_shape
    assert J.shape == want.shape
    assert J.wrt == [wrt]
    tensor = J.tensor
    assert tuple(tensor.shape) == want.shape
    assert isinstance(tensor, sp.Matrix) == (len(want.shape) == 2)
    for index in np.ndindex(*want.shape):
        got = entry_of(tensor, index)
        assert got == want[index] or sp.simplify(got - want[index]) == 0, (index, got)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tensor_nonzeros(case, layout):
    """``.nonzeros()`` holds exactly the non-zero entries, keyed by 0-based indices."""
    _, expr, wrt, shapes, *_ = case
    J = jacobian(expr, wrt=wrt, shapes=shapes, layout=layout)
    want = expected_dense(case, layout)
    expected_keys = {i for i in np.ndindex(*want.shape) if want[i] != 0}
    nonzeros = J.nonzeros()
    assert set(nonzeros) == expected_keys
    assert J.nnz == len(expected_keys)
    for index, expr_ in nonzeros.items():
        assert all(type(k) is int and k >= 0 for k in index)
        assert sp.simplify(expr_ - want[index]) == 0
        assert J[index] == expr_


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tensor_flatten(case, layout):
    """Rows are the output entries in row-major order (columns in denominator)."""
    _, expr, wrt, shapes, out_shape, in_shape, entry = case
    J = jacobian(expr, wrt=wrt, shapes=shapes, layout=layout)
    flat = J.flatten()
    n_out, n_in = math.prod(out_shape), math.prod(in_shape)
    assert isinstance(flat, sp.Matrix)
    assert flat.shape == ((n_out, n_in) if layout == "numerator" else (n_in, n_out))
    numerator_flat = flat if layout == "numerator" else flat.T
    for r, o in enumerate(np.ndindex(*out_shape)):
        for c, i in enumerate(np.ndindex(*in_shape)):
            assert sp.simplify(numerator_flat[r, c] - entry(o, i)) == 0, (o, i)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_denominator_is_a_permutation_of_numerator(case):
    _, expr, wrt, shapes, out_shape, in_shape, _ = case
    num = jacobian(expr, wrt=wrt, shapes=shapes)
    den = jacobian(expr, wrt=wrt, shapes=shapes, layout="denominator")
    k = len(out_shape)
    assert den.shape == in_shape + out_shape
    assert den.nonzeros() == {key[k:] + key[:k]: e for key, e in num.nonzeros().items()}
    assert num.with_layout("denominator").nonzeros() == den.nonzeros()
    assert den.flatten() == num.flatten().T


# -- slices, as the lectures draw them -----------------------------------------------

@pytest.mark.parametrize("k", range(n))
def test_dz_dw_k_has_x_transposed_in_row_k(k):
    """Lecture 5, item 5: dz/dw_k (w_k = column k of W) is n x m with xᵀ in row k."""
    J = jacobian("x@W + b", wrt="W", shapes={"x": m, "W": (m, n), "b": n})
    block = sp.Matrix(J.as_object_array()[:, :, k].tolist())
    xT = sp.Matrix([[sym("x", j) for j in range(m)]])
    assert block.shape == (n, m)
    for row in range(n):
        assert block[row, :] == (xT if row == k else sp.zeros(1, m))


@pytest.mark.parametrize("k", range(N))
def test_dz_dx_sample_k_has_w_transposed_in_row_k(k):
    """Lecture 5, item 6: dz/dx^(k) is N x m with wᵀ in row k."""
    J = jacobian("X@w + b", wrt="X", shapes={"X": (N, m), "w": m})
    block = sp.Matrix(J.as_object_array()[:, k, :].tolist())
    wT = sp.Matrix([[sym("w", j) for j in range(m)]])
    for row in range(N):
        assert block[row, :] == (wT if row == k else sp.zeros(1, m))


def test_affine_layer_dz_dx_is_W_transposed():
    W = sp.Matrix(m, n, lambda i, j: sym("W", i, j))
    J = jacobian("x@W + b", wrt="x", shapes={"x": m, "W": (m, n), "b": n})
    assert J.tensor == W.T
    assert jacobian("x@W + b", wrt="x", shapes={"x": m, "W": (m, n), "b": n},
                    layout="denominator").tensor == W


def test_affine_layer_dz_db_is_identity():
    J = jacobian("x@W + b", wrt="b", shapes={"x": m, "W": (m, n), "b": n})
    assert J.tensor == sp.eye(n)


def test_minibatch_dz_dw_is_X_itself():
    """The slide labels it Xᵀ: a slip in its notation. It is X (N x m)."""
    X = sp.Matrix(N, m, lambda i, j: sym("X", i, j))
    J = jacobian("X@w + b", wrt="w", shapes={"X": (N, m), "w": m})
    assert J.tensor == X
    assert J.tensor != X.T


def test_minibatch_dz_db_is_column_of_ones():
    J = jacobian("X@w + b", wrt="b", shapes={"X": (N, m), "w": m})
    assert J.tensor == sp.ones(N, 1)
    assert jacobian("X@w + b", wrt="b", shapes={"X": (N, m), "w": m},
                    layout="denominator").tensor == sp.ones(1, N)


def test_y_equals_A_x_gives_A():
    A = sp.Matrix(2, 3, lambda i, j: sym("A", i, j))
    assert jacobian("A@x", wrt="x", shapes={"A": (2, 3), "x": 3}).tensor == A


# -- softmax --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("K", [3, 4])
def test_softmax_jacobian(K, layout):
    """Lecture 5, item 7: dp_i/dl_j = p_i (δ_ij - p_j), symmetric K x K."""
    l = [sym("l", i) for i in range(K)]
    total = sum(sp.exp(v) for v in l)
    p = [sp.exp(v) / total for v in l]
    J = jacobian("softmax(l)", wrt="l", shapes={"l": K}, layout=layout)
    assert J.shape == (K, K)
    assert J.nnz == K * K
    for i in range(K):
        for j in range(K):
            # symmetric, so both layouts have the same entries
            assert sp.simplify(J.tensor[i, j] - p[i] * (delta(i, j) - p[j])) == 0


def test_softmax_jacobian_is_diag_p_minus_p_pT():
    K = 3
    l = [sym("l", i) for i in range(K)]
    p = sp.Matrix([sp.exp(v) / sum(sp.exp(u) for u in l) for v in l])
    J = jacobian("softmax(l)", wrt="l", shapes={"l": K}, simplify=True).tensor
    assert sp.simplify(J - (sp.diag(*p) - p * p.T)) == sp.zeros(K, K)
    assert sp.simplify(J - J.T) == sp.zeros(K, K)


def test_softmax_rows_of_matrix_are_independent():
    """softmax of a matrix is row-wise: entries across different rows are zero."""
    J = jacobian("softmax(L)", wrt="L", shapes={"L": (2, 3)})
    assert J.shape == (2, 3, 2, 3)
    assert J.nnz == 2 * 3 * 3
    assert all(key[0] == key[2] for key in J.nonzeros())


def test_softmax_jacobian_numeric_rows_sum_to_zero():
    """Σ_i dp_i/dl_j = 0 because Σ_i p_i = 1."""
    J = jacobian("softmax(l)", wrt="l", shapes={"l": 4})
    values = J.evaluate({"l_1": 0.3, "l_2": -1.0, "l_3": 2.0, "l_4": 0.0})
    np.testing.assert_allclose(values.sum(axis=0), 0.0, atol=1e-14)
    p = np.exp([0.3, -1.0, 2.0, 0.0])
    p /= p.sum()
    np.testing.assert_allclose(values, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


# -- element-wise structure (Lecture 9, item 8; 002, item 6) ----------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ["exp", "log", "sigmoid", "tanh", "relu"])
def test_elementwise_is_diagonal(name, layout):
    J = jacobian(f"{name}(X)", wrt="X", shapes={"X": (2, 3)}, layout=layout)
    assert J.shape == (2, 3, 2, 3)
    assert J.nnz == 6
    assert J.size == 36
    assert sorted(J.nonzeros()) == [(i, j, i, j) for i in range(2) for j in range(3)]


def test_elementwise_on_1024_inputs_has_1024_nonzeros():
    """002, item 6: 1024² entries, only 1024 of them non-zero."""
    J = jacobian("sigmoid(x)", wrt="x", shapes={"x": 1024})
    assert J.size == 1024**2
    assert J.nnz == 1024
    assert set(J.nonzeros()) == {(i, i) for i in range(1024)}


def test_relu_derivative_is_one_at_zero():
    """The lectures' convention: relu'(0) = 1."""
    J = jacobian("relu(X)", wrt="X", shapes={"X": (1, 2)})
    values = J.evaluate({"X_1_1": 0.0, "X_1_2": -0.5})
    assert values[0, 0, 0, 0] == 1.0
    assert values[0, 1, 0, 1] == 0.0


def test_sigmoid_derivative_values():
    J = jacobian("sigmoid(X)", wrt="X", shapes={"X": (1, 2)})
    values = J.evaluate({"X_1_1": 0.0, "X_1_2": 2.0})
    s = 1 / (1 + np.exp(-2.0))
    assert values[0, 0, 0, 0] == pytest.approx(0.25, rel=1e-14)
    assert values[0, 1, 0, 1] == pytest.approx(s * (1 - s), rel=1e-14)
    assert values[0, 0, 0, 1] == 0.0


# -- scale ------------------------------------------------------------------------------

def test_matmul_32x32_builds_with_expected_sparsity():
    J = jacobian("X@W", wrt="W", shapes={"X": (32, 32), "W": (32, 32)})
    assert J.shape == (32, 32, 32, 32)
    assert J.nnz == 32 * 32 * 32
    assert J.nnz == 32768
    assert J.nonzeros()[(5, 7, 11, 7)] == sym("X", 5, 11)
    assert (5, 7, 11, 6) not in J.nonzeros()


def test_entry_limit_is_enforced():
    from jacobian_calc import Limits
    with pytest.raises(JacobianError, match="over the limit"):
        jacobian("X@W", wrt="W", shapes={"X": (4, 4), "W": (4, 4)},
                 limits=Limits(max_entries=100))


# -- errors in tensor mode -----------------------------------------------------------------

@pytest.mark.parametrize("expr, shapes, message", [
    ("X@W", {"X": (2, 3), "W": (2, 3)}, "inner dimensions"),
    ("A + B", {"A": (2, 3), "B": (3, 2)}, "broadcast"),
    ("x@y", {"x": 2}, "scalars"),
    ("softmax(s)", {}, "softmax"),
    ("outer(A, x)", {"A": (2, 2), "x": 2}, "two vectors"),
    ("sum(x, axis=1)", {"x": 2}, "out of range"),
    ("W(x)", {"W": (2, 2), "x": 2}, "not a function"),
])
def test_shape_errors(expr, shapes, message):
    with pytest.raises(JacobianError, match=message):
        jacobian(expr, wrt="x" if "x" in expr else None, shapes=shapes)


def test_list_of_array_components_is_refused():
    with pytest.raises(JacobianError, match="must be scalars"):
        jacobian("x, x", wrt="x", shapes={"x": 2})


# -- in terms of the output (Lecture 9, item 8) -----------------------------------------------

OUTPUT_FORMS = [
    ("sigmoid", lambda Y, X: Y * (1 - Y)),
    ("exp", lambda Y, X: Y),
    ("tanh", lambda Y, X: (1 + Y) * (1 - Y)),
    ("log", lambda Y, X: 1 / X),
    ("relu", lambda Y, X: step(X)),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name, form", OUTPUT_FORMS, ids=[f[0] for f in OUTPUT_FORMS])
def test_in_terms_of_output(name, form, layout):
    """sigmoid' = Y(1 - Y), exp' = Y, tanh' = (1 + Y)(1 - Y); log and relu keep X."""
    J = jacobian(f"{name}(X)", wrt="X", shapes={"X": (2, 3)}, in_terms_of_output=True,
                 layout=layout)
    assert J.shape == (2, 3, 2, 3)
    assert J.nnz == 6
    assert sorted(J.nonzeros()) == [(i, j, i, j) for i in range(2) for j in range(3)]
    for (i, j, k, l), expr in J.nonzeros().items():
        Y, X = entry_symbol("Y", (i, j)), sym("X", i, j)
        assert sp.expand(expr - form(Y, X)) == 0


def test_in_terms_of_output_uses_only_output_symbols_for_sigmoid():
    J = jacobian("sigmoid(X)", wrt="X", shapes={"X": (2, 2)}, in_terms_of_output=True)
    names = set(J.symbols())
    assert names == {"Y_1_1", "Y_1_2", "Y_2_1", "Y_2_2"}


def test_softmax_in_terms_of_output():
    J = jacobian("softmax(l)", wrt="l", shapes={"l": 3}, in_terms_of_output=True)
    p = [entry_symbol("p", (i,)) for i in range(3)]
    assert set(J.symbols()) == {"p_1", "p_2", "p_3"}
    for i in range(3):
        for j in range(3):
            assert sp.expand(J.tensor[i, j] - p[i] * (delta(i, j) - p[j])) == 0


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("sigmoid(X@W + b)", "W", {"X": (2, 3), "W": (3, 2), "b": 2}),
    ("tanh(X@W)", "X", {"X": (2, 2), "W": (2, 2)}),
    ("exp(A@x)", "x", {"A": (2, 3), "x": 3}),
    ("softmax(x@W)", "W", {"x": 2, "W": (2, 3)}),
])
def test_in_terms_of_output_equals_plain_jacobian_after_substitution(expr, wrt, shapes):
    """Put Y = f(inner) back: the chain-rule form equals the plain Jacobian."""
    plain = jacobian(expr, wrt=wrt, shapes=shapes)
    rewritten = jacobian(expr, wrt=wrt, shapes=shapes, in_terms_of_output=True)
    from jacobian_calc import parse
    from jacobian_calc.symbolic.evaluate import Env, evaluate
    dims = {k: (v,) if isinstance(v, int) else v for k, v in shapes.items()}
    values = evaluate(parse(expr)[0], Env(dims))
    name = "p" if expr.startswith("softmax") else "Y"
    back = {entry_symbol(name, i): v for i, v in values.items()}
    assert rewritten.shape == plain.shape
    for index in np.ndindex(*plain.shape):
        diff = rewritten[index].xreplace(back) - plain[index]
        assert diff == 0 or sp.simplify(diff.rewrite(sp.exp)) == 0, index


def test_in_terms_of_output_keys_are_python_ints():
    J = jacobian("sigmoid(X)", wrt="X", shapes={"X": (1, 2)}, in_terms_of_output=True)
    assert all(type(k) is int for key in J.nonzeros() for k in key)


def test_in_terms_of_output_needs_a_function_applied_last():
    with pytest.raises(JacobianError, match="in.terms.of.output"):
        jacobian("X@W", wrt="W", shapes={"X": (2, 2), "W": (2, 2)}, in_terms_of_output=True)
