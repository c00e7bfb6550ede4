"""Reductions and the functions of the output layer: sum, mean, logsumexp, norm,
softmax, log_softmax.

``axis`` and ``keepdims`` mean what they mean in NumPy. A gradient flowing back
through a reduction is broadcast back to the input's shape; where the reduced
axis is not the leading one it is first put back with ``expand_dims``.
"""

from __future__ import annotations


from ..core.tree import Node, fn
from .registry import Keyword, Op, needs_array, reduced_shape, register, size_node

AXIS = Keyword("axis", "axis")
KEEPDIMS = Keyword("keepdims", "bool", False)


def restore(v, t):
    """``t`` (the reduced output, or its gradient) shaped to broadcast against the input."""
    axis, keep = v.kw.get("axis"), v.kw.get("keepdims")
    if axis is None or keep or not v.shapes[0]:
        return t
    axis %= len(v.shapes[0])
    return t if axis == 0 else fn.expand_dims(t, axis=axis)


def count(v) -> Node:
    """How many entries each output entry of the reduction combines: ``12``, or
    ``N * h`` at symbolic sizes."""
    shape, axis = v.shapes[0], v.kw.get("axis")
    return size_node(shape if axis is None else (shape[axis],))


def _sum_index(c, body=lambda e: e):
    """``Σ`` of ``body(X[...])`` along ``axis`` (all axes for None)."""
    return c.reduce(0, body, c.kw.get("axis"), bool(c.kw.get("keepdims")))


def _count_index(c):
    """How many entries each output entry of a reduction combines, as a size."""
    axis = c.kw.get("axis")
    axes = range(len(c.shapes[0])) if axis is None else [axis]
    return c.S.mul(*(c.size(0, a) for a in axes))


def _softmax_index(c, log=False):
    """``exp(X[i,j]) / Σ_r exp(X[i,r])`` along ``axis`` (its log: ``X[i,j] - log(...)``)."""
    total = c.reduce(0, c.S.exp, c.kw.get("axis", -1), keepdims=True)
    x = c.arg(0, *c.out)
    return c.S.add(x, c.S.neg(c.S.log(total))) if log else c.S.div(c.S.exp(x), total)


def _reduce(S, X, kw, func):
    return X.reduce(func, kw.get("axis"), bool(kw.get("keepdims")))


def _np_kw(kw) -> dict:
    return {"axis": kw.get("axis"), "keepdims": bool(kw.get("keepdims"))}


def _reduce_code(numpy_name: str, torch_name: str) -> dict:
    """Code for ``name(X, axis=..., keepdims=...)`` in NumPy and PyTorch."""
    def numpy(args, kw):
        extra = "" if kw.get("axis") is None else f", axis={kw['axis']}"
        extra += ", keepdims=True" if kw.get("keepdims") else ""
        return f"{numpy_name}({args[0]}{extra})"

    def torch(args, kw):
        if kw.get("axis") is None and torch_name == "torch.logsumexp":  # needs a dim
            body = f"{torch_name}({args[0]}.reshape(-1), dim=0)"
            return f"{body}.reshape([1] * {args[0]}.dim())" if kw.get("keepdims") else body
        if kw.get("axis") is None:
            body = f"{torch_name}({args[0]})"
            return f"{body}.reshape([1] * {args[0]}.dim())" if kw.get("keepdims") else body
        keep = ", keepdim=True" if kw.get("keepdims") else ""
        return f"{torch_name}({args[0]}, dim={kw['axis']}{keep})"
    return {"numpy": numpy, "torch": torch}


def _axis_latex(name: str):
    subscripts = {None: "", 0: r"_{\text{rows}}", 1: r"_{\text{cols}}", -1: r"_{\text{cols}}",
                  -2: r"_{\text{rows}}"}
    return lambda p: (rf"\operatorname{{{name}}}{subscripts.get(p.kw('axis'), '')}"
                      rf"\left({p.arg(0)}\right)")


