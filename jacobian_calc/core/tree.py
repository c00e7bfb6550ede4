"""The expression tree every layer works on.

Three kinds of node: :class:`Num` (an exact rational), :class:`Name` (a
variable or intermediate) and :class:`Call` (an operation of the registry
applied to argument trees, with keyword options such as ``axis=0``), plus
:class:`Declared` for calls of undefined functions the user declared
(``f(g(x))``). Operators are operations too: ``a - b`` is
``Call("add", (a, Call("neg", (b,))))``; sums and element-wise products are
n-ary so a 1000-term sum is one node.

Nodes support NumPy's operators so rules read like the maths:
``g @ W.T``, ``g * (1 - Y**2)``. ``col`` (0-based source column) is kept for
error messages and ignored by equality. Nothing here knows any operation by
name: printing, shapes and evaluation read :mod:`jacobian_calc.ops`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator


#: Prints a tree in the calculator's syntax; set by :mod:`jacobian_calc.ops.text`,
#: which knows how every operation is written.
source_printer = None


class Node:
    """Base class of expression nodes: immutable, hashable, structural equality."""

    __slots__ = ("_hash", "col")

    def __str__(self) -> str:
        return source_printer(self) if source_printer is not None else repr(self)

    def children(self) -> tuple["Node", ...]:
        return ()

    def _key(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not type(self) or hash(other) != self._hash:
            return False
        return self._key() == other._key()

    def __hash__(self) -> int:
        return self._hash

    def __setattr__(self, name, value):
        raise AttributeError("expression nodes are immutable")

    def _init(self, col: int | None) -> None:
        object.__setattr__(self, "col", col)
        object.__setattr__(self, "_hash", hash((type(self).__name__,) + self._key()))

    # -- NumPy's operators build trees --------------------------------------------
    def __add__(self, other):
        return call("add", self, other)

    def __radd__(self, other):
        return call("add", other, self)

    def __sub__(self, other):
        return call("add", self, -as_node(other))

    def __rsub__(self, other):
        return call("add", other, -self)

    def __mul__(self, other):
        return call("mul", self, other)

    def __rmul__(self, other):
        return call("mul", other, self)

    def __truediv__(self, other):
        return call("div", self, other)

    def __rtruediv__(self, other):
        return call("div", other, self)

    def __pow__(self, other):
        return call("pow", self, other)

    def __matmul__(self, other):
        return call("matmul", self, other)

    def __neg__(self):
        return call("neg", self)

    @property
    def T(self) -> "Node":  # noqa: N802 - NumPy's spelling
        return call("transpose", self)


class Num(Node):
    """An exact rational constant."""

    __slots__ = ("value",)

    def __init__(self, value, col: int | None = None) -> None:
        object.__setattr__(self, "value", Fraction(value))
        self._init(col)

    def _key(self) -> tuple:
        return (self.value,)

    def __neg__(self) -> "Num":
        return Num(-self.value)

    def __repr__(self) -> str:
        return f"Num({str(self.value)!r})"


class Name(Node):
    """A variable, an intermediate or an upstream gradient, by name."""

    __slots__ = ("id",)

    def __init__(self, id: str, col: int | None = None) -> None:  # noqa: A002
        object.__setattr__(self, "id", id)
        self._init(col)

    def _key(self) -> tuple:
        return (self.id,)

    def __repr__(self) -> str:
        return f"Name({self.id!r})"


class Call(Node):
    """Operation ``op`` (a registry name) applied to ``args`` with keyword options."""

    __slots__ = ("op", "args", "kwargs")

    def __init__(self, op: str, args=(), kwargs=(), col: int | None = None) -> None:
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "kwargs", tuple(sorted(dict(kwargs).items())))
        self._init(col)

    def children(self) -> tuple[Node, ...]:
        return self.args

    def _key(self) -> tuple:
        return (self.op, self.args, self.kwargs)

    def kwarg(self, name: str, default=None):
        """The value of keyword option ``name`` (``default`` when not given)."""
        for key, value in self.kwargs:
            if key == name:
                return value
        return default

    def __repr__(self) -> str:
        extra = f", {dict(self.kwargs)!r}" if self.kwargs else ""
        return f"Call({self.op!r}, {list(self.args)!r}{extra})"


class Declared(Node):
    """A call of an undefined function the user declared (``--function f``)."""

    __slots__ = ("name", "args")

    def __init__(self, name: str, args=(), col: int | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", tuple(args))
        self._init(col)

    def children(self) -> tuple[Node, ...]:
        return self.args

    def _key(self) -> tuple:
        return (self.name, self.args)

    def __repr__(self) -> str:
        return f"Declared({self.name!r}, {list(self.args)!r})"


def as_node(value) -> Node:
    """A node for a node or a Python number."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return Num(value)
    raise TypeError(f"cannot make an expression node of {type(value).__name__}")


def call(op: str, *args, **kwargs) -> Call:
    """``Call(op, args, kwargs)``, numbers in ``args`` made into :class:`Num` nodes."""
    return Call(op, tuple(as_node(a) for a in args), kwargs)


def with_children(node: Node, kids) -> Node:
    """A copy of ``node`` with new children (same operation and options)."""
    kids = tuple(kids)
    if isinstance(node, Call):
        return Call(node.op, kids, node.kwargs, node.col)
    if isinstance(node, Declared):
        return Declared(node.name, kids, node.col)
    return node


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (shared nodes repeated)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))


def names(node: Node) -> set[str]:
    """All variable names a tree refers to (a shared subtree is looked at once)."""
    found, seen, stack = set(), set(), [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
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


def size(node: Node) -> int:
    """Number of nodes of the tree (shared subtrees counted each time)."""
    return sum(1 for _ in walk(node))


def fold(node: Node, combine, memo: dict | None = None):
    """``combine(n, values of n's children)`` for every distinct subtree, children first,
    without recursion (deep formulas stay safe); returns the value of ``node``.

    ``memo`` (subtree -> value) may hold values already known, and keeps the new ones.
    """
    memo = {} if memo is None else memo
    stack = [node]
    while stack:
        n = stack[-1]
        if n in memo:
            stack.pop()
            continue
        pending = [k for k in n.children() if k not in memo]
        if pending:
            stack.extend(pending)
            continue
        memo[n] = combine(n, [memo[k] for k in n.children()])
        stack.pop()
    return memo[node]


def substitute(node: Node, defs: dict[str, Node]) -> Node:
    """``node`` with every ``Name`` in ``defs`` replaced by its definition (recursively)."""
    memo: dict[Node, Node] = {}

    def visit(n: Node) -> Node:
        if n in memo:
            return memo[n]
        if isinstance(n, Name) and n.id in defs:
            out = visit(defs[n.id])
        elif n.children():
            out = with_children(n, [visit(k) for k in n.children()])
        else:
            out = n
        memo[n] = out
        return out

    return visit(node)


class _Builder:
    """``fn.sum(g, axis=0)`` builds ``Call("sum", (g,), {"axis": 0})``: rules read like NumPy."""

    def __getattr__(self, op: str):
        if op.startswith("_"):
            raise AttributeError(op)
        return lambda *args, **kwargs: call(op, *args, **kwargs)


fn = _Builder()
