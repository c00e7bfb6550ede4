"""Vectorization: kron, vec, reshape -- the language of the vec form of Jacobians.

Orders, stated once:

* ``vec(X)`` stacks the **columns** of ``X`` (column-major), as Magnus and
  Neudecker and matrixcalculus.org do, so that
  ``vec(A @ X @ B) = kron(B.T, A) @ vec(X)``. In NumPy it is
  ``X.reshape(-1, order="F")``, in PyTorch ``X.T.reshape(-1)``.
* ``reshape(X, r, c)`` reads ``X`` **row by row** (row-major), as NumPy's and
  PyTorch's ``reshape`` do; ``reshape(X, n)`` gives a vector of ``n`` entries.
* ``kron(A, B)`` is the Kronecker product ``A ⊗ B`` of two matrices (or two
  vectors): block ``(i, j)`` of the result is ``A[i, j] * B``, as
  ``torch.kron`` and ``np.kron``.

Backward rules (``u_p`` is a column of ``p`` ones):

* ``vec``: ``dX = reshape(dy, n, m).T`` (the columns put back);
* ``reshape``: ``dX = reshape(dY, *X.shape)``;
* ``kron`` of vectors: ``da = kron(eye(m), b.T) @ dy``, ``db = kron(a.T, eye(p)) @ dy``
  (``a.T`` a row); of matrices each block of ``dY`` is contracted with ``B``
  (for ``dA``) or the blocks are summed weighted by ``A`` (for ``dB``).
"""

from __future__ import annotations

import math

from ..core.tree import fn
from .registry import PREC_ATOM, Keyword, NoIndexForm, Op, register

#: Their entries are addressed by index arithmetic (division and remainder), not by a
#: sum of products of entries at the output's indices.
_NO_INDEX = NoIndexForm("its entries are addressed by index arithmetic")


# -- kron --------------------------------------------------------------------------------

def _numbers(s, i: int = 0) -> None:
    """Flattening makes sizes such as ``N*h``, which a symbolic shape cannot hold."""
    if any(isinstance(d, str) for k in range(i + 1) for d in s.shapes[k]):
        raise s.fail("needs numbers for the sizes: its shape is a product of sizes (N*h), "
                     "which a symbolic shape cannot hold")


def _kron_shape(s):
    a, b = s.shapes
    if len(a) != len(b) or len(a) not in (1, 2):
        raise s.fail(f"needs two matrices or two vectors, got {s.arg(0)} and {s.arg(1)}")
    _numbers(s, 1)
    return tuple(x * y for x, y in zip(a, b))