register(Op(
    name="sum", category="reduction",
    rational=True, step_role="statistic",
    linear=True,
    doc="sum of the entries; sum(X, axis=0) sums each column, axis=1 each row",
    rule="dX = dY * ones_like(X)  (sum(X, axis=1): dX = expand_dims(dY, 1) * ones_like(X))",
    arity=(1, 1), keywords=(AXIS, KEEPDIMS), shape=reduced_shape,
    evaluate=lambda S, args, kw: _reduce(S, args[0], kw, lambda xs: S.add(*xs)),
    index=_sum_index,
    cost=lambda c: (c.reduced, c.reduced * c.sizes[0] + 1),
    vjp=lambda v: (restore(v, v.g) * fn.ones_like(v.x),),
    numpy=lambda np, x, **kw: np.sum(x, **_np_kw(kw)),
    code=_reduce_code("np.sum", "torch.sum"), latex=_axis_latex("sum")))

register(Op(
    name="mean", category="reduction", doc="mean of the entries (axis and keepdims as for sum)",
    rational=True, step_role="statistic",
    linear=True,
    rule="dX = dY / n * ones_like(X), n the number of entries averaged",
    arity=(1, 1), keywords=(AXIS, KEEPDIMS), shape=reduced_shape,
    evaluate=lambda S, args, kw: _reduce(
        S, args[0], kw, lambda xs: S.div(S.add(*xs), S.Integer(len(xs)))),
    index=lambda c: c.S.div(_sum_index(c), _count_index(c)),
    cost=lambda c: (c.reduced + 2, c.reduced * c.sizes[0] + 3),
    vjp=lambda v: (restore(v, v.g) / count(v) * fn.ones_like(v.x),),
    numpy=lambda np, x, **kw: np.mean(x, **_np_kw(kw)),
    code=_reduce_code("np.mean", "torch.mean"), latex=_axis_latex("mean")))

register(Op(
    name="logsumexp", category="reduction",
    doc="log(sum(exp(X))), along an axis with axis=",
    rule="dX = dY * exp(X - Y)  (the softmax of X, broadcast along the reduced axis)",
    arity=(1, 1), keywords=(AXIS, KEEPDIMS), shape=reduced_shape,
    evaluate=lambda S, args, kw: _reduce(
        S, args[0], kw, lambda xs: S.log(S.add(*(S.exp(x) for x in xs)))),
    index=lambda c: c.S.log(_sum_index(c, c.S.exp)),
    cost=lambda c: (2 * c.reduced + 1, c.reduced * (c.sizes[0] + 1) + 2),
    vjp=lambda v: (restore(v, v.g) * fn.exp(v.x - restore(v, v.out)),),
    numpy=lambda np, x, **kw: np.log(np.sum(np.exp(x), **_np_kw(kw))),
    code=_reduce_code("_logsumexp", "torch.logsumexp"),
    latex=lambda p: rf"\operatorname{{logsumexp}}\left({p.arg(0)}\right)"))


def _norm_shape(s):
    if s.kw.get("ord") == 1 and len(s.shapes[0]) == 2:
        raise s.fail(f"with ord 1 needs a vector, got {s.arg(0)} (the matrix 1-norm is "
                     "not differentiable in closed form); norm(X) is the Frobenius norm")
    return ()


def _norm_entry(S, X, kw):
    if kw.get("ord") == 1:
        return S.add(*(S.Abs(x) for x in X.flat))
    return S.sqrt(S.add(*(S.pow(x, S.Integer(2)) for x in X.flat)))


register(Op(
    name="norm", category="reduction",
    doc="2-norm of a vector, Frobenius norm of a matrix; norm(x, 1) = sum(abs(x))",
    rule="dX = dY * X / Y  (norm(X, 1): dX = dY * sign(X))",
    arity=(1, 1), keywords=(Keyword("ord", "ord", 2),), shape=_norm_shape, value_sign="nonnegative",
    evaluate=lambda S, args, kw: S.Grid.scalar(_norm_entry(S, args[0], kw)),
    index=lambda c: (c.reduce(0, c.S.Abs, None, False) if c.kw.get("ord") == 1 else
                     c.S.sqrt(c.reduce(0, lambda e: e ** 2, None, False))),
    cost=lambda c: (2 * c.reduced + 1, c.reduced * (c.sizes[0] + 2) + 2),
    vjp=lambda v: ((v.g * fn.sign(v.x),) if v.kw.get("ord") == 1
                   else (v.g * v.x / v.out,)),
    numpy=lambda np, x, **kw: (np.sum(np.abs(x)) if kw.get("ord") == 1
                               else np.sqrt(np.sum(x * x))),
    code={"numpy": lambda a, kw: (f"np.sum(np.abs({a[0]}))" if kw.get("ord") == 1
                                  else f"np.linalg.norm({a[0]})"),
          "torch": lambda a, kw: (f"torch.sum(torch.abs({a[0]}))" if kw.get("ord") == 1
                                  else f"torch.linalg.norm({a[0]})")},
    latex=lambda p: (rf"\left\|{p.arg(0)}\right\|_{{1}}" if p.kw("ord") == 1
                     else rf"\left\|{p.arg(0)}\right\|")))


