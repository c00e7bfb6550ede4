"""Index expressions as the lectures write them: text ``X[i,k] δ[j,l]`` and LaTeX
``X_{ik} \\delta_{jl}``.

Factors of a product are written in the order of their indices among the
Jacobian's axes (``δ[i,j] x[k]``, ``X[i,k] δ[j,l]``, ``p[i] (δ[i,j] − p[j])``),
so the same entry always reads the same way; divisors come last, after ``/``.
Among factors with the same indices a gradient named by the caller (``first``:
the upstream gradient of a backward step) comes first, as the lectures write
it: ``dY[k,l] Y[k,l]``, not ``Y[k,l] dY[k,l]``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Sequence

import sympy as sp

from ..ops.printing import decimal_text

_MINUS = "−"


def decimal(r: sp.Expr) -> str | None:
    """A typed decimal written back as one (``3989422804/5000000000`` -> ``0.7978845608``),
    by the calculator's own rule (:func:`~jacobian_calc.ops.printing.decimal_text`);
    None for any other number (``1/8`` stays a fraction, as the lectures write it).

    Examples
    --------
    >>> decimal(sp.Rational(3989422804, 5000000000)), decimal(sp.Rational(1, 8))
    ('0.7978845608', None)
    """
    return decimal_text(Fraction(int(r.p), int(r.q))) if isinstance(r, sp.Rational) else None


class IndexPrinter:
    """Text of an index expression; ``order`` lists the free indices in axis order,
    ``first`` the names of gradients written first among factors with the same indices."""

    def __init__(self, order: Sequence[sp.Symbol] = (), first: Iterable[str] = ()):
        self.order = {s: n for n, s in enumerate(order)}
        self.first = frozenset(first)

    # -- dispatch ----------------------------------------------------------------------
    def doprint(self, e: sp.Expr) -> str:
        return self.show(sp.sympify(e))

    def show(self, e: sp.Expr) -> str:
        for cls in type(e).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(e)
        return str(e)

    def key(self, e: sp.Expr) -> tuple:
        """Where a factor or term goes: by the positions of its free indices."""
        found = sorted(self.order[s] for s in e.free_symbols if s in self.order)
        rank = _GRADIENT if self.gradient(e) else _rank(e)
        return (1 if found else 0, tuple(found), rank, str(e))

    def gradient(self, e: sp.Expr) -> bool:
        """Whether ``e`` is an entry of a gradient in ``first`` (``dY[i,j]``, or ``dz``)."""
        if isinstance(e, sp.Indexed):
            return str(e.base) in self.first
        return isinstance(e, sp.Symbol) and e.name in self.first

    # -- leaves --------------------------------------------------------------------------
    def _print_Indexed(self, e: sp.Indexed) -> str:
        return f"{e.base}[{','.join(self.index(i) for i in e.indices)}]"

    def _print_KroneckerDelta(self, e) -> str:
        return f"δ[{self.index(e.args[0])},{self.index(e.args[1])}]"

    def _print_InRange(self, e) -> str:
        x, lo, hi = (self.index(a) for a in e.args)
        return f"[{lo} ≤ {x} ≤ {hi}]"

    def index(self, e: sp.Expr) -> str:
        """An index position: sizes first, then added indices, a positive constant,
        subtracted indices, a negative constant (``n + 1 − j``, ``2 i − 1``)."""
        minus = _MINUS if type(self) is IndexPrinter else "-"
        if e.is_Number and e.is_negative:
            return minus + self.show(-e)
        if not isinstance(e, sp.Add):
            return self.show(e)
        out = ""
        for n, t in enumerate(sorted(e.args, key=_index_part_key)):
            negative = t.could_extract_minus_sign()
            body = self.show(-t if negative else t)
            out += (minus if negative else "") + body if n == 0 else \
                f" {minus if negative else '+'} {body}"
        return out

    def _print_Symbol(self, e) -> str:
        return e.name

    def _print_Rational(self, e) -> str:
        if e.is_negative:
            return _MINUS + self.show(-e)
        return decimal(e) or str(e)

    def _print_Exp1(self, e) -> str:
        return "E"

    def _print_Pi(self, e) -> str:
        return "pi"

    # -- structure -------------------------------------------------------------------------
    def _print_Sum(self, e: sp.Sum) -> str:
        body = self.show(e.function)
        if isinstance(e.function, sp.Add):
            body = f"({body})"
        signs = " ".join(self.sum_sign(a, hi) for a, _, hi in reversed(e.limits))
        return f"{signs} {body}"

    def sum_sign(self, a, hi) -> str:
        return f"Σ_{self.show(a)}"

    def _print_Add(self, e: sp.Add) -> str:
        terms = sorted(e.args, key=self.term_key)
        out = ""
        for n, t in enumerate(terms):
            negative = t.could_extract_minus_sign()
            text = self.show(-t if negative else t)
            if n == 0:
                out = f"{_MINUS}{text}" if negative else text
            else:
                out += f" {_MINUS} {text}" if negative else f" + {text}"
        return out

    def term_key(self, t: sp.Expr) -> tuple:
        """Positive terms first, then by their indices."""
        negative = t.could_extract_minus_sign()
        return (negative,) + self.key(-t if negative else t)

    def _print_Mul(self, e: sp.Mul) -> str:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_negative:
            return f"{_MINUS}{self.show(sp.Mul(-coeff, rest))}"
        top, bottom = [], []
        for f in sp.Mul.make_args(rest):
            base, k = f.as_base_exp()
            if k.is_Rational and k.is_negative:
                bottom.append(sp.Pow(base, -k))
            else:
                top.append(f)
        if not coeff.is_Rational or decimal(coeff):
            top.insert(0, coeff)
        else:
            if coeff.q != 1:
                bottom.insert(0, sp.Integer(coeff.q))
            if coeff.p != 1 or not top:
                top.insert(0, sp.Integer(coeff.p))
        text = self.product(sorted(top, key=self.key) if len(top) > 1 else top, bool(bottom))
        if bottom:
            text += f" / {self.divisor(bottom)}"
        return text

    def product(self, factors: list, divided: bool = False) -> str:
        """Factors side by side; a sum of terms in parentheses, and a Σ too unless it
        is the last factor (and nothing divides the product)."""
        parts = []
        for n, f in enumerate(factors):
            text = self.show(f)
            if isinstance(f, sp.Add) or (isinstance(f, sp.Sum)
                                         and (n < len(factors) - 1 or divided)):
                text = f"({text})"
            parts.append(text)
        return self.join(parts)

    def join(self, parts: list[str]) -> str:
        return " ".join(parts)

    def divisor(self, factors: list) -> str:
        text = self.product(factors)
        if len(factors) == 1 and not isinstance(factors[0], (sp.Sum, sp.Mul)):
            return text  # an atom, or a sum of terms already in parentheses
        return f"({text})"

    def _print_Pow(self, e: sp.Pow) -> str:
        base, k = e.args
        if k == sp.S.Half:
            return f"sqrt({self.show(base)})"
        if k.is_Rational and k.is_negative:
            return f"1 / {self.divisor([sp.Pow(base, -k)])}"
        b = self.show(base)
        if not isinstance(base, (sp.Indexed, sp.Symbol, sp.Function, sp.KroneckerDelta)):
            b = f"({b})"
        plain = k.is_Atom and not (k.is_Rational and not k.is_Integer) and not k.is_negative
        return f"{b}**{self.show(k) if plain else '(' + self.show(k) + ')'}"  # x**(3/2)

    def _print_Function(self, e) -> str:
        name = _function_name(e)
        return f"{name}({', '.join(self.show(a) for a in e.args)})"


class IndexLatexPrinter(IndexPrinter):
    """LaTeX of an index expression: ``X_{ik} \\delta_{jl}``, ``\\sum_{i=1}^{N}``."""

    def _print_Indexed(self, e: sp.Indexed) -> str:
        return entry_tex(str(e.base), [self.index(i) for i in e.indices])

    def subscript(self, indices) -> str:
        return _joined([self.index(i) for i in indices])

    def _print_KroneckerDelta(self, e) -> str:
        return rf"\delta_{{{self.subscript(e.args)}}}"

    def _print_InRange(self, e) -> str:
        x, lo, hi = (self.index(a) for a in e.args)
        return rf"\left[{lo} \le {x} \le {hi}\right]"

    def _print_Symbol(self, e) -> str:
        return sp.latex(e)

    def _print_Rational(self, e) -> str:
        return decimal(e) or sp.latex(e)

    def _print_Exp1(self, e) -> str:
        return "e"

    def _print_Pi(self, e) -> str:
        return r"\pi"

    def sum_sign(self, a, hi) -> str:
        return rf"\sum_{{{self.show(a)}=1}}^{{{self.show(hi)}}}"

    def _print_Add(self, e) -> str:
        return super()._print_Add(e).replace(_MINUS, "-")

    def _print_Mul(self, e: sp.Mul) -> str:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_negative:
            return f"-{self.show(sp.Mul(-coeff, rest))}"
        top, bottom = [], []
        for f in sp.Mul.make_args(rest):
            base, k = f.as_base_exp()
            (bottom.append(sp.Pow(base, -k)) if k.is_Rational and k.is_negative
             else top.append(f))
        if not coeff.is_Rational or decimal(coeff):
            top.insert(0, coeff)
        else:
            if coeff.q != 1:
                bottom.insert(0, sp.Integer(coeff.q))
            if coeff.p != 1 or not top:
                top.insert(0, sp.Integer(coeff.p))
        text = self.product(sorted(top, key=self.key) if len(top) > 1 else top)
        if bottom:
            return rf"\frac{{{text}}}{{{self.product(bottom)}}}"
        return text

    def product(self, factors: list) -> str:
        parts = []
        for n, f in enumerate(factors):
            text = self.show(f)
            if isinstance(f, sp.Add) or (isinstance(f, sp.Sum) and n < len(factors) - 1):
                text = rf"\left({text}\right)"
            parts.append(text)
        return " ".join(parts)

    def _print_Sum(self, e: sp.Sum) -> str:
        body = self.show(e.function)
        if isinstance(e.function, sp.Add):
            body = rf"\left({body}\right)"
        signs = " ".join(self.sum_sign(a, hi) for a, _, hi in reversed(e.limits))
        return f"{signs} {body}"

    def _print_Pow(self, e: sp.Pow) -> str:
        base, k = e.args
        if k == sp.S.Half:
            return rf"\sqrt{{{self.show(base)}}}"
        if k.is_Rational and k.is_negative:
            return rf"\frac{{1}}{{{self.show(sp.Pow(base, -k))}}}"
        b = self.show(base)
        if not isinstance(base, (sp.Indexed, sp.Symbol, sp.KroneckerDelta)):
            b = rf"\left({b}\right)"
        return f"{b}^{{{self.show(k)}}}"

    def _print_Function(self, e) -> str:
        head = sp.latex(type(e)(sp.Symbol("ARG")))
        return head.replace("ARG", self.show(e.args[0]), 1) if len(e.args) == 1 else sp.latex(e)


def entry_tex(name: str, indices: Sequence[str]) -> str:
    r"""``X_{ik}``; a name with its own subscript is braced: ``{W_{1}}_{ik}``."""
    base = sp.latex(sp.Symbol(name))
    if not indices:
        return base
    if "_" in base or "^" in base:
        base = "{" + base + "}"
    return f"{base}_{{{_joined(list(indices))}}}"


def _joined(parts: list[str]) -> str:
    return ("" if all(len(p) == 1 for p in parts) else ",").join(parts)


def _index_part_key(t: sp.Expr) -> tuple:
    """Sizes (positive symbols) first, then added indices, a positive constant,
    subtracted indices, a negative constant: ``n + 1 − j``, ``i + r − 1``, ``3 − i``."""
    if t.is_Number:
        return (4 if t.is_negative else 2, "")
    if all(s.is_positive for s in t.free_symbols):  # n − k + 1: subtracted sizes after
        return (0.5 if t.could_extract_minus_sign() else 0, str(t.as_coeff_Mul()[1]))
    return (3 if t.could_extract_minus_sign() else 1, str(t.as_coeff_Mul()[1]))


#: The rank of a gradient's entry: after a number, before any other factor.
_GRADIENT = -0.5


def _rank(e: sp.Expr) -> int:
    """Among factors with the same indices: entries, then functions, deltas, sums."""
    if e.is_Number:
        return -1
    if isinstance(e, sp.Indexed):
        return 0
    if isinstance(e, sp.KroneckerDelta) or type(e).__name__ == "InRange":
        return 2
    return 3 if isinstance(e, (sp.Add, sp.Sum)) else 1


def _function_name(e) -> str:
    """The calculator's name of a SymPy function (``Abs`` is ``abs``)."""
    from ..symbolic.classes import function_ops  # noqa: PLC0415
    op = function_ops().get(type(e))
    return op.name if op is not None else type(e).__name__


