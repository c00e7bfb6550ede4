r"""LaTeX of expression trees (compact formulas), from the operation registry.

``X.T @ (dY * Y * (1 - Y))`` prints as
``X^{\top} \left(dY \odot Y \odot \left(1 - Y\right)\right)``. Every
operation says how it is written (:attr:`Op.latex`) and how tightly it binds
(:attr:`Op.syntax`, or :attr:`Op.latex_precedence` where its LaTeX binds otherwise);
the printer is a :class:`~jacobian_calc.ops.printing.TreePrinter`, as is the text
printer :mod:`jacobian_calc.ops.text`, and only applies those declarations:

- a macro string (``r"\sin"``) is applied to the arguments:
  ``\sin\left(x\right)``;
- an infix operation's string is its separator (``r" \odot "``, ``" "`` for
  the matrix product, ``" + "``); a sum writes negated terms with ``-``, a
  product writes a numeric coefficient first (``\frac{1}{8} Y \odot Y``);
- a callable ``latex(p)`` builds the text from ``p.arg(i, least_precedence)``,
  ``p.kw(name)`` and ``p.T`` (a :class:`LatexParts`).

The same :class:`LatexParts` interface serves the SymPy printer of
:mod:`jacobian_calc.render.tex`, so one declaration prints an operation in
compact formulas and in SymPy entries alike.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, Mapping

import sympy as sp

from ..core.tree import Call, Declared, Name, Node, Num, fold
from ..ops.printing import TreePrinter
from ..ops.registry import PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, PREC_POW, Op, get
from ..ops.printing import decimal_text

#: The transpose marks a lecturer may choose.
TRANSPOSES = (r"^{\top}", "^T", "^{T}", r"^{\intercal}")


class LatexParts:
    r"""What a callable ``Op.latex`` sees: its arguments' LaTeX on demand.

    Parameters
    ----------
    count : int
        Number of arguments.
    print_arg : callable
        ``print_arg(i, least_precedence)``: LaTeX of argument ``i``, bracketed
        if it binds less tightly than ``least_precedence``.
    kwargs : mapping
        The operation's keyword options, defaults filled in.
    transpose : str
        The transpose mark, ``^{\top}`` or ``^T``.

    Examples
    --------
    >>> p = LatexParts(1, lambda i, least: "x", {"axis": 0}, "^T")
    >>> p.arg(0), p.kw("axis"), p.T, len(p)
    ('x', 0, '^T', 1)
    """

    def __init__(self, count: int, print_arg: Callable[[int, int], str],
                 kwargs: Mapping[str, Any], transpose: str = r"^{\top}") -> None:
        self._count, self._print_arg = count, print_arg
        self._kwargs, self._transpose = dict(kwargs), transpose

    def arg(self, i: int, least_precedence: int = 0) -> str:
        """LaTeX of argument ``i``, in ``\\left( \\right)`` if it binds less tightly."""
        if not 0 <= i < self._count:
            raise IndexError(f"argument {i} of {self._count}")
        return self._print_arg(i, least_precedence)

    def kw(self, name: str) -> Any:
        """The value of keyword option ``name`` (its default when not given)."""
        return self._kwargs.get(name)

    @property
    def T(self) -> str:  # noqa: N802 - as the maths writes it
        """The transpose mark."""
        return self._transpose

    def __len__(self) -> int:
        return self._count


def apply_latex(op: Op, p: LatexParts) -> str:
    r"""An operation written as a function: its callable, or ``\macro\left(args\right)``."""
    if callable(op.latex):
        return op.latex(p)
    args = ", ".join(p.arg(i) for i in range(len(p)))
    return op.latex if not len(p) else rf"{op.latex}\left({args}\right)"


def number_tex(value: Fraction) -> str:
    r"""``2``, ``-3``, ``\frac{1}{8}``, ``-\frac{3}{2}``."""
    value = Fraction(value)
    sign = "-" if value < 0 else ""
    if value.denominator == 1:
        return str(value.numerator)
    if decimal_text(value) is not None:
        return decimal_text(value)
    return rf"{sign}\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


@lru_cache(maxsize=4096)
def symbol_tex(name: str) -> str:
    r"""A name as SymPy writes a symbol: ``\alpha``, ``x_{1}``, ``W_{out}``."""
    return sp.latex(sp.Symbol(name))


def formula_latex(node: Node, transpose: str = r"^{\top}",
                  name: Callable[[str], str] = symbol_tex,
                  shapes: Mapping[str, Any] | None = None) -> str:
    r"""LaTeX of an expression tree.

    Parameters
    ----------
    node : Node
        A tree of :mod:`jacobian_calc.core.tree` nodes.
    transpose : str
        The transpose mark (``^{\top}``, ``^T``, ``^{T}`` or ``^{\intercal}``).
    name : callable
        LaTeX of a variable's name (SymPy's symbol names by default).
    shapes : mapping, optional
        Shapes of the names that are arrays. Given, a product of scalars (names
        not in it, numbers, element-wise functions of them) is written as a
        mathematician writes it, by juxtaposition: ``2 \pi t``, not
        ``2 \pi \odot t``. Not given, every product is element-wise (``\odot``).

    Examples
    --------
    >>> from jacobian_calc.core.tree import Name, Num, fn
    >>> X, dY, Y = Name("X"), Name("dY"), Name("Y")
    >>> formula_latex(X.T @ (dY * Y * (1 - Y)))
    'X^{\\top} \\left(dY \\odot Y \\odot \\left(1 - Y\\right)\\right)'
    >>> formula_latex(Num(Fraction(1, 8)) * Y * (1 - Y), "^T")
    '\\frac{1}{8} Y \\odot \\left(1 - Y\\right)'
    >>> formula_latex(fn.sum(dY - 2 * X, axis=0))
    '\\operatorname{sum}_{\\text{rows}}\\left(dY - 2 X\\right)'
    >>> formula_latex(fn.inv(X).T)
    '\\left(X^{-1}\\right)^{\\top}'
    >>> t = Name("t")
    >>> formula_latex(fn.cos(2 * fn.pi() * t) * t**2 / 3, shapes={})
    '\\frac{\\cos\\left(2 \\pi t\\right) t^{2}}{3}'
    >>> formula_latex(Name("a") * X * dY, shapes={"X": (2, 2), "dY": (2, 2)})
    'a \\odot X \\odot dY'
    """
    if transpose not in TRANSPOSES:
        raise ValueError(f"unknown transpose notation {transpose!r}: use one of "
                         + ", ".join(TRANSPOSES))
    return _FormulaPrinter(transpose, name, shapes).doprint(node)


#: Categories of operations whose result is a scalar when their arguments are: entry by
#: entry (``cos``, ``*``, ``**``) or constants (``pi``).
_SCALAR_CATEGORIES = ("arithmetic", "elementwise", "constant")


def is_scalar(node: Node, shapes: Mapping[str, Any], memo: dict | None = None) -> bool:
    """Whether ``node`` is known to be a scalar: a number, a name not in ``shapes`` (or
    of shape ``()``), an undefined function, an entry-by-entry operation of scalars.
    ``memo`` keeps the answers for subtrees.

    Examples
    --------
    >>> from jacobian_calc.core.tree import Name, fn
    >>> X, t = Name("X"), Name("t")
    >>> is_scalar(fn.cos(t) * 2, {"X": (2, 3)}), is_scalar(fn.cos(t) * X, {"X": (2, 3)})
    (True, False)
    """
    def scalar(n: Node, args: list[bool]) -> bool:
        if isinstance(n, Name):
            return not tuple(shapes.get(n.id, ()))
        if isinstance(n, Call):
            op = get(n.op)
            return op.category in _SCALAR_CATEGORIES and not op.tensor_valued and all(args)
        return isinstance(n, (Num, Declared)) and all(args)
    return fold(node, scalar, memo)


def is_negation(op: Op) -> bool:
    """A prefix operation written ``-``: a term a sum writes with a minus sign."""
    return op.syntax.form == "prefix" and op.latex == "-"


def _is_product(op: Op) -> bool:
    """An infix operation of the product level whose LaTeX is a separator."""
    return (op.syntax.form == "infix" and op.syntax.precedence == PREC_MUL
            and isinstance(op.latex, str))


class _FormulaPrinter(TreePrinter):
    printer = "latex"

    def __init__(self, transpose: str, name: Callable[[str], str],
                 shapes: Mapping[str, Any] | None = None) -> None:
        self.transpose, self.name, self.shapes = transpose, name, shapes
        self._scalar: dict[Node, bool] = {}

    def is_scalar(self, node: Node) -> bool:
        """Known to be a scalar (never, without the shapes of the names)."""
        return self.shapes is not None and is_scalar(node, self.shapes, self._scalar)

    def _print(self, node: Node) -> str:
        if isinstance(node, Call) and callable(get(node.op).latex):
            return self._print_call(get(node.op), node)
        return super()._print(node)

    def _print_Num(self, node: Num) -> str:
        return number_tex(node.value)

    def _print_Name(self, node: Name) -> str:
        return self.name(node.id)

    def _print_Declared(self, node: Declared) -> str:
        args = ", ".join(self._print(a) for a in node.args)
        return rf"{self.name(node.name)}\left({args}\right)"

    def _print_call(self, op: Op, node: Call) -> str:
        return apply_latex(op, self.parts(op, node))

    def parts(self, op: Op, node: Call) -> LatexParts:
        return LatexParts(len(node.args), lambda i, least: self.parenthesize(node.args[i], least),
                          op.options(node.kwargs), self.transpose)

    def bracket(self, text: str) -> str:
        return rf"\left({text}\right)"

    def symbol(self, op: Op) -> str:
        return op.latex

    def _print_infix(self, op: Op, node: Call) -> str:
        """A product writes a numeric coefficient first: ``\\frac{1}{8} Y \\odot Y``."""
        if self.op_precedence(op) == PREC_ADD:
            return self._print_sum(op, node)
        if _is_product(op) and self.is_scalar(node):
            return self._print_scalar_product(op, node)
        if not (_is_product(op) and len(node.args) > 1 and isinstance(node.args[0], Num)):
            return super()._print_infix(op, node)
        prec = self.op_precedence(op)
        lead, first, *rest = node.args
        # after the coefficient a sign would read as a difference: 3 \\left(-x\\right)
        text = number_tex(lead.value) + " " + self.parenthesize(first, PREC_POW, node)
        return text + "".join(op.latex + self.parenthesize(a, prec + 1, node) for a in rest)

    def _print_scalar_product(self, op: Op, node: Call) -> str:
        """A product of scalars, juxtaposed: ``2 \\pi t``, with ``\\cdot`` before a
        factor that is a number and does not lead (``x \\cdot 2``)."""
        prec = self.op_precedence(op)
        first, *rest = node.args
        if isinstance(first, Num) and abs(first.value) == 1 and rest:  # -t, not -1 t
            sign = "-" if first.value < 0 else ""
            first, *rest = rest
            out = [sign + self.parenthesize(first, prec)]
        else:
            out = [number_tex(first.value) if isinstance(first, Num) else
                   self.parenthesize(first, prec)]
        for factor in rest:
            text = self.parenthesize(factor, prec + 1)
            if text.startswith("-"):  # x \left(-y\right), never x -y
                text = self.bracket(text)
            out.append((r" \cdot " if text[:1].isdigit() else " ") + text)
        return "".join(out)

    def negated(self, term: Node) -> tuple[bool, Node]:
        """Also a product with a negative coefficient: ``-2 * x`` is ``-`` ``2 x``."""
        negative, body = super().negated(term)
        if negative or not isinstance(term, Call):
            return negative, body
        first = term.args[0] if term.args else None
        if _is_product(get(term.op)) and isinstance(first, Num) and first.value < 0:
            rest = term.args[1:]
            if first.value == -1:
                return True, rest[0] if len(rest) == 1 else Call(term.op, rest, term.kwargs)
            return True, Call(term.op, (Num(-first.value),) + rest, term.kwargs)
        return False, term

    def negated_term(self, body: Node) -> str:
        return self._no_double_minus(super().negated_term(body))

    def _print_prefix(self, op: Op, node: Call) -> str:
        text = self.parenthesize(node.args[0], self.op_precedence(op))
        return op.latex + self._no_double_minus(text)

    def _no_double_minus(self, text: str) -> str:
        """``a - \\left(-b\\right)``, never ``a - -b`` (the sign of what was printed,
        not its precedence)."""
        return self.bracket(text) if text.startswith("-") else text


def sympy_parts(printer: Any, expr: sp.Basic, kwargs: Mapping[str, Any],
                transpose: str = r"^{\top}") -> LatexParts:
    """:class:`LatexParts` over the arguments of a SymPy expression, for SymPy's printer.

    ``printer`` is a ``sympy.printing.latex.LatexPrinter``; our precedence
    levels are mapped onto SymPy's, so ``p.arg(0, PREC_ATOM)`` brackets a sum.
    """
    def print_arg(i: int, least: int) -> str:
        if least <= 0:
            return printer._print(expr.args[i])
        return printer.parenthesize(expr.args[i], _SYMPY_LEVELS[min(least, PREC_ATOM)],
                                    strict=True)
    return LatexParts(len(expr.args), print_arg, kwargs, transpose)


#: Our precedence levels -> the least SymPy precedence that needs no brackets.
_SYMPY_LEVELS = {PREC_ADD: 40, PREC_MUL: 50, PREC_NEG: 51, PREC_POW: 60, PREC_ATOM: 70}


__all__ = ["LatexParts", "apply_latex", "formula_latex", "number_tex",
           "symbol_tex", "sympy_parts", "is_negation", "is_scalar", "TRANSPOSES"]
