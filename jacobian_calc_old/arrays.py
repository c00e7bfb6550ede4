"""Evaluate an expression tree to an array of SymPy entries, NumPy-style.

Every value is a NumPy object array (0-d for scalars) whose entries are SymPy
expressions, so broadcasting, transposes and shapes follow NumPy exactly.
Each tree node type has one small handler in ``_HANDLERS``.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import sympy as sp

from . import ir
from .autodiff import canonical_add, canonical_mul, symbol_dot
from .errors import JacobianError
from .functions import UNARY
from .shapes import Shape, scalar_symbol, symbol_array


class Env:
    """What names mean while evaluating: declared arrays, intermediates, scalars."""

    def __init__(self, shapes: Mapping[str, Shape] | None = None,
                 values: Mapping[str, np.ndarray] | None = None) -> None:
        self.shapes = dict(shapes or {})
        self.values: dict[str, np.ndarray] = dict(values or {})

    def lookup(self, name: str) -> np.ndarray:
        if name not in self.values:
            self.values[name] = symbol_array(name, self.shapes.get(name, ()))
        return self.values[name]


def evaluate(node: ir.Node, env: Env | None = None) -> np.ndarray:
    """Evaluate ``node`` to an object array of SymPy expressions.

    Shapes are assumed checked by :func:`infer_shape` first.

    Examples
    --------
    >>> from jacobian_calc.parser import parse_expression
    >>> evaluate(parse_expression("A@x"), Env({"A": (2, 2), "x": (2,)}))
    array([A_1_1*x_1 + A_1_2*x_2, A_2_1*x_1 + A_2_2*x_2], dtype=object)
    """
    env = env or Env()
    return _HANDLERS[type(node)](node, env)


def shape_text(shape: Shape) -> str:
    """``(2, 3)`` -> ``"2x3"``; ``()`` -> ``"scalar"``."""
    return "x".join(map(str, shape)) if shape else "scalar"


def _elementwise(func: Callable, *arrays: np.ndarray) -> np.ndarray:
    if all(a.ndim == 0 for a in arrays):
        out = np.empty((), dtype=object)
        out[()] = func(*(a[()] for a in arrays))
        return out
    # frompyfunc broadcasts like vectorize without its per-call set-up.
    return np.frompyfunc(func, len(arrays), 1)(*arrays)


def divide(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a / b`` as SymPy writes it, ``Mul(a, Pow(b, -1))``."""
    denom = sp.Pow(b, -1)
    return denom if a is sp.S.One else canonical_mul(a, denom)


def _num(node: ir.Num, env: Env) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = sp.sympify(node.value)
    return out


def _name(node: ir.Name, env: Env) -> np.ndarray:
    return env.lookup(node.id)


def _add(node: ir.Add, env: Env) -> np.ndarray:
    values = [evaluate(t, env) for t in node.terms]
    signed = [v if s > 0 else _elementwise(lambda e: -e, v) for v, s in zip(values, node.signs)]
    return _elementwise(canonical_add, *signed)


def _mul(node: ir.Mul, env: Env) -> np.ndarray:
    values = [evaluate(f, env) for f in node.factors]
    return _elementwise(canonical_mul, *values)


def _div(node: ir.Div, env: Env) -> np.ndarray:
    left, right = evaluate(node.left, env), evaluate(node.right, env)
    return _elementwise(divide, left, right)


def _pow(node: ir.Pow, env: Env) -> np.ndarray:
    base, exp = evaluate(node.base, env), evaluate(node.exp, env)
    return _elementwise(sp.Pow, base, exp)


def _neg(node: ir.Neg, env: Env) -> np.ndarray:
    return _elementwise(lambda e: -e, evaluate(node.operand, env))


