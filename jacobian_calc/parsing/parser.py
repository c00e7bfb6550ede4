"""The safe expression parser: the only code that reads raw user text.

Text is checked character by character, parsed by Python's :mod:`ast` (never
executed: no ``eval``, ``sympify`` or ``parse_expr``), and converted to the
expression tree through an allow-list of node types. Calls are looked up in
the operation registry (arity, keyword options); a name that is not an
operation is refused with the closest known ones, unless the caller declared
it as an undefined function. Anything else is refused with a message that
names it and its column.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import sys
from contextlib import contextmanager
from fractions import Fraction
from typing import Iterable

from ..core.budget import active_limits, entry_point
from ..core.errors import JacobianError, LimitError
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.names import NAME_RE, PYTHON_BUILTINS, suggest
from ..core.tree import Call, Declared, Name, Node, Num, fold
from ..ops import known_names, lookup

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
    ast.Compare: "comparisons are only allowed as the condition of where()",
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

#: Comparisons (only as where()'s condition) -> the registry's operations.
_COMPARISONS = {ast.Lt: "less", ast.LtE: "less_equal", ast.Gt: "greater",
                ast.GtE: "greater_equal"}
_COMPARISON_MESSAGE = ("comparisons are only allowed as the condition of where(), e.g. "
                       "where(x > 0, x, 0)")
#: Python's binary operators -> the registry's operations.
_BINOPS = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "div",
           ast.Pow: "pow", ast.MatMult: "matmul"}

#: A chain of one operator (``x/x/.../x``) may be this many times ``max_depth`` long.
CHAIN_FACTOR = 3


@entry_point
def parse(text: str, limits: Limits = DEFAULT_LIMITS,
          functions: Iterable[str] = (), variables: Iterable[str] = ()) -> list[Node]:
    """Parse a comma-separated list of expressions.

    Parameters
    ----------
    text : str
        Untrusted user text, e.g. ``"sin(x1-x2), cos(x1-x2)"``.
    limits : Limits
        Length, depth and number-size bounds (default: the active request's, else
        :data:`DEFAULT_LIMITS`).
    functions : iterable of str
        Names of undefined functions the caller declared (``f`` in ``f(g(x))``).
    variables : iterable of str
        Declared variables, named as such if called like functions.

    Returns
    -------
    list of Node
        One tree per top-level component.

    Raises
    ------
    JacobianError
        For anything outside the grammar, with the offending column.

    Examples
    --------
    >>> from jacobian_calc.ops.text import to_source
    >>> [to_source(c) for c in parse("x^2, f(a, b)", functions={"f"})]
    ['x**2', 'f(a, b)']
    """
    return _parse(text, functions, variables)


def _parse(text: str, functions: Iterable[str], variables: Iterable[str]) -> list[Node]:
    """:func:`parse` within the active limits."""
    if not isinstance(text, str):
        raise JacobianError(f"expression must be a string, not {type(text).__name__}")
    _check_length(text)
    _check_characters(text)
    _check_nesting(text)
    spans = _split_components(text)
    names = (frozenset(functions), frozenset(variables))
    shared: dict[Node, Node] = {}  # equal subtrees of all components become one object
    checked = _Checked()  # and are checked once
    with int_digits(active_limits().max_digits):
        return [_parse_component(text, start, end, names, shared, checked)
                for start, end in spans]


@entry_point
def parse_expression(text: str, limits: Limits = DEFAULT_LIMITS,
                     functions: Iterable[str] = (), variables: Iterable[str] = ()) -> Node:
    """Parse exactly one expression (no top-level commas), as :func:`parse`."""
    parts = _parse(text, functions, variables)
    if len(parts) != 1:
        raise JacobianError(f"expected one expression, got {len(parts)} components",
                            source=text)
    return parts[0]


@contextmanager
def int_digits(digits: int):
    """Let Python convert integers of up to ``digits`` decimal digits to and from text.

    Python refuses over 4,300 digits by default; ``max_digits`` is the limit
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