def size_text(n) -> str:
    """An index range's upper end: ``N``, ``4``, ``n − k + 1``.

    Examples
    --------
    >>> n, k = (sp.Symbol(c, integer=True, positive=True) for c in "nk")
    >>> size_text(1 - k + n)
    'n − k + 1'
    """
    return IndexPrinter().index(n if isinstance(n, sp.Basic) else sp.Integer(n))


def size_latex(n) -> str:
    """An index range's upper end in LaTeX: ``N``, ``n - k + 1``."""
    return IndexLatexPrinter().index(n if isinstance(n, sp.Basic) else sp.Integer(n))


def text(e: sp.Expr, order: Sequence[sp.Symbol] = (), first: Iterable[str] = ()) -> str:
    """The text of an index expression; gradients named in ``first`` lead among factors
    with the same indices.

    Examples
    --------
    >>> from jacobian_calc.index.algebra import index, entry, delta
    >>> i, j, k, l = (index(c) for c in "ijkl")
    >>> text(delta(j, l) * entry("X", (i, k)), (i, j, k, l))
    'X[i,k] δ[j,l]'
    >>> Y, dY = entry("Y", (k, l)), entry("dY", (k, l))
    >>> text(Y * dY, (k, l)), text(Y * dY, (k, l), first=["dY"])
    ('Y[k,l] dY[k,l]', 'dY[k,l] Y[k,l]')
    """
    return IndexPrinter(order, first).doprint(e)


def latex(e: sp.Expr, order: Sequence[sp.Symbol] = (), first: Iterable[str] = ()) -> str:
    """The LaTeX of an index expression (``X_{ik} \\delta_{jl}``); ``first`` as in
    :func:`text`."""
    return IndexLatexPrinter(order, first).doprint(e)
