"""The safe expression parser: the only code that reads raw user text.

Text is checked character by character, parsed by Python's :mod:`ast` (never
executed: no ``eval``, ``sympify`` or ``parse_expr``), and converted to the
tree of :mod:`jacobian_calc.ir` through an allow-list of node types. Anything
not on the list is refused with a message that names it and its column.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import sys
from contextlib import contextmanager

import sympy as sp

from . import ir
from .errors import JacobianError
from .functions import ARRAY_FUNCTIONS, CONSTANTS, UNARY
from .limits import DEFAULT_LIMITS, Limits

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_ALLOWED_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_ \t\n\r+-*/^().,@=<>!&|%~:[]{};")
_CHAR_MESSAGES = {
    "'": "strings are not allowed", '"': "strings are not allowed",
    "#": "comments are not allowed", "\\": "backslashes are not allowed",
    "$": "'$' is not allowed", "?": "'?' is not allowed", "`": "'`' is not allowed",
}

#: ast node types that are refused, with the words used to refuse them.
_REFUSED = {
    ast.Attribute: "attribute access (only '.T' is allowed)",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "boolean operators are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Tuple: "tuples are only allowed at the top level",
    ast.Starred: "starred expressions are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Slice: "slices are not allowed",
}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
           ast.Pow: "**", ast.MatMult: "@"}
_UNARY_FUNCS = set(UNARY)
_KWARGS = {"sum": {"axis", "keepdims"}, "mean": {"axis", "keepdims"}}
_ARITY = {"sum": 1, "mean": 1, "softmax": 1, "hadamard": 2, "outer": 2, "ones_like": 1}


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> list[ir.Node]:
    """Parse a comma-separated list of expressions.

    Parameters
    ----------
    text : str
        Untrusted user text, e.g. ``"sin(x1-x2), cos(x1-x2)"``.
    limits : Limits
        Length, depth and number-size bounds.

    Returns
    -------
    list of ir.Node
        One tree per top-level component.

    Raises
    ------
    JacobianError
        For anything outside the grammar, with the offending column.

    Examples
    --------
    >>> [str(c) for c in parse("x^2, f(a, b)")]
    ['x**2', 'f(a, b)']
    """
    if not isinstance(text, str):
        raise JacobianError(f"expression must be a string, not {type(text).__name__}")
    _check_length(text, limits)
    _check_characters(text)
    spans = _split_components(text)
    with int_digits(limits.max_digits):
        return [_parse_component(text, start, end, limits) for start, end in spans]


@contextmanager
def int_digits(digits: int):
    """Let Python convert integers of up to ``digits`` decimal digits to and from text.

    Python refuses over 4,300 digits by default; ``--max-digits`` is the limit
    that matters here, so it is lifted to that within the block.
    """
    current = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    if current == 0 or current >= digits + 1:
        yield
        return
    sys.set_int_max_str_digits(digits + 1)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(current)


def parse_expression(text: str, limits: Limits = DEFAULT_LIMITS) -> ir.Node:
    """Parse exactly one expression (no top-level commas)."""
    parts = parse(text, limits)
    if len(parts) != 1:
        raise JacobianError(f"expected one expression, got {len(parts)} components",
                            source=text)
    return parts[0]


def check_name(name: str, what: str = "name") -> str:
    """Validate a user-supplied variable name (``--wrt``, ``--let``, ``--shape``)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise JacobianError(
            f"invalid {what} {name!r}: names are a letter followed by letters, "
            "digits or '_'")
    return name


# -- text-level checks ---------------------------------------------------------

def _check_length(text: str, limits: Limits) -> None:
    if len(text) > limits.max_length:
        raise JacobianError(
            f"expression is {len(text):,} characters long, over the limit of "
            f"{limits.max_length:,}", hint="raise it with --max-length")
    if not text.strip():
        raise JacobianError("empty expression")


def _check_characters(text: str) -> None:
    for col, ch in enumerate(text):
        if ch in _ALLOWED_CHARS:
            continue
        if ch in _CHAR_MESSAGES:
            message = _CHAR_MESSAGES[ch]
        elif ord(ch) < 32 or ord(ch) == 127:
            message = f"control character U+{ord(ch):04X} is not allowed"
        elif ord(ch) > 127:
            message = (f"non-ASCII character {ch!r} (U+{ord(ch):04X}) is not allowed; "
                       "type names in plain ASCII, e.g. 'alpha' for α")
        else:
            message = f"character {ch!r} is not allowed"
        raise JacobianError(message, source=text, col=col)