# -- text-level checks ---------------------------------------------------------

def _check_length(text: str) -> None:
    limits = active_limits()
    if len(text) > limits.max_length:
        raise LimitError(f"expression is {len(text):,} characters long, over the limit of "
                         f"{limits.max_length:,}", limit="max_length")
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


def _check_nesting(text: str) -> None:
    """Refuse brackets nested deeper than ``max_depth`` (calls count: ``f(`` opens one)."""
    limits = active_limits()
    level = 0
    for col, ch in enumerate(text):
        if ch in "([{":
            level += 1
            if level > limits.max_depth:
                raise LimitError(f"expression nested deeper than {limits.max_depth} levels",
                                 source=text, col=col, limit="max_depth")
        elif ch in ")]}":
            level -= 1


def comma_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each part of ``text`` between commas outside brackets.

    The one comma splitter of the package (components of an expression, items of
    ``at`` values).

    Examples
    --------
    >>> t = "f(a, b), [1, 2], c"
    >>> [t[a:b] for a, b in comma_spans(t)]
    ['f(a, b)', ' [1, 2]', ' c']
    """
    spans, level, start = [], 0, 0
    for col, ch in enumerate(text):
        if ch in "([{":
            level += 1
        elif ch in ")]}":
            level -= 1
        elif ch == "," and level == 0:
            spans.append((start, col))
            start = col + 1
    spans.append((start, len(text)))
    return spans


def _split_components(text: str) -> list[tuple[int, int]]:
    """Spans of the top-level comma-separated components; refuses empty ones."""
    spans = comma_spans(text)
    for index, (a, b) in enumerate(spans):
        if not text[a:b].strip():
            raise JacobianError(f"empty component (component {index + 1})",
                                source=text, col=min(a, len(text) - 1))
    return spans


# -- component parsing -----------------------------------------------------------

class _Checked:
    """What the checks found for each distinct subtree, across the components of one
    text (softmax's shared denominator is walked once, not once per component)."""

    def __init__(self) -> None:
        self.nesting: dict[Node, int] = {}
        self.depth: dict[Node, int] = {}
        self.magnitude: dict[Node, tuple[float, float | None] | None] = {}


def _parse_component(full: str, start: int, end: int,
                     names: tuple[frozenset, frozenset], shared: dict,
                     checked: _Checked) -> Node:
    limits = active_limits()
    raw = full[start:end]
    # '^' is power, as mathematicians write it; keep a map to report columns.
    text, colmap = _caret_to_pow(raw.replace("\n", " ").replace("\r", " "), start)
    stripped = len(text) - len(text.lstrip())
    text = text.strip()
    colmap = colmap[stripped:]
    tree = _ast_parse(text, full, colmap)
    try:
        node = _Converter(full, text, colmap, *names, shared).convert(tree.body)
    except RecursionError:
        raise _too_deep() from None
    if nesting(node, checked.nesting) > limits.max_depth:
        raise LimitError(f"expression nested deeper than {limits.max_depth} levels",
                         limit="max_depth")
    if fold(node, lambda n, kids: 1 + max(kids, default=0), checked.depth) \
            > CHAIN_FACTOR * limits.max_depth:
        raise _too_deep()
    fold(node, lambda n, kids: _estimate(n, kids, full), checked.magnitude)
    return node


def nesting(node: Node, memo: dict | None = None) -> int:
    """How deeply operations are nested; a chain of one left-associative operator
    (``a / b / c``, ``A @ B @ C``) is one level, a tower ``x**x**x`` is not.

    ``memo`` (subtree -> nesting) keeps what is found, for the next tree.

    Examples
    --------
    >>> nesting(parse_expression("x/x/x/x")), nesting(parse_expression("x**x**x**x"))
    (2, 4)
    """
    def combine(n: Node, kids: list[int]) -> int:
        levels = [k if _chained(n, i, child) else k + 1
                  for i, (child, k) in enumerate(zip(n.children(), kids))]
        return max(levels, default=1)

    return fold(node, combine, memo)


def _chained(n: Node, i: int, child: Node) -> bool:
    """Whether ``child`` continues ``n``'s chain of one infix operator (``a / b / c``)."""
    return (i == 0 and isinstance(n, Call) and isinstance(child, Call) and child.op == n.op
            and lookup(n.op).syntax.form == "infix" and n.op != "pow")


def _too_deep() -> JacobianError:
    return LimitError(f"expression has operators chained more than "
                      f"{CHAIN_FACTOR * active_limits().max_depth} deep", limit="max_depth",
                      hint="split it up with {{lets}}, or raise {{max_depth}}")


def _caret_to_pow(text: str, offset: int) -> tuple[str, list[int]]:
    if "^" not in text:
        return text, list(range(offset, offset + len(text) + 1))
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


def _ast_parse(text: str, full: str, colmap: list[int]) -> ast.Expression:
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
            raise LimitError(f"number {long.group()[:20]}... has more than "
                             f"{active_limits().max_digits} digits", source=full,
                             col=colmap[long.start()], limit="max_digits") from None
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
                            hint="split it up with {{lets}}") from None
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


