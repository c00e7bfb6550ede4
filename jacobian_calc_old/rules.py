"""The compact backprop rules: one small vector-Jacobian product per operation.

Each rule receives the node, the upstream gradient ``g`` (an expression
tree) and a context giving shapes and the node's output name, and returns
``(child, gradient)`` pairs; ``None`` as a gradient means "zero". Rules
build trees in the calculator's own syntax, so every compact formula can be
printed, re-parsed and expanded entry by entry for the agreement check.

Element-wise derivatives are written in terms of the output ``Y`` where the
lectures do (``exp``: ``Y``; ``sigmoid``: ``Y * (1 - Y)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from . import ir
from .arrays import infer_shape
from .errors import JacobianError
from .shapes import Shape

import sympy as sp


def num(value) -> ir.Num:
    return ir.Num(sp.sympify(value))


def call(func: str, *args: ir.Node, **kwargs) -> ir.Call:
    return ir.Call(func, tuple(args), tuple(kwargs.items()))


def mul(*factors: ir.Node) -> ir.Node:
    """Element-wise product, flattening nested products and dropping 1s."""
    flat: list[ir.Node] = []
    for f in factors:
        if isinstance(f, ir.Mul):
            flat.extend(f.factors)
        elif not (isinstance(f, ir.Num) and f.value == 1):
            flat.append(f)
    if not flat:
        return num(1)
    return flat[0] if len(flat) == 1 else ir.Mul(tuple(flat))


def neg(x: ir.Node) -> ir.Node:
    if isinstance(x, ir.Neg):
        return x.operand
    if isinstance(x, ir.Num):
        return ir.Num(-x.value)
    return ir.Neg(x)


def sub(a: ir.Node, b: ir.Node) -> ir.Node:
    return ir.Add((a, b), (1, -1))


@dataclass
class Context:
    """What rules may consult: shapes of every name and the node's output name."""

    shapes: Mapping[str, Shape]
    output: ir.Node  # the node's output: its intermediate name, or the node itself

    def shape(self, node: ir.Node) -> Shape:
        return infer_shape(node, self.shapes)


#: Element-wise derivatives f'(X) given the input X and output Y (trees).
ELEMENTWISE_DERIVATIVES: dict[str, Callable[[ir.Node, ir.Node], ir.Node | None]] = {
    "exp": lambda X, Y: Y,
    "log": lambda X, Y: ir.Div(num(1), X),
    "ln": lambda X, Y: ir.Div(num(1), X),
    "sigmoid": lambda X, Y: mul(Y, sub(num(1), Y)),
    "tanh": lambda X, Y: mul(ir.Add((num(1), Y), (1, 1)), sub(num(1), Y)),
    "relu": lambda X, Y: call("step", X),
    "step": lambda X, Y: None,
    "softplus": lambda X, Y: call("sigmoid", X),
    "sin": lambda X, Y: call("cos", X),
    "cos": lambda X, Y: neg(call("sin", X)),
    "tan": lambda X, Y: ir.Pow(call("sec", X), num(2)),
    "sec": lambda X, Y: mul(Y, call("tan", X)),
    "csc": lambda X, Y: neg(mul(Y, call("cot", X))),
    "cot": lambda X, Y: neg(ir.Pow(call("csc", X), num(2))),
    "asin": lambda X, Y: ir.Div(num(1), call("sqrt", sub(num(1), ir.Pow(X, num(2))))),
    "acos": lambda X, Y: neg(ir.Div(num(1), call("sqrt", sub(num(1), ir.Pow(X, num(2)))))),
    "atan": lambda X, Y: ir.Div(num(1), ir.Add((num(1), ir.Pow(X, num(2))), (1, 1))),
    "sinh": lambda X, Y: call("cosh", X),
    "cosh": lambda X, Y: call("sinh", X),
    "sqrt": lambda X, Y: ir.Div(num(1), mul(num(2), Y)),
    "abs": lambda X, Y: call("sign", X),
    "sign": lambda X, Y: None,
}


