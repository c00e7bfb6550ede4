"""Linear algebra: trace, det, inv, logdet, diag, outer, eye, eye_like, ones_like,
expand_dims.

The backward rules are the Matrix Cookbook's identities:
``d tr(X) = I``, ``d det(X) = det(X) X^-T``, ``d inv(X): dX = -Y^T dY Y^T``,
``d logdet(X) = X^-T``. Determinants and inverses are written out entry by
entry (cofactors over the determinant), so they are for small matrices.
"""

from __future__ import annotations

from ..core.tree import fn
from .registry import (AS_ARGUMENT, PREC_ATOM, PREC_MUL, PREC_POW, Keyword, NoIndexForm, Op,
                       call_code, register, same_shape, square_matrix)

#: det, inv and logdet have no finite index form at symbolic size.
_NO_INDEX = NoIndexForm("not a finite sum of products at symbolic size")

#: Largest n for which det, inv and logdet of an n x n matrix are written out.
MAX_SYMBOLIC_N = 6


def _square_scalar(s):
    _check_small(s)
    return ()


def _square_same(s):
    _check_small(s)
    return s.shapes[0]


def _check_small(s):
    n = square_matrix(s)
    if isinstance(n, int) and n > MAX_SYMBOLIC_N:
        raise s.fail(f"of a {n}x{n} matrix would have {_factorial(n):,} terms per entry; "
                     f"written out up to {MAX_SYMBOLIC_N}x{MAX_SYMBOLIC_N}")


def _factorial(n: int) -> int:
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out


def _det_cost(c):
    """n! products of n entries each (the determinant written out)."""
    n = c.shapes[0][0]
    terms = _factorial(n)
    return float(terms * n), terms * (n * c.sizes[0] + 1) + 1.0


def _inv_cost(c):
    """Each entry: a cofactor ((n-1)! products) over the determinant."""
    n = c.shapes[0][0]
    cofactor = _factorial(n - 1) * (max(n - 1, 1) * c.sizes[0] + 1)
    built, det = _det_cost(c)
    return _factorial(n - 1) * n + built / (n * n), cofactor + det + 2


def _same_size(c):
    return 0.0, c.sizes[0]


def _constant(c):
    return 0.0, 1.0


def _trace_index(c):
    r = c.fresh()
    return c.sum(c.arg(0, r, r), (r, c.size(0, 0)))


def _diag_index(c):
    """``v[i] δ[i,j]`` (a vector made diagonal) or ``X[i,i]`` (a matrix's diagonal)."""
    if len(c.shapes[0]) == 1:
        return c.arg(0, c.out[0]) * c.delta(*c.out)
    return c.arg(0, c.out[0], c.out[0])


def _trace_shape(s):
    square_matrix(s)
    return ()


register(Op(
    name="trace", category="linear algebra", doc="trace of a square matrix, sum of its diagonal",
    rational=True,
    sympy_classes=("Trace",),
    rule="dX = dY * eye_like(X)",
    arity=(1, 1), shape=_trace_shape,
    evaluate=lambda S, args, kw: S.Grid.scalar(
        S.add(*(args[0][i, i] for i in range(args[0].shape[0])))),
    index=_trace_index,
    cost=lambda c: (c.shapes[0][0], c.shapes[0][0] * c.sizes[0] + 1),
    vjp=lambda v: (v.g * fn.eye_like(v.x),),
    numpy=lambda np, x, **kw: np.trace(x),
    code=call_code("np.trace", "torch.trace"),
    latex=lambda p: rf"\operatorname{{tr}}\left({p.arg(0)}\right)"))

register(Op(
    name="det", category="linear algebra", doc="determinant of a square matrix",
    rational=True,
    sympy_classes=("Determinant",),
    rule="dX = dY * Y * inv(X).T",
    arity=(1, 1), shape=_square_scalar,
    evaluate=lambda S, args, kw: S.Grid.scalar(S.det(args[0])), cost=_det_cost,
    index=_NO_INDEX,
    vjp=lambda v: (v.g * v.out * fn.inv(v.x).T,),
    numpy=lambda np, x, **kw: np.linalg.det(x),
    code=call_code("np.linalg.det", "torch.linalg.det"),
    latex=lambda p: rf"\det\left({p.arg(0)}\right)"))