def _softmax(S, X, kw, log=False):
    exps = X.map(S.exp)
    totals = exps.reduce(lambda xs: S.add(*xs), kw.get("axis", -1), keepdims=True)
    if log:
        return S.Grid.zipmap(lambda x, t: S.add(x, S.neg(S.log(t))), X, totals)
    return S.Grid.zipmap(S.div, exps, totals)


def _softmax_cost(c):
    """Each entry: its exp over the total of its row, the total built once per row."""
    n = c.shapes[0][c.kw.get("axis", -1)]
    return 5.0, (n + 1) * (c.sizes[0] + 1) + 2


def _sum_along(v, t):
    """``sum(t, axis=..., keepdims=True)``, or ``sum(t)`` for a vector."""
    if len(v.out_shape) == 1:
        return fn.sum(t)
    return fn.sum(t, axis=v.kw.get("axis", -1), keepdims=True)


def _softmax_np(np, x, axis=-1, log=False):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
    return shifted - np.log(total) if log else np.exp(shifted) / total


register(Op(
    name="softmax", category="neural network",
    step_letters="PQ", output_name="p", hessian_letters="pq", step_in_arithmetic=True,
    doc="exp(X) / sum(exp(X)) along the last axis (each row of a matrix; axis= to choose)",
    rule="dX = Y * (dY - sum(dY * Y, axis=axis, keepdims=True))",
    arity=(1, 1), keywords=(Keyword("axis", "axis", -1),), shape=needs_array,
    evaluate=lambda S, args, kw: _softmax(S, args[0], kw), cost=lambda c: _softmax_cost(c),
    value_sign="positive",
    index=_softmax_index,
    vjp=lambda v: (v.out * (v.g - _sum_along(v, v.g * v.out)),),
    numpy=lambda np, x, **kw: _softmax_np(np, x, kw.get("axis", -1)),
    code={"numpy": lambda a, kw: f"_softmax({a[0]}, axis={kw.get('axis', -1)})",
          "torch": lambda a, kw: f"torch.softmax({a[0]}, dim={kw.get('axis', -1)})"},
    latex=lambda p: rf"\operatorname{{softmax}}\left({p.arg(0)}\right)"))

register(Op(
    name="log_softmax", category="neural network",
    step_letters="SR", hessian_letters="rq",
    doc="X - logsumexp(X) along the last axis (axis= to choose)",
    rule="dX = dY - exp(Y) * sum(dY, axis=axis, keepdims=True)",
    arity=(1, 1), keywords=(Keyword("axis", "axis", -1),), shape=needs_array,
    evaluate=lambda S, args, kw: _softmax(S, args[0], kw, log=True),
    index=lambda c: _softmax_index(c, log=True),
    cost=lambda c: _softmax_cost(c),
    vjp=lambda v: (v.g - fn.exp(v.out) * _sum_along(v, v.g),),
    numpy=lambda np, x, **kw: _softmax_np(np, x, kw.get("axis", -1), log=True),
    code={"numpy": lambda a, kw: f"_log_softmax({a[0]}, axis={kw.get('axis', -1)})",
          "torch": lambda a, kw: f"torch.log_softmax({a[0]}, dim={kw.get('axis', -1)})"},
    latex=lambda p: rf"\log\operatorname{{softmax}}\left({p.arg(0)}\right)"))
