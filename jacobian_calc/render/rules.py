"""The operation list of ``jac --help`` and the rule table of ``jac --rules``.

Both are printed from the registry, so an operation declared in one place
appears in both. Nothing here imports SymPy.
"""

from __future__ import annotations

import textwrap

from ..ops import operations
from ..ops.registry import CATEGORIES
from ..ops.text import rule_line


def _signature(op) -> str:
    if op.syntax.form == "infix":
        return f"A{op.syntax.symbol}B"
    if op.syntax.form == "prefix":
        return f"{op.syntax.symbol}A"
    if op.syntax.form == "postfix":
        return f"A{op.syntax.symbol}"
    if op.syntax.form == "atom":
        return op.name
    if op.syntax.form == "subscript":
        return "X[i, a:b:k]"
    if op.syntax.form == "scatter":
        return f"{op.name}(G, X[i, a:b:k])"
    if op.syntax.form == "list":
        return f"{op.name}([A, B, ...], {', '.join(k.name + '=' for k in op.keywords)})"
    args = list(op.params) if op.params else (["X"] if op.arity[1] == 1
                                              else ["A", "B"][:op.arity[1]])  # Y is the output
    args += [f"{k.name}=" for k in op.keywords]
    return f"{op.name}({', '.join(args)})"


def rules_text() -> str:
    """One line per operation: how it is written and its backward rule.

    Examples
    --------
    >>> "tanh(X)" in rules_text() and "dX = dY * (1 - Y**2)" in rules_text()
    True
    """
    rows = [(_signature(op) + (f"  ({', '.join(op.aliases)})" if op.aliases else ""),
             rule_line(op)) for op in operations() if op.category != "constant"]
    width = max(len(sig) for sig, _ in rows)
    lines = ["Compact backprop rules (Y = the operation's output, dY its upstream gradient):",
             ""]
    lines += [f"  {sig.ljust(width)}   {rule}" for sig, rule in rows]
    return "\n".join(lines)


def functions_text(width: int = 96) -> str:
    """The functions of the expression language by category, for ``jac --help``."""
    parts = []
    for category in CATEGORIES:
        names = [op.name + (f" ({'/'.join(op.aliases)})" if op.aliases else "")
                 for op in operations() if op.category == category
                 and (op.callable_by_name or op.syntax.form == "atom")]
        if names:
            parts.append(f"{category}: {', '.join(names)}")
    return "\n".join(textwrap.fill(p, width, subsequent_indent="  ") for p in parts)


def operations_table() -> list[tuple[str, str, str]]:
    """(signature, category, doc) per operation."""
    return [(_signature(op), op.category, op.doc) for op in operations()]


def operations_markdown() -> str:
    """The README's table of operations: one row per category, every operation's signature
    (and aliases), in the order they are declared.

    Examples
    --------
    >>> operations_markdown().splitlines()[2].split(", ")[:3]
    ['| arithmetic | `A + B`', '`-A`', '`A * B`']
    """
    lines = ["| kind | operations |", "|---|---|"]
    for category in CATEGORIES:
        cells = [f"`{_signature(op)}`" + "".join(f" (`{a}`)" for a in op.aliases)
                 for op in operations() if op.category == category]
        if cells:
            lines.append(f"| {category} | {', '.join(cells)} |")
    return "\n".join(lines)
