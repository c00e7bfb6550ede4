"""How big SymPy expressions are as trees and as printed text, without printing them.

An entry built by the calculator is a DAG: softmax's denominator is one
object shared by every entry, ten nested ``--let``\\ s share each level twice.
Printing (and ``expand``) see the tree, which can be exponentially larger.
These measures walk each distinct subexpression once (by identity), so they
cost what the DAG costs and say what the tree would.
"""

from __future__ import annotations

import math
from typing import Iterable

import sympy as sp
from sympy.core.function import AppliedUndef
from .trusted import as_sympy
from .walk import distinct_nodes, post_order


class Measures:
    """Tree size and printed length of every distinct subexpression seen so far.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> y = sp.sin(x) + sp.cos(x)
    >>> m = Measures([sp.sin(y) + sp.cos(y)])
    >>> m.size(sp.sin(y) + sp.cos(y)), m.length(y) == len(str(y))
    (13, True)
    """

    def __init__(self, exprs: Iterable[sp.Basic] = ()) -> None:
        self.sizes: dict[int, int] = {}
        self.lengths: dict[int, int] = {}
        self.keep: list[sp.Basic] = []  # ids stay valid while the objects are alive
        for e in exprs:
            self.add(e)

    def size(self, expr: sp.Basic) -> int:
        """Nodes of ``expr`` counted as a tree."""
        self.add(expr)
        return self.sizes[id(expr)]

    def length(self, expr: sp.Basic) -> int:
        """About how many characters ``str(expr)`` has (within a few per cent)."""
        self.add(expr)
        return self.lengths[id(expr)]

    def add(self, expr: sp.Basic) -> None:
        """Measure ``expr`` and its subexpressions (post-order, no recursion)."""
        sizes, lengths = self.sizes, self.lengths
        for node in post_order(expr, sizes):
            self.keep.append(node)
            args = node.args
            sizes[id(node)] = 1 + sum(sizes[id(a)] for a in args)
            lengths[id(node)] = composite_length(node, [lengths[id(a)] for a in args]) if args \
                else atom_length(node)


def composite_length(node: sp.Basic, args: list[int]) -> int:
    """Printed length of ``node`` from the printed lengths of its arguments."""
    n = len(args)
    if node.is_Add:
        return sum(args) + 3 * (n - 1)
    if node.is_Mul:
        return sum(args) + (n - 1) + 2 * sum(1 for a in node.args if a.is_Add)
    if node.is_Pow:
        base, exp = node.args
        return sum(args) + 2 + (2 if not base.is_Atom else 0) + (2 if not exp.is_Atom else 0)
    return len(type(node).__name__) + 2 + sum(args) + 2 * (n - 1)


def atom_length(atom: sp.Basic) -> int:
    """Characters of an atom; a huge integer is measured without converting it."""
    if atom.is_Integer:
        return _digits(int(atom))
    if atom.is_Rational:
        return _digits(atom.p) + 1 + _digits(atom.q)
    if atom.is_Symbol:
        return len(atom.name)
    if atom.is_Float:
        return 18
    return len(type(atom).__name__)


def _digits(value: int) -> int:
    bits = abs(value).bit_length()
    if bits < 60:
        return len(str(value))
    return int(bits * math.log10(2)) + 1 + (value < 0)


def tree_size(expr: sp.Basic) -> int:
    """Nodes of ``expr`` counted as a tree (shared subexpressions each time)."""
    return Measures([expr]).size(expr)


def text_length(exprs: Iterable[sp.Basic]) -> int:
    """About how many characters printing every expression would take."""
    measures = Measures()
    return sum(measures.length(e) for e in exprs)


def short_text(expr: sp.Basic, limit: int = 80) -> str:
    """``str(expr)`` if it is short, else a note of its size (never prints a huge entry)."""
    length = Measures([expr]).length(expr)
    if length > 4 * limit:
        return f"an expression of about {length:,} characters"
    text = str(expr)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def expanded_terms(expr: sp.Basic, memo: dict | None = None) -> float:
    """How many terms ``sympy.expand(expr)`` can produce (an upper bound, as a float).

    A sum has the terms of its parts, a product their product, ``(a + b)**n``
    the number of monomials of degree ``n`` in the terms of ``a + b``; so
    ``(x1 + ... + x10)**10``, five nodes, is known to expand to 92,378 terms
    before anything is expanded.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> expanded_terms((x + y)**3 * (x + 1)), expanded_terms(sp.sin(x + y))
    (8.0, 1.0)
    """
    memo = {} if memo is None else memo
    for node in post_order(expr, memo, args=_expanding_args):
        memo[id(node)] = _terms(node, memo)
    return memo[id(expr)]


