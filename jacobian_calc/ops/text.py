"""Expression trees in the calculator's own syntax (which the parser reads back).

Every operation says how it is written (:class:`~jacobian_calc.ops.registry.Syntax`)
and with what precedence; this printer only applies those declarations.
Where Python would not need parentheses but a reader would (``(A @ B) * C``,
``(a / b) * c``) they are added.
"""

from __future__ import annotations

from fractions import Fraction

from ..core import tree
from ..core.tree import Call, Declared, Name, Node, Num
from .indexing import index_text
from .registry import PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, Op, get


def precedence(node: Node) -> int:
    """How tightly ``node`` binds when printed (Python's levels)."""
    if isinstance(node, Num):
        if node.value.denominator != 1:
            return PREC_MUL
        return PREC_NEG if node.value < 0 else PREC_ATOM
    if isinstance(node, Call):
        return get(node.op).syntax.precedence
    return PREC_ATOM


def number_text(value: Fraction) -> str:
    """``2``, ``-3``, ``1/8``."""
    return str(value.numerator) if value.denominator == 1 else \
        f"{value.numerator}/{value.denominator}"


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
    if isinstance(node, Num):
        return number_text(node.value)
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Declared):
        return f"{node.name}({', '.join(to_source(a) for a in node.args)})"
    op = get(node.op)
    return _FORMS[op.syntax.form](op, node)


def _wrap(node: Node, least: int, parent: Node | None = None) -> str:
    """``node`` printed, in parentheses if it binds less tightly than ``least``.

    A different operator of the parent's level is bracketed too, for the reader.
    """
    text = to_source(node)
    prec = precedence(node)
    clash = (parent is not None and isinstance(node, Call) and node.op != parent.op
             and prec == precedence(parent) == PREC_MUL)
    return f"({text})" if prec < least or clash else text


def _call(op: Op, node: Call) -> str:
    parts = [to_source(a) for a in node.args]
    parts += [f"{k}={v}" for k, v in node.kwargs]
    return f"{op.name}({', '.join(parts)})"


def _infix(op: Op, node: Call) -> str:
    if op.syntax.signed_terms:
        return _sum(node)
    prec, symbol = op.syntax.precedence, op.syntax.symbol
    if op.syntax.right_associative:  # x**y**z is x**(y**z): the base needs brackets
        base, exponent = node.args
        return f"{_wrap(base, prec + 1)}{symbol}{_wrap(exponent, prec)}"
    first, *rest = node.args
    return _wrap(first, prec, node) + "".join(symbol + _wrap(a, prec + 1, node) for a in rest)


def _sum(node: Call) -> str:
    """Terms joined by ``+``, a negated term or negative number written with ``-``."""
    out = []
    for i, term in enumerate(node.args):
        negative, body = _negated(term)
        if negative:
            text = _wrap(body, PREC_MUL)
            out.append(f"-{text}" if i == 0 else f" - {text}")
        else:
            text = _wrap(term, PREC_ADD)
            out.append(text if i == 0 else f" + {text}")
    return "".join(out)


def _negated(term: Node) -> tuple[bool, Node]:
    if isinstance(term, Call) and get(term.op).syntax.form == "prefix":
        return True, term.args[0]
    if isinstance(term, Num) and term.value < 0:
        return True, Num(-term.value)
    return False, term


def _prefix(op: Op, node: Call) -> str:
    return op.syntax.symbol + _wrap(node.args[0], PREC_NEG)


def _postfix(op: Op, node: Call) -> str:
    return _wrap(node.args[0], PREC_ATOM) + op.syntax.symbol


def _subscript(op: Op, node: Call) -> str:
    """``X[1:, 0]``: NumPy's indexing."""
    return f"{_wrap(node.args[0], PREC_ATOM)}[{index_text(node.kwarg('index'))}]"


def _scatter(op: Op, node: Call) -> str:
    """``scatter(dY, X[1:, 0])``: dY where X[1:, 0] selects, zeros elsewhere."""
    values, like = node.args
    return f"{op.name}({to_source(values)}, {_wrap(like, PREC_ATOM)}" \
           f"[{index_text(node.kwarg('index'))}])"


def _list(op: Op, node: Call) -> str:
    """``concat([A, B], axis=0)``: operands in a list, as NumPy takes them."""
    parts = [f"[{', '.join(to_source(a) for a in node.args)}]"]
    parts += [f"{k}={v}" for k, v in node.kwargs]
    return f"{op.name}({', '.join(parts)})"


_FORMS = {"call": _call, "infix": _infix, "prefix": _prefix, "postfix": _postfix,
          "atom": lambda op, node: op.syntax.symbol, "subscript": _subscript,
          "scatter": _scatter, "list": _list}


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
