"""Partial derivatives equal to ``sympy.diff``, shared across a whole Jacobian.

``Matrix.jacobian`` calls ``f_i.diff(x_j)`` for every entry, and ``diff``
recurses through the entry again each time: the shared denominator of a
softmax is differentiated once per entry, and every intermediate sum or
product goes through SymPy's general ``Mul``/``Add`` flattening.

:class:`Differentiator` applies the same rules (``Add``, ``Mul``, ``Pow`` and
the chain rule of ``Function``, in SymPy's own order and association) but

* memoises ``d node / d x`` per distinct subexpression and symbol, across all
  the expressions it is asked about, so that a subexpression shared by many
  entries is differentiated once per symbol, not once per entry;
* knows, per node, which wanted symbols occur below it (instead of asking
  ``free_symbols`` on every call), and only touches the arguments that
  depend on the symbol;
* builds each product and sum with :func:`~.canonical.canonical_mul` and
  :func:`~.canonical.canonical_add`, which return exactly what
  ``sympy.Mul``/``sympy.Add`` return, without SymPy's general algorithm
  where it cannot change the result;
* computes per-node constants (``fdiff``, ``1/base``, ``0*log(base)``) once.

Node types without such a rule (``Abs``, ``Piecewise``, undefined functions
...) are differentiated by ``sympy.diff`` itself, so every result equals what
``sympy.diff`` returns (``==``: same classes, same arguments in the same
order), though it may be a different object. The deliberate exceptions are
the conventions operations declare (``entry_derivative`` in the registry):
``tan' = sec**2`` as the lectures write it, ``sign' = 0``; :func:`local_rules`
collects them; and the tie convention of ``Max`` and ``Min``
(:mod:`~jacobian_calc.symbolic.selection`).

This is the explicit route: it never reads the operations' compact backward
rules, so comparing the two routes compares two independent derivations.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable

import sympy as sp
from sympy.core.basic import Basic
from sympy.core.function import AppliedUndef, ArgumentIndexError

from . import algebra
from .canonical import canonical_add, canonical_mul, symbol_dot
from .classes import function_ops, registry_cached
from .plain import finite, positive_finite
from ..core import budget
from .trusted import as_sympy
from .selection import CONVENTIONS
from .walk import post_order


@registry_cached
def local_rules() -> dict[type, Callable[[sp.Expr], sp.Expr]]:
    """SymPy function class -> derivative, where an operation declares its own convention."""
    return {cls: (lambda a, op=op: op.entry_derivative(algebra, a))
            for cls, op in function_ops().items() if op.entry_derivative is not None}

_ZERO, _ONE, _MINUS_ONE = sp.S.Zero, sp.S.One, sp.S.NegativeOne
_MISSING = object()
_SYMBOL, _ADD, _MUL, _POW, _FUNCTION, _OTHER, _LOCAL = range(7)


def gradient(expr: sp.Expr, wrt: Iterable[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """All non-zero partial derivatives of ``expr`` w.r.t. the symbols ``wrt``.

    ``gradient(expr, wrt)[x] == expr.diff(x)`` for every ``x`` (structurally,
    argument for argument), and symbols whose derivative is ``0`` are left
    out. To differentiate many expressions, use one :class:`Differentiator`:
    it shares the work between them.

    Examples
    --------
    >>> import sympy
    >>> x, y = sympy.symbols("x y")
    >>> sorted(gradient(x**2 * y, [x, y]).items(), key=str)
    [(x, 2*x*y), (y, x**2)]
    """
    return Differentiator(wrt).gradient(expr)


class Differentiator:
    """``expr.diff(x)`` for many expressions and symbols, with shared work.

    Parameters
    ----------
    wrt : iterable of sympy.Symbol
        The symbols derivatives are wanted for. A set is used as it is.

    Every subexpression met is analysed once (which wanted symbols it
    contains) and every derivative computed is kept, keyed by subexpression
    and symbol, for the lifetime of the instance: make one per Jacobian.

    Examples
    --------
    >>> import sympy
    >>> l1, l2 = sympy.symbols("l1 l2")
    >>> S = sympy.exp(l1) + sympy.exp(l2)
    >>> D = Differentiator([l1, l2])
    >>> D.gradient(sympy.exp(l1) / S)[l2] == (sympy.exp(l1) / S).diff(l2)
    True
    """

    def __init__(self, wrt: Iterable[sp.Symbol]) -> None:
        self.wanted = wrt if isinstance(wrt, (set, frozenset)) else set(wrt)
        # expression -> its _Node, or None if no wanted symbol occurs in it
        self._nodes: dict[sp.Basic, _Node | None] = {}

    def gradient(self, expr: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
        """``{x: expr.diff(x)}`` for the wanted ``x`` whose derivative is not 0."""
        budget.check()
        node = self._node(as_sympy(expr))
        if node is None:
            return {}
        out = {}
        for symbol in node.deps:
            budget.check()
            d = self._derivative(node, symbol)
            if d is not _ZERO:
                out[symbol] = d
        return out

    def symbols_in(self, expr: sp.Expr) -> set[sp.Symbol]:
        """The wanted symbols that occur in ``expr`` (``expr.free_symbols & wanted``).

        Read from the analysed nodes, so a subexpression shared by many
        expressions is not walked again.
        """
        node = self._node(as_sympy(expr))
        return set() if node is None else set(node.deps)

    def diff(self, expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
        """``expr.diff(symbol)``; ``symbol`` must be one of the wanted symbols."""
        node = self._node(as_sympy(expr))
        if node is None or symbol not in node.deps:
            return _ZERO
        return self._derivative(node, symbol)

    # -- the DAG ------------------------------------------------------------------

    def _node(self, expr: sp.Basic) -> _Node | None:
        """The analysed node of ``expr`` (None if no wanted symbol occurs in it).

        A post-order walk that stops at subexpressions already seen, by this
        or an earlier call: equal subexpressions of different entries are
        found by hash, and analysed once.
        """
        nodes, wanted = self._nodes, self.wanted
        found = nodes.get(expr, _MISSING)
        if found is not _MISSING:
            return found
        for e in post_order(expr, nodes, key=None):
            nodes[e] = _Node.build(e, [nodes[a] for a in e.args], wanted) if e.args \
                else _Node.leaf(e) if e in wanted else None
        return nodes[expr]

    # -- derivatives ------------------------------------------------------------

    def _derivative(self, node: _Node, symbol: sp.Symbol) -> sp.Expr:
        """``node.expr.diff(symbol)`` for a symbol in ``node.deps``."""
        done = node.memo.get(symbol)
        return done if done is not None else _derive(node, symbol, 0)


def _derive(node: _Node, symbol, depth: int) -> sp.Expr:
    """Differentiate the children that lack their derivative, then ``node``.

    Recursive, which is the fastest walk in Python; past ``_MAX_DEPTH``
    levels the walk continues with an explicit stack instead.
    """
    if node.kind == _SYMBOL:
        done = node.memo[symbol] = _ONE
        return done
    if node.kind != _OTHER:
        if depth > _MAX_DEPTH:
            return _derive_iteratively(node, symbol)
        children = node.children
        for k in node.positions(symbol):
            child = children[k]
            if symbol not in child.memo:
                _derive(child, symbol, depth + 1)
    done = node.memo[symbol] = _RULES[node.kind](node, symbol)
    return done


_MAX_DEPTH = 200


def _derive_iteratively(node: _Node, symbol) -> sp.Expr:
    """:func:`_derive` over the analysed nodes, a node done once its ``memo`` has ``symbol``."""
    for top in post_order(node, _Derived(symbol), key=None,
                          args=lambda n: n.dependent_children(symbol)):
        top.memo[symbol] = _RULES[top.kind](top, symbol)
    return node.memo[symbol]


class _Derived:
    """The analysed nodes whose derivative by ``symbol`` is known (``node in done``)."""

    __slots__ = ("symbol",)

    def __init__(self, symbol) -> None:
        self.symbol = symbol

    def __contains__(self, node: _Node) -> bool:
        return self.symbol in node.memo


class _Node:
    """One distinct subexpression that contains a wanted symbol.

    ``deps`` supports ``symbol in deps`` and iteration over the wanted symbols
    below (a dict ``symbol -> positions of the dependent arguments`` for sums
    and products with several dependent arguments, else the only dependent
    child's own ``deps``, shared rather than copied). ``children`` holds, per
    argument, its node or None. ``memo`` maps a symbol to the derivative.
    """

    __slots__ = ("expr", "kind", "deps", "children", "single", "memo", "cache", "shared",
                 "zero_terms_vanish")

    def __init__(self, expr, kind, deps, children=(), single=None):
        self.expr, self.kind, self.deps = expr, kind, deps
        self.children, self.single = children, (single,) if single is not None else None
        self.memo: dict = {}  # symbol -> derivative
        # Per-node constants (fdiff, 1/base, ...), made on first use. Nodes
        # are many (n**3 products in X@W): no empty dicts for each.
        self.cache: dict | None = None
        # (positions, ids of the children's derivatives) -> derivative: symbols
        # whose children's derivatives are the same objects share the result.
        # Useless, and not kept, for a node with a single wanted symbol.
        self.shared: dict | None = {} if len(deps) > 1 else None
        self.zero_terms_vanish: bool | None = None  # products only: see _mul_rule

    @classmethod
    def leaf(cls, symbol: sp.Symbol) -> _Node:
        if not isinstance(symbol, sp.Symbol):
            raise TypeError(f"can only differentiate w.r.t. symbols, not {symbol!r}")
        return cls(symbol, _SYMBOL, frozenset((symbol,)))

    @classmethod
    def build(cls, expr: sp.Basic, children: list, wanted: set) -> _Node | None:
        dependent = [i for i, c in enumerate(children) if c is not None]
        if not dependent:
            return None
        kind = _node_kind(expr)
        if kind == _OTHER:
            deps = frozenset(expr.free_symbols & wanted)
            return cls(expr, kind, deps) if deps else None
        if len(dependent) == 1:
            k = dependent[0]
            return cls(expr, kind, children[k].deps, children, single=k)
        deps: dict = {}
        for i in dependent:
            for s in children[i].deps:
                deps[s] = deps[s] + (i,) if s in deps else (i,)
        return cls(expr, kind, deps, children)

    def positions(self, symbol) -> tuple:
        """Indices of the arguments that contain ``symbol``, in order."""
        return self.single or self.deps[symbol]

    def dependent_children(self, symbol) -> list:
        if self.kind == _SYMBOL or self.kind == _OTHER:
            return []
        children = self.children
        return [children[i] for i in self.positions(symbol)]


@lru_cache(maxsize=None)
def _kind(cls: type) -> int:
    """Which rule differentiates instances of ``cls`` exactly as ``diff`` does.

    A rule applies only where the class inherits the derivative methods it
    mirrors (a subclass that overrides them goes to ``diff``) and the usual
    ``free_symbols``.
    """
    if _owner(cls, "free_symbols") is not Basic:
        return _OTHER
    plain = _owner(cls, "_eval_derivative_n_times") is Basic
    if issubclass(cls, sp.Add):
        return _ADD if plain and _owner(cls, "_eval_derivative") is sp.Add else _OTHER
    if issubclass(cls, sp.Mul):
        return _MUL if _owner(cls, "_eval_derivative_n_times") is sp.Mul else _OTHER
    if issubclass(cls, sp.Pow):
        return _POW if plain and _owner(cls, "_eval_derivative") is sp.Pow else _OTHER
    if issubclass(cls, sp.Function) and not issubclass(cls, AppliedUndef) and plain:
        # Function.fdiff itself makes a new Dummy per call: diff's own result then
        return _FUNCTION if (_owner(cls, "_eval_derivative") is sp.Function
                             and _owner(cls, "fdiff") is not sp.Function) else _LOCAL
    return _OTHER


def _owner(cls: type, name: str) -> type:
    """The class whose own definition of ``name`` instances of ``cls`` use."""
    return next(k for k in cls.__mro__ if name in k.__dict__)


def _node_kind(expr: sp.Basic) -> int:
    """``_kind``, and functions with a :func:`local_rules` entry (read on every call)."""
    kind = _kind(type(expr))
    if kind == _OTHER and type(expr) in CONVENTIONS:  # Max, Min: the tie convention
        return _FUNCTION
    if kind == _LOCAL:
        local = expr.func in local_rules() and len(expr.args) == 1
        return _FUNCTION if local else _OTHER
    return kind


# -- the rules: SymPy's _eval_derivative, term for term --------------------------------
#
# Each rule receives a node whose dependent children already have their
# derivative in ``memo`` and returns what ``node.expr.diff(symbol)`` returns.
# SymPy's rules are written with binary ``*``, ``/`` and ``+``; ``_times``,
# ``_over`` and ``_plus`` reproduce those operators exactly.

def _symbol_rule(node: _Node, symbol) -> sp.Expr:
    return _ONE


def _add_rule(node: _Node, symbol) -> sp.Expr:
    """``Add(*[a.diff(s) for a in args])``: the zeros are Add's identity, dropped."""
    children = node.children
    terms = [children[i].memo[symbol] for i in node.positions(symbol)]
    if len(terms) == 1:
        return terms[0]
    key = tuple(map(id, terms))
    done = _shared(node, key)
    return done if done is not None else _share(node, key, canonical_add(*terms))


def _mul_rule(node: _Node, symbol) -> sp.Expr:
    """``Mul._eval_derivative_n_times(s, 1)``: the Leibniz sum, one term per factor.

    Term k is ``Mul(*args)`` with factor k replaced by its derivative. Where
    that derivative is 0 the term is 0, and Add drops it, provided no other
    factor makes ``0*factor`` something else (nan for an infinite factor,
    a Float zero with a Float coefficient): ``_zero_terms_vanish`` checks
    that once per node, else every term is built by SymPy.
    """
    children = node.children
    positions = node.positions(symbol)
    ds = [children[k].memo[symbol] for k in positions]
    key = (positions, *map(id, ds)) if node.shared is not None else None
    done = _shared(node, key)
    if done is not None:
        return done
    if _zero_terms_vanish(node):
        args = node.expr.args
        if len(ds) == 1 and ds[0] is _ONE and len(args) == 2:
            return _share(node, key, args[1 - positions[0]])  # Mul(y, 1) is y
        terms = [canonical_mul(*args[:k], d, *args[k + 1:])
                 for k, d in zip(positions, ds) if d is not _ZERO]
        done = terms[0] if len(terms) == 1 else canonical_add(*terms)
    else:
        done = _all_leibniz_terms(node, dict(zip(positions, ds)))
    return _share(node, key, done)


def _zero_terms_vanish(node: _Node) -> bool:
    """Whether ``Mul`` of the node's factors with one of them replaced by 0 is 0.

    Mul.flatten returns 0 for a zero coefficient unless a factor's
    ``is_finite`` is False; a rational coefficient keeps the zero exact.
    """
    known = node.zero_terms_vanish
    if known is None:
        known = bool(node.expr.is_commutative)
        for a in node.expr.args:
            if not (a.is_Rational if a.is_Number else finite(a)):
                known = False
                break
        node.zero_terms_vanish = known
    return known


def _all_leibniz_terms(node: _Node, derivatives: dict) -> sp.Expr:
    """Every term of the Leibniz sum, the zero ones by ``sympy.Mul`` itself."""
    args = node.expr.args
    terms = []
    for k in range(len(args)):
        d = derivatives.get(k, _ZERO)
        replaced = args[:k] + (d,) + args[k + 1:]
        terms.append(sp.Mul(*replaced) if d is _ZERO else canonical_mul(*replaced))
    return sp.Add(*terms)


def _pow_rule(node: _Node, symbol) -> sp.Expr:
    """``self * (dexp*log(base) + dbase*exp/base)``, as ``Pow._eval_derivative``."""
    dbase, dexp = (_derivative_of(c, symbol) for c in node.children)
    key = (id(dbase), id(dexp))
    done = _shared(node, key)
    return done if done is not None else _share(node, key, _pow_derivative(node, dbase, dexp))


def _pow_derivative(node: _Node, dbase: sp.Expr, dexp: sp.Expr) -> sp.Expr:
    expr = node.expr
    base, exp = expr.args
    if dexp is _ZERO:  # 0*log(base) is 0 unless log(base) is infinite: not for base > 0
        log_term = _cached(node, "0*log", lambda: _ZERO if positive_finite(base)
                           else _times(_ZERO, sp.log(base)))
    else:
        log_term = _times(dexp, _cached(node, "log", lambda: sp.log(base)))
    base_term = _over(node, _times(dbase, exp))
    return _times(expr, _plus(log_term, base_term))


def _function_rule(node: _Node, symbol) -> sp.Expr:
    """``Function._eval_derivative``: ``Add(*[fdiff(i) * da ...])`` over args with ``da != 0``."""
    children = node.children
    positions = node.positions(symbol)
    das = [children[i].memo[symbol] for i in positions]
    key = (positions, *map(id, das)) if node.shared is not None else None
    done = _shared(node, key)
    if done is not None:
        return done
    if any(_fdiff_has_derivative(node, i) for i in positions):
        return node.expr.diff(symbol)  # diff also makes every Derivative canonical
    terms = [_times(_fdiff(node, i), da) for i, da in zip(positions, das) if not _zero(da)]
    if not terms:
        done = _ZERO
    else:
        done = terms[0] if len(terms) == 1 else canonical_add(*terms)
    return _share(node, key, done)


def _zero(da: sp.Expr) -> bool:
    """``da.is_zero`` as ``Function._eval_derivative`` asks it, asked of atoms only.

    A canonical sum or product that is not ``0`` itself is not shown to be
    zero by SymPy's assumptions in practice, and asking can take seconds on a
    product of long sums (``exp`` of an entry of ``X@X@X@X``).
    """
    return da is _ZERO or (da.is_Atom and bool(da.is_zero))


def _other_rule(node: _Node, symbol) -> sp.Expr:
    return node.expr.diff(symbol)


_RULES = {_SYMBOL: _symbol_rule, _ADD: _add_rule, _MUL: _mul_rule, _POW: _pow_rule,
          _FUNCTION: _function_rule, _OTHER: _other_rule}


def _derivative_of(child: _Node | None, symbol) -> sp.Expr:
    if child is None or symbol not in child.deps:
        return _ZERO
    return child.memo[symbol]


def _shared(node: _Node, key: tuple | None) -> sp.Expr | None:
    """The derivative already made from the same children's derivatives, if any."""
    return node.shared.get(key) if node.shared is not None else None


def _share(node: _Node, key: tuple, derivative: sp.Expr) -> sp.Expr:
    if node.shared is not None:
        node.shared[key] = derivative
    return derivative


def _cached(node: _Node, key, make: Callable[[], object]):
    """A per-node constant, computed on first use."""
    if node.cache is None:
        node.cache = {}
    value = node.cache.get(key)
    if value is None:
        value = node.cache[key] = make()
    return value


def _fdiff(node: _Node, i: int) -> sp.Expr:
    """The local derivative w.r.t. argument ``i`` (0-based), once per node."""
    return _cached(node, ("fdiff", i), lambda: _local_derivative(node.expr, i))


def _fdiff_has_derivative(node: _Node, i: int) -> bool:
    return _cached(node, ("fdiff has Derivative", i), lambda: _fdiff(node, i).has(sp.Derivative))


def _local_derivative(expr: sp.Expr, i: int) -> sp.Expr:
    convention = CONVENTIONS.get(type(expr))
    if convention is not None:
        return convention(expr, i)
    rule = local_rules().get(expr.func)
    if rule is not None and len(expr.args) == 1:
        return rule(expr.args[0])
    try:
        return expr.fdiff(i + 1)
    except ArgumentIndexError:
        return sp.Function.fdiff(expr, i + 1)


def _times(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a * b``: ``Mul(a, b)``, except where a number's own ``__mul__`` decides.

    That is two numbers, or a left operand like nan, oo or a Float, whose
    methods have their own special cases.
    """
    if a.is_Number and (b.is_Number or not a.is_Rational):
        return a * b
    return canonical_mul(a, b)


def _plus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a + b``: ``Add(a, b)``, except where a number's own ``__add__`` decides."""
    if a.is_Number and (b.is_Number or not a.is_Rational):
        return a + b
    return canonical_add(a, b)


def _over(node: _Node, a: sp.Expr) -> sp.Expr:
    """``a / base`` of a power node: ``Mul(a, Pow(base, -1))``, or the Pow if ``a`` is 1."""
    base = node.expr.args[0]
    if a.is_Number and (base.is_Number or not a.is_Rational):
        return a / base
    inverse = _cached(node, "1/base", lambda: sp.Pow(base, _MINUS_ONE))
    return inverse if a is _ONE else canonical_mul(a, inverse)


__all__ = ["gradient", "Differentiator", "local_rules", "canonical_mul", "canonical_add",
           "symbol_dot"]
