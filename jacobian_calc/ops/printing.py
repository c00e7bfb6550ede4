"""One printer of expression trees; each language is a subclass.

:class:`TreePrinter` dispatches on the kind of node (``_print_Num``,
``_print_Name``, ``_print_Declared``) and on the written form of an operation
(``_print_call``, ``_print_infix``, ``_print_prefix``, ``_print_postfix``,
``_print_atom``), and brackets an operand in one place, :meth:`parenthesize`,
from the precedence every operation declares for each printer
(:meth:`Op.precedence <jacobian_calc.ops.registry.Op.precedence>`), as SymPy's
printers do with ``precedence.py``. Nothing is read back from printed text.

The calculator's own syntax (:mod:`jacobian_calc.ops.text`), LaTeX
(:mod:`jacobian_calc.render.formula_latex`) and NumPy/PyTorch code
(:mod:`jacobian_calc.render.code`) are the subclasses; a subclass says how its
language writes an operation (:meth:`symbol`) and a number, and little else.
"""

from __future__ import annotations

from fractions import Fraction

from ..core.tree import Call, Node, Num
from .registry import AS_ARGUMENT, PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, Op, get


class TreePrinter:
    """The structure the languages share: dispatch, brackets, sums with signed terms.

    ``printer`` names the precedence the operations declare for this printer
    (``"text"``, ``"latex"`` or ``"code"``).
    """

    printer = "text"

    def doprint(self, node: Node) -> str:
        """``node`` printed."""
        return self._print(node)

    def _print(self, node: Node) -> str:
        if isinstance(node, Call):
            op = get(node.op)  # a form this language has no method for is written as a call
            method = getattr(self, "_print_" + op.syntax.form, self._print_call)
            return method(op, node)
        return getattr(self, "_print_" + type(node).__name__)(node)

    # -- precedence and brackets --------------------------------------------------------
    def number_precedence(self, value: Fraction) -> int:
        """A fraction binds like a quotient, a negative number like a negation."""
        if value.denominator != 1:
            return PREC_MUL
        return PREC_NEG if value < 0 else PREC_ATOM

    def op_precedence(self, op: Op) -> int:
        """How tightly ``op`` binds in this printer's language, as declared."""
        return op.precedence(self.printer)

    def precedence(self, node: Node) -> int:
        """How tightly ``node`` binds when printed."""
        if isinstance(node, Num):
            return self.number_precedence(node.value)
        if isinstance(node, Call):
            prec = self.op_precedence(get(node.op))
            return self.precedence(node.args[0]) if prec == AS_ARGUMENT else prec
        return PREC_ATOM

    def bracket(self, text: str) -> str:
        return f"({text})"

    def parenthesize(self, node: Node, least: int, parent: Call | None = None) -> str:
        """``node`` printed, bracketed if it binds less tightly than ``least``.

        A different operation of the product level than its ``parent`` is
        bracketed too, for the reader: ``(A @ B) * C``, ``(a / b) * c``.
        """
        text = self._print(node)
        prec = self.precedence(node)
        clash = (parent is not None and isinstance(node, Call) and node.op != parent.op
                 and prec == PREC_MUL == self.precedence(parent))
        return self.bracket(text) if prec < least or clash else text

    # -- the forms of operations ----------------------------------------------------------
    def symbol(self, op: Op) -> str:
        """How this language writes an operator (``" + "``, ``".T"``, ``"-"``)."""
        return op.syntax.symbol

    def _print_infix(self, op: Op, node: Call) -> str:
        if op.syntax.signed_terms:
            return self._print_sum(op, node)
        prec, symbol = self.op_precedence(op), self.symbol(op)
        if op.syntax.right_associative:  # x**y**z is x**(y**z): the base needs brackets
            base, exponent = node.args
            return f"{self.parenthesize(base, prec + 1)}{symbol}{self.parenthesize(exponent, prec)}"
        first, *rest = node.args
        return self.parenthesize(first, prec, node) + "".join(
            symbol + self.parenthesize(a, prec + 1, node) for a in rest)

    def _print_sum(self, op: Op, node: Call) -> str:
        """Terms joined by the operator, a negated term or negative number written with ``-``."""
        out = []
        for i, term in enumerate(node.args):
            negative, body = self.negated(term)
            if negative:
                text = self.negated_term(body)
                out.append(f"-{text}" if i == 0 else f" - {text}")
            else:
                text = self.parenthesize(term, PREC_ADD)
                out.append(text if i == 0 else self.symbol(op) + text)
        return "".join(out)

    def negated(self, term: Node) -> tuple[bool, Node]:
        """(is the term negative, the term without its sign): ``-x``, ``-2``."""
        if isinstance(term, Num) and term.value < 0:
            return True, Num(-term.value)
        if isinstance(term, Call) and get(term.op).syntax.form == "prefix":
            return True, term.args[0]
        return False, term

    def negated_term(self, body: Node) -> str:
        """What follows the ``-`` of a negated term of a sum."""
        return self.parenthesize(body, PREC_MUL)

    def _print_prefix(self, op: Op, node: Call) -> str:
        return self.symbol(op) + self.parenthesize(node.args[0], self.op_precedence(op))

    def _print_postfix(self, op: Op, node: Call) -> str:
        return self.parenthesize(node.args[0], PREC_ATOM) + self.symbol(op)

    def _print_atom(self, op: Op, node: Call) -> str:
        return self.symbol(op)

    def _print_call(self, op: Op, node: Call) -> str:
        raise NotImplementedError(f"{type(self).__name__} cannot print {op.name}")


__all__ = ["TreePrinter"]