def unbroadcast(g: ir.Node, shape: Shape, out_shape: Shape) -> ir.Node:
    """Sum ``g`` (of ``out_shape``) over the axes along which ``shape`` was broadcast."""
    if shape == out_shape:
        return g
    if shape == ():
        return call("sum", g)
    lead = len(out_shape) - len(shape)
    for _ in range(lead):  # NumPy prepends axes: sum them away
        g = call("sum", g, axis=0)
    kept = out_shape[lead:]
    for axis, (n, m) in enumerate(zip(shape, kept)):
        if n == 1 and m != 1:
            g = call("sum", g, axis=axis, keepdims=True)
    return g


def _add(node: ir.Add, g, ctx):
    out = ctx.shape(node)
    return [(t, unbroadcast(g if s > 0 else neg(g), ctx.shape(t), out))
            for t, s in zip(node.terms, node.signs)]


def _mul(node: ir.Mul, g, ctx):
    out, pairs = ctx.shape(node), []
    for i, f in enumerate(node.factors):
        others = node.factors[:i] + node.factors[i + 1:]
        pairs.append((f, unbroadcast(mul(g, *others), ctx.shape(f), out)))
    return pairs


def _div(node: ir.Div, g, ctx):
    out, a, b = ctx.shape(node), node.left, node.right
    return [(a, unbroadcast(ir.Div(g, b), ctx.shape(a), out)),
            (b, unbroadcast(neg(ir.Div(mul(g, a), ir.Pow(b, num(2)))), ctx.shape(b), out))]


def _pow(node: ir.Pow, g, ctx):
    out, base, exp = ctx.shape(node), node.base, node.exp
    pairs = []
    if ir.names(base):
        if isinstance(exp, ir.Num):
            local = (mul(num(2), base) if exp.value == 2 else
                     mul(exp, ir.Pow(base, ir.Num(exp.value - 1))))
        else:
            local = mul(exp, ir.Pow(base, sub(exp, num(1))))
        pairs.append((base, unbroadcast(mul(g, local), ctx.shape(base), out)))
    if ir.names(exp):
        pairs.append((exp, unbroadcast(mul(g, ctx.output, call("log", base)),
                                       ctx.shape(exp), out)))
    return pairs


def _matmul(node: ir.MatMul, g, ctx):
    a, b = node.left, node.right
    sa, sb = ctx.shape(a), ctx.shape(b)
    if len(sa) == 2 and len(sb) == 2:
        return [(a, ir.MatMul(g, ir.Transpose(b))), (b, ir.MatMul(ir.Transpose(a), g))]
    if len(sa) == 2:  # A @ x
        return [(a, call("outer", g, b)), (b, ir.MatMul(ir.Transpose(a), g))]
    if len(sb) == 2:  # x @ B
        return [(a, ir.MatMul(b, g)), (b, call("outer", a, g))]
    return [(a, mul(g, b)), (b, mul(g, a))]  # x @ y is a scalar


def _transpose(node: ir.Transpose, g, ctx):
    return [(node.operand, ir.Transpose(g))]


def _neg(node: ir.Neg, g, ctx):
    return [(node.operand, neg(g))]


def _elementwise(node: ir.Call, g, ctx):
    derivative = ELEMENTWISE_DERIVATIVES[node.func](node.args[0], ctx.output)
    return [(node.args[0], None if derivative is None else mul(g, derivative))]


def _reduce(node: ir.Call, g, ctx):
    x = node.args[0]
    shape, axis = ctx.shape(x), node.kwarg("axis")
    keep = bool(node.kwarg("keepdims", False))
    if node.func == "mean":
        count = _count(shape, axis)
        g = ir.Div(g, num(count)) if count != 1 else g
    ones = call("ones_like", x)
    if axis is None or keep or axis % len(shape) == len(shape) - 1 and len(shape) == 1:
        return [(x, mul(g, ones))]
    if axis % len(shape) == 0:  # the reduced vector broadcasts along rows
        return [(x, mul(ones, g))]
    # Row sums of a matrix: broadcast the N-vector along the columns.
    return [(x, ir.Transpose(mul(ir.Transpose(ones), g)))]


