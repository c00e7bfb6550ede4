"""Canonical SymPy sums and products without SymPy's general flattening.

``canonical_mul(*factors)`` and ``canonical_add(*terms)`` return exactly what
``sympy.Mul(*factors)`` and ``sympy.Add(*terms)`` return (same classes, same
arguments in the same order), only faster in the common cases, and defer to
SymPy whenever they cannot prove that. ``sort_key`` orders expressions like
``Basic.compare``, which is what SymPy sorts the arguments of ``Add`` and
``Mul`` with.

Self-contained: imports only SymPy and the standard library.
"""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter
from typing import Callable, NamedTuple

import sympy as sp
from sympy.core.basic import Basic, _args_sortkey
from sympy.core.basic import ordering_of_classes as _ordering
from sympy.functions.elementary.exponential import ExpBase

# -- canonical sums and products without SymPy's general flattening ------------
#
# ``sympy.Mul(*factors)`` and ``sympy.Add(*terms)`` run a general algorithm
# (numeric bases, I, infinities, Order terms, matrices ...) and sort their
# arguments with ``Basic.compare``, one Python call per comparison. The
# Jacobians built here mostly multiply factors with distinct bases and add
# terms with distinct monomials, where that algorithm reduces to "collect
# the numeric coefficient, sort". ``canonical_mul`` and ``canonical_add`` do
# exactly that, with a tuple sort key ordered like ``Basic.compare``, and
# hand anything else to SymPy, so their results are always identical to
# ``Mul(*factors)`` and ``Add(*terms)``.

_S = sp.S
_ONE, _ZERO, _E = _S.One, _S.Zero, _S.Exp1


class _NoKey(Exception):
    """An expression whose ``Basic.compare`` order the tuple key cannot mimic."""


@lru_cache(maxsize=None)
def _plain_type(cls: type) -> bool:
    """Classes whose instances Mul and Add treat as opaque commutative blocks."""
    if any(c in Basic._constructor_postprocessor_mapping for c in cls.__mro__):
        return False
    if issubclass(cls, (sp.Symbol, sp.Add, sp.Mul)):
        return True
    if issubclass(cls, sp.Pow):
        return True  # numeric bases are refused per instance
    # Applied functions; exp_polar has an unusual base, sp.exp is handled apart.
    return issubclass(cls, sp.Function) and not issubclass(cls, ExpBase) or cls is sp.exp


@lru_cache(maxsize=None)
def _class_key(cls: type) -> tuple:
    """``_cmp_name`` as a key: known classes by rank, the others by name after them."""
    name = cls.__name__
    try:
        return (_ordering.index(name), "")
    except ValueError:
        return (len(_ordering) + 1, name)


def _by_identity(func: Callable) -> Callable:
    """Memoise ``func(expr)`` on the object itself rather than on equality.

    ``lru_cache`` finds keys with ``Basic.__eq__``, which walks both trees
    whenever two equal expressions are distinct objects (the same hidden layer
    built by the explicit and the compact route); a lookup by ``id`` never
    does. Each cached object is kept alive, so its id cannot be reused while
    it is in the cache; the cache is emptied when full.
    """
    cache: dict[int, tuple] = {}

    def cached(expr):
        hit = cache.get(id(expr))
        if hit is not None and hit[0] is expr:
            return hit[1]
        value = func(expr)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[id(expr)] = (expr, value)
        return value

    cached.cache_clear = cache.clear
    cached.__doc__, cached.__name__, cached.__wrapped__ = func.__doc__, func.__name__, func
    return cached


_CACHE_SIZE = 1 << 16


def clear_caches() -> None:
    """Empty the identity-keyed caches of this module (for cold-start timings)."""
    sort_key.cache_clear()
    _RECORDS.clear()


@_by_identity
def sort_key(expr: sp.Basic) -> tuple:
    """A tuple ordered exactly like ``Basic.compare`` (raises ``_NoKey`` if it cannot be)."""
    content = expr._hashable_content()
    items = []
    for item in content:
        if isinstance(item, Basic):
            items.append(sort_key(item))
        elif isinstance(item, (frozenset, set, dict)):
            raise _NoKey
        else:
            items.append(item)
    return (_class_key(type(expr)), len(content), *items)