def _split_components(text: str) -> list[tuple[int, int]]:
    """Spans of the top-level comma-separated components; refuses empty ones."""
    spans, depth, start = [], 0, 0
    for col, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            spans.append((start, col))
            start = col + 1
    spans.append((start, len(text)))
    for index, (a, b) in enumerate(spans):
        if not text[a:b].strip():
            raise JacobianError(f"empty component (component {index + 1})",
                                source=text, col=min(a, len(text) - 1))
    return spans


def _check_nesting(text: str, offset: int, limits: Limits, full: str | None = None) -> None:
    depth = 0
    for col, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth > limits.max_depth:
                raise JacobianError(
                    f"expression nested deeper than {limits.max_depth} levels",
                    source=full, col=offset + col, hint="raise the limit with --max-depth")


# -- component parsing -----------------------------------------------------------

def _parse_component(full: str, start: int, end: int, limits: Limits) -> ir.Node:
    raw = full[start:end]
    _check_nesting(raw, start, limits, full)
    # '^' is power, as mathematicians write it; keep a map to report columns.
    text, colmap = _caret_to_pow(raw.replace("\n", " ").replace("\r", " "), start)
    stripped = len(text) - len(text.lstrip())
    text = text.strip()
    colmap = colmap[stripped:]
    tree = _ast_parse(text, full, colmap, limits)
    try:
        node = _Converter(full, text, colmap, limits).convert(tree.body)
    except RecursionError:
        raise JacobianError(f"expression nested deeper than {limits.max_depth} levels",
                            hint="raise the limit with --max-depth") from None
    if ir.depth(node) > limits.max_depth:
        raise JacobianError(f"expression nested deeper than {limits.max_depth} levels",
                            hint="raise the limit with --max-depth")
    _check_magnitudes(node, full, limits)
    return node


def _caret_to_pow(text: str, offset: int) -> tuple[str, list[int]]:
    out, colmap = [], []
    for col, ch in enumerate(text):
        if ch == "^":
            out.append("**")
            colmap += [offset + col, offset + col]
        else:
            out.append(ch)
            colmap.append(offset + col)
    colmap.append(offset + len(text))
    return "".join(out), colmap


def _ast_parse(text: str, full: str, colmap: list[int], limits: Limits) -> ast.Expression:
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        _refuse_keyword(text, full, colmap)
        at_end = not exc.offset or exc.offset > len(text)
        index = len(text) if at_end else exc.offset - 1
        col = colmap[min(index, len(colmap) - 1)]
        if _is_statement(text):
            raise JacobianError("statements are not allowed, only expressions",
                                source=full, col=col) from None
        message = exc.msg or ""
        if "integer string conversion" in message:
            long = max(re.finditer(r"[0-9_]+", text), key=lambda m: len(m.group()))
            raise JacobianError(f"number {long.group()[:20]}... has more than "
                                f"{limits.max_digits} digits", source=full,
                                col=colmap[long.start()],
                                hint="raise it with --max-digits") from None
        if "limit" in message or "never closed" in message or "unmatched" in message \
                or "does not match" in message:
            reason = message
        elif at_end:
            reason = "invalid syntax: the expression ends too early"
        else:
            reason = f"invalid syntax at {full[col] if col < len(full) else text[index]!r}"
        raise JacobianError(reason, source=full, col=col) from None
    except (RecursionError, MemoryError):
        raise JacobianError("expression too complex to parse: more than about 1,000 "
                            "chained operators or nesting levels",
                            hint="split it up with --let") from None
    except ValueError as exc:  # e.g. source containing NUL bytes
        raise JacobianError(f"unreadable expression: {exc}") from None


#: Suggested replacements for Python's reserved words used as names.
_KEYWORD_SUGGESTIONS = {"lambda": "lam", "in": "inp", "is": "i_s", "as": "a_s",
                        "if": "i_f", "or": "o_r", "and": "a_nd", "not": "n_ot"}


def _refuse_keyword(text: str, full: str, colmap: list[int]) -> None:
    """Explain a reserved word (``lambda``, ``if``, ...) used as a variable name."""
    for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", text):
        word = match.group()
        if keyword.iskeyword(word) and word not in ("True", "False", "None"):
            other = _KEYWORD_SUGGESTIONS.get(word, word + "1")
            raise JacobianError(
                f"{word!r} is a reserved word and cannot be used as a name",
                source=full, col=colmap[match.start()],
                hint=f"use another name, e.g. {other!r}") from None


