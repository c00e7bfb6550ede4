"""Rewrite rules that compact Jacobians need, on top of those of the backward steps.

A Jacobian in denominator layout is the transpose of the numerator one; these
rules carry the transpose inside, as the slides write it:
``(diag(cos(A @ x)) @ A).T`` is ``A.T @ diag(cos(A @ x))``,
``(diag(p) - outer(p, p)).T`` is ``diag(p) - outer(p, p)``. Each keeps the value
and the shape of what it rewrites; its example is checked by the tests.
"""

from __future__ import annotations

from ..core.tree import Call, Node
from .hessian_rules import EXTRA_RULES
from .tidy import RULES, Rule, Tidy, is_op, present


def transpose_of_sum(node: Call, t: Tidy) -> Node | None:
    """``(A + B).T`` -> ``A.T + B.T``."""
    inner = node.args[0]
    if not is_op(inner, "add") or len(t.shape(inner)) != 2:
        return None
    return Call("add", tuple(Call("transpose", (a,)) for a in inner.args))


def transpose_of_matmul(node: Call, t: Tidy) -> Node | None:
    """``(A @ B).T`` -> ``B.T @ A.T``."""
    inner = node.args[0]
    if not is_op(inner, "matmul") or len(t.shape(inner)) != 2:
        return None
    a, b = inner.args
    return Call("matmul", (Call("transpose", (b,)), Call("transpose", (a,))))


def symmetric_transposed(node: Call, t: Tidy) -> Node | None:
    """``diag(v).T`` -> ``diag(v)``, ``eye(n).T`` -> ``eye(n)``, ``outer(p, p).T`` ->
    ``outer(p, p)``: matrices equal to their transpose."""
    inner = node.args[0]
    if is_op(inner, "diag") and len(t.shape(inner.args[0])) == 1 or is_op(inner, "eye"):
        return inner
    if is_op(inner, "outer") and inner.args[0] == inner.args[1]:
        return inner
    return None


def kron_mixed_product(node: Call, t: Tidy) -> Node | None:
    """``kron(A, B) @ kron(C, D)`` -> ``kron(A @ C, B @ D)`` (the mixed-product rule)."""
    left, right = node.args
    if not (is_op(left, "kron") and is_op(right, "kron")):
        return None
    (a, b), (c, d) = left.args, right.args
    shapes = [t.shape(n) for n in (a, b, c, d)]
    if any(len(s) != 2 for s in shapes) or shapes[0][1] != shapes[2][0] or \
            shapes[1][1] != shapes[3][0]:
        return None
    return Call("kron", (_times(a, c), _times(b, d)))


def _times(a: Node, b: Node) -> Node:
    """``a @ b``, an identity factor dropped."""
    if is_op(a, "eye"):
        return b
    if is_op(b, "eye"):
        return a
    return Call("matmul", (a, b))


S = {"A": (3, 3), "B": (3, 3), "p": (3,), "x": (3,)}

#: Rules of compact Jacobians, tried after those of :mod:`.tidy` and :mod:`.hessian_rules`.
COMPACT_RULES: tuple[Rule, ...] = (
    Rule("transpose_of_sum", ("transpose",), transpose_of_sum,
         ("(diag(p) - outer(p, p)).T", "diag(p) - outer(p, p)", S)),
    Rule("transpose_of_matmul", ("transpose",), transpose_of_matmul,
         ("(diag(cos(A @ x)) @ A).T", "A.T @ diag(cos(A @ x))", S)),
    Rule("symmetric_transposed", ("transpose",), symmetric_transposed,
         ("diag(x).T + eye(3).T", "diag(x) + eye(n=3)", S)),
    Rule("kron_mixed_product", ("matmul",), kron_mixed_product,
         ("kron(B.T, eye(3)) @ kron(eye(3), A)", "kron(B.T, A)", S)),
)


def tidy_compact(node: Node, shapes) -> Node:
    """:func:`.hessian_rules.tidy_more` with the transposes of :data:`COMPACT_RULES`."""
    return present(Tidy(shapes, rules=RULES + EXTRA_RULES + COMPACT_RULES).normal(node))


__all__ = ["COMPACT_RULES", "tidy_compact"]