def callable_names() -> set[str]:
    """Every name that may be called like ``name(...)``."""
    return {n for n in known_names() if lookup(n).callable_by_name}


#: Functions the language has under another spelling, or as a short expression (and
#: what is not differentiable at all).
OTHER_SPELLINGS = {
    "amax": "write max(X, axis=...)",
    "amin": "write min(X, axis=...)",
    "clamp": "write clip(X, lo, hi)",
    "heaviside": "write step(x) (1 at 0)",
    "logistic": "write sigmoid(x)",
    "expit": "write sigmoid(x)",
    "dot": "write a @ b",
    "inner": "write a @ b",
    "tr": "write trace(X)",
    "inverse": "write inv(X)",
    "determinant": "write det(X)",
    "slogdet": "write logdet(X)",
    "fabs": "write abs(x)",
    "absolute": "write abs(x)",
    "square": "write x**2",
    "power": "write a ** b",
    "log1p": "write log(1 + x)",
    "expm1": "write exp(x) - 1",
    "leaky_relu": "write where(x > 0, x, x / 100)",
    "elu": "write where(x > 0, x, exp(x) - 1)",
    "relu6": "write clip(x, 0, 6)",
    "hardtanh": "write clip(x, -1, 1)",
    "silu": "write x * sigmoid(x)",
    "swish": "write x * sigmoid(x)",
    "softsign": "write x / (1 + abs(x))",
    "mish": "write x * tanh(softplus(x))",
    "logit": "write log(p / (1 - p))",
    "huber": "write where(abs(r) <= 1, r**2/2, abs(r) - 1/2)",
    "smooth_l1": "write where(abs(r) <= 1, r**2/2, abs(r) - 1/2)",
    "hinge": "write max(0, 1 - y*s)",
    "mse": "write mean((Y - T)**2)",
    "frobenius": "write norm(X)",
    "cross_entropy": "write -mean(sum(T * log_softmax(Z), axis=1))",
    "argmax": "argmax is an index, which has no derivative; max(X, axis=...) is the largest entry",
    "argmin":
        "argmin is an index, which has no derivative; min(X, axis=...) is the smallest entry",
}


def suggest_function(name: str, known: Iterable[str]) -> str:
    """``"; did you mean sigmoid?"`` for names a typo away (``max`` is not ``softmax``)."""
    close = suggest(name, {k for k in known if abs(len(k) - len(name)) <= 2})
    if not close and name.lower() != name and name.lower() in known:  # Max, Trace
        return f"; did you mean {name.lower()}?"
    return close