def _is_statement(text: str) -> bool:
    try:
        ast.parse(text, mode="exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return False
    return True


class _Converter:
    """ast -> ir through the allow-list. One method per allowed node type."""

    def __init__(self, full: str, text: str, colmap: list[int], limits: Limits):
        self.full, self.text, self.colmap, self.limits = full, text, colmap, limits

    def col(self, node: ast.AST) -> int:
        return self.colmap[min(getattr(node, "col_offset", 0), len(self.colmap) - 1)]

    def op_col(self, node: ast.BinOp) -> int:
        """Column of a binary operator: the first mark between its operands."""
        start, end = node.left.end_col_offset, node.right.col_offset
        for index in range(start, end):
            if self.text[index] not in " \t)":
                return self.colmap[index]
        return self.col(node)

    def fail(self, message: str, node: ast.AST) -> JacobianError:
        return JacobianError(message, source=self.full, col=self.col(node))

    def convert(self, node: ast.AST) -> ir.Node:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            message = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed")
            raise self.fail(message, node)
        return method(node)

    def visit_Tuple(self, node: ast.Tuple) -> ir.Node:
        raise self.fail(_REFUSED[ast.Tuple], node)

    def visit_Constant(self, node: ast.Constant) -> ir.Node:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(f"{value!r} is not allowed", node)
        if isinstance(value, complex):
            raise self.fail("complex numbers are not allowed", node)
        if isinstance(value, (str, bytes)):
            raise self.fail("strings are not allowed", node)
        literal = self.text[node.col_offset:node.end_col_offset].replace("_", "")
        return ir.Num(self._number(literal, node), col=self.col(node))

    def _number(self, literal: str, node: ast.AST) -> sp.Expr:
        if re.fullmatch(r"0[xXoObB][0-9a-fA-F]+", literal):
            raise self.fail("only decimal numbers are allowed", node)
        mantissa, _, exponent = literal.lower().partition("e")
        digits = len(mantissa.strip("0").replace(".", "")) + abs(int(exponent or 0))
        if digits > self.limits.max_digits:
            raise JacobianError(f"number {literal[:20]} has more than "
                                f"{self.limits.max_digits} digits", source=self.full,
                                col=self.col(node), hint="raise it with --max-digits")
        return sp.Integer(int(literal)) if literal.isdigit() else sp.Rational(literal)

    def visit_Name(self, node: ast.Name) -> ir.Node:
        name = node.id
        if name.startswith("_"):
            raise self.fail(f"names may not start with '_': {name!r}", node)
        if not NAME_RE.match(name):
            raise self.fail(f"invalid name {name!r}", node)
        if name in _UNARY_FUNCS or name in ARRAY_FUNCTIONS:
            raise self.fail(f"{name!r} is a function; call it as {name}(...)", node)
        if name in CONSTANTS:
            return ir.Num(CONSTANTS[name], col=self.col(node))
        return ir.Name(name, col=self.col(node))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ir.Node:
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        if isinstance(node.op, ast.USub):
            operand = self.convert(node.operand)
            if isinstance(operand, ir.Num):
                return ir.Num(-operand.value, col=self.col(node))
            return ir.Neg(operand, col=self.col(node))
        raise self.fail(f"operator {_op_text(node.op)!r} is not allowed", node)

    def visit_BinOp(self, node: ast.BinOp) -> ir.Node:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise JacobianError(f"operator {_op_text(node.op)!r} is not allowed",
                                source=self.full, col=self.op_col(node))
        if op in "+-":
            return self._chain(node, (ast.Add, ast.Sub))
        if op == "*":
            return self._chain(node, (ast.Mult,))
        left, right = self.convert(node.left), self.convert(node.right)
        if op == "/" and isinstance(right, ir.Num) and right.value == 0:
            raise JacobianError("division by zero", source=self.full, col=self.op_col(node))
        if op == "/" and isinstance(left, ir.Num) and isinstance(right, ir.Num):
            return ir.Num(left.value / right.value, col=self.col(node))
        kind = {"/": ir.Div, "**": ir.Pow, "@": ir.MatMul}[op]
        return kind(left, right, col=self.col(node))

    def _chain(self, node: ast.BinOp, ops: tuple) -> ir.Node:
        """Flatten a left-leaning chain of + and - (or of *) without recursion."""
        items, signs = [], []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ops):
            items.append(node.right)
            signs.append(-1 if isinstance(node.op, ast.Sub) else 1)
            node = node.left
        items.append(node)
        signs.append(1)
        terms = tuple(self.convert(t) for t in reversed(items))
        signs = tuple(reversed(signs))
        if ops == (ast.Mult,):
            return ir.Mul(terms, col=self.col(node))
        return ir.Add(terms, signs, col=self.col(node))

    def visit_Attribute(self, node: ast.Attribute) -> ir.Node:
        if node.attr != "T":
            raise self.fail(_REFUSED[ast.Attribute] + f", not '.{node.attr}'", node)
        return ir.Transpose(self.convert(node.value), col=self.col(node))

    def visit_Call(self, node: ast.Call) -> ir.Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only named functions can be called", node)
        name = node.func.id
        if name.startswith("_") or not NAME_RE.match(name):
            raise self.fail(f"invalid function name {name!r}", node)
        if name in CONSTANTS:
            raise self.fail(f"{name!r} is a constant, not a function", node)
        args = tuple(self.convert(a) for a in node.args)
        self._check_arity(name, len(args), node)
        kwargs = tuple(self._kwarg(name, k) for k in node.keywords)
        return ir.Call(name, args, kwargs, col=self.col(node))

    def _check_arity(self, name: str, count: int, node: ast.AST) -> None:
        expected = 1 if name in _UNARY_FUNCS else _ARITY.get(name)
        if expected is not None and count != expected:
            raise self.fail(f"{name}() takes {expected} argument"
                            f"{'s' if expected > 1 else ''}, got {count}", node)
        if expected is None and count == 0:
            raise self.fail(f"{name}() needs at least one argument", node)

    def _kwarg(self, func: str, kw: ast.keyword) -> tuple[str, object]:
        if kw.arg not in _KWARGS.get(func, ()):
            raise self.fail(f"{func}() takes no keyword argument {kw.arg!r}", kw)
        value = kw.value
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
            value = ast.Constant(-value.operand.value) if isinstance(
                value.operand, ast.Constant) else value
        if kw.arg == "keepdims" and isinstance(value, ast.Constant) \
                and isinstance(value.value, bool):
            return kw.arg, value.value
        if kw.arg == "axis" and isinstance(value, ast.Constant) \
                and type(value.value) is int and value.value in (-2, -1, 0, 1):
            return kw.arg, value.value
        raise self.fail(f"bad value for {func}(..., {kw.arg}=...)", kw)


