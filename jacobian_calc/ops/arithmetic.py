"""The operators: ``+ - * / ** @ .T`` and unary minus.

``a - b`` is ``a + (-b)``: subtraction needs no rule of its own. Sums and
element-wise products are n-ary. Operands broadcast as in NumPy; the backward
pass sums a gradient over the broadcast axes (``db = sum(dZ, axis=0)``)
without the rules having to say so.
"""

from __future__ import annotations

import math

from ..core.tree import Num, fn
from .registry import (PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, PREC_POW, Op, Syntax,
                       broadcast, register)


def _product(items):
    return math.prod(items[1:], start=items[0])


def _each(c):
    """Every argument's entry, broadcast to the output's indices."""
    return [c.bcast(n) for n in range(len(c.shapes))]


def _others(v, i):
    """The upstream gradient times every factor but the i-th."""
    return fn.mul(v.g, *(a for k, a in enumerate(v.args) if k != i))


register(Op(
    name="add", category="arithmetic", doc="sum of two or more terms, a + b (a - b is a + (-b))",
    rational=True,
    sympy_classes=("Add", "MatAdd"), step_role="arithmetic",
    rule=("dA = dY, dB = dY, each summed over the axes its operand was broadcast along  "
          "(B a row added to every row of A: dB = sum(dY, axis=0))"),
    arity=(2, 10 ** 9), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.add, *args),
    index=lambda c: c.S.add(*_each(c)),
    digits=lambda d, v: max(d) + 1,
    vjp=lambda v: tuple(v.g for _ in v.args),
    numpy=lambda np, *xs, **kw: sum(xs[1:], xs[0]),
    code={"numpy": "+", "torch": "+"}, latex=" + ",
    syntax=Syntax("infix", " + ", PREC_ADD, signed_terms=True)))

register(Op(
    name="neg", category="arithmetic", doc="negation, -a", rule="dA = -dY",
    rational=True,
    step_role="arithmetic",
    arity=(1, 1), shape=lambda s: s.shapes[0],
    evaluate=lambda S, args, kw: args[0].map(S.neg),
    index=lambda c: c.S.neg(c.arg(0, *c.out)),
    digits=lambda d, v: d[0],
    vjp=lambda v: (-v.g,),
    numpy=lambda np, x, **kw: -x,
    code={"numpy": "-", "torch": "-"}, latex="-",
    syntax=Syntax("prefix", "-", PREC_NEG)))

register(Op(
    name="mul", category="arithmetic",
    rational=True,
    sympy_classes=("Mul", "HadamardProduct"), step_role="arithmetic",
    doc="element-wise (Hadamard) product, a * b; a scalar times an array",
    rule="dA = dY * B, dB = dY * A",
    arity=(2, 10 ** 9), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.mul, *args),
    index=lambda c: c.S.mul(*_each(c)),
    digits=lambda d, v: sum(d),
    vjp=lambda v: tuple(_others(v, i) for i in range(len(v.args))),
    numpy=lambda np, *xs, **kw: _product(xs),
    code={"numpy": "*", "torch": "*"}, latex=r" \odot ",
    syntax=Syntax("infix", " * ", PREC_MUL)))

register(Op(
    name="div", category="arithmetic", doc="element-wise quotient, a / b",
    rational=True,
    step_role="arithmetic",
    rule="dA = dY / B, dB = -dY * A / B**2",
    arity=(2, 2), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.div, *args),
    index=lambda c: c.S.div(*_each(c)),
    digits=lambda d, v: sum(d),
    vjp=lambda v: (v.g / v.args[1], -(v.g * v.args[0] / v.args[1] ** 2)),
    numpy=lambda np, a, b, **kw: a / b,
    code={"numpy": "/", "torch": "/"},
    latex=lambda p: rf"\frac{{{p.arg(0)}}}{{{p.arg(1)}}}",
    syntax=Syntax("infix", " / ", PREC_MUL)))


def _pow_vjp(v):
    base, exponent = v.args
    if isinstance(exponent, Num):
        k = exponent.value
        local = 2 * base if k == 2 else exponent * base ** Num(k - 1)
    else:
        local = exponent * base ** (exponent - 1)
    return (v.g * local, v.g * v.out * fn.log(base))


