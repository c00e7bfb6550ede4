"""Symbolic reverse-mode differentiation over a SymPy expression DAG.

``gradient(expr, wrt)`` returns every partial derivative of ``expr`` with
respect to the symbols in ``wrt`` in one backward sweep: each distinct
subexpression is visited once, and subtrees that do not contain a wanted
symbol are never entered. This is what makes a softmax Jacobian (whose
denominator is shared by every entry) or ``X@W`` (linear in ``W``) cheap,
where ``sympy.diff`` would re-walk the whole entry once per symbol.

Local derivatives follow SymPy's own ``fdiff`` except where ``LOCAL_RULES``
says otherwise; node types without a rule fall back to ``sympy.diff``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable

import sympy as sp
from sympy.core.basic import Basic, _args_sortkey
from sympy.core.basic import ordering_of_classes as _ordering
from sympy.core.function import ArgumentIndexError
from sympy.functions.elementary.exponential import ExpBase

#: Local derivative overrides, written the way the lectures write them.
LOCAL_RULES: dict[type, Callable[[sp.Expr], sp.Expr]] = {
    sp.tan: lambda a: sp.sec(a) ** 2,
}


def gradient(expr: sp.Expr, wrt: Iterable[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """All non-zero partial derivatives of ``expr`` w.r.t. the symbols ``wrt``.

    Parameters
    ----------
    expr : sympy.Expr
        The expression to differentiate.
    wrt : iterable of sympy.Symbol
        The symbols wanted; symbols absent from ``expr`` are simply missing
        from the result. A set is used as it is (callers differentiating many
        entries w.r.t. the same thousands of symbols should pass one).

    Returns
    -------
    dict
        ``{symbol: derivative}`` for symbols with a (structurally) non-zero
        derivative.

    Examples
    --------
    >>> import sympy
    >>> x, y = sympy.symbols("x y")
    >>> sorted(gradient(x**2 * y, [x, y]).items(), key=str)
    [(x, 2*x*y), (y, x**2)]
    """
    wanted = wrt if isinstance(wrt, (set, frozenset)) else set(wrt)
    expr = sp.sympify(expr)
    order, depends = _dependent_nodes(expr, wanted)
    if not order:
        return {}
    # An adjoint is kept as a list of products, each product a tuple of
    # factors, and multiplied out once at the end: Mul(2, a, a*w1 + b1) stays
    # factored where (2*(a*w1 + b1))*a would have been distributed.
    adjoints: dict[sp.Basic, list[tuple]] = {expr: [()]}
    result: dict[sp.Symbol, sp.Expr] = {}
    for node in reversed(order):  # parents before children
        products = adjoints.pop(node, None)
        if not products:
            continue
        if node in wanted:
            result[node] = _sum_of_products(products)
            continue
        adj = products[0] if len(products) == 1 else (_sum_of_products(products),)
        if any(f is _ZERO for f in adj):  # equality is structural: only S.Zero == 0
            continue
        for child, local in _locals(node, depends, wanted):
            if child in adjoints:
                adjoints[child].append(adj + local)
            else:
                adjoints[child] = [adj + local]
    return {s: d for s, d in result.items() if d is not _ZERO}


def _sum_of_products(products: list[tuple]) -> sp.Expr:
    if len(products) == 1:
        return canonical_mul(*products[0])
    return canonical_add(*[canonical_mul(*p) for p in products])


def _dependent_nodes(expr: sp.Basic, wanted: set) -> tuple[list[sp.Basic], dict]:
    """Post-order list of the distinct subexpressions that contain a wanted symbol.

    Also returns the ``{node: depends}`` map of every node visited. Leaves are
    settled when their parent is first expanded: most nodes of a Jacobian
    (``X_1_1*W_1_1``) have only leaves below them.
    """
    depends: dict[sp.Basic, bool] = {}
    order: list[sp.Basic] = []
    stack: list[sp.Basic] = [expr]
    while stack:
        node = stack[-1]
        if node in depends:
            stack.pop()
            continue
        args = node.args
        if not args:
            stack.pop()
            depends[node] = hit = node in wanted
            if hit:
                order.append(node)
            continue
        pending = False
        for a in args:
            if a in depends:
                continue
            if a.args:
                stack.append(a)
                pending = True
            else:
                depends[a] = hit = a in wanted
                if hit:
                    order.append(a)
        if pending:
            continue
        stack.pop()
        depends[node] = hit = any(depends[a] for a in args)
        if hit:
            order.append(node)
    return order, depends


def _locals(node: sp.Basic, depends: dict, wanted: set):
    """(child, factors of d node / d child) for the children that depend on wrt."""
    if node.is_Add:
        return [(a, ()) for a in node.args if depends[a]]
    if node.is_Mul:
        args = node.args
        return [(a, args[:i] + args[i + 1:]) for i, a in enumerate(args) if depends[a]]
    if node.is_Pow:
        return _pow_locals(node, depends)
    if isinstance(node, sp.Function) and not isinstance(node, (sp.Min, sp.Max)):
        pairs = _function_locals(node, depends)
        if pairs is not None:
            return pairs
    # No rule: differentiate the node directly w.r.t. each wanted symbol in it.
    return [(s, (node.diff(s),)) for s in node.free_symbols & wanted]


def _pow_locals(node: sp.Pow, depends: dict):
    base, exp = node.args
    pairs = []
    if depends[base]:
        pairs.append((base, (exp, base ** (exp - 1))))
    if depends[exp]:
        pairs.append((exp, (node, sp.log(base))))
    return pairs


def _function_locals(node: sp.Function, depends: dict):
    rule = LOCAL_RULES.get(node.func)
    if rule is not None and len(node.args) == 1:
        return [(node.args[0], (rule(node.args[0]),))]
    try:
        return [(a, (node.fdiff(i + 1),)) for i, a in enumerate(node.args) if depends[a]]
    except (ArgumentIndexError, NotImplementedError, TypeError, AttributeError):
        return None


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
    """``sympy.Mul(*factors)``, faster when no two factors combine into one power.

    Mul merges factors whose bases and exponent terms agree (``x**2*x**3``,
    ``exp(x)*exp(2*x)``); when none do, it only collects the rational
    coefficient and sorts, which is what is done here.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> canonical_mul(y, 2, sp.exp(x), sp.exp(y), x**-2) == 2*y*sp.exp(x)*sp.exp(y)/x**2
    True
    >>> canonical_mul(x, 3, x)  # a repeated base: SymPy's own Mul
    3*x**2
    """
    stack = [f for f in factors if f is not _ONE]
    if len(stack) < 2:
        return stack[0] if stack else _ONE
    if len(stack) == 2 and all(isinstance(f, sp.Symbol) and f.is_commutative for f in stack):
        pair = _symbol_product(*stack)
        if pair is not None:
            return pair
    coeff, blocks, seen = _ONE, [], set()
    while stack:
        f = stack.pop()
        kind = _factor_kind(f) if isinstance(f, Basic) else None
        if kind is _NESTED:
            stack.extend(f.args)
        elif kind is _RATIONAL:
            coeff *= f
        elif kind is None or kind in seen:
            return sp.Mul(*factors)
        else:
            seen.add(kind)
            blocks.append(f)
    if coeff is _ZERO or (coeff is not _ONE and len(blocks) == 1 and blocks[0].is_Add):
        return sp.Mul(*factors)  # 0*oo is nan; 2*(x + y) is distributed
    if not blocks:
        return coeff
    _sorted(blocks)
    if coeff is not _ONE:
        blocks.insert(0, coeff)
    return sp.Mul._from_args(blocks, True) if len(blocks) > 1 else blocks[0]


_NESTED, _RATIONAL = "nested Mul", "rational"
_MUL_KEY = _class_key(sp.Mul)


@_by_identity
def _factor_kind(f: sp.Basic):
    """How Mul.flatten treats ``f``: its power key, _NESTED, _RATIONAL, or None.

    None means Mul's general rules are needed (numeric bases, I, infinities,
    non-commutative factors ...). Cached: the same factors recur in every
    entry of a Jacobian row.
    """
    if f.is_Mul:
        return _NESTED if f.is_commutative else None
    if f.is_Rational:
        return _RATIONAL
    if not (_plain_type(type(f)) and f.is_commutative):
        return None
    return _power_key(f)


def _symbol_product(x: sp.Symbol, y: sp.Symbol) -> sp.Expr | None:
    """``x*y`` for distinct commutative Symbols: the pair in canonical order."""
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


__all__ = ["gradient", "LOCAL_RULES", "canonical_mul", "canonical_add", "symbol_dot"]