def _sorted(args: list) -> list:
    """``args`` in SymPy's canonical order (``_addsort``/``_mulsort``)."""
    if len(args) > 1:
        try:
            args.sort(key=sort_key)
        except (_NoKey, TypeError):
            args.sort(key=_args_sortkey)
    return args


def canonical_mul(*factors: sp.Expr) -> sp.Expr:
    """``sympy.Mul(*factors)``, without SymPy's general algorithm where it is not needed.

    For commutative factors with a rational coefficient, Mul collects the
    coefficient, merges the factors whose bases and exponent terms agree
    (``x**2*x**3``, ``exp(x)*exp(2*x)``) and sorts; that is done here, and
    anything else is handed to ``sympy.Mul``.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> canonical_mul(y, 2, sp.exp(x), sp.exp(y), x**-2) == 2*y*sp.exp(x)*sp.exp(y)/x**2
    True
    >>> canonical_mul(x, 3, x)
    3*x**2
    """
    stack = [f for f in factors if f is not _ONE]
    if len(stack) < 2:
        return stack[0] if stack else _ONE
    if len(stack) == 2 and isinstance(stack[0], sp.Symbol) and isinstance(stack[1], sp.Symbol):
        pair = _symbol_product(*stack)
        if pair is not None:
            return pair
    coeff, blocks, groups, repeated = _ONE, [], {}, False
    records = _RECORDS
    while stack:
        f = stack.pop()
        hit = records.get(id(f))
        record = hit[1] if hit is not None and hit[0] is f else _factor_record(f)
        if record is _NESTED:
            stack.extend(f.args)
        elif record is _RATIONAL:
            coeff = f if coeff is _ONE else coeff * f
        elif record is None:
            return sp.Mul(*factors)
        elif record.hash in groups:
            groups[record.hash].append((record, f))
            repeated = True
        else:
            groups[record.hash] = [(record, f)]
            blocks.append((record.order, f))
    if repeated:
        blocks = _merged(groups)
        if blocks is None:
            return sp.Mul(*factors)
    if coeff is _ZERO or (coeff is not _ONE and len(blocks) == 1 and blocks[0][1].is_Add):
        return sp.Mul(*factors)  # 0*oo is nan; 2*(x + y) is distributed
    if not blocks:
        return coeff
    args = _in_order(blocks)
    if coeff is not _ONE:
        args.insert(0, coeff)
    return sp.Mul._from_args(args, True) if len(args) > 1 else args[0]


class _Record(NamedTuple):
    """What ``Mul.flatten`` needs to know of a plain factor, computed once per object."""

    power: tuple  # (base, term): the factors Mul merges share it
    hash: int  # hash(power), so that grouping does not hash SymPy objects again
    order: tuple | None  # sort_key, or None if it cannot be computed


_NESTED, _RATIONAL = "nested Mul", "rational"
_RECORDS: dict[int, tuple] = {}  # id(factor) -> (factor, record), as in _by_identity


def _factor_record(f) -> _Record | str | None:
    """How Mul.flatten treats ``f``: a _Record, _NESTED, _RATIONAL, or None.

    None means Mul's general rules are needed (numeric bases, I, infinities,
    non-commutative factors ...). Cached by identity: the same factors recur
    in every entry of a Jacobian row.
    """
    record = _new_record(f) if isinstance(f, Basic) else None
    if len(_RECORDS) >= _CACHE_SIZE:
        _RECORDS.clear()
    _RECORDS[id(f)] = (f, record)
    return record


def _new_record(f: sp.Basic) -> _Record | str | None:
    if f.is_Mul:
        return _NESTED if f.is_commutative else None
    if f.is_Rational:
        return _RATIONAL
    if not (_plain_type(type(f)) and f.is_commutative):
        return None
    power = _power_key(f)
    if power is None:
        return None
    try:
        order = sort_key(f)
    except _NoKey:
        order = None
    return _Record(power, hash(power), order)


