"""Printing entries the way a lecturer writes them: a shared subexpression once, by name.

Every entry of softmax's Jacobian contains the same denominator; ten nested
``--let``\\ s of ``sin(y) + cos(y)`` contain each level twice. The entries are
DAGs in memory, but printed as trees they repeat those parts, and the output
can grow exponentially. :func:`plan` finds subexpressions that occur more
than once in the printed forest and print to at least :data:`MIN_LENGTH`
characters, names them ``S1, S2, ...`` (skipping names already in use),
defines each once in terms of the earlier ones, and writes the entries in
terms of them::

    S1 = exp(l_1) + exp(l_2) + exp(l_3)
    entry (1, 2) = -exp(l_1)*exp(l_2)/S1**2

One walk over the distinct subexpressions (by identity; SymPy's ``cse`` is too
slow for these sizes) measures everything, so the size of the output is known
before anything is printed, and checked against ``limits.max_output``.

Sharing is used when asked for (``shared=True``), never with ``shared=False``,
and by default (``None``) when the plain output would exceed
:data:`AUTO_MIN_OUTPUT` characters and sharing at least halves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import sympy as sp

from ..core import budget
from ..core.errors import LimitError
from ..core.grid import Grid
from ..core.progress import advance, stage
from ..symbolic.measure import Measures, atom_length, composite_length
from ..symbolic.walk import post_order
from .entries import EntryPrinter, entry_text

#: A subexpression is named only if it prints to at least this many characters.
MIN_LENGTH = 20
#: By default, sharing is used only for outputs larger than this ...
AUTO_MIN_OUTPUT = 10_000
#: ... and only if it shortens them to at most this fraction.
AUTO_RATIO = 0.5
#: Characters a definition line adds besides its expression ("  S1 = ").
DEFINITION_OVERHEAD = 8
#: Characters of a name such as S12.
NAME_LENGTH = 3

_ZERO = sp.S.Zero


@dataclass
class Sharing:
    """Named subexpressions and the entries rewritten in terms of them."""

    names: dict[int, sp.Symbol] = field(default_factory=dict)  # id(subexpression) -> name
    nodes: dict[int, sp.Basic] = field(default_factory=dict)  # id -> the subexpression
    order: list[int] = field(default_factory=list)  # ids, definitions in printing order
    plain_length: int = 0  # characters of the entries printed without sharing
    length: int = 0  # characters of the entries and definitions printed with it

    def __bool__(self) -> bool:
        return bool(self.names)

    def definitions(self) -> list[tuple[str, sp.Basic]]:
        """``(name, definition)`` in order; each definition uses only earlier names."""
        memo: dict[int, sp.Basic] = {}
        return [(self.names[i].name, self._rewrite(self.nodes[i], memo, top=True))
                for i in self.order]

    def rewrite(self, expr: sp.Basic, memo: dict | None = None) -> sp.Basic:
        """``expr`` with its shared subexpressions replaced by their names."""
        return self._rewrite(expr, {} if memo is None else memo, top=False)

    def _rewrite(self, expr: sp.Basic, memo: dict, top: bool) -> sp.Basic:
        if not self.names:
            return expr
        if not top and id(expr) in self.names:
            return self.names[id(expr)]
        root, names = id(expr), self.names

        def unnamed(node: sp.Basic) -> list:
            return [a for a in node.args if id(a) not in names]

        for node in post_order(expr, memo, args=unnamed):  # stopping at named subexpressions
            args = [names.get(id(a)) or memo[id(a)] for a in node.args]
            memo[id(node)] = node if all(a is b for a, b in zip(args, node.args)) \
                else _rebuild(node, args)
        value = memo[root]
        if top:
            del memo[root]  # elsewhere the subexpression is its name
        return value


def _rebuild(node: sp.Basic, args: list) -> sp.Basic:
    """``node`` with new arguments, not re-evaluated (the structure is already canonical)."""
    if node.is_Add or node.is_Mul:
        return node.func._from_args(args, node.is_commutative)
    try:
        return node.func(*args, evaluate=False)
    except TypeError:
        return node.func(*args)


def plan(exprs: Iterable[sp.Basic], taken: Iterable[str] = (),
         shared: bool | None = None) -> Sharing:
    """Decide which subexpressions of ``exprs`` to print once under a name.

    Examples
    --------
    >>> l = sp.symbols("l1:4")
    >>> total = sum(map(sp.exp, l))
    >>> entries = [sp.exp(a) / total for a in l]
    >>> s = plan(entries, shared=True)
    >>> s.definitions(), [str(s.rewrite(e)) for e in entries]
    ([('S1', exp(l1) + exp(l2) + exp(l3))], ['exp(l1)/S1', 'exp(l2)/S1', 'exp(l3)/S1'])
    >>> bool(plan(entries))  # small: printed as they are
    False
    """
    exprs = list(exprs)
    measures = Measures(exprs)
    nodes = measures.keep  # post-order: every node after its subexpressions
    sharing = Sharing(plain_length=sum(measures.lengths[id(e)] for e in exprs))
    sharing.length = sharing.plain_length
    if shared is False:
        return sharing
    short, chosen = _lengths(nodes, set(), _occurrences(exprs, nodes, set()), _bound(nodes))
    effective = _occurrences(exprs, nodes, chosen)
    named = {i for i in chosen if effective.get(i, 0) >= 2}
    if not named:
        return sharing
    if named != chosen:  # some were used only inside others: lengths without their names
        short, _ = _lengths(nodes, named)
    length = sum(NAME_LENGTH if id(e) in named else short[id(e)] for e in exprs)
    length += sum(short[i] + DEFINITION_OVERHEAD for i in named)
    worth_it = shared or (sharing.plain_length > AUTO_MIN_OUTPUT
                          and length <= AUTO_RATIO * sharing.plain_length)
    if not worth_it:
        return sharing
    used = set(taken) | {n.name for n in nodes if n.is_Symbol} | {
        n.func.__name__ for n in nodes if n.is_Function}
    sharing.order = [id(n) for n in nodes if id(n) in named]
    sharing.nodes = {id(n): n for n in nodes if id(n) in named}
    sharing.names = dict(zip(sharing.order, (sp.Symbol(s) for s in _fresh_names(used))))
    sharing.length = length
    return sharing


def _occurrences(exprs: list, nodes: list, named: set) -> dict[int, int]:
    """How often each subexpression is printed when ``named`` ones are printed once."""
    count: dict[int, int] = {}
    for e in exprs:
        count[id(e)] = count.get(id(e), 0) + 1
    for node in reversed(nodes):  # parents before children
        n = count.get(id(node), 0)
        if not n:
            continue
        passed = 1 if id(node) in named else n
        for a in node.args:
            count[id(a)] = count.get(id(a), 0) + passed
    return count


def _bound(nodes: list) -> set[int]:
    """Subexpressions with a bound variable (``Derivative(f(_xi), _xi)`` inside ``Subs``):
    named apart from their binding they would mean nothing, so they never are."""
    bound: set[int] = set()
    for node in nodes:
        if isinstance(node, sp.Dummy) or any(id(a) in bound for a in node.args):
            bound.add(id(node))
    return bound


def _lengths(nodes: list, named: set, occurrences: dict | None = None,
             bound: set = frozenset()) -> tuple[dict, set]:
    """Printed length of each node with ``named`` subexpressions written as names.

    With ``occurrences``, nodes are also named on the way up, as soon as they
    occur twice or more and are long once their own parts are named (unless
    ``bound``): returns the lengths and the named set.
    """
    short: dict[int, int] = {}
    named = set(named)
    for node in nodes:
        args = node.args
        if not args:
            short[id(node)] = atom_length(node)
            continue
        short[id(node)] = composite_length(
            node, [NAME_LENGTH if id(a) in named else short[id(a)] for a in args])
        if occurrences is not None and occurrences.get(id(node), 0) >= 2 \
                and short[id(node)] >= MIN_LENGTH and id(node) not in bound:
            named.add(id(node))
    return short, named


def _fresh_names(used: set[str]):
    k = 0
    while True:
        k += 1
        name = f"S{k}"
        if name not in used:
            yield name


class Printer:
    """Entries as text, within ``limits.max_output`` characters and the request's time.

    Parameters
    ----------
    sharing : Sharing
        Named subexpressions (possibly none).
    what : str
        What is being printed, for the error message.
    """

    def __init__(self, sharing: Sharing | None = None, what: str = "the output") -> None:
        self.sharing = sharing or Sharing()
        self.limit = budget.active_limits().max_output
        self.what = what
        self.count = 0
        self.memo: dict = {}
        # A large result (one printed with shared names) keeps its terms in SymPy's own
        # order: sorting every sum for print is most of the time of printing it.
        self.printer = MemoPrinter("none" if self.sharing.order else None)

    def __call__(self, expr: sp.Basic) -> str:
        if expr is _ZERO:
            return self.charge("0")
        budget.check()
        return self.charge(print_entry(self.sharing.rewrite(expr, self.memo), self.printer))

    def texts(self, grid: Grid) -> Grid:
        """Every entry of ``grid`` as text (a long printing job reports its progress)."""
        with stage("printing entries", grid.size):
            def one(expr):
                advance()
                return self(expr)
            return grid.map(one)

    def charge(self, text: str) -> str:
        """Count ``text`` towards the output limit."""
        self.count += len(text)
        if self.count > self.limit:
            raise output_error(self.what, self.count, self.limit, more=True)
        return text

    def definitions(self) -> list[tuple[str, str]]:
        """``(name, text)`` of the shared subexpressions."""
        return [(name, self.charge(print_entry(d, self.printer)))
                for name, d in self.sharing.definitions()]


class Memoised:
    """A printer that prints each distinct subexpression once (mixed into SymPy printers).

    The entries of a Jacobian repeat the same parts (``exp(l_1)``, ``S1**2``)
    thousands of times; a subexpression prints the same wherever it is (its
    parent adds any brackets), so its text is kept.
    """

    def _print(self, expr, **kwargs):
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        memo = self.__dict__.setdefault("_memo", {})
        text = memo.get(expr)
        if text is None:
            text = memo[expr] = super()._print(expr)
        return text


class MemoPrinter(Memoised, EntryPrinter):
    """The entry printer, printing each distinct subexpression once."""

    def __init__(self, order: str | None = None) -> None:
        entry_text(sp.S.Zero)  # the table of renamed functions is filled on first use
        super().__init__({"order": order} if order else {})


def print_entry(expr: sp.Basic, printer: EntryPrinter | None = None) -> str:
    """:func:`entry_text`, with a number too long to convert refused by its limit."""
    try:
        return printer.doprint(expr) if printer is not None else entry_text(expr)
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
        raise LimitError("a number in the result has too many digits to print",
                         limit="max_digits") from None


def output_error(what: str, size: int, limit: int, more: bool = False) -> LimitError:
    amount = f"over {size:,}" if more else f"about {size:,}"
    return LimitError(f"{what} would be {amount} characters long, over the limit of {limit:,}",
                      limit="max_output")


def check_size(estimate: int, what: str = "the output") -> None:
    """Refuse printing an estimated ``estimate`` characters over ``limits.max_output``."""
    limit = budget.active_limits().max_output
    if estimate > limit:
        raise output_error(what, estimate, limit)


def entry_printer(exprs: Iterable[sp.Basic], taken: Iterable[str] = (),
                  shared: bool | None = None, overhead: int = 0, dense: int = 0,
                  what: str = "the output", factor: float = 1) -> Printer:
    """A :class:`Printer` for ``exprs`` after checking the size of what it will print.

    ``dense`` entries in all (zeros included) cost ``overhead`` characters each
    besides their text (JSON quotes and indentation, table padding); ``factor``
    is how many characters the printed forms take per character of one form.
    """
    exprs = [e for e in exprs if e is not _ZERO]
    sharing = plan(exprs, taken, shared)
    zeros = max(dense - len(exprs), 0)
    check_size(int(factor * (sharing.length + zeros)) + overhead * max(dense, len(exprs)),
               what)
    return Printer(sharing, what)


__all__ = ["plan", "Sharing", "Printer", "entry_printer", "check_size", "print_entry",
           "MIN_LENGTH", "AUTO_MIN_OUTPUT", "AUTO_RATIO"]
