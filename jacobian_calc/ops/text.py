"""Expression trees in the calculator's own syntax (which the parser reads back).

Every operation says how it is written (:class:`~jacobian_calc.ops.registry.Syntax`)
and with what precedence; this printer, a :class:`~jacobian_calc.ops.printing.TreePrinter`,
only applies those declarations.
Where Python would not need parentheses but a reader would (``(A @ B) * C``,
``(a / b) * c``) they are added.
"""

from __future__ import annotations

from fractions import Fraction

from ..core import tree
from ..core.tree import Call, Declared, Name, Node, Num
from .indexing import index_text
from .printing import TreePrinter
from .registry import PREC_ATOM, Op


def precedence(node: Node) -> int:
    """How tightly ``node`` binds when printed (Python's levels)."""
    return _PRINTER.precedence(node)


def number_text(value: Fraction) -> str:
    """``2``, ``-3``, ``1/8``."""
    return str(value.numerator) if value.denominator == 1 else \
        f"{value.numerator}/{value.denominator}"


class SourcePrinter(TreePrinter):
    """The calculator's syntax: operators as the declarations write them, calls by name."""

    printer = "text"

    def _print_Num(self, node: Num) -> str:
        return number_text(node.value)

    def _print_Name(self, node: Name) -> str:
        return node.id

    def _print_Declared(self, node: Declared) -> str:
        return f"{node.name}({', '.join(self._print(a) for a in node.args)})"

    def _print_call(self, op: Op, node: Call) -> str:
        parts = [self._print(a) for a in node.args]
        parts += [f"{k}={v}" for k, v in node.kwargs]
        return f"{op.name}({', '.join(parts)})"

    def _print_subscript(self, op: Op, node: Call) -> str:
        """``X[1:, 0]``: NumPy's indexing."""
        return f"{self.parenthesize(node.args[0], PREC_ATOM)}[{index_text(node.kwarg('index'))}]"

    def _print_scatter(self, op: Op, node: Call) -> str:
        """``scatter(dY, X[1:, 0])``: dY where X[1:, 0] selects, zeros elsewhere."""
        values, like = node.args
        return f"{op.name}({self._print(values)}, {self.parenthesize(like, PREC_ATOM)}" \
               f"[{index_text(node.kwarg('index'))}])"

    def _print_list(self, op: Op, node: Call) -> str:
        """``concat([A, B], axis=0)``: operands in a list, as NumPy takes them."""
        parts = [f"[{', '.join(self._print(a) for a in node.args)}]"]
        parts += [f"{k}={v}" for k, v in node.kwargs]
        return f"{op.name}({', '.join(parts)})"


_PRINTER = SourcePrinter()


def to_source(node: Node) -> str:
    """Print a tree in the calculator's expression syntax (re-parseable).

    Examples
    --------
    >>> from jacobian_calc.core.tree import Name, fn
    >>> X, dY, Y = Name("X"), Name("dY"), Name("Y")
    >>> to_source(X.T @ (dY * Y * (1 - Y)))
    'X.T @ (dY * Y * (1 - Y))'
    >>> to_source(fn.sum(dY - 2 * X, axis=0))
    'sum(dY - 2 * X, axis=0)'
    """
    return _PRINTER.doprint(node)


def rule_line(op: Op) -> str:
    """The backward rule of ``op`` in one line, as ``jac --rules`` shows it.

    Element-wise rules are printed from the derivative itself, so the line
    cannot drift from the rule.

    Examples
    --------
    >>> from jacobian_calc.ops import get
    >>> rule_line(get("tanh")), rule_line(get("step"))
    ('dX = dY * (1 - Y**2)', 'dX = 0')
    """
    if op.derivative is None:
        return op.rule
    X, Y = Name("X"), Name("Y")
    d = op.derivative(X, Y)
    return "dX = 0" if d is None else f"dX = {to_source(Name('dY') * d)}"


tree.source_printer = to_source  # str(node) is the node in the calculator's syntax