def _in_order(blocks: list[tuple]) -> list:
    """The factors of (sort key, factor) pairs, in SymPy's canonical order."""
    if len(blocks) > 1:
        try:
            blocks.sort(key=_first)
        except TypeError:  # a missing key (None) or keys of mixed types
            return _sorted([f for _, f in blocks])
    return [f for _, f in blocks]


_first = itemgetter(0)


def _merged(groups: dict) -> list | None:
    """(sort key, factor) per power key, as ``Mul.flatten`` combines them; None if unsure.

    Mul.flatten adds the rational coefficients of the exponents that share a
    base and a term, rebuilds every such power with ``Pow(base, c*term)``
    and keeps the result as one factor. That is reproduced only where the
    result is again a single plain factor (not a number, a product, a power
    of another base, or a cancelled power), which is where flatten does
    nothing more with it.
    """
    blocks = []
    for members in groups.values():
        record, first = members[0]
        if len(members) == 1:
            blocks.append((record.order, first))
            continue
        if any(r.power != record.power for r, _ in members):
            return None  # equal hashes of different keys
        power = _merged_power(record.power, [f for _, f in members])
        merged = _factor_record(power) if power is not None else None
        if not isinstance(merged, _Record):
            return None
        blocks.append((merged.order, power))
    return blocks


def _merged_power(key: tuple, members: list) -> sp.Expr | None:
    base, term = key
    total = _ZERO
    for f in members:
        c = _exponent(f).as_coeff_Mul()[0]
        if not c.is_Rational:
            return None
        total += c
    if total is _ZERO:
        return None  # x*x**-1: the factor cancels (or is nan with an infinite base)
    exp = total * term
    power = base if exp is _ONE else sp.Pow(base, exp)
    if power.is_Pow and not base.is_Pow and power.args[0] != base:
        return None  # the base changed: flatten would look for merges again
    return power


def _exponent(f: sp.Expr) -> sp.Expr:
    """The exponent ``Mul.flatten`` sees in ``f.as_base_exp()``."""
    if f.is_Pow:
        return f.args[1]
    return f.args[0] if type(f) is sp.exp else _ONE


_MUL_KEY = _class_key(sp.Mul)


def _symbol_product(x: sp.Symbol, y: sp.Symbol) -> sp.Expr | None:
    """``x*y`` for distinct commutative Symbols: the pair in canonical order."""
    if not (x.is_commutative and y.is_commutative):
        return None
    try:
        kx, ky = sort_key(x), sort_key(y)
        if kx == ky:
            return None
        return sp.Mul._from_args((x, y) if kx < ky else (y, x), True)
    except (_NoKey, TypeError):
        return None


def _power_key(f: sp.Expr):
    """(base, exponent without its coefficient): the factors Mul would merge share it.

    None where Mul would rebuild the exponent differently: it re-multiplies
    coefficient and term, which distributes ``exp(-(x + y))`` to ``exp(-x - y)``.
    """
    if f.is_Pow:
        base, exp = f.args
        if base.is_Number:
            return None  # 2**x*3**x -> 6**x and other numeric-base rules
    elif type(f) is sp.exp:
        base, exp = _E, f.args[0]
    else:
        return f, _ONE
    if not exp.is_Mul:
        return base, _ONE if exp.is_Number else exp
    rest = exp.args[1:] if exp.args[0].is_Number else exp.args
    if not _plain_term((None,) + rest) or (len(rest) == 1 and rest[0].is_Add):
        return None
    return base, exp.as_coeff_Mul()[1]