def unknown_function(name: str, declared: Iterable[str] = ()) -> str:
    """The message for a call of a name that is not an operation.

    An operator's internal name says the operator; a name the language has under
    another spelling says that spelling; a typo gets the closest names of similar
    length; an undefined function of scalars is declared with ``--function``.
    """
    op = lookup(name)
    if op is not None:  # an operator's internal name, such as 'pow'
        return (f"{name!r} is not a function here; write it with its operator "
                f"({op.syntax.symbol.strip()!r})")
    spelling = OTHER_SPELLINGS.get(name) or OTHER_SPELLINGS.get(name.lower())
    if spelling is not None:
        return f"unknown function {name!r}; {spelling}"
    close = suggest_function(name, callable_names() | set(declared))
    text = f"unknown function {name!r}{close}"
    if name in PYTHON_BUILTINS:
        return text + " (Python built-ins are not functions of the calculator)"
    if close:
        return text
    return text + (f" (an undefined function of scalars must be declared: "
                   f"{{{{functions}}}} {name})")


class _Converter:
    """ast -> tree through the allow-list. One method per allowed node type."""

    def __init__(self, full: str, text: str, colmap: list[int],
                 functions: frozenset, variables: frozenset, shared: dict | None = None):
        self.full, self.text, self.colmap = full, text, colmap
        self.functions, self.variables = functions, variables
        self.shared = {} if shared is None else shared
        self.condition = False  # converting the condition of where(): a comparison

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

    def convert(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Compare) and not self.condition:
            raise self.fail(_COMPARISON_MESSAGE, node)
        self.condition = False  # only where()'s condition itself may be a comparison
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            message = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed")
            raise self.fail(message, node)
        # The same text converts to the same tree: a sum repeated in every component
        # of a softmax is converted once.
        span = self.text[node.col_offset:node.end_col_offset] if hasattr(
            node, "end_col_offset") else None
        hit = self.shared.get(span) if span is not None else None
        if hit is not None:
            return hit
        # Equal subtrees become one object (the first one seen): comparing trees then
        # stops at the first shared child, and every later pass looks at them once.
        tree = method(node)
        tree = self.shared.setdefault(tree, tree)
        if span is not None:
            self.shared[span] = tree
        return tree

    def visit_Compare(self, node: ast.Compare) -> Node:
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARISONS:
            raise self.fail("where()'s condition is one comparison: <, <=, > or >= "
                            "(a chain such as a < b < c, == and != are not allowed)", node)
        left, right = self.convert(node.left), self.convert(node.comparators[0])
        return Call(_COMPARISONS[type(node.ops[0])], (left, right), col=self.col(node))

    def visit_Tuple(self, node: ast.Tuple) -> Node:
        raise self.fail(_REFUSED[ast.Tuple], node)

    def visit_Constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(f"{value!r} is not allowed here", node)
        if isinstance(value, complex):
            raise self.fail("complex numbers are not allowed", node)
        if isinstance(value, (str, bytes)):
            raise self.fail("strings are not allowed", node)
        literal = self.text[node.col_offset:node.end_col_offset].replace("_", "")
        return Num(self._number(literal, node), col=self.col(node))

    def _number(self, literal: str, node: ast.AST) -> Fraction:
        if re.fullmatch(r"0[xXoObB][0-9a-fA-F]+", literal):
            raise self.fail("only decimal numbers are allowed", node)
        mantissa, _, exponent = literal.lower().partition("e")
        if len(exponent.lstrip("+-")) > 6:
            raise LimitError(f"number {literal[:20]} has an exponent of more than 6 digits",
                             source=self.full, col=self.col(node), limit="max_digits")
        digits = len(mantissa.strip("0").replace(".", "")) + abs(int(exponent or 0))
        if digits > active_limits().max_digits:
            raise LimitError(f"number {literal[:20]} has more than "
                             f"{active_limits().max_digits} digits", source=self.full,
                             col=self.col(node), limit="max_digits")
        return Fraction(literal)

    def visit_Name(self, node: ast.Name) -> Node:
        name = node.id
        if name.startswith("_"):
            raise self.fail(f"names may not start with '_': {name!r}", node)
        if not NAME_RE.match(name):
            raise self.fail(f"invalid name {name!r}", node)
        op = lookup(name)
        if op is not None and op.syntax.form == "atom":
            return Call(op.name, (), col=self.col(node))
        if (op is not None and op.callable_by_name) or name in self.functions:
            raise self.fail(f"{name!r} is a function; call it as {name}(...)", node)
        if name in PYTHON_BUILTINS:
            raise self.fail(f"{name!r} is a Python built-in and cannot be used as a name",
                            node)
        return Name(name, col=self.col(node))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Node:
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        if isinstance(node.op, ast.USub):
            operand = self.convert(node.operand)
            if isinstance(operand, Num):
                return Num(-operand.value, col=self.col(node))
            return Call("neg", (operand,), col=self.col(node))
        raise self.fail(f"operator {_op_text(node.op)!r} is not allowed", node)

    def visit_BinOp(self, node: ast.BinOp) -> Node:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise JacobianError(f"operator {_op_text(node.op)!r} is not allowed",
                                source=self.full, col=self.op_col(node))
        if op in ("add", "mul"):
            return self._chain(node, op)
        left, right = self.convert(node.left), self.convert(node.right)
        if op == "div" and isinstance(right, Num) and right.value == 0:
            raise JacobianError("division by zero", source=self.full, col=self.op_col(node))
        if op == "div" and isinstance(left, Num) and isinstance(right, Num):
            return Num(left.value / right.value, col=self.col(node))
        return Call(op, (left, right), col=self.col(node))

    def _chain(self, node: ast.BinOp, op: str) -> Node:
        """Flatten a left-leaning chain of + and - (or of *) without recursion."""
        kinds = (ast.Add, ast.Sub) if op == "add" else (ast.Mult,)
        items = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, kinds):
            items.append((node.right, isinstance(node.op, ast.Sub)))
            node = node.left
        items.append((node, False))
        terms = []
        for item, negate in reversed(items):
            term = self.convert(item)
            if negate:
                term = Num(-term.value) if isinstance(term, Num) else \
                    Call("neg", (term,), col=self.col(item))
            terms.append(term)
        return Call(op, tuple(terms), col=self.col(node))

    def visit_Attribute(self, node: ast.Attribute) -> Node:
        if node.attr != "T":
            raise self.fail(_REFUSED[ast.Attribute] + f", not '.{node.attr}'", node)
        return Call("transpose", (self.convert(node.value),), col=self.col(node))

    def visit_Call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only named functions can be called", node)
        name = node.func.id
        if name.startswith("_") or not NAME_RE.match(name):
            raise self.fail(f"invalid function name {name!r}", node)
        if name in self.functions:
            return self._declared(name, node)
        if name in self.variables:
            raise self.fail(f"{name!r} is a variable, not a function", node)
        op = lookup(name)
        op = self._pairwise(name, node, op)
        if op is None or not op.callable_by_name:
            if op is not None and op.syntax.form == "atom":
                raise self.fail(f"{name!r} is a constant, not a function", node)
            raise self.fail(unknown_function(name, self.functions), node)
        if op.syntax.form == "list":
            return self._list_call(op, node)
        if op.syntax.form == "scatter":
            return self._scatter_call(op, node)
        low, high = op.arity
        tensors = node.args[:high]
        extra = node.args[high:]
        if len(tensors) < low:
            raise self.fail(_arity_text(op.name, low, high, len(node.args)), node)
        if len(extra) > len(op.keywords):
            raise self.fail(_arity_text(op.name, low, high, len(node.args)), node)
        if op.name == "where":
            if not isinstance(tensors[0], ast.Compare):
                raise self.fail("where() needs a comparison as its condition, e.g. "
                                "where(x > 0, x, 0)", tensors[0])
            self.condition = True
        args = tuple(self.convert(a) for a in tensors)
        kwargs = self._options(op, extra, node.keywords)
        return Call(op.name, args, kwargs, col=self.col(node))

    def _options(self, op, extra, keywords) -> dict:
        """Keyword options given by position (``extra``) and by name."""
        kwargs = dict(self._option(op, k.name, v) for k, v in zip(op.keywords, extra))
        for kw in keywords:
            if kw.arg is None or op.keyword(kw.arg) is None:
                raise self.fail(f"{op.name}() takes no keyword argument "
                                f"{kw.arg or '**'!r}", kw)
            if kw.arg in kwargs:
                raise self.fail(f"{op.name}() got {kw.arg} twice", kw)
            kwargs.update([self._option(op, kw.arg, kw.value)])
        return kwargs

    def _list_call(self, op, node: ast.Call) -> Node:
        """``concat([A, B], axis=0)``: the operands in a list, as NumPy takes them."""
        first = node.args[0] if node.args else None
        if not isinstance(first, (ast.List, ast.Tuple)) or len(first.elts) < 2:
            raise self.fail(f"{op.name}() takes a list of two or more arrays, e.g. "
                            f"{op.name}([A, B], axis=0)", first or node)
        if len(first.elts) > op.arity[1]:
            raise self.fail(f"{op.name}() of more than {op.arity[1]} arrays", first)
        if len(node.args) > 1 + len(op.keywords):
            raise self.fail(f"{op.name}() takes a list and axis=, got {len(node.args)} "
                            "arguments", node)
        args = tuple(self.convert(a) for a in first.elts)
        kwargs = self._options(op, node.args[1:], node.keywords)
        return Call(op.name, args, kwargs, col=self.col(node))

    def _scatter_call(self, op, node: ast.Call) -> Node:
        """``scatter(G, X[1:, 0])``: G where X[1:, 0] selects, zeros elsewhere."""
        if len(node.args) != 2 or node.keywords or not isinstance(node.args[1], ast.Subscript):
            raise self.fail(f"{op.name}() takes values and a selection, e.g. "
                            f"{op.name}(dY, X[1:, :])", node)
        values, target = node.args
        like = self.convert(target.value)
        index = self._index(target.slice)
        return Call(op.name, (self.convert(values), like), {"index": index},
                    col=self.col(node))

    def visit_Subscript(self, node: ast.Subscript) -> Node:
        value = self.convert(node.value)
        return Call("getitem", (value,), {"index": self._index(node.slice)},
                    col=self.col(node))

    def _index(self, node: ast.AST) -> tuple:
        """NumPy's index of integer literals and slices: ``(1, (None, 3, 2))`` for ``1, :3:2``."""
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        return tuple(self._index_item(item) for item in items)

    def _index_item(self, item: ast.AST):
        if isinstance(item, ast.Slice):
            parts = tuple(None if p is None else self._integer(p)
                          for p in (item.lower, item.upper, item.step))
            if parts[2] is not None and parts[2] <= 0:
                raise self.fail("a slice's step must be positive (PyTorch has no negative "
                                "steps)", item.step)
            return parts
        if isinstance(item, ast.Constant) and item.value is Ellipsis:
            raise self.fail("'...' is not supported in an index: write every axis, e.g. "
                            "X[:, 0]", item)
        if isinstance(item, ast.Constant) and item.value is None:
            raise self.fail("None (a new axis) is not supported in an index: use "
                            "expand_dims(X, axis)", item)
        return self._integer(item)

    def _integer(self, item: ast.AST) -> int:
        value = _literal(item)
        if type(value) is not int:
            raise self.fail("indices are integer literals, 0-based as in NumPy (negative "
                            "from the end), e.g. x[0], X[:, -1], X[1:, ::2]", item)
        if abs(value) > 10 ** 9:
            raise self.fail(f"index {value} is too large", item)
        return value

    def _pairwise(self, name: str, node: ast.Call, op):
        """``max(0, t)`` as the lectures write it is ``maximum(0, t)`` (``Op.pairwise``);
        ``max(X, 1)`` is ambiguous (NumPy's axis 1, or the maximum with 1) and refused."""
        pairwise = op.pairwise if op is not None else ""
        if not pairwise or len(node.args) < 2 or node.keywords:
            return op
        # an axis is an integer literal; a name is an operand (a dimension name is a size, never an axis)
        if not isinstance(_literal(node.args[1]), (_NotALiteral, str)):
            raise self.fail(
                f"{name}({ast.unparse(node.args[0])}, {ast.unparse(node.args[1])}) is "
                f"ambiguous: write {name}({ast.unparse(node.args[0])}, "
                f"axis={ast.unparse(node.args[1])}) for the "
                f"{'largest' if name == 'max' else 'smallest'} entry along an axis (NumPy's "
                f"reading) or {pairwise}({ast.unparse(node.args[0])}, "
                f"{ast.unparse(node.args[1])}) for the "
                "element-wise one", node)
        if len(node.args) > 2:
            raise self.fail(f"{name}() of more than two arrays: nest {pairwise}(), e.g. "
                            f"{pairwise}(a, {pairwise}(b, c))", node)
        return lookup(pairwise)

    def _declared(self, name: str, node: ast.Call) -> Node:
        if node.keywords:
            raise self.fail(f"{name}() is an undefined function: it takes no keyword "
                            "arguments", node.keywords[0])
        if not node.args:
            raise self.fail(f"{name}() needs at least one argument", node)
        return Declared(name, tuple(self.convert(a) for a in node.args), col=self.col(node))

    def _option(self, op, name: str, value: ast.AST) -> tuple[str, object]:
        """A keyword option's value: an integer, True/False or None, checked by the op."""
        literal = _literal(value)
        try:
            return name, op.keyword(name).check(literal)
        except ValueError as exc:
            raise self.fail(f"bad value for {op.name}(..., {name}=...): {exc}", value) \
                from None


