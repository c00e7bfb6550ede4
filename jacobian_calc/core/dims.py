"""Dimensions that are integer expressions of dimension names: ``n - k + 1``.

A dimension is a number (``3``), a name (``"n"``) or, where an operation's
output size is computed from its inputs' (a convolution's ``n - k + 1``, a
padding's ``n + 2``, a concatenation's ``n1 + n2``), a :class:`DimExpr`: a
``str`` (so that code asking "is this size symbolic?" treats it as a name
does) that carries its SymPy expression. Its text is canonical, so equal
sizes have equal text: ``n - k + 1`` and ``n + 1 - k`` are the same
dimension.

Examples
--------
>>> import sympy as sp
>>> n, k = symbol("n"), symbol("k")
>>> d = as_dim(n + 1 - k)
>>> d, d == as_dim(n - k + 1), d.at({"n": 5, "k": 3})
('n - k + 1', True, 3)
>>> as_dim(n + 0 * k), as_dim(sp.Integer(4))
('n', 4)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from .errors import JacobianError

if TYPE_CHECKING:
    import sympy as sp


def symbol(name: str) -> "sp.Symbol":
    """The dimension name ``name`` as SymPy sees it: a positive integer."""
    import sympy as sp  # noqa: PLC0415 - --help and --rules load no SymPy
    return sp.Symbol(name, integer=True, positive=True)


class DimExpr(str):
    """A dimension that is an integer expression of names (``n - k + 1``).

    Build it with :func:`as_dim`; ``expr`` is the SymPy expression, the text
    its canonical form (names with positive coefficients first, then the
    negative ones, then the number).
    """

    expr: sp.Expr

    def __new__(cls, expr: sp.Expr) -> "DimExpr":
        self = super().__new__(cls, dim_text(expr))
        self.expr = expr
        return self

    def __reduce__(self):
        return (DimExpr, (self.expr,))

    @property
    def names(self) -> list[str]:
        """The dimension names it is made of, sorted."""
        return sorted(str(s) for s in self.expr.free_symbols)

    def at(self, sizes: Mapping[str, int]) -> int:
        """Its value with the names at ``sizes``."""
        import sympy as sp  # noqa: PLC0415
        value = self.expr.xreplace({symbol(n): sp.Integer(v) for n, v in sizes.items()})
        if not value.is_Integer:
            raise JacobianError(f"the size {self} is not a whole number at "
                                f"{', '.join(f'{n}={v}' for n, v in sizes.items())}")
        return int(value)


def dim_text(expr: sp.Expr) -> str:
    """``n - k + 1``: positive terms first (names sorted), negative ones, the number last."""
    import sympy as sp  # noqa: PLC0415
    expr = sp.expand(expr) if isinstance(expr, sp.Basic) else sp.Integer(expr)
    number, rest = expr.as_coeff_Add()
    terms = sorted(sp.Add.make_args(rest) if rest != 0 else (),
                   key=lambda t: (bool(t.as_coeff_Mul()[0] < 0), str(t.as_coeff_Mul()[1])))
    parts = [(t.as_coeff_Mul()[0], t.as_coeff_Mul()[1]) for t in terms]
    if number:
        parts.append((number, sp.S.One))
    out = ""
    for n, (c, body) in enumerate(parts):
        word = str(abs(c)) if body == 1 else (str(body) if abs(c) == 1 else
                                              f"{abs(c)}*{body}")
        if n == 0:
            out = f"-{word}" if c < 0 else word
        else:
            out += f" - {word}" if c < 0 else f" + {word}"
    return out or "0"


def as_sympy(d) -> sp.Expr:
    """A dimension (number, name or :class:`DimExpr`) as a SymPy expression."""
    import sympy as sp  # noqa: PLC0415
    if isinstance(d, DimExpr):
        return d.expr
    if isinstance(d, str):
        return symbol(d)
    return sp.Integer(d)


def as_dim(expr) -> "int | str":
    """A SymPy expression of dimension names as a dimension: a number as ``int``, one
    name as its ``str``, else a :class:`DimExpr`."""
    import sympy as sp  # noqa: PLC0415
    expr = sp.expand(expr) if isinstance(expr, sp.Basic) else sp.Integer(expr)
    if expr.is_Integer:
        return int(expr)
    if isinstance(expr, sp.Symbol):
        return str(expr)
    return DimExpr(expr)


def add(*dims) -> "int | str":
    """The sum of dimensions (``n1 + n2``; ``n - k`` with a negative coefficient)."""
    import sympy as sp  # noqa: PLC0415
    return as_dim(sp.Add(*(as_sympy(d) for d in dims)))


def names_of(d) -> list[str]:
    """The dimension names a dimension is made of (``[]`` for a number)."""
    if isinstance(d, DimExpr):
        return d.names
    return [d] if isinstance(d, str) else []


def at(d, sizes: Mapping[str, int]) -> int:
    """A dimension's value with its names at ``sizes``."""
    if isinstance(d, DimExpr):
        return d.at(sizes)
    return sizes[d] if isinstance(d, str) else d


def concrete_dims(dims) -> bool:
    """Whether every one of ``dims`` is a number."""
    return not any(isinstance(d, str) for d in dims)


def dimension_names(shapes) -> set[str]:
    """Every dimension name of a mapping of shapes (the names inside ``n - k + 1``)."""
    return {n for s in shapes.values() for d in s for n in names_of(d)}


def known(condition) -> bool | None:
    """Whether a relation between dimensions (``as_sympy(n) >= as_sympy(k)``) holds
    for every size (True), for none (False) or depends on the sizes (None)."""
    import sympy as sp  # noqa: PLC0415
    if condition in (True, False, sp.true, sp.false):
        return bool(condition)
    return None


__all__ = ["DimExpr", "as_dim", "as_sympy", "add", "names_of", "at", "dim_text", "symbol",
           "known", "concrete_dims",
           "dimension_names"]