def canonical_add(*terms: sp.Expr) -> sp.Expr:
    """``sympy.Add(*terms)``, faster for sums of Symbols, Muls, Pows and functions.

    Like terms are collected as SymPy collects them.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> canonical_add(x*y, 1, 2*x*y, sp.sin(x)) == sp.Add(x*y, 1, 2*x*y, sp.sin(x))
    True
    """
    stack = [t for t in terms if t is not _ZERO]
    if len(stack) < 2:
        return stack[0] if stack else _ZERO
    if all(_symbol_pair(t) for t in stack):  # X@W-like sums: x*y products only
        total = _sum_of_pairs([t.args for t in stack], stack)
        if total is not None:
            return total
    coeff, collected = _ZERO, {}
    while stack:
        t = stack.pop()
        if not isinstance(t, Basic):
            return sp.Add(*terms)
        if t.is_Add:
            stack.extend(t.args)
            continue
        if t.is_Rational:
            coeff += t
            continue
        if not (_plain_type(type(t)) and t.is_commutative) or (
                t.is_Pow and t.args[0].is_Number):
            return sp.Add(*terms)
        c, s = t.as_coeff_Mul() if t.is_Mul else (_ONE, t)
        if not c.is_Rational or (t.is_Mul and not _plain_term(t.args)):
            return sp.Add(*terms)
        collected[s] = collected[s] + c if s in collected else c
    newseq = [_times(c, s) for s, c in collected.items() if c is not _ZERO]
    _sorted(newseq)
    if coeff is not _ZERO:
        newseq.insert(0, coeff)
    if not newseq:
        return _ZERO
    return sp.Add._from_args(newseq, True) if len(newseq) > 1 else newseq[0]


def symbol_dot(xs, ys) -> sp.Expr | None:
    """``sympy.Add(*[x*y for x, y in zip(xs, ys)])`` for commutative Symbols.

    The common case of ``X @ W`` with declared matrices: every product is a
    new two-symbol Mul and every sum a new Add, so both are built directly
    in canonical order. Returns None when a product would not be a plain
    ``x*y`` or two products would be collected (``x*x``, ``x*y + y*x``).

    Examples
    --------
    >>> a, b, c, d = sp.symbols("a b c d")
    >>> symbol_dot([b, c], [a, d]) == sp.Add(b*a, c*d)
    True
    >>> symbol_dot([a, b], [b, a]) is None
    True
    """
    return _sum_of_pairs(list(zip(xs, ys)))


def _sum_of_pairs(pairs: list, products: list | None = None) -> sp.Expr | None:
    """The sum of the products ``x*y`` of (x, y) pairs of commutative Symbols.

    ``products``, if given, holds those products already built. None when a
    pair repeats a symbol or two pairs give the same product.
    """
    keyed = {}
    try:
        for i, (x, y) in enumerate(pairs):
            kx, ky = sort_key(x), sort_key(y)
            if kx == ky:
                return None
            if ky < kx:
                x, y, kx, ky = y, x, ky, kx
            key = (_MUL_KEY, 2, kx, ky)  # sort_key of the Mul x*y
            if key in keyed:
                return None
            keyed[key] = (x, y) if products is None else products[i]
        order = sorted(keyed)
    except (_NoKey, TypeError):
        return None
    if products is None:
        terms = [sp.Mul._from_args(keyed[k], True) for k in order]
    else:
        terms = [keyed[k] for k in order]
    if len(terms) > 1:
        return sp.Add._from_args(terms, True)
    return terms[0] if terms else _ZERO


def _symbol_pair(t) -> bool:
    """Whether ``t`` is a Mul of exactly two commutative Symbols."""
    if not (isinstance(t, sp.Mul) and t.is_commutative):
        return False
    args = t.args
    return len(args) == 2 and isinstance(args[0], sp.Symbol) and isinstance(args[1], sp.Symbol)


def _plain_term(args: tuple) -> bool:
    """Whether a Mul's args are canonical: a number can only lead, nothing nests."""
    return all(_plain_type(type(a)) and not a.is_Mul for a in args[1:])


def _times(c: sp.Rational, s: sp.Expr) -> sp.Expr:
    """A collected term ``c*s``, rebuilt the way ``Add.flatten`` rebuilds it."""
    if c is _ONE:
        return s
    if s.is_Mul:
        return s._new_rawargs(c, *s.args)
    if s.is_Add:
        return sp.Mul(c, s, evaluate=False)
    return canonical_mul(c, s)


__all__ = ["canonical_mul", "canonical_add", "symbol_dot", "sort_key", "clear_caches"]
