"""The expression tree the parser produces and every other module consumes.

Nodes are small frozen dataclasses. Sums and element-wise products are n-ary
so that a 1000-term sum is one node, not a 1000-deep chain. ``col`` (0-based
column in the source text) is carried for error messages and is ignored by
equality and hashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp


@dataclass(frozen=True)
class Node:
    """Base class of expression nodes."""

    def children(self) -> tuple["Node", ...]:
        return ()

    def __str__(self) -> str:
        return to_source(self)


@dataclass(frozen=True)
class Num(Node):
    value: sp.Expr
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name(Node):
    id: str
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Add(Node):
    terms: tuple[Node, ...]
    signs: tuple[int, ...]
    col: int = field(default=0, compare=False)

    def children(self):
        return self.terms


@dataclass(frozen=True)
class Mul(Node):
    """Element-wise product (``*``) of two or more factors."""

    factors: tuple[Node, ...]
    col: int = field(default=0, compare=False)

    def children(self):
        return self.factors


@dataclass(frozen=True)
class Div(Node):
    left: Node
    right: Node
    col: int = field(default=0, compare=False)

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Pow(Node):
    base: Node
    exp: Node
    col: int = field(default=0, compare=False)

    def children(self):
        return (self.base, self.exp)


@dataclass(frozen=True)
class MatMul(Node):
    left: Node
    right: Node
    col: int = field(default=0, compare=False)

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Neg(Node):
    operand: Node
    col: int = field(default=0, compare=False)

    def children(self):
        return (self.operand,)


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node
    col: int = field(default=0, compare=False)

    def children(self):
        return (self.operand,)


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, object], ...] = ()
    col: int = field(default=0, compare=False)

    def children(self):
        return self.args

    def kwarg(self, name: str, default=None):
        return dict(self.kwargs).get(name, default)


def names(node: Node) -> set[str]:
    """All variable names a tree refers to."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            found.add(n.id)
        stack.extend(n.children())
    return found


def depth(node: Node) -> int:
    """Nesting depth of a tree (a leaf has depth 1)."""
    best, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in n.children())
    return best


# -- printing in the calculator's own syntax ---------------------------------

_PREC = {Add: 1, Mul: 2, Div: 2, MatMul: 2, Neg: 3, Pow: 4}


def _prec(node: Node) -> int:
    if isinstance(node, Num) and (node.value.is_negative or not node.value.is_Integer):
        return 2 if node.value.is_Rational and not node.value.is_Integer else 3
    return _PREC.get(type(node), 5)


def _wrap(node: Node, least: int) -> str:
    text = to_source(node)
    return f"({text})" if _prec(node) < least else text


def _num(value: sp.Expr) -> str:
    return str(value)


def _call(node: Call) -> str:
    parts = [to_source(a) for a in node.args]
    parts += [f"{k}={v}" for k, v in node.kwargs]
    return f"{node.func}({', '.join(parts)})"


def _add(node: Add) -> str:
    out = []
    for i, (term, sign) in enumerate(zip(node.terms, node.signs)):
        text = _wrap(term, 2 if sign < 0 else 1)
        out.append(text if i == 0 and sign > 0 else
                   f"-{text}" if i == 0 else f"{'+' if sign > 0 else '-'} {text}")
    return " ".join(out)


_SOURCE = {
    Num: lambda n: _num(n.value),
    Name: lambda n: n.id,
    Add: _add,
    # '*' and '@' share a precedence level and associate left: only later
    # factors need parentheses.
    Mul: lambda n: " * ".join(_wrap(f, 2 if i == 0 and not isinstance(f, MatMul) else 3)
                              for i, f in enumerate(n.factors)),
    Div: lambda n: f"{_wrap(n.left, 2)} / {_wrap(n.right, 3)}",
    MatMul: lambda n: (f"{_wrap(n.left, 2 if isinstance(n.left, MatMul) else 3)}"
                       f" @ {_wrap(n.right, 3)}"),
    Pow: lambda n: f"{_wrap(n.base, 5)}**{_wrap(n.exp, 4)}",
    Neg: lambda n: f"-{_wrap(n.operand, 3)}",
    Transpose: lambda n: f"{_wrap(n.operand, 5)}.T",
    Call: _call,
}


def to_source(node: Node) -> str:
    """Print a tree in the calculator's expression syntax (re-parseable).

    Examples
    --------
    >>> from jacobian_calc.parser import parse_expression
    >>> to_source(parse_expression("X.T@(dY*(1-Y))"))
    'X.T @ (dY * (1 - Y))'
    """
    return _SOURCE[type(node)](node)


_CHILD_FIELDS = {Add: "terms", Mul: "factors", Call: "args"}


def with_children(node: Node, kids) -> Node:
    """A copy of ``node`` with new children (same operation, same options)."""
    from dataclasses import fields, replace
    kids = tuple(kids)
    if type(node) in _CHILD_FIELDS:
        return replace(node, **{_CHILD_FIELDS[type(node)]: kids})
    names = [f.name for f in fields(node) if f.name != "col"][:len(kids)]
    return replace(node, **dict(zip(names, kids)))
