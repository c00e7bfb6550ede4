"""Index algebra: sums over index ranges, indexed factors and Kronecker deltas.

An entry of an array expression at symbolic indices is a SymPy expression in
``sympy.Indexed`` entries (``X[i, k]``), ``KroneckerDelta`` and ``Sum`` over
index ranges ``1..n`` (indices run from 1, as the lectures write them). This
module reads such an expression as a sum of *terms*, each

    coefficient * Σ_{dummies} (product of factors)

and works on that form:

* **δ-elimination** (:func:`eliminate`): ``Σ_a f(a) δ[a,b] = f(b)``, assuming
  every index lies in its range. SymPy's own ``Sum.doit`` answers with
  ``Piecewise`` range conditions instead; here ``b`` is in range by
  construction. A sum whose body does not depend on its index is a factor
  ``n``: ``Σ_a 1 = n`` (``mean``'s ``1/(N*h)``).
* **affine indices**: a δ whose arguments are integer combinations of indices
  (``δ[i + r - 1, k]``, ``δ[k, n + 1 - i]``) is summed out over an index with
  coefficient ±1, ``Σ_a f(a) δ[a + c, e] = [1 ≤ e - c ≤ n] f(e - c)``; the
  bracket (:class:`InRange`, an Iverson bracket) stays where the ranges of the
  other indices do not decide it, and a bracket on one summation index narrows
  its range. A δ with another coefficient (``δ[k, 2 a - 1]``) stays. A summation
  index read backwards (``w[k - r + 1]``) may be reflected, ``r -> n + 1 - r``.
* **differentiation** (:func:`derivative`): ``∂X[a,b]/∂X[k,l] = δ[a,k] δ[b,l]``.
* **canonical form** (:func:`canonical`): summation indices renamed by a rule
  (the smallest printed form over their orders), factors merged by base,
  equal terms collected.
* **decision** (:func:`decide`): two entries are *proved* equal for all sizes
  when their difference has no term left; else a *witness* is searched at
  small concrete sizes, and failing that the answer is *undecided*.

Sums that occur inside other functions or in denominators (a softmax's row
sum) are atoms, canonical in themselves, so that ``S * S**-2`` is ``S**-1``.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import sympy as sp
from sympy.functions.elementary.trigonometric import TrigonometricFunction

Dim = int | str

from ..core import budget
from ..core.dims import DimExpr

_ONE, _ZERO = sp.S.One, sp.S.Zero
_MAX_PERMUTED = 5  # dummies per term renamed by trying every order; beyond, first use
MAX_TERMS = 5000  # terms of one multiplied-out expression before giving up
MAX_ELIMINATIONS = 64  # δs summed out of one term, at most (each takes one away)


class TooLarge(Exception):
    """Multiplying out would make more than :data:`MAX_TERMS` terms."""


# -- symbols ----------------------------------------------------------------------------

def size(d: Dim | sp.Expr) -> sp.Expr:
    """A dimension as SymPy sees it: ``3`` -> ``3``, ``"N"`` -> the positive integer ``N``.

    Examples
    --------
    >>> size("N").is_positive, size(3)
    (True, 3)
    """
    if isinstance(d, DimExpr):
        return d.expr  # n - k + 1
    if isinstance(d, str):
        return sp.Symbol(d, integer=True, positive=True)
    return sp.sympify(d)


def index(name: str) -> sp.Symbol:
    """An index symbol (an integer)."""
    return sp.Symbol(name, integer=True)


def entry(name: str, indices: Sequence[sp.Expr]) -> sp.Expr:
    """``X[i, k]`` (a ``sympy.Indexed`` whose base is named ``name``); a scalar's own symbol."""
    if not indices:
        return sp.Symbol(name, real=True)
    return sp.IndexedBase(name, real=True)[tuple(indices)]


