"""Rewrite rules that second derivatives need, on top of :data:`.tidy.RULES`.

Differentiating a compact gradient produces shapes that first derivatives
never do: a sum of a sum kept with ``keepdims``, ``sum(M * eye_like(M))``
(a trace), the transpose of an outer product, the softmax written as
``exp(x - logsumexp(x))``. Each rule here keeps the value and the shape of
what it rewrites, like the rules of :mod:`.tidy`, and carries an example the
tests check at random points.

:data:`INPUT_RULES` are applied to the expression before it is
differentiated (``log(1 + exp(u))`` is ``softplus(u)``, whose derivatives
read as sigmoids).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import sympy as sp

from ..core.tree import Call, Name, Node, Num, with_children
from ..ops import get
from .tidy import RULES, Rule, Tidy, cost, is_op, present, product, split_coefficient


def softmax_from_logsumexp(node: Call, t: Tidy) -> Node | None:
    """``exp(x - logsumexp(x))`` -> ``softmax(x)`` (along the reduced axis of a matrix:
    ``exp(X - logsumexp(X, axis=1, keepdims=True))`` -> ``softmax(X, axis=1)``)."""
    inner = node.args[0]
    if not is_op(inner, "add") or len(inner.args) != 2:
        return None
    for x, term in (inner.args, inner.args[::-1]):
        c, factors = split_coefficient(term)
        if c != -1 or len(factors) != 1:
            continue
        axis = _softmax_axis(x, factors[0], t)
        if axis is not None:
            return Call("softmax", (x,), {"axis": axis} if len(t.shape(x)) > 1 else {})
    return None


def _softmax_axis(x: Node, total: Node, t: Tidy) -> int | None:
    """The axis along which ``total`` is ``logsumexp(x)``, shaped to broadcast back."""
    ndim = len(t.shape(x))
    expanded = None
    if is_op(total, "expand_dims"):
        expanded, total = total.kwarg("axis"), total.args[0]
    if not is_op(total, "logsumexp") or total.args[0] != x or ndim == 0:
        return None
    axis, keep = total.kwarg("axis"), total.kwarg("keepdims")
    if axis is None:
        return 0 if ndim == 1 else None
    axis %= ndim
    if keep or expanded is not None and expanded % ndim == axis or \
            (axis == 0 and expanded is None):
        return axis if ndim > 1 else 0
    return None


def softplus_from_log(node: Call, t: Tidy) -> Node | None:
    """``log(1 + exp(u))`` -> ``softplus(u)``."""
    inner = node.args[0]
    if not is_op(inner, "add") or len(inner.args) != 2:
        return None
    for one, other in (inner.args, inner.args[::-1]):
        if isinstance(one, Num) and one.value == 1 and is_op(other, "exp"):
            return Call("softplus", other.args)
    return None


def sum_of_kept_sum(node: Call, t: Tidy) -> Node | None:
    """``sum(sum(X, axis=1, keepdims=True), axis=1)`` -> ``sum(X, axis=1)``."""
    inner = node.args[0]
    if not is_op(inner, "sum") or not inner.kwarg("keepdims") or node.kwarg("keepdims"):
        return None
    axis, ndim = inner.kwarg("axis"), len(t.shape(inner))
    if axis is None or node.kwarg("axis") is None or \
            axis % ndim != node.kwarg("axis") % ndim:
        return None
    return Call("sum", inner.args, {"axis": axis})


def trace_from_eye(node: Call, t: Tidy) -> Node | None:
    """``sum(M * eye_like(N))`` -> ``trace(M)`` for square matrices of one shape."""
    if node.kwargs or not is_op(node.args[0], "mul"):
        return None
    factors = node.args[0].args
    eyes = [f for f in factors if is_op(f, "eye_like")]
    rest = [f for f in factors if not is_op(f, "eye_like")]
    if len(eyes) != 1 or not rest:
        return None
    shape = t.shape(eyes[0])
    if len(shape) != 2 or shape[0] != shape[1] or \
            any(t.shape(f) not in (shape, ()) for f in rest):
        return None
    c, others = split_coefficient(Call("mul", rest) if len(rest) > 1 else rest[0])
    if not others or all(t.shape(f) == () for f in others):
        return None
    scalars = [f for f in others if t.shape(f) == ()]
    matrices = [f for f in others if t.shape(f) != ()]
    return product(c, scalars + [Call("trace", (product(Fraction(1), matrices),))])


def outer_transposed(node: Call, t: Tidy) -> Node | None:
    """``outer(a, b).T`` -> ``outer(b, a)``."""
    inner = node.args[0]
    return Call("outer", inner.args[::-1]) if is_op(inner, "outer") else None


def sign_inside(node: Call, t: Tidy) -> Node | None:
    """A negative coefficient moved into a sum inside a linear operation, where that
    sum has as many negative terms as positive ones:
    ``-(X.T @ (d * (s - 1)))`` -> ``X.T @ (d * (1 - s))``."""
    c, factors = split_coefficient(node)
    if c >= 0:
        return None
    for i, f in enumerate(factors):
        flipped = _flipped(f)
        if flipped is not None:
            return product(-c, factors[:i] + (flipped,) + factors[i + 1:])
    return None


def _flipped(node: Node) -> Node | None:
    """``-node`` with fewer minus signs, or None."""
    if is_op(node, "add"):
        signs = [split_coefficient(a)[0] < 0 for a in node.args]
        if 2 * sum(signs) < len(signs):
            return None
        return Call("add", [product(-k, fs) for k, fs in map(split_coefficient, node.args)])
    if is_op(node, "mul"):
        c, factors = split_coefficient(node)
        for i, f in enumerate(factors):
            flipped = _flipped(f)
            if flipped is not None:
                return product(c, factors[:i] + (flipped,) + factors[i + 1:])
        return None
    if isinstance(node, Call) and get(node.op).linear:
        for i, a in enumerate(node.args):
            flipped = _flipped(a)
            if flipped is not None:
                args = list(node.args)
                args[i] = flipped
                return Call(node.op, args, node.kwargs)
    return None


def factor_sum(node: Call, t: Tidy) -> Node | None:
    """An element-wise polynomial factored where that is shorter:
    ``S * (1 - S)**2 - S**2 * (1 - S)`` -> ``S * (1 - S) * (1 - 2 * S)``."""
    leaves: dict[Node, sp.Symbol] = {}
    expr = _to_sympy(node, leaves)
    if expr is None or len(leaves) > 6:
        return None
    factored = _lecture_signs(sp.factor(expr))
    if not factored.is_Mul:
        return None
    back = {s: n for n, s in leaves.items()}
    new = t.plain().normal(_from_sympy(factored, back))
    return new if cost(new) < cost(node) else None


def _to_sympy(node: Node, leaves: dict) -> sp.Expr | None:
    """An element-wise polynomial as SymPy, other subtrees as symbols (None: not one)."""
    if isinstance(node, Num):
        return sp.Rational(node.value.numerator, node.value.denominator)
    if is_op(node, "add", "mul"):
        parts = [_to_sympy(a, leaves) for a in node.args]
        if any(p is None for p in parts):
            return None
        return sp.Add(*parts) if node.op == "add" else sp.Mul(*parts)
    if is_op(node, "pow") and isinstance(node.args[1], Num) and \
            node.args[1].value.denominator == 1:
        base = _to_sympy(node.args[0], leaves)
        return None if base is None else base ** int(node.args[1].value)
    if isinstance(node, Call) and node.op in ("neg", "div", "matmul", "pow"):
        return None  # not element-wise (or not yet in normal form)
    if node not in leaves:
        leaves[node] = sp.Dummy(f"a{len(leaves)}")
    return leaves[node]


def _from_sympy(expr: sp.Expr, back: dict) -> Node:
    if expr in back:
        return back[expr]
    if expr.is_Rational:
        return Num(Fraction(int(expr.p), int(expr.q)))
    if expr.is_Add:
        return Call("add", [_from_sympy(a, back) for a in expr.args])
    if expr.is_Mul:  # numbers, then plain factors, then sums: 2 * S * (1 - S)
        args = sorted(expr.args, key=lambda a: (not a.is_Number, bool(a.is_Add or
                                                                      a.is_Pow and a.base.is_Add)))
        return Call("mul", [_from_sympy(a, back) for a in args])
    if expr.is_Pow and expr.exp.is_Integer:
        return Call("pow", (_from_sympy(expr.base, back), Num(int(expr.exp))))
    raise ValueError(f"not a polynomial: {expr}")


def _lecture_signs(expr: sp.Expr) -> sp.Expr:
    """Factors such as ``S - 1`` written ``1 - S`` two at a time (the sign unchanged)."""
    if not expr.is_Mul:
        return expr
    flip = [f for f in expr.args if f.is_Add and _constant(f) < 0]
    flip = flip[:len(flip) // 2 * 2]
    return sp.Mul(*(sp.Mul(-1, sp.expand(-f), evaluate=False) if f in flip else f
                    for f in expr.args)) if flip else expr


def _constant(f: sp.Expr) -> sp.Rational:
    return f.as_coeff_Add()[0]


def make_signs_rule(signs: Iterable[str]) -> Rule:
    """``t**2`` -> ``ones_like(t)`` (``t**k`` -> ``t`` for odd ``k``) for arrays ``t``
    whose entries are -1 or 1."""
    names = frozenset(signs)

    def unit_powers(node: Call, t: Tidy) -> Node | None:
        base, exponent = node.args
        if not (isinstance(base, Name) and base.id in names and isinstance(exponent, Num)
                and exponent.value.denominator == 1 and exponent.value > 1):
            return None
        return base if exponent.value % 2 else Call("ones_like", (base,))

    unit_powers.__doc__ = make_signs_rule.__doc__
    return Rule("unit_powers", ("pow",), unit_powers, ("t**2 * X + t**3", "X + t",
                                                       {"t": (3,), "X": (3,)}))


M23 = {"X": (2, 3), "Y": (2, 3)}

#: Rules for second derivatives, tried after those of :mod:`.tidy`.
EXTRA_RULES: tuple[Rule, ...] = (
    Rule("softmax_from_logsumexp", ("exp",), softmax_from_logsumexp,
         ("exp(X - logsumexp(X, axis=1, keepdims=True))", "softmax(X, axis=1)", M23)),
    Rule("sum_of_kept_sum", ("sum",), sum_of_kept_sum,
         ("sum(sum(X, axis=1, keepdims=True), axis=1)", "sum(X, axis=1)", M23)),
    Rule("trace_from_eye", ("sum",), trace_from_eye,
         ("sum((A @ B) * eye_like(A))", "trace(A @ B)", {"A": (3, 3), "B": (3, 3)})),
    Rule("outer_transposed", ("transpose",), outer_transposed,
         ("outer(a, b).T", "outer(b, a)", {"a": (2,), "b": (3,)})),
    Rule("factor_sum", ("add",), factor_sum,
         ("Y * (1 - Y)**2 - Y**2 * (1 - Y)", "Y * (1 - Y) * (1 - 2 * Y)", M23)),
    Rule("sign_inside", ("mul",), sign_inside,
         ("-(X.T @ (Y * (Y - 1)))", "X.T @ (Y * (1 - Y))", {"X": (2, 3), "Y": (2, 3)})),
)

#: Rules applied to an expression before it is differentiated.
INPUT_RULES: tuple[Rule, ...] = (
    Rule("softplus_from_log", ("log",), softplus_from_log,
         ("log(1 + exp(X))", "softplus(X)", M23)),
)


def tidy_more(node: Node, shapes, onehot=(), signs=()) -> Node:
    """:func:`.tidy.tidy` with the rules of second derivatives too."""
    rules = RULES + EXTRA_RULES + ((make_signs_rule(signs),) if signs else ())
    return present(Tidy(shapes, onehot, rules=rules).normal(node))


def rewrite_input(node: Node, shapes) -> tuple[Node, list[str]]:
    """The expression with :data:`INPUT_RULES` applied (nothing else changed), and the
    identities used."""
    used: list[str] = []
    out = _rewrite(node, Tidy(shapes, rules=INPUT_RULES), used)
    notes = {"softplus_from_log": "log(1 + exp(u)) = softplus(u)"}
    return out, [notes[u] for u in dict.fromkeys(used)]


def _rewrite(node: Node, t: Tidy, used: list[str]) -> Node:
    if node.children():
        node = with_children(node, [_rewrite(k, t, used) for k in node.children()])
    if isinstance(node, Call):
        for rule in t.rules:
            if node.op in rule.ops:
                new = rule.apply(node, t)
                if new is not None:
                    used.append(rule.name)
                    return new
    return node


__all__ = ["EXTRA_RULES", "INPUT_RULES", "tidy_more", "rewrite_input", "make_signs_rule"]