def _expanding_args(node: sp.Basic) -> tuple:
    return node.args if _expands(node) else ()


def _expands(node: sp.Basic) -> bool:
    return node.is_Add or node.is_Mul or node.is_Pow


def _terms(node: sp.Basic, memo: dict) -> float:
    if node.is_Add:
        return float(sum(memo[id(a)] for a in node.args))
    if node.is_Mul:
        return float(math.prod(memo[id(a)] for a in node.args))
    if node.is_Pow:
        base, exp = node.args
        k = memo[id(base)]
        if exp.is_Integer and exp > 0 and k > 1:
            n = int(exp)
            return math.comb(int(k) + n - 1, n) if k < 1e6 and n < 1e4 else math.inf
        return k if exp.is_Integer else 1.0
    return 1.0


def free_symbols(exprs: Iterable[sp.Basic]) -> set:
    """The Symbols in ``exprs``, visiting each distinct subexpression once.

    ``expr.free_symbols`` walks the expression as a tree, so a subexpression
    shared by many entries is walked once per occurrence; this walks the DAG.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> sorted(free_symbols([sp.sin(x) * y, x]), key=str)
    [x, y]
    """
    found: set = set()
    for node in distinct_nodes([as_sympy(e) for e in exprs], _union_args):
        if node.is_Symbol:
            found.add(node)
        elif not isinstance(node, _UNION_OF_ARGS):  # numbers; bound variables (Integral,
            found |= node.free_symbols              # Lambda) need SymPy's own rule
    return found


#: Node types whose free symbols are the union of their arguments'.
_UNION_OF_ARGS = (sp.Add, sp.Mul, sp.Pow, sp.Function)


def _union_args(node: sp.Basic) -> tuple:
    return node.args if isinstance(node, _UNION_OF_ARGS) else ()


def applied_functions(exprs: Iterable[sp.Basic]) -> set[str]:
    """Names of the undefined functions (``f`` in ``f(x)``) in ``exprs``, each distinct
    subexpression looked at once."""
    return {str(node.func) for node in distinct_nodes(exprs) if isinstance(node, AppliedUndef)}


def replace_symbols(expr: sp.Basic, values: dict, functions: dict | None = None,
                    memo: dict | None = None, rename: bool = False) -> sp.Basic:
    """``expr.xreplace(values)`` for Symbol keys, each distinct subexpression visited once.

    SymPy's ``xreplace`` and ``subs`` walk the tree; on an entry made of
    nested intermediates that is exponentially more than its DAG.
    ``functions`` maps function classes to the classes that replace them. Pass one
    ``memo`` dict to calls over many expressions that share subexpressions (the entries
    of one Jacobian), so that each is rebuilt once in all (keep the expressions alive
    meanwhile: the memo is keyed by identity). ``rename``: every value is a symbol (one
    name for another), so sums, products and powers keep their structure as they are.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> replace_symbols(sp.sin(y) + y**2, {y: x + 1})
    (x + 1)**2 + sin(x + 1)
    """
    memo = {} if memo is None else memo
    for node in post_order(expr, memo):
        if node.is_Symbol or not node.args:
            memo[id(node)] = values.get(node, node)
            continue
        args = [memo[id(a)] for a in node.args]
        func = (functions or {}).get(node.func, node.func)
        if func is node.func and all(a is b for a, b in zip(args, node.args)):
            memo[id(node)] = node
        elif rename and func in (sp.Add, sp.Mul):  # new symbols in the same places: as is
            memo[id(node)] = func._from_args(args, node.is_commutative)
        elif rename and (func is sp.Pow or isinstance(node, sp.Function)):
            memo[id(node)] = func(*args, evaluate=False)
        else:
            memo[id(node)] = func(*args)
    return memo[id(expr)]


__all__ = ["Measures", "applied_functions", "free_symbols", "replace_symbols", "expanded_terms", "tree_size", "text_length", "short_text", "atom_length",
           "composite_length"]
