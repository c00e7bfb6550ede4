"""The matrix of a formula that is linear in a vector: ``(A + A.T) @ v`` -> ``A + A.T``.

A Hessian-vector product ``Hv`` is a formula linear in the direction ``v``;
when ``v`` is a vector, ``H`` is the matrix ``M`` with ``Hv == M @ v``. It is
read off the formula's tree, one operation at a time:

=============================  ======================================
formula (``v`` inside ``t``)   matrix
=============================  ======================================
``v``                          the identity
``A @ t``, ``t @ B``           ``A @ M(t)``, ``B.T @ M(t)``
``c * t``, ``d * t``           ``c * M(t)``, ``diag(d) @ M(t)``
``d * s`` (``s = r @ v``)      ``outer(d, r)``
``t1 + t2``, ``-t``, ``t/c``   ``M(t1) + M(t2)``, ``-M(t)``, ``M(t)/c``
=============================  ======================================

where ``c`` is a scalar and ``d`` a vector not depending on ``v``, and a
product is first multiplied out over a sum that contains ``v``. So
``X.T @ (d * (X @ v)) / N`` is ``X.T @ diag(d) @ X / N`` and
``p * (v - sum(p * v))`` is ``diag(p) - outer(p, p)``. Anything else (``v``
twice in a product, ``v`` under a function) is not linear as written:
:func:`matrix_of` returns ``None``.
"""

from __future__ import annotations

from typing import Mapping

from ..core.grid import Shape
from ..core.tree import Call, Name, Node, Num, names
from ..symbolic.evaluate import node_shapes

#: The identity matrix while a matrix is being built (removed from products).
IDENTITY = Name("_identity")


class NotLinear(Exception):
    """The formula is not recognisably linear in the direction."""


def matrix_of(t: Node, v: str, shapes: Mapping[str, Shape], like: Node) -> Node | None:
    """``M`` with ``t == M @ v`` for the vector ``v``, or ``None``.

    Parameters
    ----------
    t : Node
        A formula of shape ``(n,)``, linear in ``v``.
    v : str
        The direction's name (a vector of length ``n``).
    shapes : mapping
        Shapes of every name.
    like : Node
        A tree of shape ``(n,)`` free of ``v`` (the variable itself), for
        ``ones_like``.

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression as p
    >>> from jacobian_calc.ops.text import to_source
    >>> S = {"A": (3, 3), "x": (3,), "v": (3,), "p": (3,)}
    >>> to_source(matrix_of(p("(A + A.T) @ v"), "v", S, Name("x")))
    'A + A.T'
    >>> to_source(matrix_of(p("p * (v - sum(p * v))"), "v", S, Name("x")))
    'diag(p) - outer(p, p)'
    >>> matrix_of(p("v * v"), "v", S, Name("x")) is None
    True
    """
    try:
        m = _Reader(v, shapes, like, t).matrix(t)
    except NotLinear:
        return None
    n = shapes[v][0]
    return Call("eye", (), {"n": n}) if m == IDENTITY else m