def _transpose(node: ir.Transpose, env: Env) -> np.ndarray:
    return evaluate(node.operand, env).T


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy ``@`` on object arrays, each entry one ``Add`` (not a chain of ``+``).

    Entries equal ``sympy.Add(*[x*y ...])``, built without SymPy's general
    flattening where it cannot change anything (see ``canonical_add``).
    """
    a2 = a if a.ndim == 2 else a.reshape(1, -1)
    b2 = b if b.ndim == 2 else b.reshape(-1, 1)
    out = np.empty((a2.shape[0], b2.shape[1]), dtype=object)
    columns = list(b2.T)
    symbols = _all_symbols(a2) and _all_symbols(b2)
    for i in range(a2.shape[0]):
        row = a2[i]
        for j in range(b2.shape[1]):
            entry = symbol_dot(row, columns[j]) if symbols else None
            if entry is None:
                entry = canonical_add(*map(canonical_mul, row, columns[j]))
            out[i, j] = entry
    if a.ndim == 1 and b.ndim == 1:
        return out.reshape(())
    if a.ndim == 1:
        return out.reshape(-1)
    return out.reshape(-1) if b.ndim == 1 else out


def _all_symbols(a: np.ndarray) -> bool:
    return all(isinstance(e, sp.Symbol) and e.is_commutative for e in a.flat)


def _matmul(node: ir.MatMul, env: Env) -> np.ndarray:
    return matmul(evaluate(node.left, env), evaluate(node.right, env))


# -- shape inference: every shape error is found here, before any SymPy work --

def infer_shape(node: ir.Node, shapes: Mapping[str, Shape]) -> Shape:
    """Shape of ``node``'s value, or a JacobianError naming the operands that clash.

    Cheap (no SymPy), so limits can be checked before evaluation starts.

    Examples
    --------
    >>> from jacobian_calc.parser import parse_expression
    >>> infer_shape(parse_expression("X@W + b"), {"X": (4, 3), "W": (3, 2), "b": (2,)})
    (4, 2)
    """
    return _SHAPE_RULES[type(node)](node, shapes)


def _broadcast_shapes(op: str, nodes, shapes) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        operands = " and ".join(f"{ir.to_source(n)} ({shape_text(s)})"
                                for n, s in zip(nodes, shapes))
        raise JacobianError(f"shape mismatch in '{op}': cannot broadcast {operands}") from None


def _shape_elementwise(op: str, nodes, shapes: Mapping) -> Shape:
    return _broadcast_shapes(op, nodes, [infer_shape(n, shapes) for n in nodes])


def _shape_matmul(node: ir.MatMul, shapes: Mapping) -> Shape:
    a, b = infer_shape(node.left, shapes), infer_shape(node.right, shapes)
    left = f"{ir.to_source(node.left)} ({shape_text(a)})"
    right = f"{ir.to_source(node.right)} ({shape_text(b)})"
    if not a or not b:
        raise JacobianError(f"'@' needs vectors or matrices, got {left} @ {right}; "
                            "use '*' for scalars")
    if a[-1] != b[0]:
        raise JacobianError(f"shape mismatch in '@': {left} @ {right} "
                            f"(inner dimensions {a[-1]} and {b[0]} differ)")
    return a[:-1] + b[1:]


def _shape_reduce(node: ir.Call, shape: Shape) -> Shape:
    axis, keep = node.kwarg("axis"), bool(node.kwarg("keepdims", False))
    if axis is None:
        return (1,) * len(shape) if keep else ()
    if not -len(shape) <= axis < len(shape):
        raise JacobianError(f"axis {axis} is out of range for "
                            f"{ir.to_source(node.args[0])} ({shape_text(shape)})")
    axis %= len(shape)
    return shape[:axis] + ((1,) if keep else ()) + shape[axis + 1:]


def _shape_call(node: ir.Call, shapes: Mapping) -> Shape:
    if node.func in shapes:
        raise JacobianError(f"{node.func!r} is a variable, not a function")
    args = [infer_shape(a, shapes) for a in node.args]
    text = [f"{ir.to_source(a)} ({shape_text(s)})" for a, s in zip(node.args, args)]
    if node.func in ("sum", "mean"):
        return _shape_reduce(node, args[0])
    if node.func == "softmax" and not args[0]:
        raise JacobianError(f"softmax needs a vector or matrix, got {text[0]}")
    if node.func == "outer":
        if len(args[0]) != 1 or len(args[1]) != 1:
            raise JacobianError(f"outer() needs two vectors, got {text[0]} and {text[1]}")
        return args[0] + args[1]
    if node.func in ("softmax", "ones_like") or node.func in UNARY:
        return args[0]
    return _broadcast_shapes(f"{node.func}()", node.args, args)


_SHAPE_RULES: dict[type, Callable[[ir.Node, Mapping], Shape]] = {
    ir.Num: lambda n, s: (),
    ir.Name: lambda n, s: tuple(s.get(n.id, ())),
    ir.Add: lambda n, s: _shape_elementwise(
        "+" if all(x > 0 for x in n.signs) else "-", n.terms, s),
    ir.Mul: lambda n, s: _shape_elementwise("*", n.factors, s),
    ir.Div: lambda n, s: _shape_elementwise("/", (n.left, n.right), s),
    ir.Pow: lambda n, s: _shape_elementwise("**", (n.base, n.exp), s),
    ir.Neg: lambda n, s: infer_shape(n.operand, s),
    ir.Transpose: lambda n, s: infer_shape(n.operand, s)[::-1],
    ir.MatMul: _shape_matmul,
    ir.Call: _shape_call,
}


# -- functions ------------------------------------------------------------------

def array_sum(x: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """``numpy.sum`` for object arrays, each result entry a single ``Add``."""
    if axis is None:
        out = np.empty((1,) * x.ndim if keepdims else (), dtype=object)
        out[...] = canonical_add(*x.flat)
        return out
    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = canonical_add(*moved[index])
    return np.expand_dims(out, axis) if keepdims else out


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax of a vector, row-wise for a matrix (NumPy ``axis=-1``)."""
    exps = _elementwise(sp.exp, x)
    totals = array_sum(exps, axis=-1, keepdims=True)
    return _elementwise(divide, exps, totals)


