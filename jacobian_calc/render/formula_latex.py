r"""LaTeX of expression trees (compact formulas), from the operation registry.

``X.T @ (dY * Y * (1 - Y))`` prints as
``X^{\top} \left(dY \odot Y \odot \left(1 - Y\right)\right)``. Every
operation says how it is written (:attr:`Op.latex`) and how tightly it binds
(:attr:`Op.syntax`); this module only applies those declarations, with the
precedence rules of the text printer :mod:`jacobian_calc.ops.text`:

- a macro string (``r"\sin"``) is applied to the arguments:
  ``\sin\left(x\right)``;
- an infix operation's string is its separator (``r" \odot "``, ``" "`` for
  the matrix product, ``" + "``); a sum writes negated terms with ``-``, a
  product writes a numeric coefficient first (``\frac{1}{8} Y \odot Y``);
- a callable ``latex(p)`` builds the text from ``p.arg(i, least_precedence)``,
  ``p.kw(name)`` and ``p.T`` (a :class:`LatexParts`).

The same :class:`LatexParts` interface serves the SymPy printer of
:mod:`jacobian_calc.render.latex`, so one declaration prints an operation in
compact formulas and in SymPy entries alike.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, Mapping

import sympy as sp

from ..core.tree import Call, Declared, Name, Node, Num
from ..ops.registry import PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, PREC_POW, Op, get
from ..ops.text import decimal_text

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
                  name: Callable[[str], str] = symbol_tex) -> str:
    r"""LaTeX of an expression tree.

    Parameters
    ----------
    node : Node
        A tree of :mod:`jacobian_calc.core.tree` nodes.
    transpose : str
        The transpose mark (``^{\top}``, ``^T``, ``^{T}`` or ``^{\intercal}``).
    name : callable
        LaTeX of a variable's name (SymPy's symbol names by default).

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
    """
    if transpose not in TRANSPOSES:
        raise ValueError(f"unknown transpose notation {transpose!r}: use one of "
                         + ", ".join(TRANSPOSES))
    return _FormulaPrinter(transpose, name).print(node)


def text_precedence(tex: str) -> int:
    r"""How tightly some printed LaTeX binds, read from its top level.

    A callable declaration may print a product (``a b^{\top}``) or a power
    (``X^{-1}``) while its syntax says it binds like a function call; what it
    printed decides whether it needs brackets (``\left(X^{-1}\right)^{\top}``,
    never the double superscript ``X^{-1}^{\top}``).

    Examples
    --------
    >>> [text_precedence(t) for t in ("a + b", r"a b^{\top}", "-x", "X^{-1}",
    ...                               r"\sin\left(x y\right)", r"\left\{x + y\right\}")]
    [1, 2, 3, 4, 5, 5]
    """
    depth, prec, superscript_end, n = 0, PREC_ATOM, -1, len(tex)
    i = 0
    while i < n:
        c = tex[i]
        if c == "\\":
            macro, i = _macro(tex, i)
            if macro in ("left", "right"):
                depth += 1 if macro == "left" else -1
                i = _macro(tex, i)[1] if tex[i:i + 1] == "\\" else i + 1  # the delimiter
            continue
        if c in "{}":
            depth += 1 if c == "{" else -1
        elif depth == 0:
            if c in "+-" and i > 0 and tex[i - 1] == " ":
                return PREC_ADD
            if c == " ":
                prec = PREC_MUL
            elif c == "^":
                superscript_end = _group_end(tex, i + 1)
        i += 1
    if prec == PREC_ATOM and tex.startswith("-"):
        return PREC_NEG
    if prec == PREC_ATOM and superscript_end == n:
        return PREC_POW
    return prec


def _macro(tex: str, i: int) -> tuple[str, int]:
    """(name, index after it) of the macro at ``tex[i] == "\\"`` (``\\,`` has name ``,``)."""
    j = i + 1
    while j < len(tex) and tex[j].isalpha():
        j += 1
    return (tex[i + 1:j], j) if j > i + 1 else (tex[i + 1:i + 2], i + 2)


def _group_end(tex: str, i: int) -> int:
    """Index just after the group or token starting at ``tex[i]``."""
    if i >= len(tex):
        return i
    if tex[i] == "\\":
        return _macro(tex, i)[1]
    if tex[i] != "{":
        return i + 1
    depth = 0
    for j in range(i, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        if depth == 0:
            return j + 1
    return len(tex)


def is_negation(op: Op) -> bool:
    """A prefix operation written ``-``: a term a sum writes with a minus sign."""
    return op.syntax.form == "prefix" and op.latex == "-"


def _is_product(op: Op) -> bool:
    """An infix operation of the product level whose LaTeX is a separator."""
    return (op.syntax.form == "infix" and op.syntax.precedence == PREC_MUL
            and isinstance(op.latex, str))


class _FormulaPrinter:
    def __init__(self, transpose: str, name: Callable[[str], str]) -> None:
        self.transpose, self.name = transpose, name

    def print(self, node: Node) -> str:
        if isinstance(node, Num):
            return number_tex(node.value)
        if isinstance(node, Name):
            return self.name(node.id)
        if isinstance(node, Declared):
            args = ", ".join(self.print(a) for a in node.args)
            return rf"{self.name(node.name)}\left({args}\right)"
        op = get(node.op)
        form = op.syntax.form
        if callable(op.latex) or form == "call":
            return apply_latex(op, self.parts(op, node))
        return getattr(self, "_" + form)(op, node)

    def parts(self, op: Op, node: Call) -> LatexParts:
        return LatexParts(len(node.args), lambda i, least: self.wrap(node.args[i], least),
                          op.options(node.kwargs), self.transpose)

    def precedence(self, node: Node, tex: str) -> int:
        """Declared precedence (as the text printer has it), lowered by what was printed."""
        if isinstance(node, Num):
            declared = PREC_MUL if node.value.denominator != 1 and \
                decimal_text(node.value) is None else \
                PREC_NEG if node.value < 0 else PREC_ATOM
        elif isinstance(node, Call):
            declared = get(node.op).syntax.precedence
        else:
            declared = PREC_ATOM
        return min(declared, text_precedence(tex))

    def wrap(self, node: Node, least: int, parent: Call | None = None) -> str:
        """``node`` printed, bracketed if it binds less tightly than ``least``.

        As in the text printer, a different operation of the product level is
        bracketed too: ``\\left(A \\odot B\\right) C``.
        """
        tex = self.print(node)
        prec = self.precedence(node, tex)
        clash = (parent is not None and isinstance(node, Call) and node.op != parent.op
                 and prec == PREC_MUL and get(parent.op).syntax.precedence == PREC_MUL)
        return rf"\left({tex}\right)" if prec < least or clash else tex

    def _infix(self, op: Op, node: Call) -> str:
        if op.syntax.precedence == PREC_ADD:
            return self._sum(op, node)
        prec, args, lead = op.syntax.precedence, list(node.args), ""
        if _is_product(op) and len(args) > 1 and isinstance(args[0], Num):
            lead = number_tex(args.pop(0).value) + " "
            if len(args) == 1:
                return lead + self.wrap(args[0], prec + 1, node)
        first, *rest = args
        return lead + self.wrap(first, prec, node) + "".join(
            op.latex + self.wrap(a, prec + 1, node) for a in rest)

    def _sum(self, op: Op, node: Call) -> str:
        """Terms joined by the separator, a negated term written with ``-``."""
        out = []
        for i, term in enumerate(node.args):
            negative, body = self._negated(term)
            if negative:
                text = self.wrap(body, PREC_MUL)
                if text.startswith("-"):  # a - (-b), never a - -b
                    text = rf"\left({text}\right)"
                out.append(f"-{text}" if i == 0 else f" - {text}")
            else:
                text = self.wrap(term, PREC_ADD)
                out.append(text if i == 0 else op.latex + text)
        return "".join(out)

    @staticmethod
    def _negated(term: Node) -> tuple[bool, Node]:
        """(is it negative, the term without its sign): ``-x``, ``-2``, ``-2 * x``."""
        if isinstance(term, Num) and term.value < 0:
            return True, Num(-term.value)
        if not isinstance(term, Call):
            return False, term
        op = get(term.op)
        if is_negation(op):
            return True, term.args[0]
        first = term.args[0] if term.args else None
        if _is_product(op) and isinstance(first, Num) and first.value < 0:
            rest = term.args[1:]
            if first.value == -1:
                return True, rest[0] if len(rest) == 1 else Call(term.op, rest, term.kwargs)
            return True, Call(term.op, (Num(-first.value),) + rest, term.kwargs)
        return False, term

    def _prefix(self, op: Op, node: Call) -> str:
        text = self.wrap(node.args[0], op.syntax.precedence)
        return op.latex + (rf"\left({text}\right)" if text.startswith("-") else text)

    def _postfix(self, op: Op, node: Call) -> str:
        return self.wrap(node.args[0], PREC_ATOM) + op.latex

    def _atom(self, op: Op, node: Call) -> str:
        return op.latex


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
           "symbol_tex", "sympy_parts", "text_precedence", "is_negation", "TRANSPOSES"]
