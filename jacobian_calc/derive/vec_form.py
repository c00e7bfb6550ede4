"""The vec form of a linear map: ``dY = X @ dW`` -> ``vec(dY) = kron(eye(h), X) @ vec(dW)``.

``vec`` stacks columns (column-major), as Magnus and Neudecker and
matrixcalculus.org do. The matrix ``K`` with ``vec(t) = K @ vec(d)`` is read
off the map's tree, one operation at a time (``d`` is the input differential,
``t`` a formula linear in it, ``m x n`` its shape):

===========================  ==============================================
formula                      ``K``
===========================  ==============================================
``d``                        the identity
``A @ t`` (``t`` a matrix)   ``kron(eye(n), A) @ K(t)``
``t @ B`` (matrices)         ``kron(B.T, eye(m)) @ K(t)``
``A @ t``, ``t @ B``         ``A @ K(t)``, ``B.T @ K(t)`` (``t`` a vector)
``a @ t`` (``a`` a vector)   ``kron(eye(n), a.T) @ K(t)``  (``t.T @ a``)
``t @ b`` (``b`` a vector)   ``kron(b.T, eye(m)) @ K(t)``
``c * t``, ``D * t``         ``c * K(t)``, ``diag(vec(D)) @ K(t)``
``t`` (``h``) broadcast      ``kron(eye(h), ones(m, 1)) @ K(t)`` (rows of ``m x h``)
``t1 + t2``, ``-t``, ``t/c`` ``K(t1) + K(t2)``, ``-K(t)``, ``K(t)/c``
===========================  ==============================================

Anything else (a transposed matrix, which needs the commutation matrix) gives
``None``: no vec form is claimed that was not read off.
"""

from __future__ import annotations

import math
from typing import Mapping

from ..core.grid import Shape
from ..core.tree import Call, Name, Node, Num, fn, names
from ..symbolic.evaluate import node_shapes


class _NoForm(Exception):
    """No vec form read off; the message says why, where it is known."""


def vec_matrix(t: Node, d: str, shapes: Mapping[str, Shape]) -> Node | None:
    """``K`` with ``vec(t) == K @ vec(d)`` (column-major), or ``None``; see :func:`vec_form`.

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression as p
    >>> from jacobian_calc.ops.text import to_source
    >>> S = {"X": (4, 3), "dW": (3, 2)}
    >>> to_source(vec_matrix(p("X @ dW"), "dW", S))
    'kron(eye(n=2), X)'
    """
    return vec_form(t, d, shapes)[0]


def vec_form(t: Node, d: str, shapes: Mapping[str, Shape]) -> tuple[Node | None, str]:
    """``(K, "")`` with ``vec(t) == K @ vec(d)``, or ``(None, why not)``."""
    reader = _Reader(d, shapes, t)
    try:
        k = reader.matrix(t)
    except _NoForm as exc:
        return None, str(exc) or "the map is not one the vec rules read"
    try:
        return reader._explicit(k), ""
    except _NoForm as exc:
        return None, str(exc)


def _rows(x: Node) -> Node:
    """A vector as a 1 x n matrix (``x.T`` on the slides)."""
    return fn.expand_dims(x, axis=0)


def _ones(node: Node) -> bool:
    return isinstance(node, Call) and node.op == "ones_like"


def _ones_column(n: int) -> Node:
    return fn.sum(fn.eye(n=n), axis=1, keepdims=True)


def is_transposed_matrix(node: Node, reader: "_Reader") -> bool:
    return isinstance(node, Call) and node.op == "transpose" and \
        len(reader.shape(node.args[0])) == 2