def _count(shape: Shape, axis) -> int:
    if axis is None:
        size = 1
        for n in shape:
            size *= n
        return size
    return shape[axis]


def _softmax(node: ir.Call, g, ctx):
    p = ctx.output
    if len(ctx.shape(node)) == 1:
        total = call("sum", mul(g, p))
    else:
        total = call("sum", mul(g, p), axis=1, keepdims=True)
    return [(node.args[0], mul(p, sub(g, total)))]


def _hadamard(node: ir.Call, g, ctx):
    return _mul(ir.Mul(node.args), g, ctx)


def _outer(node: ir.Call, g, ctx):
    a, b = node.args
    return [(a, ir.MatMul(g, b)), (b, ir.MatMul(ir.Transpose(g), a))]


#: Rules for calls of array functions, by name.
CALL_RULES = {"sum": _reduce, "mean": _reduce, "softmax": _softmax,
              "hadamard": _hadamard, "outer": _outer,
              "ones_like": lambda node, g, ctx: [(node.args[0], None)]}

#: Rules by node type.
NODE_RULES = {ir.Add: _add, ir.Mul: _mul, ir.Div: _div, ir.Pow: _pow,
              ir.MatMul: _matmul, ir.Transpose: _transpose, ir.Neg: _neg}

#: One line per rule, for ``jac --rules``.
RULE_TABLE = [
    ("X @ W", "dX = dY @ W.T,  dW = X.T @ dY"),
    ("A @ x", "dA = outer(dy, x),  dx = A.T @ dy"),
    ("x @ B", "dx = B @ dy,  dB = outer(x, dy)"),
    ("M + N, M - N", "dM = dY,  dN = ±dY  (summed over broadcast axes: db = sum(dZ, axis=0))"),
    ("M * N, hadamard(M, N)", "dM = dY * N,  dN = dY * M"),
    ("M / N", "dM = dY / N,  dN = -dY * M / N**2"),
    ("c * M (scalar c)", "dM = dY * c,  dc = sum(dY * M)"),
    ("M**k (constant k)", "dM = dY * k * M**(k - 1)"),
    ("M.T", "dM = dY.T"),
    ("f(X) element-wise", "dX = dY * f'(X), in terms of Y = f(X) where the lectures do:"),
    ("sum(X)", "dX = dJ * ones_like(X)"),
    ("mean(X), X is a x b", "dX = dJ / (a*b) * ones_like(X)"),
    ("sum(X, axis=0)", "dX = ones_like(X) * dS"),
    ("softmax(l), P = softmax(L)", "dl = p * (dp - sum(dp * p)),  row-wise: "
                                   "dL = P * (dP - sum(dP * P, axis=1, keepdims=True))"),
    ("outer(a, b)", "da = dY @ b,  db = dY.T @ a"),
]


def _elementwise_lines() -> list[tuple[str, str]]:
    X, Y = ir.Name("X"), ir.Name("Y")
    lines = []
    for name in ("exp", "log", "sigmoid", "tanh", "relu", "softplus", "sin", "cos", "tan",
                 "sqrt", "abs", "atan", "sinh", "cosh", "asin", "acos", "sec", "csc", "cot"):
        d = ELEMENTWISE_DERIVATIVES[name](X, Y)
        lines.append((f"  Y = {name}(X)", f"dX = {ir.to_source(mul(ir.Name('dY'), d))}"))
    return lines


_AT = [k for k, _ in RULE_TABLE].index("f(X) element-wise") + 1
RULE_TABLE[_AT:_AT] = _elementwise_lines()


def rule_for(node: ir.Node) -> Callable:
    """The rule of a node, or a JacobianError naming the operation that has none."""
    if isinstance(node, ir.Call):
        if node.func in CALL_RULES:
            return CALL_RULES[node.func]
        if node.func in ELEMENTWISE_DERIVATIVES:
            return _elementwise
        raise JacobianError(f"no compact backprop rule for {node.func}(); "
                            "the explicit route still works without --backprop")
    rule = NODE_RULES.get(type(node))
    if rule is None:
        raise JacobianError(f"no compact backprop rule for {ir.to_source(node)}")
    return rule
