"""SymPy objects as input: expressions, matrices and matrix expressions, read through
an allow-list into the calculator's expression tree.

``MatrixSymbol("A", 2, 3)`` declares ``A`` as a 2x3 matrix; ``A*x`` on matrix
symbols is a matrix product. Every SymPy class is mapped to a registered
operation or refused with its name: nothing SymPy can express but the
calculator cannot differentiate is ever taken as something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp
from sympy.core.function import AppliedUndef

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.names import check_name
from ..core.tree import Call, Declared, Name, Node, Num
from ..ops import operations
from .classes import function_ops, registry_cached
from .measure import short_text
from .symbols import scalar_symbol

@dataclass
class Reading:
    """What reading SymPy input found besides the trees."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    symbols: dict[str, sp.Symbol] = field(default_factory=dict)  # the caller's own
    function_classes: dict[str, type] = field(default_factory=dict)  # the caller's own
    #: Trees read from scalar expressions already in the calculator's own symbols: the
    #: expression itself is their value (rebuilding it would only repeat SymPy's work).
    origins: dict[Node, sp.Expr] = field(default_factory=dict)
    #: Every subexpression read so far, over all components and intermediates: one shared
    #: by many (softmax's denominator) becomes one node, read once.
    nodes: dict[sp.Basic, Node] = field(default_factory=dict, repr=False)


def read(expr: object, reading: Reading) -> Node:
    """The tree of one SymPy expression (or matrix expression)."""
    if isinstance(expr, (int, Fraction)) and not isinstance(expr, bool):
        return Num(expr)
    if isinstance(expr, float):
        return Num(Fraction(repr(expr)))
    if not isinstance(expr, sp.Basic):
        raise JacobianError(f"cannot read a {type(expr).__name__} as an expression")
    try:
        node = _Reader(reading).read(expr)
    except RecursionError:
        raise JacobianError("the SymPy expression is nested too deeply to read") from None
    if _in_own_symbols(expr):
        reading.origins[node] = expr
    return node


def _in_own_symbols(expr: sp.Basic) -> bool:
    """A scalar expression of the calculator's own real symbols and known functions only."""
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixExpr) or expr.has(
            AppliedUndef, sp.MatrixSymbol):
        return False
    return all(s == scalar_symbol(s.name) for s in expr.free_symbols)


class _Reader:
    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.classes = function_ops()
        # a shared subexpression is read once, into one node, even where SymPy holds equal
        # copies of it (SymPy's hash is cached: a lookup is cheap)
        self.memo = reading.nodes

    def read(self, e: sp.Basic) -> Node:
        node = self.memo.get(e)
        if node is None:
            node = self.memo[e] = self._read(e)
        return node

    def _read(self, e: sp.Basic) -> Node:
        if isinstance(e, sp.MatrixSymbol):
            return self._matrix_symbol(e)
        if isinstance(e, sp.Symbol):
            return self._symbol(e)
        if e.is_Rational:
            return Num(Fraction(int(e.p), int(e.q)))
        if isinstance(e, sp.Float):
            return Num(Fraction(repr(float(e))))
        if e is sp.pi:
            return Call("pi")
        if e is sp.E:
            return Call("E")
        op = sympy_class_ops().get(type(e).__name__)
        if op is not None:
            return _READERS.get(op.name, _Reader._call)(self, op, e)
        if isinstance(e, AppliedUndef):
            name = check_name(str(e.func), "function name")
            self.reading.functions.add(name)
            self.reading.function_classes.setdefault(name, e.func)
            return Declared(name, tuple(self.read(a) for a in e.args))
        if type(e) in self.classes and len(e.args) == 1:
            return Call(self.classes[type(e)].name, (self.read(e.args[0]),))
        raise JacobianError(f"cannot differentiate the SymPy object {_short(e)}: "
                            f"{type(e).__name__} is not an operation of the calculator")

    def _symbol(self, e: sp.Symbol) -> Node:
        name = check_name(e.name, "SymPy symbol name")
        if e.is_commutative is False:
            raise JacobianError(f"{name} is a non-commutative SymPy symbol; the calculator's "
                                "scalars commute (use a MatrixSymbol for a matrix)")
        self.reading.symbols.setdefault(name, e)
        return Name(name)

    def _matrix_symbol(self, e: sp.MatrixSymbol) -> Node:
        name = check_name(str(e.name), "MatrixSymbol name")
        shape = tuple(_dimension(name, d) for d in e.shape)
        if self.reading.shapes.get(name, shape) != shape:
            raise JacobianError(f"{name} is declared twice with different shapes")
        self.reading.shapes[name] = shape
        return Name(name)

    def _args(self, e) -> tuple[Node, ...]:
        return tuple(self.read(a) for a in e.args)

    def _call(self, op, e) -> Node:
        return Call(op.name, self._args(e))

    def _matmul(self, op, e) -> Node:
        scalars = [a for a in e.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in e.args if getattr(a, "is_Matrix", False)]
        product = self.read(matrices[0])
        for m in matrices[1:]:
            product = Call("matmul", (product, self.read(m)))
        if scalars:
            return Call("mul", tuple(self.read(s) for s in scalars) + (product,))
        return product

    def _identity(self, op, e) -> Node:
        n = e.shape[0]
        if not n.is_Integer:
            raise JacobianError(f"Identity needs a numeric size, got {n}")
        return Call("eye", (), {"n": int(n)})


#: Operations whose SymPy classes (``Op.sympy_classes``) need more than their arguments read.
_READERS = {"matmul": _Reader._matmul, "eye": _Reader._identity,
            "kron": lambda r, op, e: _kron(r._args(e))}


@registry_cached
def sympy_class_ops() -> dict:
    """SymPy class name -> the operation that reads it, as the operations declare.

    Examples
    --------
    >>> sympy_class_ops()["Inverse"].name, sympy_class_ops()["MatAdd"].name
    ('inv', 'add')
    """
    return {name: op for op in operations() for name in op.sympy_classes}


def _kron(args: tuple[Node, ...]) -> Node:
    """``KroneckerProduct(A, B, C)`` is ``kron(kron(A, B), C)``."""
    out = args[0]
    for a in args[1:]:
        out = Call("kron", (out, a))
    return out


def _short(e: sp.Basic) -> str:
    return short_text(e, 60)


def _dimension(name: str, d) -> int | str:
    """A MatrixSymbol's dimension: an integer, or a symbol's name (a dimension name)."""
    if d.is_Integer and d > 0:
        return int(d)
    if d.is_Symbol:
        return check_name(str(d.name), "dimension name")
    raise JacobianError(f"MatrixSymbol {name} needs positive integer or symbol dimensions, "
                        f"got {d}")
