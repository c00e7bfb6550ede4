"""Reading ``jac --format json`` output back into SymPy objects, safely.

Entries are read by the calculator's own parser (an allow-list; nothing is
evaluated by Python) and built with the calculator's real symbols, so a
document that came from untrusted input can be read without running
anything. ``sympy.sympify`` is never used.

A ``"shared"`` object (``{"S1": "exp(l_1) + exp(l_2)"}``, written when
subexpressions shared by many entries are printed once) is read first, each
definition in terms of the earlier ones, and its names are substituted into
the entries of the object that holds it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import sympy as sp

from ..core import budget
from ..core.budget import active_limits, entry_point
from ..core.errors import JacobianError, JacobianTypeError, LimitError
from ..core.grid import Grid
from ..core.json_input import loads
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.names import check_name
from ..core.tree import Name, Node, fold, names as tree_names
from ..parsing import declared_name, parse_expression
from .evaluate import Env, evaluate
from .measure import tree_size
from .trusted import as_sympy

#: Keys whose values are entries (nested lists of expressions in the calculator's syntax).
ENTRY_KEYS = ("entries", "explicit", "expanded")


@entry_point
def read_entry(text: str, functions: Iterable[str] = (),
               limits: Limits = DEFAULT_LIMITS, shared: Mapping | None = None) -> sp.Expr:
    """One printed entry as a SymPy expression (symbols are real, as the calculator's).

    ``shared`` maps names of shared subexpressions to their values: text in
    the calculator's syntax (read by its parser, in terms of each other in any
    order) or SymPy expressions and numbers. Nothing is ever evaluated by Python.

    Examples
    --------
    >>> read_entry("-cos(x1 - x2)")
    -cos(x1 - x2)
    >>> read_entry("S2 + 1", shared={"S2": "2*S1", "S1": "x*y"})
    2*x*y + 1
    """
    if not isinstance(text, str):
        raise JacobianTypeError(f"an entry must be a string, not {type(text).__name__}")
    if isinstance(functions, str) or not all(isinstance(f, str) for f in functions):
        raise JacobianTypeError("functions must be a list of names")
    if shared is not None and not isinstance(shared, Mapping):
        raise JacobianTypeError(f"shared must be a dict of NAME: expression, "
                                f"not {type(shared).__name__}")
    scope = _Scope.read(shared or {}, functions, _Scope.empty(), strict=False)
    return scope.entry(text, functions)


class _Scope:
    """The shared subexpressions visible at one place of a document: each name's value
    and the estimated size (in tree nodes) of its full expansion."""

    def __init__(self, values: dict[str, sp.Expr], sizes: dict[str, int]) -> None:
        self.values, self.sizes = values, sizes

    @classmethod
    def empty(cls) -> "_Scope":
        return cls({}, {})

    @classmethod
    def read(cls, definitions: Mapping, functions, outer: "_Scope",
             strict: bool = True) -> "_Scope":
        """Read ``definitions`` in any order, each in terms of the others and of ``outer``.

        ``strict``: values must be text (a document); else SymPy values and numbers
        are taken as they are (the API's ``shared``).
        """
        values, sizes = dict(outer.values), dict(outer.sizes)
        trees: dict[str, Node] = {}
        for name, value in definitions.items():
            check_name(name, "shared subexpression name")
            if name in outer.values:
                raise JacobianError(f"shared subexpression {name} is defined twice (here and "
                                    "in an enclosing object)")
            if isinstance(value, str):
                trees[name] = parse_expression(value, functions=functions)
            elif strict:
                raise JacobianError(f"shared subexpression {name} must be a string")
            else:
                values[name] = as_sympy(value, f"shared subexpression {name}")
                sizes[name] = tree_size(values[name])
        env = Env({}, {k: Grid.scalar(v) for k, v in values.items()})
        for name in _in_order(trees):
            budget.check()
            sizes[name] = _expanded_size(trees[name], sizes, f"shared subexpression {name}")
            values[name] = evaluate(trees[name], env).item()
            env.values[name] = Grid.scalar(values[name])
        return cls(values, sizes)

    def entry(self, text: str, functions) -> sp.Expr:
        """One entry read in this scope (its expansion's size checked first)."""
        tree = parse_expression(text, functions=functions)
        _expanded_size(tree, self.sizes, "an entry")
        env = Env({}, {n: Grid.scalar(self.values[n]) for n in tree_names(tree)
                       if n in self.values})
        value = evaluate(tree, env).item()
        if isinstance(value, str):  # never: evaluate builds SymPy objects only
            raise JacobianError("an entry did not read as an expression")
        return value


def _in_order(trees: dict[str, Node]) -> list[str]:
    """The names of ``trees`` with every definition after the ones it uses; a cycle is
    an error."""
    uses = {name: [n for n in sorted(tree_names(tree)) if n in trees]
            for name, tree in trees.items()}
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for start in trees:
        if state.get(start):
            continue
        stack = [(start, iter(uses[start]))]
        state[start] = 1
        while stack:
            name, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif state.get(nxt) == 1:
                raise JacobianError(f"shared subexpression {nxt} is defined in terms of "
                                    "itself")
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(uses[nxt])))
    return order