def _literal(value: ast.AST):
    """The Python value of a literal option (``-1``, ``True``), or a marker that fails."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub) \
            and isinstance(value.operand, ast.Constant) and type(value.operand.value) is int:
        return -value.operand.value
    if isinstance(value, ast.Constant) and (value.value is None or
                                            type(value.value) in (int, bool)):
        return value.value
    if isinstance(value, ast.Name):  # a dimension name, eye(d); checked by the option
        return value.id
    return _NotALiteral()


class _NotALiteral:
    def __repr__(self) -> str:
        return "an expression"


def _arity_text(name: str, low: int, high: int, count: int) -> str:
    expected = str(low) if low == high else f"{low} to {high}"
    plural = "" if expected == "1" else "s"
    return f"{name}() takes {expected} argument{plural}, got {count}"


def _op_text(op: ast.AST) -> str:
    return {ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|", ast.Mod: "%",
            ast.FloorDiv: "//", ast.LShift: "<<", ast.RShift: ">>",
            ast.Invert: "~", ast.Not: "not"}.get(type(op), type(op).__name__)


# -- number-size guard ---------------------------------------------------------------

def _estimate(n: Node, kids: list, full: str):
    """(log10 |value|, value if small) of a constant node, from its arguments'; None
    if not constant.

    Refuses a constant subexpression whose exact value would be enormous, from
    estimated decimal digit counts (log10) of each operation's ``digits`` rule:
    ``9^9^9`` is refused without computing anything.
    """
    if isinstance(n, Num):
        value = n.value
        if value == 0:
            return 0.0, 0.0
        digits = math.log10(abs(value.numerator)) - math.log10(value.denominator)
        return digits, float(value) if abs(digits) < 300 else None
    if not isinstance(n, Call) or not n.args:
        return None
    rule = lookup(n.op).digits
    if rule is None or any(k is None for k in kids):
        return None
    size = rule([k[0] for k in kids], [k[1] for k in kids])
    if size > active_limits().max_digits:
        raise LimitError(f"number too large: about 10^{_fmt(size)} "
                         f"(limit {active_limits().max_digits} digits)", source=full, col=n.col,
                         limit="max_digits")
    return size, None


def _fmt(size: float) -> str:
    return "inf" if math.isinf(size) else f"{size:,.0f}"
