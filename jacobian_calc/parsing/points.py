"""Points to evaluate at: ``--at "x1=0.5,A=[[1,2],[3,4]]"`` or ``--at @point.json``.

Each value is a number written in the expression language (``pi/4``,
``1e-3``) or, for a declared array, nested lists of such numbers. Nothing is
evaluated here: values come back as trees, and the symbolic layer turns them
into numbers (refusing anything that is not a real number).
"""

from __future__ import annotations

from ..core.errors import JacobianError
from ..core.json_input import loads, read_text_file
from ..core.names import check_name
from ..core.tree import Call, Declared, Node, Num, walk
from .parser import comma_spans, parse_expression

Value = Node | list


def parse_point(text: str) -> dict[str, Value]:
    """``"x1=0.5,A=[[1,2],[3,4]]"`` -> ``{"x1": tree, "A": [[tree, tree], [tree, tree]]}``.

    ``"@FILE"`` reads a JSON object of numbers and nested lists of numbers.

    Examples
    --------
    >>> sorted(parse_point("x=1/2, A=[[1,2],[3,4]]"))
    ['A', 'x']
    """
    if not isinstance(text, str) or not text.strip():
        raise JacobianError("{{at}} is empty: expected NAME=VALUE,...")
    if text.strip().startswith("@"):
        return read_point_file(text.strip()[1:])
    out: dict[str, Value] = {}
    for part in _split(text):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise JacobianError(f"malformed {{{{at}}}} item {part.strip()[:40]!r}: "
                                "expected NAME=VALUE")
        name = check_name(name.strip(), "{{at}} name")
        if name in out:
            raise JacobianError(f"{name} is given twice in {{{{at}}}}")
        out[name] = _value(value.strip(), name)
    return out


def _split(text: str) -> list[str]:
    """Split at commas outside brackets."""
    return [text[a:b] for a, b in comma_spans(text)]


#: What a point's value may be built of: numbers, constants and arithmetic.
NUMBER_OPS = frozenset({"add", "sub", "neg", "pos", "mul", "div", "pow", "pi", "E"})


def number_tree(text: str, name: str) -> Node:
    """A value written in the expression language: numbers, ``pi``, ``E`` and arithmetic
    only (no names, no functions: ``det(1)`` or ``sum(2)`` is not a number).

    Examples
    --------
    >>> number_tree("-pi/4 + 2**-3", "x")
    Call('add', [Call('div', [Call('neg', [Call('pi', [])]), Num('4')]), Call('pow', [Num('2'), Num('-3')])])
    >>> number_tree("det(1)", "x")
    Traceback (most recent call last):
    ...
    jacobian_calc.core.errors.JacobianError: value of x must be a number: det() is not allowed in a value (numbers, pi, E and + - * / ** only)
    """
    tree = parse_expression(text)
    for node in walk(tree):
        if isinstance(node, Num):
            continue
        if isinstance(node, Call) and node.op in NUMBER_OPS:
            continue
        what = f"{node.op}()" if isinstance(node, Call) else \
            f"{node.name}()" if isinstance(node, Declared) else f"the name {node.id}"
        raise JacobianError(f"value of {name} must be a number: {what} is not allowed in a "
                            "value (numbers, pi, E and + - * / ** only)")
    return tree


def _value(text: str, name: str) -> Value:
    if not text.startswith("["):
        return number_tree(text, name)
    if not text.endswith("]"):
        raise JacobianError(f"value of {name} starts a list with '[' but does not end with ']'")
    inner = text[1:-1].strip()
    if not inner:
        raise JacobianError(f"value of {name} is an empty list")
    return [_value(item.strip(), name) for item in _split(inner)]


def read_point_file(path: str) -> dict[str, Value]:
    """A JSON file ``{"x": 0.5, "A": [[1, 2], [3, 4]]}`` as a point."""
    data = loads(read_text_file(path), path)
    if not isinstance(data, dict):
        raise JacobianError(f"{path} must hold a JSON object of NAME: value")
    return {check_name(k, "{{at}} name"): _json_value(v, k) for k, v in data.items()}


def _json_value(value, name: str):
    if isinstance(value, list):
        return [_json_value(v, name) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JacobianError(f"value of {name} must be a number or nested lists of numbers")
    return value