def _op_text(op: ast.AST) -> str:
    return {ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|", ast.Mod: "%",
            ast.FloorDiv: "//", ast.LShift: "<<", ast.RShift: ">>",
            ast.Invert: "~", ast.Not: "not"}.get(type(op), type(op).__name__)


# -- number-size guard ---------------------------------------------------------------

def _check_magnitudes(node: ir.Node, full: str, limits: Limits) -> None:
    """Refuse constant subexpressions whose exact value would be enormous.

    Works on estimated decimal digit counts (log10), so ``9^9^9`` is refused
    without computing anything.
    """
    memo: dict[int, float | None] = {}
    order, stack = [], [node]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(n.children())
    for n in reversed(order):
        memo[id(n)] = _log10(n, memo, limits, full)


def _log10(n: ir.Node, memo: dict, limits: Limits, full: str) -> float | None:
    """Approximate log10 |value| of a constant node, or None if not constant."""
    kids = [memo[id(c)] for c in n.children()]
    if isinstance(n, ir.Num):
        return _num_log10(n.value)
    if not kids or any(k is None for k in kids) or isinstance(n, (ir.Call, ir.Name)):
        return None
    if isinstance(n, ir.Pow):
        base, exp = kids
        exponent = _signed_value(n.exp, exp)
        size = abs(exponent) * abs(base) if base != 0 else 0.0
        if size > limits.max_digits:
            raise JacobianError(
                f"number too large: about 10^{_fmt(size)} (limit {limits.max_digits} digits)",
                source=full, col=n.col, hint="raise it with --max-digits")
        return size if exponent >= 0 else -size
    if isinstance(n, (ir.Mul, ir.Div, ir.MatMul)):
        size = sum(abs(k) for k in kids)
    else:
        size = max(abs(k) for k in kids) + 1
    if size > limits.max_digits:
        raise JacobianError(
            f"number too large: about 10^{_fmt(size)} (limit {limits.max_digits} digits)",
            source=full, col=n.col, hint="raise it with --max-digits")
    return size


def _num_log10(value: sp.Expr) -> float:
    if value == 0 or not value.is_Rational:
        return 0.0
    p, q = abs(int(value.p)), int(value.q)
    return math.log10(p) - math.log10(q)


def _signed_value(node: ir.Node, log10: float) -> float:
    """Value of a constant exponent, from its node when small enough."""
    if isinstance(node, ir.Num) and node.value.is_Rational and log10 < 300:
        return float(node.value)
    if log10 > 300:
        return math.inf
    sign = -1.0 if isinstance(node, ir.Neg) else 1.0
    return sign * 10.0 ** log10


def _fmt(size: float) -> str:
    return "inf" if math.isinf(size) else f"{size:,.0f}"