register(Op(
    name="inv", category="linear algebra", doc="inverse of a square matrix",
    rational=True,
    sympy_classes=("Inverse",),
    rule="dX = -(Y.T @ dY @ Y.T)",
    arity=(1, 1), shape=_square_same,
    evaluate=lambda S, args, kw: S.inverse(args[0]), cost=_inv_cost, index=_NO_INDEX,
    vjp=lambda v: (-(v.out.T @ v.g @ v.out.T),),
    numpy=lambda np, x, **kw: np.linalg.inv(x),
    code=call_code("np.linalg.inv", "torch.linalg.inv"),
    latex=lambda p: f"{p.arg(0, PREC_ATOM)}^{{-1}}", latex_precedence=PREC_POW))

register(Op(
    name="logdet", category="linear algebra",
    doc="log(det(X)) of a square matrix (defined where det(X) > 0)",
    rule="dX = dY * inv(X).T",
    arity=(1, 1), shape=_square_scalar,
    evaluate=lambda S, args, kw: S.Grid.scalar(S.log(S.det(args[0]))), cost=_det_cost,
    index=_NO_INDEX,
    vjp=lambda v: (v.g * fn.inv(v.x).T,),
    numpy=lambda np, x, **kw: np.log(np.linalg.det(x)),
    code=call_code("_logdet", "torch.logdet"),
    latex=lambda p: rf"\log\det\left({p.arg(0)}\right)"))


def _diag_shape(s):
    shape = s.shapes[0]
    if len(shape) == 1:
        return shape + shape
    if len(shape) == 2:
        return (square_matrix(s),)
    raise s.fail(f"needs a vector (to make a diagonal matrix) or a square matrix (to take "
                 f"its diagonal), got {s.arg(0)}")


def _diag(S, X):
    if X.ndim == 2:
        return S.Grid((X.shape[0],), [X[i, i] for i in range(X.shape[0])])
    zero = S.Integer(0)
    return S.Grid.from_function(X.shape * 2, lambda ij: X[ij[0]] if ij[0] == ij[1] else zero)


register(Op(
    name="diag", category="linear algebra",
    rational=True,
    linear=True,
    doc="diag(v): the diagonal matrix of a vector; diag(X): the diagonal of a square matrix",
    rule=("dX = diag(dY)  (the diagonal of dY for a vector X, the diagonal matrix of dY for "
          "a matrix X)"),
    arity=(1, 1), shape=_diag_shape,
    evaluate=lambda S, args, kw: _diag(S, args[0]), cost=_same_size, index=_diag_index,
    vjp=lambda v: (fn.diag(v.g),),
    numpy=lambda np, x, **kw: np.diag(x),
    code=call_code("np.diag", "torch.diag"),
    latex=lambda p: rf"\operatorname{{diag}}\left({p.arg(0)}\right)"))


def _outer_shape(s):
    if len(s.shapes[0]) != 1 or len(s.shapes[1]) != 1:
        raise s.fail(f"needs two vectors, got {s.arg(0)} and {s.arg(1)}")
    return s.shapes[0] + s.shapes[1]


register(Op(
    name="outer", category="linear algebra", doc="outer product of two vectors, a b^T",
    rational=True,
    rule="dA = dY @ B, dB = dY.T @ A",
    arity=(2, 2), shape=_outer_shape,
    evaluate=lambda S, args, kw: S.Grid.from_function(
        args[0].shape + args[1].shape, lambda ij: S.mul(args[0][ij[0]], args[1][ij[1]])),
    index=lambda c: c.arg(0, c.out[0]) * c.arg(1, c.out[1]),
    vjp=lambda v: (v.g @ v.args[1], v.g.T @ v.args[0]),
    numpy=lambda np, a, b, **kw: np.outer(a, b),
    code={"numpy": "np.outer({0}, {1})", "torch": "torch.outer({0}, {1})"},
    latex=lambda p: f"{p.arg(0, PREC_ATOM)} {p.arg(1, PREC_ATOM)}{p.T}",
    latex_precedence=PREC_MUL))