def _expanded_size(tree: Node, sizes: Mapping[str, int], what: str) -> int:
    """Nodes of ``tree`` once every shared name is written out, counted on the DAG (never
    expanded); more than ``limits.max_nodes`` is refused."""
    limits = active_limits()
    total = fold(tree, lambda n, kids: sizes.get(n.id, 1) if isinstance(n, Name)
                 else 1 + sum(kids))
    if total > limits.max_nodes:
        raise LimitError(f"{what} expands to about {total:.3g} nodes once its shared "
                         f"subexpressions are written out (limit {limits.max_nodes:,})",
                         limit="max_nodes")
    return total


@entry_point
def read_json(text: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A ``jac --format json`` document with its entries as SymPy objects.

    Every ``entries`` (and backprop ``explicit`` and ``expanded``) value
    becomes a SymPy ``Matrix`` (two dimensions) or ``Array``; numbers and the
    ``sympy`` strings (for plain SymPy) stay as they are.

    Examples
    --------
    >>> doc = read_json('{"layout": "numerator", "of": ["x*y"], "jacobians": '
    ...                 '[{"wrt": ["x", "y"], "shape": [1, 2], "entries": [["y", "x"]]}]}')
    >>> doc["jacobians"][0]["entries"]
    Matrix([[y, x]])
    """
    if not isinstance(text, (str, bytes)):
        raise JacobianTypeError(f"read_json reads a JSON string, not {type(text).__name__}")
    if len(text) > active_limits().max_output:
        raise JacobianError(f"the document is longer than {active_limits().max_output:,} "
                            "characters", hint="raise {{max_output}}")
    doc = loads(text, "the document")  # duplicate keys, digits, depth refused
    functions = doc.get("functions", []) if isinstance(doc, dict) else []
    if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
        raise JacobianError("\"functions\" must be a list of names")
    for name in functions:
        declared_name(name, "function name")
    try:
        return _convert(doc, functions, _Scope.empty())
    except RecursionError:
        raise JacobianError("the document is nested too deeply") from None


def _convert(value, functions, scope: "_Scope"):
    if isinstance(value, dict):
        if "shared" in value:
            if not isinstance(value["shared"], dict):
                raise JacobianError("\"shared\" must be an object of NAME: expression")
            scope = _Scope.read(value["shared"], functions, scope)
        return {k: (_entries(v, functions, scope) if k in ENTRY_KEYS else
                    {name: scope.values[name] for name in v} if k == "shared" else
                    _convert(v, functions, scope)) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, functions, scope) for v in value]
    return value


def _entries(value, functions, scope: "_Scope"):
    try:
        grid = Grid.from_nested(value)
    except ValueError:
        raise JacobianError("ragged entries in the document") from None
    if any(isinstance(v, str) for v in grid.flat):
        grid = grid.map(lambda v: scope.entry(v, functions) if isinstance(v, str)
                        else sp.Float(v) if _is_number(v) else _bad(v))
    elif not all(_is_number(v) for v in grid.flat):
        _bad(next(v for v in grid.flat if not _is_number(v)))
    else:
        return value  # numbers (a point's values) stay as they are
    if grid.ndim == 2:
        return sp.Matrix(grid.shape[0], grid.shape[1], grid.flat)
    if grid.ndim == 0:
        return grid.item()
    return sp.ImmutableDenseNDimArray(grid.flat, grid.shape)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bad(value):
    raise JacobianError(f"an entry must be a string or a number, not {type(value).__name__}")