def _axis_kwargs(node: ir.Call, x: np.ndarray) -> dict:
    return {"axis": node.kwarg("axis"), "keepdims": bool(node.kwarg("keepdims", False))}


def _sum(node: ir.Call, env: Env, args) -> np.ndarray:
    return array_sum(args[0], **_axis_kwargs(node, args[0]))


def _mean(node: ir.Call, env: Env, args) -> np.ndarray:
    kwargs = _axis_kwargs(node, args[0])
    count = args[0].size if kwargs["axis"] is None else args[0].shape[kwargs["axis"]]
    total = sp.Integer(count)
    return _elementwise(lambda e: divide(e, total), array_sum(args[0], **kwargs))


def _softmax(node: ir.Call, env: Env, args) -> np.ndarray:
    return softmax(args[0])


def _hadamard(node: ir.Call, env: Env, args) -> np.ndarray:
    return _mul(ir.Mul(node.args, col=node.col), env)


def _outer(node: ir.Call, env: Env, args) -> np.ndarray:
    a, b = args
    return _elementwise(lambda x, y: x * y, a[:, None], b[None, :])


def _ones_like(node: ir.Call, env: Env, args) -> np.ndarray:
    out = np.empty(args[0].shape, dtype=object)
    out[...] = sp.Integer(1)
    return out


_ARRAY_FUNCS = {"sum": _sum, "mean": _mean, "softmax": _softmax,
                "hadamard": _hadamard, "outer": _outer, "ones_like": _ones_like}


def _call(node: ir.Call, env: Env) -> np.ndarray:
    args = [evaluate(a, env) for a in node.args]
    if node.func in _ARRAY_FUNCS:
        return _ARRAY_FUNCS[node.func](node, env, args)
    if node.func in UNARY:
        return _elementwise(UNARY[node.func], args[0])
    # An undefined function such as f(x1, x2): its derivatives stay symbolic.
    func = sp.Function(node.func, real=True)
    return _elementwise(lambda *xs: func(*xs), *args)


_HANDLERS: dict[type, Callable[[ir.Node, Env], np.ndarray]] = {
    ir.Num: _num, ir.Name: _name, ir.Add: _add, ir.Mul: _mul, ir.Div: _div,
    ir.Pow: _pow, ir.Neg: _neg, ir.Transpose: _transpose, ir.MatMul: _matmul,
    ir.Call: _call,
}

__all__ = ["Env", "evaluate", "infer_shape", "matmul", "array_sum", "softmax", "shape_text",
           "scalar_symbol"]