register(Op(
    name="pow", category="arithmetic", doc="element-wise power, a ** b (also a ^ b)",
    rational=True,
    sympy_classes=("Pow",), step_role="arithmetic",
    rule="dA = dY * B * A**(B - 1), dB = dY * Y * log(A)",
    arity=(2, 2), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.pow, *args),
    index=lambda c: c.S.pow(*_each(c)),
    digits=lambda d, v: abs(d[0]) * (abs(v[1]) if v[1] is not None else 10.0 ** d[1]),
    vjp=_pow_vjp,
    numpy=lambda np, a, b, **kw: np.power(a, b),
    code={"numpy": "**", "torch": "**"},
    latex=lambda p: f"{p.arg(0, PREC_ATOM)}^{{{p.arg(1)}}}",
    syntax=Syntax("infix", "**", PREC_POW, right_associative=True)))


def _matmul_shape(s):
    a, b = s.shapes
    if not a or not b:
        raise s.fail(f"'@' needs vectors or matrices, got {s.arg(0)} @ {s.arg(1)}; "
                     "use '*' for scalars")
    if a[-1] != b[0]:
        raise s.fail(f"{s.arg(0)} @ {s.arg(1)} (inner dimensions {a[-1]} and {b[0]} differ)")
    return a[:-1] + b[1:]


def _matmul_vjp(v):
    (A, B), (sa, sb), g = v.args, v.shapes, v.g
    if len(sa) == 2 and len(sb) == 2:
        return (g @ B.T, A.T @ g)
    if len(sa) == 2:  # A @ x
        return (fn.outer(g, B), A.T @ g)
    if len(sb) == 2:  # x @ B
        return (B @ g, fn.outer(A, g))
    return (g * B, g * A)  # x @ y is a scalar


def _matmul_index(c):
    """``Σ_r A[i,r] B[r,j]`` (a vector on either side has no index there)."""
    (sa, sb), r = c.shapes, c.fresh()
    left = c.out[:len(sa) - 1] + (r,)
    right = (r,) + c.out[len(sa) - 1:]
    return c.sum(c.arg(0, *left) * c.arg(1, *right), (r, c.size(0, -1)))


register(Op(
    name="matmul", category="arithmetic", doc="matrix product, A @ B (vectors as in NumPy)",
    rational=True,
    sympy_classes=("MatMul",), linear=True,
    rule="dA = dY @ B.T, dB = A.T @ dY  (A @ x, x a vector: dA = outer(dY, x), dx = A.T @ dY)",
    arity=(2, 2), shape=_matmul_shape,
    evaluate=lambda S, args, kw: S.matmul(*args), index=_matmul_index,
    digits=lambda d, v: sum(d) + 1,
    cost=lambda c: (2 * c.shapes[0][-1], c.shapes[0][-1] * (sum(c.sizes) + 1) + 1),
    vjp=_matmul_vjp,
    numpy=lambda np, a, b, **kw: np.matmul(a, b),
    code={"numpy": "@", "torch": "@"}, latex=" ",
    syntax=Syntax("infix", " @ ", PREC_MUL)))

register(Op(
    name="transpose", category="arithmetic", doc="transpose, A.T (a vector is unchanged)",
    rational=True,
    sympy_classes=("Transpose",), linear=True, step_role="arithmetic",
    rule="dA = dY.T",
    arity=(1, 1), shape=lambda s: s.shapes[0][::-1],
    evaluate=lambda S, args, kw: args[0].T, cost=lambda c: (0, c.sizes[0]),
    index=lambda c: c.arg(0, *reversed(c.out)),
    vjp=lambda v: (v.g.T,),
    numpy=lambda np, x, **kw: np.transpose(x),
    code={"numpy": ".T", "torch": ".T"},
    latex=lambda p: f"{p.arg(0, PREC_ATOM)}{p.T}", latex_precedence=PREC_POW,
    syntax=Syntax("postfix", ".T", PREC_ATOM)))

register(Op(
    name="hadamard", category="arithmetic", doc="element-wise product, the same as a * b",
    rational=True,
    step_role="arithmetic",
    rule="dA = dY * B, dB = dY * A",
    arity=(2, 2), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.mul, *args),
    index=lambda c: c.S.mul(*_each(c)),
    vjp=lambda v: (v.g * v.args[1], v.g * v.args[0]),
    numpy=lambda np, a, b, **kw: a * b,
    code={"numpy": "({0} * {1})", "torch": "({0} * {1})"},
    latex=lambda p: rf"{p.arg(0, PREC_NEG)} \odot {p.arg(1, PREC_NEG)}",
    latex_precedence=PREC_MUL))