def delta(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``δ[a,b]``."""
    return sp.KroneckerDelta(a, b)


class InRange(sp.Function):
    """The Iverson bracket ``[lo ≤ e ≤ hi]``: 1 when the integer ``e`` lies in
    ``lo..hi``, else 0 (a padding's border, a shifted window's edge).

    It evaluates itself wherever SymPy can tell (numbers, or a size known
    positive), and :meth:`rewrite` gives the ``Piecewise`` it stands for.

    Examples
    --------
    >>> k, n = index("k"), size("n")
    >>> InRange(k - 1, 1, n)
    InRange(k - 1, 1, n)
    >>> InRange(k - 1, 1, n).subs({k: 1}), InRange(n, 1, n)
    (0, 1)
    """

    nargs = 3
    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, e, lo, hi):
        below, above = e - lo, hi - e
        if below.is_negative or above.is_negative or (hi - lo).is_negative:
            return _ZERO
        if below.is_nonnegative and above.is_nonnegative:
            return _ONE
        return None

    def _eval_rewrite_as_Piecewise(self, e, lo, hi, **kwargs):
        return sp.Piecewise((_ONE, sp.And(sp.Le(lo, e), sp.Le(e, hi))), (_ZERO, True))

    def _eval_derivative(self, s):
        return _ZERO  # a step in an integer: constant wherever it is defined

    def _latex(self, printer):
        e, lo, hi = (printer._print(a) for a in self.args)
        return rf"\left[{lo} \le {e} \le {hi}\right]"


def in_range(e: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """``[lo ≤ e ≤ hi]`` in a canonical form: the indices' part alone in the middle,
    its first index with a positive coefficient (``[1 ≤ n + 1 - k ≤ n]`` is
    ``[1 ≤ k ≤ n]``).

    Examples
    --------
    >>> k, n = index("k"), size("n")
    >>> in_range(n + 1 - k, 1, n)
    InRange(k, 1, n)
    """
    e, lo, hi = (sp.expand(x) for x in (e, lo, hi))
    if hi == lo and _indices(e):
        return delta(*sorted((e, lo), key=str))  # [lo ≤ e ≤ lo] = δ[e, lo]
    shift = sp.Add(*(a for a in sp.Add.make_args(e) if not (a.free_symbols & _indices(a))))
    e, lo, hi = e - shift, lo - shift, hi - shift
    first = min(_indices(e), key=str, default=None)
    if first is not None and e.coeff(first).could_extract_minus_sign():
        e, lo, hi = -e, -hi, -lo
    return InRange(e, lo, hi)


def _bracket(e: sp.Expr, lo: sp.Expr, hi: sp.Expr, ctx: "Context") -> sp.Expr:
    """``[lo ≤ e ≤ hi]``: canonical for deciding, as it arises for reading
    (``[1 ≤ k − i + 1 ≤ 3]``)."""
    if ctx.display:
        return InRange(sp.expand(e), lo, hi)
    return in_range(e, lo, hi)


def _indices(e: sp.Expr) -> set:
    """The index symbols of ``e`` (integers not known positive; sizes are positive)."""
    return {s for s in e.free_symbols if s.is_integer and not s.is_positive}


def summation(body: sp.Expr, *limits: tuple[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``Σ_{a=1..n} body`` for every ``(a, n)`` of ``limits`` (the first outermost)."""
    if not limits:
        return body
    return sp.Sum(body, *((a, 1, n) for a, n in reversed(limits)))


_counter = itertools.count(1)
_ORIGIN: dict[sp.Symbol, sp.Symbol] = {}  # a fresh summation index -> the name it replaced


def fresh() -> sp.Symbol:
    """A new summation index no expression uses yet (``_s17``)."""
    return index(f"_s{next(_counter)}")


# -- differentiation ---------------------------------------------------------------------

def derivative(expr: sp.Expr, wrt: sp.Expr) -> sp.Expr:
    """``∂expr/∂wrt`` for an entry ``wrt`` (``X[k, l]``) or a scalar symbol.

    ``∂X[a,b]/∂X[k,l] = δ[a,k] δ[b,l]``; sums are differentiated term by term;
    a function's derivative follows the conventions the operations declare
    (``relu' = step``, ``tan' = sec**2``, ``sign' = 0``).

    Examples
    --------
    >>> i, j, k, l = (index(c) for c in "ijkl")
    >>> derivative(entry("X", (i, j)) ** 2, entry("X", (k, l)))
    2*KroneckerDelta(i, k)*KroneckerDelta(j, l)*X[i, j]
    """
    if not _depends(expr, wrt):
        return _ZERO
    if isinstance(expr, sp.Indexed):
        if not isinstance(wrt, sp.Indexed) or expr.base != wrt.base:
            return _ZERO
        return sp.Mul(*(delta(a, b) for a, b in zip(expr.indices, wrt.indices)))
    if isinstance(expr, sp.Symbol):
        return _ONE if expr == wrt else _ZERO
    if isinstance(expr, sp.Add):
        return sp.Add(*(derivative(a, wrt) for a in expr.args))
    if isinstance(expr, sp.Mul):
        args = expr.args
        return sp.Add(*(sp.Mul(*args[:n], derivative(a, wrt), *args[n + 1:])
                        for n, a in enumerate(args) if _depends(a, wrt)))
    if isinstance(expr, sp.Pow):
        return _pow_derivative(expr, wrt)
    if isinstance(expr, sp.Sum):
        return _sum_derivative(expr, wrt)
    if isinstance(expr, sp.Function) and len(expr.args) == 1:
        return sp.Mul(_function_derivative(expr), derivative(expr.args[0], wrt))
    raise NotImplementedError(f"no index-notation derivative of {type(expr).__name__}")


def _depends(expr: sp.Expr, wrt: sp.Expr) -> bool:
    if isinstance(wrt, sp.Indexed):
        return any(e.base == wrt.base for e in expr.atoms(sp.Indexed))
    return wrt in expr.free_symbols


def _pow_derivative(expr: sp.Pow, wrt: sp.Expr) -> sp.Expr:
    base, k = expr.args
    if not _depends(k, wrt):
        return sp.Mul(k, sp.Pow(base, k - 1), derivative(base, wrt))
    return sp.Mul(expr, sp.Add(sp.Mul(derivative(k, wrt), sp.log(base)),
                               sp.Mul(k, derivative(base, wrt), sp.Pow(base, -1))))


def _sum_derivative(expr: sp.Sum, wrt: sp.Expr) -> sp.Expr:
    body, limits = expr.function, expr.limits
    taken = wrt.free_symbols
    renamed = {}
    for a, _, _ in limits:
        if a in taken:
            renamed[a] = fresh()
    body = body.xreplace(renamed)
    limits = [(renamed.get(a, a), lo, hi) for a, lo, hi in limits]
    return sp.Sum(derivative(body, wrt), *limits)


def _function_derivative(f: sp.Function) -> sp.Expr:
    from ..symbolic.autodiff import local_rules  # noqa: PLC0415 - the registry's conventions
    rule = local_rules().get(type(f))
    return rule(f.args[0]) if rule is not None else f.fdiff(1)


# -- terms ---------------------------------------------------------------------------------

@dataclass
class Term:
    """``coeff * Σ_{sums} Π factors``: ``sums`` are (index, upper bound), ``factors``
    base -> exponent (bases are indexed entries, deltas and atoms)."""

    coeff: sp.Expr = _ONE
    sums: list[tuple[sp.Symbol, sp.Expr]] = field(default_factory=list)
    factors: dict[sp.Expr, sp.Expr] = field(default_factory=dict)

    def times(self, other: "Term") -> "Term":
        factors = dict(self.factors)
        for base, k in other.factors.items():
            factors[base] = factors.get(base, _ZERO) + k
        return Term(self.coeff * other.coeff, self.sums + other.sums,
                    {b: k for b, k in factors.items() if k != 0})

    def xreplace(self, mapping: Mapping) -> "Term":
        out = Term(self.coeff, [(mapping.get(a, a), n) for a, n in self.sums], {})
        for base, k in self.factors.items():
            new = base.xreplace(mapping)
            if new.is_Number:  # δ[1,1]: a number now
                out.coeff *= new ** k
            else:
                out.factors[new] = out.factors.get(new, _ZERO) + k
        return out

    def expr(self) -> sp.Expr:
        """The term as SymPy writes it; factors that do not use the summation
        indices stand outside the sum."""
        dummies = {a for a, _ in self.sums}
        inside = [sp.Pow(b, k) for b, k in self.factors.items() if b.free_symbols & dummies]
        outside = [sp.Pow(b, k) for b, k in self.factors.items()
                   if not b.free_symbols & dummies]
        return self.coeff * sp.Mul(*outside) * summation(sp.Mul(*inside), *self.sums)


class Context:
    """What the algebra knows: the ranges of free indices, which sums are atoms,
    which arrays are one-hot along their last axis."""

    def __init__(self, ranges: Mapping[sp.Symbol, sp.Expr] | None = None,
                 onehot: Iterable[str] = (), premises: Iterable[sp.Expr] = ()):
        self.ranges = dict(ranges or {})
        self.onehot = set(onehot)
        #: Sizes that are expressions of names (``n - k + 1``), each at least 1.
        self.premises = sorted(set(premises), key=str)
        self.atoms: set[str] = set()
        self.display = False  # keep atoms and names as written (for reading, not deciding)
        self.memo: dict = {}  # (expr, depth, whole) -> canonical form
        self.atom_keys: dict = {}  # (sum with its free indices numbered, depth) -> key

    def note_atoms(self, *exprs: sp.Expr) -> None:
        """Bases raised to negative powers (denominators) stay atoms everywhere."""
        for e in exprs:
            for p in e.atoms(sp.Pow):
                if p.exp.is_negative and p.base.has(sp.Sum):
                    self.atoms.add(_atom_key(p.base, self, 1))


def terms(expr: sp.Expr, ctx: Context, depth: int = 0, whole: bool = True) -> list[Term]:
    """``expr`` multiplied out into terms (sums flattened, their indices made fresh);
    ``whole=False``: ``expr`` itself is never held as an atom."""
    if not _indexed(expr):
        return [Term(expr)]
    if isinstance(expr, sp.Add):
        return [t for a in expr.args for t in terms(a, ctx, depth)]
    if isinstance(expr, sp.Mul):
        out = [Term()]
        for a in expr.args:
            out = _product(out, terms(a, ctx, depth))
        return out
    if isinstance(expr, sp.Sum) and not (whole and _is_atom(expr, ctx, depth)):
        return _sum_terms(expr, ctx, depth)
    if isinstance(expr, sp.Pow):
        return _pow_terms(expr, ctx, depth)
    if isinstance(expr, sp.exp) and isinstance(expr.args[0], sp.Add):
        return terms(sp.Mul(*(_exp_of(a) for a in expr.args[0].args), evaluate=False),
                     ctx, depth)
    return [Term(factors={_atom(expr, ctx, depth): _ONE})]


def _product(left: list[Term], right: list[Term]) -> list[Term]:
    if len(left) * len(right) > MAX_TERMS:
        raise TooLarge(f"over {MAX_TERMS} terms")
    budget.check()
    return [t.times(u) for t in left for u in right]


def _indexed(expr: sp.Expr) -> bool:
    return expr.has(sp.Indexed, sp.KroneckerDelta, sp.Sum, InRange)


def _is_atom(expr: sp.Expr, ctx: Context, depth: int) -> bool:
    return bool(ctx.atoms) and _atom_key(expr, ctx, depth + 1) in ctx.atoms


def _atom_key(expr: sp.Expr, ctx: Context, depth: int) -> str:
    """What makes a sum an atom: its canonical form whatever its free indices are called
    (``Σ_m exp(Z[i,m])`` and ``Σ_m exp(Z[k,m])`` alike)."""
    bound = {s for s in expr.free_symbols if s.is_integer and not s.is_positive}
    free = [s for s in sp.preorder_traversal(expr) if s in bound]
    order = {s: _placeholder(n) for n, s in enumerate(dict.fromkeys(free))}
    shape = expr.xreplace(order)
    key = (shape, depth)
    if key not in ctx.atom_keys:
        form = canonical(shape, ctx, depth, whole=False)
        ctx.atom_keys[key] = str(form.xreplace({p: _PLACEHOLDER for p in order.values()}))
    return ctx.atom_keys[key]


def _placeholder(n: int) -> sp.Symbol:
    return index(f"_free{n}")


_PLACEHOLDER = sp.Symbol("_index", integer=True)


def _exp_of(a: sp.Expr) -> sp.Expr:
    """``exp(a)``, with ``exp(c*log(u)) = u**c``."""
    c, rest = a.as_coeff_Mul()
    if isinstance(rest, sp.log):
        return sp.Pow(rest.args[0], c)
    return sp.exp(a)


def _sum_terms(expr: sp.Sum, ctx: Context, depth: int) -> list[Term]:
    body, limits = expr.function, []
    for a, lo, hi in expr.limits:
        new = fresh()
        _ORIGIN[new] = _ORIGIN.get(a, a)
        body = body.xreplace({a: new + lo - 1} if lo != 1 else {a: new})
        limits.append((new, hi - lo + 1))
    return [Term(t.coeff, limits + t.sums, t.factors) for t in terms(body, ctx, depth)]


def _pow_terms(expr: sp.Pow, ctx: Context, depth: int) -> list[Term]:
    base, k = expr.args
    if not k.is_Number:  # an exponent with indices: the power is one atom
        return [Term(factors={_atom(expr, ctx, depth): _ONE})]
    inner = terms(base, ctx, depth)
    if k.is_Integer and k > 0 and (len(inner) > 1 or inner[0].sums) \
            and not _is_atom(base, ctx, depth):
        out = [Term()]
        for _ in range(int(k)):
            out = _product(out, terms(base, ctx, depth))
        return out
    if k.is_Integer and len(inner) == 1 and not inner[0].sums:
        t = inner[0]
        return [Term(t.coeff ** k, [], {b: e * k for b, e in t.factors.items()})]
    return [Term(factors={_atom(base, ctx, depth): k})]


def _atom(expr: sp.Expr, ctx: Context, depth: int) -> sp.Expr:
    """A factor that is not multiplied out: its arguments in canonical form."""
    if isinstance(expr, (sp.Indexed, sp.KroneckerDelta, sp.Symbol)):
        return expr
    if isinstance(expr, InRange):
        return _bracket(*expr.args, ctx)
    if isinstance(expr, sp.Sum):
        return canonical(expr, ctx, depth + 1)
    return expr.func(*(canonical(a, ctx, depth + 1) for a in expr.args))


# -- δ-elimination ---------------------------------------------------------------------------

def eliminate(t: Term, ctx: Context) -> Term | None:
    """``t`` with every δ against a summation index summed out, δ between free indices
    written once (the later index replaced by the earlier in the rest), sums whose
    body does not use their index made factors, one-hot rows summed to 1;
    ``None`` when the term vanishes (``δ[1,2]``)."""
    t = _settled(_unit_ranges(Term(t.coeff, list(t.sums), dict(t.factors)), ctx), ctx)
    if t.coeff == 0:
        return None
    changed, rounds = True, 0
    while changed and rounds <= MAX_ELIMINATIONS + len(t.factors):
        changed, rounds = False, rounds + 1
        budget.check()
        deltas = [b for b in t.factors if isinstance(b, sp.KroneckerDelta)]
        for base in sorted(deltas, key=lambda b: not all(_plain(a) for a in b.args)):
            if isinstance(base, sp.KroneckerDelta):
                result = _eliminate_delta(t, base, ctx)
                if result is None:
                    return None
                if result is not t:
                    t, changed = result, True
                    break
    if t.coeff == 0:
        return None
    if not ctx.display:
        t = _tightened(t, ctx)
        if t is None:
            return None
    t = _merge_exps(t, ctx)
    return _onehot_rows(_drop_unused(t), ctx)


def _unit_ranges(t: Term, ctx: Context) -> Term:
    """An index whose range is ``1..1`` is 1 (a kept dimension, ``keepdims``)."""
    ones = {a: _ONE for a, n in [*t.sums, *ctx.ranges.items()] if n == 1}
    if not ones:
        return t
    out = t.xreplace(ones)
    out.sums = [(a, n) for a, n in t.sums if a not in ones]
    return out


def _range(a: sp.Expr, t: Term, ctx: Context) -> sp.Expr | None:
    for b, n in t.sums:
        if b == a:
            return n
    return ctx.ranges.get(a)


def _eliminate_delta(t: Term, d: sp.KroneckerDelta, ctx: Context) -> Term | None:
    a, b = d.args
    if not _plain(a) or not _plain(b):
        return _eliminate_affine(t, d, ctx)
    dummies = [s for s, _ in t.sums]
    if a not in dummies and b in dummies:
        a, b = b, a
    if a in dummies:
        ra, rb = _range(a, t, ctx), _range(b, t, ctx)
        rest = Term(t.coeff, [(s, n) for s, n in t.sums if s != a],
                    {f: k for f, k in t.factors.items() if f != d})
        if rb is not None and ra is not None and sp.simplify(ra - rb) != 0 \
                and _bounded(in_range(b, 1, ra), rest, ctx) != 1:
            return t  # different ranges, b not surely in a's: δ stays
        return _settled(rest.xreplace({a: b}), ctx)
    if a.is_Integer and b.is_Integer:
        if a != b:
            return None
        return Term(t.coeff, t.sums, {f: k for f, k in t.factors.items() if f != d})
    first, later = sorted((a, b), key=_index_key)
    if later.is_Integer:
        return t
    others = Term(t.coeff, t.sums, {f: k for f, k in t.factors.items() if f != d})
    replaced = others.xreplace({later: first})
    if replaced.factors == others.factors and d.args == (first, later):
        return t
    replaced.factors[delta(first, later)] = _ONE
    return replaced


def _plain(a: sp.Expr) -> bool:
    return isinstance(a, sp.Symbol) or a.is_Integer


def _eliminate_affine(t: Term, d: sp.KroneckerDelta, ctx: Context) -> Term | None:
    """``Σ_a f(a) δ[a + c, e] = [1 ≤ e - c ≤ n] f(e - c)`` for a summation index ``a``
    of range ``1..n`` with coefficient ±1 in the δ; the bracket is left out where
    the indices' ranges keep ``e - c`` in ``1..n``. A δ between free indices only
    is written ``δ[k, e]`` for its last index ``k`` (coefficient ±1), and ``k``
    replaced by ``e`` in the rest of the term; any other δ stays as it is."""
    diff = sp.expand(d.args[0] - d.args[1])
    if diff.is_Integer:
        return None if diff != 0 else Term(t.coeff, t.sums,
                                          {f: k for f, k in t.factors.items() if f != d})
    others = {f: k for f, k in t.factors.items() if f != d}
    dummies = [s for s, _ in t.sums]
    choices = []
    for a in dummies:
        solved = _solve(diff, [a])
        if solved is None:
            continue
        a, value = solved
        rest = Term(t.coeff, [(s, m) for s, m in t.sums if s != a], others)
        cond = _bounded(_bracket(value, 1, _range(a, t, ctx), ctx), rest, ctx)
        if cond == 0:
            return None
        choices.append((cond != 1, len(choices), rest, cond, a, value))
    if choices:  # a summation index whose value is surely in range first
        _, _, rest, cond, a, value = min(choices, key=lambda c: c[:2])
        if cond != 1:
            rest.factors[cond] = rest.factors.get(cond, _ZERO) + 1
        return _settled(rest.xreplace({a: value}), ctx)
    free = sorted(_indices(diff), key=_index_key, reverse=True)
    solved = _solve(diff, free)
    if solved is None:
        return t
    later, value = solved
    canonical_delta = delta(later, value)
    replaced = Term(t.coeff, t.sums, others).xreplace({later: value})
    if replaced.factors == others and canonical_delta == d:
        return t
    replaced.factors[canonical_delta] = replaced.factors.get(canonical_delta, _ZERO) + 1
    return _settled(replaced, ctx)


def _solve(diff: sp.Expr, candidates: Sequence[sp.Symbol]) -> tuple | None:
    """The first of ``candidates`` with coefficient ±1 in the affine ``diff = 0``, and
    the integer it equals; None where none has (``2 a - k``: a is not an integer
    function of ``k``)."""
    if not _affine(diff):
        return None
    for a in candidates:
        if a not in diff.free_symbols:
            continue
        c = diff.coeff(a)
        if c in (_ONE, -_ONE):
            return a, sp.expand(-(diff - c * a) * c)
    return None


def _affine(e: sp.Expr) -> bool:
    """``e`` is an integer combination of integer symbols (``i + 2 k - n - 1``)."""
    for part in sp.Add.make_args(e):
        c, rest = part.as_coeff_Mul()
        if not c.is_Integer or not (rest == 1 or (isinstance(rest, sp.Symbol)
                                                  and rest.is_integer)):
            return False
    return True


def _bounds(e: sp.Expr, t: Term, ctx: Context) -> tuple | None:
    """Least and greatest values of the affine ``e`` over the ranges of its indices
    (sizes kept as symbols), or None where an index has no known range or ``e`` is
    not affine in its indices."""
    lo = hi = _ZERO
    for part in sp.Add.make_args(sp.expand(e)):
        found = _indices(part)
        if not found:
            lo, hi = lo + part, hi + part
            continue
        if len(found) > 1:
            return None
        (a,) = found
        c = part / a
        n = _range(a, t, ctx)
        if n is None or c.free_symbols or not c.is_Integer:
            return None
        ends = (c, c * n)
        lo, hi = lo + (ends[0] if c > 0 else ends[1]), hi + (ends[1] if c > 0 else ends[0])
    return sp.expand(lo), sp.expand(hi)


def _bounded(cond: sp.Expr, t: Term, ctx: Context) -> sp.Expr:
    """A bracket decided by the ranges of its indices where they decide it: 1 when
    every value in range is inside, 0 when none is; else the bracket itself."""
    if not isinstance(cond, InRange):
        return cond
    e, lo, hi = cond.args
    bounds = _bounds(e, t, ctx)
    if bounds is None:
        return cond
    least, most = bounds
    if _nonnegative(least - lo, ctx) and _nonnegative(hi - most, ctx):
        return _ONE
    if _nonnegative(lo - most - 1, ctx) or _nonnegative(least - hi - 1, ctx):
        return _ZERO
    return cond


def _nonnegative(e: sp.Expr, ctx: Context) -> bool:
    """Whether the integer ``e`` is at least 0 for all sizes: SymPy's answer from the
    sizes being positive, else ``e`` less a few of the premises ``P - 1 ≥ 0`` (every
    size such as ``n - k + 1`` is at least 1) is nonnegative by SymPy's answer."""
    e = sp.expand(e)
    if e.is_nonnegative:
        return True
    if e.is_negative or not ctx.premises or not e.free_symbols:
        return False
    steps = [p - 1 for p in ctx.premises]
    for c in itertools.product(range(3), repeat=min(len(steps), 3)):
        if any(c) and sp.expand(e - sum(k * q for k, q in zip(c, steps))).is_nonnegative:
            return True
    return False


def _tightened(t: Term, ctx: Context) -> Term | None:
    """``Σ_{a=1..n} [lo ≤ a ≤ hi] f(a) = Σ_{a=1..hi-lo+1} f(a + lo - 1)`` where the
    bounds use no index and ``1 ≤ lo``, ``hi ≤ n`` are known (else clipped to them):
    a sum over the part of a range a bracket selects (``dY[:, 3:6]`` against
    ``[4 ≤ j ≤ 6]``); None when that part is empty."""
    for _ in range(len(t.sums)):
        found = None
        for b in t.factors:
            if isinstance(b, InRange) and t.factors[b] == 1:
                a, lo, hi = b.args
                n = next((m for s, m in t.sums if s == a), None)
                if n is not None and not (_indices(lo) | _indices(hi)):
                    found = (b, a, lo, hi, n)
                    break
        if found is None:
            return t
        b, a, lo, hi, n = found
        lo = lo if _nonnegative(lo - 1, ctx) else _ONE if _nonnegative(1 - lo, ctx) else None
        hi = hi if _nonnegative(n - hi, ctx) else n if _nonnegative(hi - n, ctx) else None
        if lo is None or hi is None or not _nonnegative(hi - lo + 1, ctx):
            if lo is not None and hi is not None and _nonnegative(lo - hi - 2, ctx):
                return None
            return t
        rest = Term(t.coeff, [s for s in t.sums if s[0] != a],
                    {f: k for f, k in t.factors.items() if f != b}).xreplace({a: a + lo - 1})
        rest.sums = [(s, m) if s != a else (a, sp.expand(hi - lo + 1)) for s, m in t.sums]
        t = _settled(rest, ctx)
        if t.coeff == 0:
            return None
    return t


def _settled(t: Term, ctx: Context) -> Term:
    """Every bracket of ``t`` in canonical form and decided where the ranges decide it."""
    brackets = [b for b in t.factors if isinstance(b, InRange)]
    if not brackets:
        return t
    out = Term(t.coeff, t.sums, {f: k for f, k in t.factors.items() if f not in brackets})
    for b in brackets:
        cond = _bounded(_bracket(*b.args, ctx), out, ctx)
        if cond == 0:
            out.coeff = _ZERO
        elif cond != 1:
            out.factors[cond] = _ONE  # a bracket squared is itself
    return out


def _index_key(a: sp.Expr) -> tuple:
    return (0, int(a), "") if a.is_Integer else (1, 0, str(a))


def _drop_unused(t: Term) -> Term:
    used = set().union(*(b.free_symbols for b in t.factors)) if t.factors else set()
    coeff, sums = t.coeff, []
    for a, n in t.sums:
        if a in used:
            sums.append((a, n))
        else:
            coeff *= n
    return Term(coeff, sums, t.factors)


def _onehot_rows(t: Term, ctx: Context) -> Term:
    """``Σ_j T[k,j] = 1`` for a one-hot ``T`` summed along its last axis."""
    for a, n in list(t.sums):
        using = [b for b in t.factors if a in b.free_symbols]
        if len(using) == 1 and t.factors[using[0]] == 1 and isinstance(using[0], sp.Indexed) \
                and str(using[0].base) in ctx.onehot and using[0].indices[-1] == a \
                and a not in set().union(*(i.free_symbols for i in using[0].indices[:-1])):
            t = Term(t.coeff, [(s, m) for s, m in t.sums if s != a],
                     {f: k for f, k in t.factors.items() if f != using[0]})
    return t


def _merge_exps(t: Term, ctx: Context) -> Term:
    """``exp(a) * exp(b)**2`` is ``exp(a + 2*b)``; ``exp(0)`` is dropped."""
    exps = [b for b in t.factors if isinstance(b, sp.exp)]
    if len(exps) < 2 and not any(t.factors[b] != 1 for b in exps):
        return t
    total = sp.Add(*(b.args[0] * t.factors[b] for b in exps))
    factors = {b: k for b, k in t.factors.items() if b not in exps}
    coeff = t.coeff
    if total != 0:
        merged = canonical(total, ctx, 1)
        if merged != 0 and ctx.display:  # read as a product of exps, as written
            for a in sp.Add.make_args(merged):
                c, rest = a.as_coeff_Mul()
                factors[sp.exp(rest)] = factors.get(sp.exp(rest), _ZERO) + c
        elif merged != 0:
            atom = sp.exp(merged)
            if isinstance(atom, sp.exp):
                factors[atom] = _ONE
            else:
                coeff = coeff * atom
    return Term(coeff, t.sums, factors)


# -- canonical form ---------------------------------------------------------------------------

def normal(expr: sp.Expr, ctx: Context, depth: int = 0, whole: bool = True) -> list[Term]:
    """``expr`` as δ-eliminated terms with canonical summation indices, equal terms
    collected and vanishing ones dropped."""
    collected: dict[str, Term] = {}
    for t in terms(expr, ctx, depth, whole):
        t = eliminate(t, ctx)
        if t is None:
            continue
        t = rename(t, depth, ctx)
        if t.coeff == 0:
            continue
        key = _key(t)
        if key in collected:
            old = collected[key]
            collected[key] = Term(old.coeff + t.coeff, old.sums, old.factors)
        else:
            collected[key] = t
    out = []
    for key in sorted(collected):
        t = collected[key]
        coeff = sp.cancel(sp.expand(t.coeff))
        if coeff != 0:
            out.append(Term(coeff, t.sums, t.factors))
    return out


def canonical(expr: sp.Expr, ctx: Context, depth: int = 0, whole: bool = True) -> sp.Expr:
    """``expr`` rebuilt from its normal form: equal entries give equal expressions."""
    key = (expr, depth, whole, len(ctx.atoms))
    if key not in ctx.memo:
        ctx.memo[key] = sp.Add(*(t.expr() for t in normal(expr, ctx, depth, whole)))
    return ctx.memo[key]


def _key(t: Term) -> str:
    parts = sorted(f"{b}**{k}" for b, k in t.factors.items())
    return f"{[n for _, n in t.sums]}|{'*'.join(parts)}"


def rename(t: Term, depth: int, ctx: Context | None = None) -> Term:
    """The term with its summation indices named ``_<depth>_1, _<depth>_2, ...`` in
    the order that prints smallest (every order for a few, else first use); a
    summation index read backwards somewhere (``w[k - r + 1]``) is also tried
    reflected, ``r -> k + 1 - r`` (the same sum), and the smallest print kept."""
    if not t.sums:
        return t
    best = None
    for variant in _reflections(t, ctx):
        candidate = _renamed(variant, depth)
        key = _key(candidate)
        if best is None or key < best[0]:
            best = (key, candidate)
    return best[1]


_MAX_REFLECTED = 3  # summation indices per term tried both ways


def _reflections(t: Term, ctx: Context | None) -> list[Term]:
    """``t`` with its summation indices oriented: ``a -> n + 1 - a`` where the entries
    read ``a`` backwards on balance (its coefficients in their indices sum below 0;
    a reflection negates that sum, so equal terms get the same orientation), and
    both ways where they are balanced (``dF[k - a + 1] w[a]``)."""
    if ctx is not None and ctx.display:
        return [t]  # read as written
    fixed, both = {}, []
    for a, n in t.sums:
        weight = sum((sp.expand(arg).coeff(a) * k for b, k in t.factors.items()
                      for x in b.atoms(sp.Indexed) for arg in x.indices), _ZERO)
        if weight.is_negative:
            fixed[a] = n + 1 - a
        elif weight == 0 and any(a in b.free_symbols for b in t.factors):
            both.append((a, n))
    if len(both) > _MAX_REFLECTED:
        both = []
    out = []
    for chosen in itertools.product((False, True), repeat=len(both)):
        mapping = dict(fixed)
        mapping.update({a: n + 1 - a for (a, n), flip in zip(both, chosen) if flip})
        if not mapping:
            out.append(t)
            continue
        variant = Term(t.coeff, [], t.factors).xreplace(mapping)
        variant.sums = list(t.sums)  # the same indices, each over the same range
        out.append(_settled(variant, ctx or Context()))
    return out


def _renamed(t: Term, depth: int) -> Term:
    names = [index(f"_{depth}_{n + 1}") for n in range(len(t.sums))]
    if len(t.sums) <= _MAX_PERMUTED:
        orders = itertools.permutations(range(len(t.sums)))
    else:
        orders = [tuple(range(len(t.sums)))]
    best = None
    for order in orders:
        mapping = {t.sums[p][0]: names[n] for n, p in enumerate(order)}
        candidate = _rebracketed(t.xreplace(mapping))
        candidate.sums = sorted(candidate.sums, key=lambda s: str(s[0]))
        key = _key(candidate)
        if best is None or key < best[0]:
            best = (key, candidate)
    return best[1]


def _rebracketed(t: Term) -> Term:
    """``t`` with its brackets in canonical form again after a renaming (which index
    comes first, and so the bracket's orientation, depends on the names)."""
    if not any(isinstance(b, InRange) for b in t.factors):
        return t
    out = Term(t.coeff, t.sums, {})
    for b, k in t.factors.items():
        new = in_range(*b.args) if isinstance(b, InRange) else b
        if new.is_Number:
            out.coeff *= new ** k
        else:
            out.factors[new] = out.factors.get(new, _ZERO) + k
    return out


def eliminated(expr: sp.Expr, ctx: Context, taken: Iterable[str] = ()) -> sp.Expr:
    """``expr`` with its δs summed out, for reading: functions kept as written,
    summation indices renamed to free letters (``m``, ``n``, ...) not in ``taken``,
    common factors taken out (``p[i] (δ[i,j] - p[j])``).

    Examples
    --------
    >>> i, j, k, l = (index(c) for c in "ijkl")
    >>> a = fresh()
    >>> e = summation(entry("X", (i, a)) * delta(a, k) * delta(j, l), (a, size("d")))
    >>> eliminated(e, Context({k: size("d")})) == entry("X", (i, k)) * delta(j, l)
    True
    """
    shown = Context(ctx.ranges, ctx.onehot, ctx.premises)
    shown.display = True
    shown.note_atoms(expr)
    out = []
    for t in terms(expr, shown):
        t = eliminate(t, shown)
        if t is not None:
            out.append(t.expr())
    result = sp.Add(*out)
    if not result.has(sp.Sum):
        result = sp.factor_terms(result)
    return readable(result, taken)


def readable(expr: sp.Expr, taken: Iterable[str] = ()) -> sp.Expr:
    """Summation indices made by the algebra (``_s17``) given back the name they
    replaced where that is free in their term, else ``m``, ``n``, ``p``, ..."""
    taken = set(taken) | {str(s) for s in expr.free_symbols}
    return sp.Add(*(_readable_term(t, taken) for t in sp.Add.make_args(expr)))


def _made(a: sp.Symbol) -> tuple:
    """When a summation index was made (``_s17`` before ``_s23``): ties broken the same
    way in every run, not by the order of a set."""
    digits = str(a)[2:]
    return (0, int(digits)) if str(a).startswith("_s") and digits.isdigit() else (1, str(a))


def _readable_term(term: sp.Expr, taken: set[str]) -> sp.Expr:
    dummies = sorted({a for s in term.atoms(sp.Sum) for a, _, _ in s.limits
                      if str(a).startswith("_")}, key=lambda a: (str(_ORIGIN.get(a, a)),
                                                                 _made(a)))
    used = set(taken)
    mapping = {}
    for a in dummies:
        origin = str(_ORIGIN.get(a, a))
        name = origin if not origin.startswith("_") and origin not in used else \
            next(c for c in [*"mnpqrstuvwabcefgh", *(f"m{n}" for n in range(1, 99))]
                 if c not in used)
        used.add(name)
        mapping[a] = index(name)
    return term.xreplace(mapping)


# -- decision ---------------------------------------------------------------------------------

PROVED, DIFFERS, UNDECIDED = "proved", "differs", "undecided"
_POINTS = 3  # index points tried at each concrete size


@dataclass(frozen=True)
class Decision:
    """Whether two index expressions are equal for all sizes.

    Attributes
    ----------
    verdict : str
        ``"proved"`` (equal for every size and index in range), ``"differs"``
        (a witness found) or ``"undecided"`` (neither; agrees where tried).
    witness : dict
        For ``"differs"``: the sizes, indices and both values where they differ.
    note : str
        How it was decided, in words.
    """

    verdict: str
    witness: Mapping = field(default_factory=dict)
    note: str = ""

    @property
    def proved(self) -> bool:
        return self.verdict == PROVED


def decide(a: sp.Expr, b: sp.Expr, ctx: Context, tries: int = 3, seed: int = 0) -> Decision:
    """Are ``a`` and ``b`` equal for all sizes?

    Proved when their difference has no term left in normal form; otherwise
    both are evaluated at small concrete sizes (all different, so a transposed
    rule cannot pass) and random entries: a difference is a witness, and
    agreement everywhere tried is *undecided*, not proved.

    Examples
    --------
    >>> i, k = index("i"), index("k")
    >>> n = size("n")
    >>> ctx = Context({k: n})
    >>> s = summation(entry("x", (i,)) * delta(i, k), (i, n))
    >>> decide(s, entry("x", (k,)), ctx).verdict
    'proved'
    >>> d = decide(s, 2 * entry("x", (k,)), ctx)
    >>> d.verdict, sorted(d.witness)
    ('differs', ['indices', 'left', 'right', 'sizes'])
    """
    try:
        ctx.note_atoms(a, b)
        rest = normal(a - b, ctx)
    except TooLarge:
        return _search(a, b, ctx, tries, seed, "too large to multiply out; ")
    if not rest:
        return Decision(PROVED, {}, "for all sizes, by δ-elimination and canonical summation "
                                    "indices")
    if _entrywise_zero(rest):
        return Decision(PROVED, {}, "for all sizes, by δ-elimination and an identity of the "
                                    "entries (SymPy's simplify)")
    return _search(a, b, ctx, tries, seed)


def _entrywise_zero(rest: list[Term], seconds: float = 2.0) -> bool:
    """What is left has no sums: an identity between functions of single entries
    (``1 + cot(x)**2 = csc(x)**2``), decided with each entry a real symbol."""
    from ..symbolic.simplify import is_zero  # noqa: PLC0415
    if any(t.sums for t in rest):
        return False
    expr = sp.Add(*(t.expr() for t in rest))
    if expr.has(sp.Sum):
        return False
    entries = {x: sp.Dummy(real=True) for x in expr.atoms(sp.Indexed)}
    plain = expr.xreplace(entries)
    if plain.has(TrigonometricFunction) and sp.trigsimp(plain) == 0:
        return True  # 1 + cot(x)**2 = csc(x)**2, quicker than simplify
    return bool(is_zero(plain, seconds))


def _search(a: sp.Expr, b: sp.Expr, ctx: Context, tries: int, seed: int,
            why: str = "") -> Decision:
    rng = random.Random(seed)
    sizes = sorted({s for e in (a, b) for s in e.free_symbols if s.is_positive and s.is_integer}
                   | {s for n in ctx.ranges.values() for s in sp.sympify(n).free_symbols},
                   key=str)
    bounds = _size_bounds(a, b, ctx)
    valid, attempt = 0, -1
    while valid < tries and attempt < 4 * tries:
        attempt += 1
        grow = attempt if len(sizes) < 2 else attempt // len(sizes) if bounds else 0
        values = {s: 2 + (n + attempt) % max(len(sizes), 1) + grow
                  for n, s in enumerate(sizes)}
        if any((bound.xreplace(values) - 1).is_negative is not False for bound in bounds):
            continue  # a size such as n - k + 1 below 1: no such arrays
        valid += 1
        for _ in range(_POINTS):  # a few indices: a shifted rule may agree at one
            for signs in (POSITIVE, MIXED):  # mixed signs: relu's step(Z) is not always 1
                point = _instantiate(a, b, ctx, values, rng, signs)
                if point is None:
                    continue
                left, right, indices = point
                if abs(left - right) > 1e-9 * (1 + abs(left) + abs(right)):
                    return Decision(DIFFERS, {"sizes": {str(s): v for s, v in values.items()},
                                              "indices": indices, "left": left,
                                              "right": right}, "at a concrete size")
            if not ctx.ranges:
                break
    return Decision(UNDECIDED, {}, f"{why}not proved for all sizes; agrees at {tries} "
                                   "concrete sizes")


def _size_bounds(a: sp.Expr, b: sp.Expr, ctx: Context) -> list[sp.Expr]:
    """The sizes ``a`` and ``b`` are stated at that are expressions of names (``n - k +
    1``): a witness is only searched where each is at least 1."""
    found = {n if isinstance(n, sp.Basic) else sp.Integer(n) for n in ctx.ranges.values()}
    for e in (a, b):
        for s in e.atoms(sp.Sum):
            found |= {hi - lo + 1 for _, lo, hi in s.limits}
    return [n for n in found if n.free_symbols and not _indices(n) and not n.is_Symbol]


def written_out(expr: sp.Expr, values: Mapping) -> sp.Expr:
    """``expr`` at concrete sizes and indices (``values``), its sums written out term by
    term (outermost first, so inner ranges become concrete); much faster than
    ``Sum.doit`` on entries with Kronecker deltas.

    Examples
    --------
    >>> a, n = fresh(), size("n")
    >>> written_out(summation(entry("x", (a,)), (a, n)), {n: 3})
    x[1] + x[2] + x[3]
    """
    return _write_out(sp.sympify(expr).xreplace(dict(values)))


def _write_out(e: sp.Expr) -> sp.Expr:
    if isinstance(e, sp.Sum):
        (a, lo, hi), rest = e.limits[-1], e.limits[:-1]  # the outermost
        body = sp.Sum(e.function, *rest) if rest else e.function
        return sp.Add(*(_write_out(body.xreplace({a: sp.Integer(v)}))
                        for v in range(int(lo), int(hi) + 1)))
    if not e.args or not e.has(sp.Sum):
        return e
    return e.func(*(_write_out(x) for x in e.args))


#: How the entries of a witness search are drawn: inside every log's and sqrt's domain
#: first, then with both signs (a point outside a domain is skipped, never a witness).
POSITIVE, MIXED = "positive", "mixed"


def _draw(rng, signs: str) -> float:
    value = rng.uniform(0.2, 0.9)
    return value if signs == POSITIVE or rng.random() < 0.5 else -value


def _instantiate(a, b, ctx, values, rng, signs: str = POSITIVE):
    indices = {}
    for s, n in ctx.ranges.items():
        upper = int(sp.sympify(n).xreplace(values))
        indices[s] = rng.randint(1, upper)
    exprs = [written_out(e, {**values, **indices}) for e in (a, b)]
    entries = {}
    for e in exprs:
        for x in sorted(e.atoms(sp.Indexed), key=str):
            entries.setdefault(x, _draw(rng, signs))
    for name in ctx.onehot:
        _onehot_values(entries, name, rng)
    for e in exprs:
        for x in e.free_symbols - set(entries):
            entries[x] = _draw(rng, signs)
    entries = {x: sp.Float(v) for x, v in entries.items()}
    try:
        left, right = (complex(sp.sympify(e.xreplace(entries)).evalf()) for e in exprs)
    except (TypeError, ValueError):
        return None
    if left.imag or right.imag:
        return None
    return left.real, right.real, {str(s): v for s, v in indices.items()}


def _onehot_values(entries: dict, name: str, rng) -> None:
    rows: dict[tuple, list] = {}
    for x in entries:
        if str(x.base) == name:
            rows.setdefault(tuple(x.indices[:-1]), []).append(x)
    for row in rows.values():
        hot = rng.choice(row)
        for x in row:
            entries[x] = 1.0 if x == hot else 0.0