class _Reader:
    """``matrix(t)`` is ``K(t)``; ``None`` stands for the identity (dropped from products)."""

    def __init__(self, d: str, shapes, root: Node) -> None:
        self.d, self.shapes = d, dict(shapes)
        self.found = node_shapes(root, self.shapes)
        dims = self.shapes[d]
        symbolic = [n for n in dims if isinstance(n, str)]
        # the identity's size: a number, or one size name (``eye(n=h)``); a product of
        # size names (N*h entries) has no ``eye`` of its own
        self.size = math.prod(dims) if not symbolic else \
            (symbolic[0] if len(dims) == 1 else None)

    def shape(self, node: Node) -> Shape:
        if node not in self.found:
            self.found.update(node_shapes(node, self.shapes))
        return self.found[node]

    def has(self, node: Node) -> bool:
        return self.d in names(node)

    def matrix(self, t: Node) -> Node | None:
        if isinstance(t, Name) and t.id == self.d:
            return None
        if not isinstance(t, Call) or not self.has(t):
            raise _NoForm
        method = getattr(self, f"_{t.op}", None)
        if method is None:
            raise _NoForm
        return method(t)

    def _explicit(self, k: Node | None) -> Node:
        if k is None and self.size is None:
            raise _NoForm("the identity of a matrix of symbolic size has no eye() of its own")
        return fn.eye(n=self.size) if k is None else k

    def _times(self, a: Node, k: Node | None) -> Node:
        return a if k is None else Call("matmul", (a, k))

    def _matmul(self, t: Call) -> Node:
        a, b = t.args
        if self.has(a) and self.has(b):
            raise _NoForm
        sa, sb = self.shape(a), self.shape(b)
        if is_transposed_matrix(a, self) and len(sb) == 1:  # t.T @ b is b @ t
            a, b = b, a.args[0]
            sa, sb = self.shape(a), self.shape(b)
        if self.has(b):  # a @ t
            if len(sa) == 2 and len(sb) == 2:
                return self._times(fn.kron(fn.eye(n=sb[1]), a), self.matrix(b))
            if len(sa) == 2:
                return self._times(a, self.matrix(b))
            if len(sb) == 2:  # a vector times a matrix: t.T @ a
                return self._times(fn.kron(fn.eye(n=sb[1]), _rows(a)), self.matrix(b))
            return self._times(_rows(a), self.matrix(b))
        if len(sa) == 2 and len(sb) == 2:  # t @ B
            return self._times(fn.kron(b.T, fn.eye(n=sa[0])), self.matrix(a))
        if len(sa) == 2:  # t @ b, b a vector
            return self._times(fn.kron(_rows(b), fn.eye(n=sa[0])), self.matrix(a))
        if len(sb) == 2:  # t (a vector) @ B
            return self._times(b.T, self.matrix(a))
        return self._times(_rows(b), self.matrix(a))

    def _add(self, t: Call) -> Node:
        out_shape = self.shape(t)
        parts = []
        for term in t.args:
            if not self.has(term):
                raise _NoForm  # a constant term: affine, not linear
            parts.append(self._broadcast(term, out_shape))
        return parts[0] if len(parts) == 1 else Call("add", tuple(parts))

    def _broadcast(self, term: Node, out_shape: Shape) -> Node:
        """``K`` of ``term`` as a term of a sum of shape ``out_shape``."""
        shape = self.shape(term)
        k = self.matrix(term)
        if shape == out_shape:
            return self._explicit(k)
        if len(shape) == 1 and len(out_shape) == 2 and shape[0] == out_shape[1]:
            return self._times(fn.kron(fn.eye(n=shape[0]), _ones_column(out_shape[0])), k)
        raise _NoForm

    def _neg(self, t: Call) -> Node:
        return Call("neg", (self._explicit(self.matrix(t.args[0])),))

    def _div(self, t: Call) -> Node:
        a, c = t.args
        if self.has(c) or self.shape(c) != ():
            raise _NoForm
        return Call("div", (self._explicit(self.matrix(a)), c))

    def _transpose(self, t: Call) -> Node | None:
        if len(self.shape(t.args[0])) == 2:
            raise _NoForm("a transposed matrix needs the commutation matrix")
        return self.matrix(t.args[0])

    def _mul(self, t: Call) -> Node:
        inner = [f for f in t.args if self.has(f)]
        if len(inner) != 1:
            raise _NoForm
        f = inner[0]
        consts = [c for c in t.args if not self.has(c)]
        out_shape = self.shape(t)
        if self.shape(f) != out_shape:
            if all(self.shape(c) in ((), out_shape) for c in consts) and \
                    any(self.shape(c) == out_shape for c in consts):
                k = self._broadcast(f, out_shape)  # a broadcast factor times a full array
            else:
                raise _NoForm
        else:
            k = self.matrix(f)
        scalars = [c for c in consts if self.shape(c) == ()]
        arrays = [c for c in consts if self.shape(c) != () and not _ones(c)]
        if any(self.shape(c) != out_shape for c in arrays):
            raise _NoForm
        if arrays:
            weights = arrays[0] if len(arrays) == 1 else Call("mul", tuple(arrays))
            if len(out_shape) == 2:
                weights = fn.vec(weights)
            k = self._times(fn.diag(weights), k)
        if scalars:
            return Call("mul", tuple(scalars) + (self._explicit(k),))
        return self._explicit(k)


__all__ = ["vec_matrix", "vec_form"]