def _kron(S, A, B):
    if A.ndim == 1:
        p = B.shape[0]
        return S.Grid.from_function(
            (A.shape[0] * p,), lambda i: S.mul(A[(i[0] // p,)], B[(i[0] % p,)]))
    p, q = B.shape
    return S.Grid.from_function(
        (A.shape[0] * p, A.shape[1] * q),
        lambda ij: S.mul(A[ij[0] // p, ij[1] // q], B[ij[0] % p, ij[1] % q]))


def _row(v):
    """A vector as a 1 x n matrix."""
    return fn.expand_dims(v, axis=0)


def _ones_column(n: int):
    """An n x 1 column of ones (the row sums of the identity)."""
    return fn.sum(fn.eye(n=n), axis=1, keepdims=True)


def _kron_vjp(v):
    a, b = v.args
    (m, *rest_a), (p, *rest_b) = v.shapes
    if not rest_a:  # vectors: da[i] = sum_k dy[i p + k] b[k]
        return (fn.kron(fn.eye(n=m), _row(b)) @ v.g, fn.kron(_row(a), fn.eye(n=p)) @ v.g)
    n, q = rest_a[0], rest_b[0]
    # dA[i, j] = sum of block (i, j) of dY * kron(1, B); dB = sum of the blocks of dY * kron(A, 1)
    blocks_a = v.g * fn.kron(fn.ones_like(a), b)
    blocks_b = v.g * fn.kron(a, fn.ones_like(b))
    da = fn.kron(fn.eye(n=m), _ones_column(p).T) @ blocks_a @ fn.kron(fn.eye(n=n), _ones_column(q))
    db = fn.kron(_ones_column(m).T, fn.eye(n=p)) @ blocks_b @ fn.kron(_ones_column(n), fn.eye(n=q))
    return da, db


def _kron_cost(c):
    return 1.0, 1.0 + sum(c.sizes)


register(Op(
    name="kron", category="linear algebra",
    sympy_classes=("KroneckerProduct",),
    doc="kron(A, B): the Kronecker product A ⊗ B of two matrices (or two vectors)",
    rule="dA = kron(eye(m), B.T) @ dY, dB = kron(A.T, eye(p)) @ dY (A, B vectors of m, p); "
         "dA[i,j] = <block (i,j) of dY, B>, dB = sum over (i,j) of A[i,j] * block (i,j) of dY",
    arity=(2, 2), shape=_kron_shape,
    evaluate=lambda S, args, kw: _kron(S, *args), cost=_kron_cost, index=_NO_INDEX,
    vjp=_kron_vjp,
    numpy=lambda np, a, b, **kw: np.kron(a, b),
    code={"numpy": "np.kron({0}, {1})", "torch": "torch.kron({0}, {1})"},
    latex=lambda p: rf"\left({p.arg(0, PREC_ATOM)} \otimes {p.arg(1, PREC_ATOM)}\right)"))


# -- vec ---------------------------------------------------------------------------------

def _vec_shape(s):
    shape = s.shapes[0]
    if len(shape) not in (1, 2):
        raise s.fail(f"needs a vector or a matrix, got {s.arg(0)}")
    if len(shape) == 2:
        _numbers(s)
    return (math.prod(shape),)


def _vec(S, X):
    if X.ndim == 1:
        return X
    return S.Grid((X.size,), list(X.T.flat))


def _vec_vjp(v):
    shape = v.shapes[0]
    if len(shape) == 1:
        return (v.g,)
    m, n = shape
    return (fn.reshape(v.g, m=n, n=m).T,)


def _vec_code(language: str):
    def code(args, kw):
        x = args[0]
        if language == "numpy":
            return f"np.reshape({x}, -1, order='F')"
        return f"({x}).T.reshape(-1)"
    return code


register(Op(
    name="vec", category="structure",
    doc="vec(X): the columns of X stacked into one vector (column-major, as Magnus-Neudecker)",
    rule="dX = reshape(dy, n, m).T  (X is m x n)",
    arity=(1, 1), shape=_vec_shape,
    evaluate=lambda S, args, kw: _vec(S, args[0]), cost=lambda c: (0.0, c.sizes[0]),
    index=_NO_INDEX,
    vjp=_vec_vjp,
    numpy=lambda np, x, **kw: np.reshape(x, -1, order="F"),
    code={"numpy": _vec_code("numpy"), "torch": _vec_code("torch")},
    latex=lambda p: rf"\operatorname{{vec}}\left({p.arg(0)}\right)"))


# -- reshape -----------------------------------------------------------------------------

def _reshape_shape(s):
    shape, rows, cols = s.shapes[0], s.kw.get("m"), s.kw.get("n")
    if not shape:
        raise s.fail(f"needs a vector or a matrix, got {s.arg(0)}")
    if rows is None:
        raise s.fail("needs the new shape, e.g. reshape(x, 2, 3) or reshape(X, 6)")
    new = (rows,) if cols is None else (rows, cols)
    _numbers(s)
    if math.prod(new) != math.prod(shape):
        raise s.fail(f"cannot make {s.arg(0)} into {'x'.join(map(str, new))}: "
                     f"{math.prod(shape)} entries, not {math.prod(new)}")
    return new


def _reshape_vjp(v):
    return (fn.reshape(v.g, **dict(zip(("m", "n"), v.shapes[0]))),)


def _new_shape(kw) -> tuple:
    return (kw["m"],) if kw.get("n") is None else (kw["m"], kw["n"])


def _reshape_code(language: str):
    def code(args, kw):
        dims = ", ".join(map(str, _new_shape(kw)))
        if language == "numpy":
            return f"np.reshape({args[0]}, ({dims},))" if kw.get("n") is None else \
                f"np.reshape({args[0]}, ({dims}))"
        return f"({args[0]}).reshape({dims})"
    return code


register(Op(
    name="reshape", category="structure",
    doc="reshape(X, r, c): the entries of X read row by row (NumPy's order) into r x c; "
        "reshape(X, n): into a vector",
    rule="dX = reshape(dY, *X.shape)",
    arity=(1, 1), keywords=(Keyword("m", "size"), Keyword("n", "size")),
    shape=_reshape_shape,
    evaluate=lambda S, args, kw: args[0].reshape(_new_shape(kw)), index=_NO_INDEX,
    cost=lambda c: (0.0, c.sizes[0]),
    vjp=_reshape_vjp,
    numpy=lambda np, x, **kw: np.reshape(x, _new_shape(kw)),
    code={"numpy": _reshape_code("numpy"), "torch": _reshape_code("torch")},
    latex=lambda p: (rf"\operatorname{{reshape}}_{{{p.kw('m')}}}\left({p.arg(0)}\right)"
                     if p.kw("n") is None else
                     rf"\operatorname{{reshape}}_{{{p.kw('m')} \times {p.kw('n')}}}"
                     rf"\left({p.arg(0)}\right)")))