class _Reader:
    def __init__(self, v: str, shapes, like: Node, root: Node) -> None:
        self.v, self.like = v, like
        self.shapes = dict(shapes)
        self.found = node_shapes(root, self.shapes)
        self.n = self.shapes[v][0]

    def has_v(self, node: Node) -> bool:
        return self.v in names(node)

    def shape(self, node: Node) -> Shape:
        if node not in self.found:
            self.found.update(node_shapes(node, self.shapes))
        return self.found[node]

    # -- vectors linear in v ------------------------------------------------------------
    def matrix(self, t: Node) -> Node:
        if isinstance(t, Name) and t.id == self.v:
            return IDENTITY
        if not self.has_v(t) or not isinstance(t, Call):
            raise NotLinear
        method = getattr(self, f"_m_{t.op}", None)
        if method is None:
            raise NotLinear
        return method(t)

    def _m_add(self, t: Call) -> Node:
        parts = []
        for term in t.args:
            if not self.has_v(term):
                raise NotLinear  # a constant term: affine, not linear
            if self.shape(term) == ():
                parts.append(Call("outer", (Call("ones_like", (self.like,)), self.row(term))))
            else:
                parts.append(self.matrix(term))
        return _total(parts, self.n)

    def _m_neg(self, t: Call) -> Node:
        return _neg(self.matrix(t.args[0]), self.n)

    def _m_div(self, t: Call) -> Node:
        a, c = t.args
        if self.has_v(c):
            raise NotLinear
        return Call("div", (_explicit(self.matrix(a), self.n), c))

    def _m_transpose(self, t: Call) -> Node:
        if len(self.shape(t.args[0])) != 1:
            raise NotLinear
        return self.matrix(t.args[0])

    def _m_matmul(self, t: Call) -> Node:
        a, b = t.args
        if self.has_v(a) and not self.has_v(b) and len(self.shape(a)) == 1 and \
                len(self.shape(b)) == 2:
            return chain(Call("transpose", (b,)), self.matrix(a))
        if self.has_v(a) or len(self.shape(a)) != 2:
            raise NotLinear
        return chain(a, self.matrix(b))

    def _m_mul(self, t: Call) -> Node:
        inner = [f for f in t.args if self.has_v(f)]
        if len(inner) != 1:
            raise NotLinear
        (f,), consts = inner, [a for a in t.args if not self.has_v(a)]
        if isinstance(f, Call) and f.op in ("add", "neg", "div", "mul"):
            return self._distributed(f, consts)
        scalars = [c for c in consts if self.shape(c) == ()]
        vectors = [c for c in consts if self.shape(c) != ()]
        if len(self.shape(t)) != 1 or any(self.shape(c) != self.shape(t) for c in vectors):
            raise NotLinear
        if self.shape(f) == ():
            if not vectors:
                raise NotLinear
            m = Call("outer", (_product(vectors), self.row(f)))
        else:
            m = self.matrix(f)
            if vectors:
                m = chain(Call("diag", (_product(vectors),)), m)
        return _scaled(scalars, m, self.n)

    def _distributed(self, f: Call, consts: list[Node]) -> Node:
        """``c * (a + b)`` as ``c * a + c * b``; ``c * (-a)`` as ``-(c * a)``;
        ``c * (a / k)`` as ``(c * a) / k``; ``c * (a * b)`` as ``c * a * b``."""
        if f.op == "add":
            return _total([self.matrix(Call("mul", consts + [a])) for a in f.args], self.n)
        if f.op == "neg":
            return _neg(self.matrix(Call("mul", consts + [f.args[0]])), self.n)
        if f.op == "div":
            return self.matrix(Call("div", (Call("mul", consts + [f.args[0]]), f.args[1])))
        return self.matrix(Call("mul", consts + list(f.args)))

    # -- scalars linear in v: s == r @ v --------------------------------------------------
    def row(self, s: Node) -> Node:
        """The vector ``r`` with ``s == r @ v``."""
        if not isinstance(s, Call) or not self.has_v(s):
            raise NotLinear
        if s.op == "sum" and not s.kwargs and len(self.shape(s.args[0])) == 1:
            return self.column_sums(self.matrix(s.args[0]))
        if s.op == "matmul" and all(len(self.shape(a)) == 1 for a in s.args):
            a, b = s.args if self.has_v(s.args[0]) else s.args[::-1]
            if self.has_v(b):
                raise NotLinear
            return self.column_sums(chain(Call("diag", (b,)), self.matrix(a)))
        if s.op == "neg":
            return Call("neg", (self.row(s.args[0]),))
        if s.op == "div" and not self.has_v(s.args[1]):
            return Call("div", (self.row(s.args[0]), s.args[1]))
        if s.op == "mul":
            inner = [f for f in s.args if self.has_v(f)]
            consts = [f for f in s.args if not self.has_v(f)]
            if len(inner) == 1 and all(self.shape(c) == () for c in consts):
                return _product(consts + [self.row(inner[0])])
        if s.op == "add":
            return Call("add", tuple(self.row(a) for a in s.args))
        raise NotLinear

    def column_sums(self, m: Node) -> Node:
        """``sum(M, axis=0)``, written without the sum where ``M`` allows."""
        if m == IDENTITY:
            return Call("ones_like", (self.like,))
        if isinstance(m, Call) and m.op == "diag":
            return m.args[0]
        if isinstance(m, Call) and m.op == "matmul" and isinstance(m.args[0], Call) \
                and m.args[0].op == "diag":  # diag(d) @ B: B.T @ d
            return Call("matmul", (Call("transpose", (m.args[1],)), m.args[0].args[0]))
        return Call("sum", (m,), {"axis": 0})


def chain(a: Node, m: Node) -> Node:
    """``a @ m`` written left to right (``A @ B @ C``), the identity dropped."""
    if m == IDENTITY:
        return a
    if isinstance(m, Call) and m.op == "matmul":
        return Call("matmul", (chain(a, m.args[0]), m.args[1]))
    return Call("matmul", (a, m))


def _explicit(m: Node, n: int) -> Node:
    return Call("eye", (), {"n": n}) if m == IDENTITY else m


def _total(parts: list[Node], n: int) -> Node:
    parts = [_explicit(p, n) for p in parts]
    return parts[0] if len(parts) == 1 else Call("add", parts)


def _neg(m: Node, n: int) -> Node:
    return Call("neg", (_explicit(m, n),))


def _scaled(scalars: list[Node], m: Node, n: int) -> Node:
    return Call("mul", scalars + [_explicit(m, n)]) if scalars else m


def _product(factors: list[Node]) -> Node:
    if not factors:
        return Num(1)
    return factors[0] if len(factors) == 1 else Call("mul", factors)


__all__ = ["matrix_of", "chain", "IDENTITY"]