def _identity(S, n: int, m: int):
    one, zero = S.Integer(1), S.Integer(0)
    return S.Grid.from_function((n, m), lambda ij: one if ij[0] == ij[1] else zero)


def _eye_shape(s):
    n = s.kw.get("n")
    if n is None:
        raise s.fail("needs its size, e.g. eye(3)")
    return (n, n)


register(Op(
    name="eye", category="structure", doc="eye(n): the n x n identity matrix",
    rational=True,
    sympy_classes=("Identity",), tensor_valued=True,
    rule="constant: no gradient",
    arity=(0, 0), keywords=(Keyword("n", "size"),), shape=_eye_shape,
    evaluate=lambda S, args, kw: _identity(S, kw["n"], kw["n"]), cost=_constant,
    index=lambda c: c.delta(*c.out),
    vjp=lambda v: (),
    numpy=lambda np, **kw: np.eye(kw["n"]),
    code={"numpy": lambda a, kw: f"np.eye({kw['n']})",
          "torch": lambda a, kw: f"torch.eye({kw['n']}, dtype=torch.float64)"},
    latex=lambda p: f"I_{{{p.kw('n')}}}"))


def _matrix_shape(s):
    if len(s.shapes[0]) != 2:
        raise s.fail(f"needs a matrix, got {s.arg(0)}")
    return s.shapes[0]


register(Op(
    name="eye_like", category="structure",
    rational=True, shape_only=True,
    doc="eye_like(X): the identity matrix of X's shape (ones on the diagonal)",
    rule="constant: no gradient",
    arity=(1, 1), shape=_matrix_shape,
    evaluate=lambda S, args, kw: _identity(S, *args[0].shape), cost=_constant,
    index=lambda c: c.delta(*c.out),
    vjp=lambda v: (None,),
    numpy=lambda np, x, **kw: np.eye(*np.shape(x)),
    code={"numpy": "np.eye(*np.shape({0}))",
          "torch": "torch.eye(*{0}.shape, dtype={0}.dtype)"},
    latex=lambda p: "I"))

register(Op(
    name="ones_like", category="structure", doc="ones_like(X): an array of ones of X's shape",
    rational=True, shape_only=True,
    rule="constant: no gradient",
    arity=(1, 1), shape=same_shape,
    evaluate=lambda S, args, kw: S.Grid.full(args[0].shape, S.Integer(1)), cost=_constant,
    index=lambda c: c.S.Integer(1),
    vjp=lambda v: (None,),
    numpy=lambda np, x, **kw: np.ones_like(x),
    code=call_code("np.ones_like", "torch.ones_like"),
    latex=lambda p: r"\mathbf{1}"))


def _expand_shape(s):
    axis, shape = s.kw.get("axis"), s.shapes[0]
    if axis is None or not -len(shape) - 1 <= axis <= len(shape):
        raise s.fail(f"needs an axis within the dimensions of {s.arg(0)}, e.g. "
                     "expand_dims(y, 1)")
    axis %= len(shape) + 1
    return shape[:axis] + (1,) + shape[axis:]


register(Op(
    name="expand_dims", category="structure",
    rational=True,
    linear=True,
    doc="expand_dims(y, 1): y with a new axis of length 1 (a column), for broadcasting",
    rule="dX = sum(dY, axis=axis)",
    arity=(1, 1), keywords=(Keyword("axis", "axis"),), shape=_expand_shape,
    evaluate=lambda S, args, kw: args[0].expand_dims(kw["axis"]), cost=_same_size,
    index=lambda c: c.arg(0, *(a for n, a in enumerate(c.out)
                               if n != c.kw["axis"] % len(c.out))),
    vjp=lambda v: (fn.sum(v.g, axis=v.kw["axis"]),),
    numpy=lambda np, x, **kw: np.expand_dims(x, kw["axis"]),
    code={"numpy": lambda a, kw: f"np.expand_dims({a[0]}, {kw['axis']})",
          "torch": lambda a, kw: f"{a[0]}.unsqueeze({kw['axis']})"},
    latex=lambda p: p.arg(0), latex_precedence=AS_ARGUMENT))
