r"""LaTeX primitives: names and entries, SymPy entries, matrices, blocks.

Entries are printed by SymPy's printer, with one small subclass: our own
SymPy functions (sigmoid, ReLU, softplus, the unit step) print from their
operation's declaration in the registry, so ``step(x)`` is the lectures'
``\left[x \geq 0\right]``. Compact formulas are printed by
:mod:`jacobian_calc.render.formula_latex`. What is ours: entry names
(``A_{12}``), the layout of 3D/4D tensors as block matrices, and the
:class:`Block` and :class:`Style` that the LaTeX of every result type is made
of (documents: :mod:`.latex`).

This module does not import NumPy (the plain ``jac`` path stays fast): arrays
of cells are :class:`~jacobian_calc.core.grid.Grid` objects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ..core.dims import DimExpr
from ..core.errors import JacobianError
from ..core.grid import Grid
from ..core.tree import Node, fold
from ..ops.registry import PREC_ATOM
from ..symbolic.classes import function_ops, is_ours, registry_cached
from ..symbolic.symbols import entry_name
from .formula_latex import TRANSPOSES, apply_latex, formula_latex, sympy_parts
from ..symbolic.trusted import as_sympy


MATRIX_ENVS = ("pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix")
ELEMENT_STYLES = ("upper", "lower")

#: Index letters of generic entries, output axes first: ``∂Y_ij / ∂W_kl``.
INDEX_LETTERS = "ijklmnpq"
#: Symbolic definition matrices are shown up to this many entries.
MAX_DEFINITION_ENTRIES = 64
#: Rough widths, in characters of printed maths, of a line of the standalone page.
LINE_CHARS = 80
#: A matrix wider than this is shown by entry names plus a list of the entries
#: (if its entries are long); a narrower one is scaled down to fit.
LIST_ENTRIES_WIDTH = 150
#: Most rows or columns of a typeset matrix (blocks included): TeX cannot box much more
#: (``Dimension too large`` beyond 16384pt), and nobody reads it; ``--spy`` draws it.
MAX_TYPESET_SIDE = 100


@dataclass(frozen=True)
class LatexOptions:
    """Printing choices a lecturer expects to make.

    Attributes
    ----------
    matrix_env : str
        ``"pmatrix"`` (default), ``"bmatrix"`` or another amsmath matrix environment.
    transpose : str
        ``"^{\\top}"`` or ``"^T"`` (also ``"^{T}"``, ``"^{\\intercal}"``).
    element_style : str
        ``"upper"`` writes entries of ``A`` as ``A_{ij}``, ``"lower"`` as ``a_{ij}``.
    """

    matrix_env: str = "pmatrix"
    transpose: str = r"^{\top}"
    element_style: str = "upper"

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.matrix_env, MATRIX_ENVS, "matrix environment"),
                                     (self.transpose, TRANSPOSES, "transpose notation"),
                                     (self.element_style, ELEMENT_STYLES, "element style")):
            if value not in allowed:
                raise JacobianError(f"unknown {what} {value!r}: use one of "
                                    + ", ".join(allowed))


# -- names and entries ----------------------------------------------------------------

def name_tex(name: str, options: LatexOptions = LatexOptions()) -> str:
    r"""LaTeX for a name or an entry symbol's name.

    Examples
    --------
    >>> name_tex("alpha"), name_tex("x1"), name_tex("A_1_12"), name_tex("dW_2_1")
    ('\\alpha', 'x_{1}', 'A_{1,12}', 'dW_{21}')
    >>> name_tex("A_1_2", LatexOptions(element_style="lower"))
    'a_{12}'
    """
    tex = _entry_symbol_tex(name, options.element_style)
    if tex is None:
        return _underscored_entry(name) or sp.latex(sp.Symbol(name))
    base, index = re.fullmatch(r"(.*)(_\{[\d,]+\})", tex).groups()
    if options.element_style == "lower" and re.fullmatch(r"d[A-Z]", base):
        base = base.lower()  # Lecture 9 writes the entries of dM as dm_ij
    if "_" in base or "^" in base:  # W1_1_2: {W_{1}}_{12}, not a double subscript
        base = "{" + base + "}"
    return base + index


def _entry_symbol_tex(name: str, element_style: str) -> str | None:
    """``A_1_2`` -> ``A_{12}`` (``A_{1,12}`` for 2-digit indices); None for other names."""
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)((?:_\d+)+)", name)
    if not match:
        return None
    base, indices = match.group(1), match.group(2).split("_")[1:]
    sep = "," if any(len(i) > 1 for i in indices) else ""
    base_tex = sp.latex(sp.Symbol(base))
    if element_style == "lower" and len(base) == 1:
        base_tex = base.lower()
    if base.startswith("d") and len(base) > 1:
        base_tex = "d" + sp.latex(sp.Symbol(base[1:]))
    return f"{base_tex}_{{{sep.join(indices)}}}"


def _underscored_entry(name: str) -> str | None:
    """``b_out_1`` -> ``{b_{out}}_{1}``: an entry of a name that has an underscore."""
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*_[A-Za-z][A-Za-z0-9_]*?)((?:_\d+)+)", name)
    if not match:
        return None
    indices = match.group(2).split("_")[1:]
    sep = "," if any(len(i) > 1 for i in indices) else ""
    return "{" + sp.latex(sp.Symbol(match.group(1))) + "}_{" + sep.join(indices) + "}"


def entry_tex(name: str, index: tuple[int, ...], options: LatexOptions = LatexOptions()) -> str:
    """LaTeX for entry ``index`` (0-based) of array ``name``; the name itself for ``()``.

    Examples
    --------
    >>> entry_tex("W", (0, 1)), entry_tex("x", ())
    ('W_{12}', 'x')
    """
    return name_tex(entry_name(name, index) if index else name, options)


def generic_tex(name: str, letters: str, options: LatexOptions = LatexOptions()) -> str:
    """``Y_{ij}``: a generic entry of ``name`` (lower case for ``element_style="lower"``).

    Examples
    --------
    >>> generic_tex("Y", "ij"), generic_tex("dW", "kl", LatexOptions(element_style="lower"))
    ('Y_{ij}', 'dw_{kl}')
    """
    base = name_tex(name, options)
    if options.element_style == "lower" and re.fullmatch(r"d?[A-Z]", name):
        base = base.lower()
    if "_" in base or "^" in base:
        base = "{" + base + "}"
    return f"{base}_{{{letters}}}" if letters else base


# -- SymPy entries ----------------------------------------------------------------------------

@registry_cached
def registry_functions() -> dict[type, Any]:
    """Our SymPy function classes -> the operation whose ``entry`` makes them.

    A function class SymPy does not define itself (``sigmoid``, ``step``, or
    one an operation registered later brings) is printed from its
    operation's ``latex``; SymPy's own functions keep SymPy's LaTeX.
    """
    return {cls: op for cls, op in function_ops().items() if is_ours(cls)}


class EntryPrinter(LatexPrinter):
    """SymPy's LaTeX printer; our own functions print from the operation registry."""

    _default_settings = {**LatexPrinter._default_settings, "transpose_mark": r"^{\top}"}

    def _print_Function(self, expr, exp=None):
        op = registry_functions().get(type(expr))
        if op is None:
            return super()._print_Function(expr, exp)
        parts = sympy_parts(self, expr, op.options(()), self._settings["transpose_mark"])
        tex = apply_latex(op, parts)
        if exp is None:
            return tex
        if op.precedence("latex") < PREC_ATOM:  # inv(X)**2 is no double superscript
            tex = rf"\left({tex}\right)"
        return f"{tex}^{{{exp}}}"


def latex_expr(expr: sp.Basic, options: LatexOptions = LatexOptions()) -> str:
    r"""LaTeX for one SymPy expression, with entry symbols as ``A_{12}``.

    Examples
    --------
    >>> from jacobian_calc.symbolic.symbols import entry_symbol
    >>> latex_expr(2 * entry_symbol("W", (0, 1)) + sp.Symbol("alpha"))
    '2 W_{12} + \\alpha'
    >>> from jacobian_calc.symbolic.functions import sigmoid, step
    >>> x = sp.Symbol("x")
    >>> latex_expr(step(x) * sigmoid(x)**2)
    '\\sigma\\left(x\\right)^{2} \\left[x \\geq 0\\right]'
    """
    expr = as_sympy(expr)
    names = {s: name_tex(s.name, options) for s in expr.free_symbols
             if isinstance(s, sp.Symbol)}
    return EntryPrinter({"symbol_names": names, "transpose_mark": options.transpose}
                        ).doprint(expr)


def frac(top: str, bottom: str) -> str:
    r"""``\frac{\partial top}{\partial bottom}``."""
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


# -- matrices -----------------------------------------------------------------------------

def matrix(rows: list[list[str]], env: str = "pmatrix") -> str:
    r"""A LaTeX matrix from already-printed cells.

    Examples
    --------
    >>> matrix([["a", "b"], ["c", "d"]])
    '\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}'
    """
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return rf"\begin{{{env}}} {body} \end{{{env}}}"


def _rows(cells: Grid) -> list[list]:
    """The rows of a 2-D grid."""
    cols = cells.shape[1]
    return [cells.flat[r * cols:(r + 1) * cols] for r in range(cells.shape[0])]


def _block_grid(shape: tuple[int, ...]) -> tuple[int, int]:
    """Rows and columns of blocks of a 3D/4D array (leading axes index the blocks)."""
    lead = shape[:-2]
    return (lead[0], 1) if len(lead) == 1 else (math.prod(lead[:-1]), lead[-1])


def _blocks(cells: Grid) -> list[list[Grid]]:
    """The 2-D blocks of an array of 3 or more axes, as rows of blocks."""
    rows, cols = _block_grid(cells.shape)
    tail = cells.shape[-2:]
    size = math.prod(tail)
    return [[Grid(tail, cells.flat[(r * cols + c) * size:(r * cols + c + 1) * size])
             for c in range(cols)] for r in range(rows)]


def grid_latex(cells: Grid | list, env: str = "pmatrix") -> str:
    r"""A matrix of printed cells; 3D/4D arrays become block matrices.

    The leading axes index the blocks, the last two the entries inside a block:
    block ``(i, j)`` of ``∂Y/∂X`` (numerator layout) is ``∂Y_ij/∂X``.

    Examples
    --------
    >>> grid_latex(Grid((3,), ["a", "b", "c"]))
    '\\begin{pmatrix} a & b & c \\end{pmatrix}'
    >>> print(grid_latex(Grid((2, 1, 1), ["a", "b"]), "matrix"))
    \begin{matrix} \begin{matrix} a \end{matrix} \\ \begin{matrix} b \end{matrix} \end{matrix}
    """
    if not isinstance(cells, Grid):
        cells = Grid.from_nested(cells)
    if cells.ndim == 0:
        return cells.item()
    if cells.ndim == 1:
        cells = cells.reshape((1, cells.size))
    if cells.ndim == 2:
        return matrix(_rows(cells), env)
    return matrix([[grid_latex(b, env) for b in row] for row in _blocks(cells)], env)


def check_typesettable(shape: tuple[int, ...], what: str = "the Jacobian") -> None:
    """Refuse a display with more than :data:`MAX_TYPESET_SIDE` rows or columns.

    Examples
    --------
    >>> check_typesettable((100, 100))
    >>> check_typesettable((2, 60, 2, 3), "the gradient dW")
    Traceback (most recent call last):
    ...
    jacobian_calc.core.errors.JacobianError: the gradient dW would be typeset as 4 x 180, ...
    """
    rows, cols = _display_extent(shape)
    if max(rows, cols) > MAX_TYPESET_SIDE:
        raise JacobianError(
            f"{what} would be typeset as {rows} x {cols}, too large for LaTeX "
            f"(at most {MAX_TYPESET_SIDE} rows and columns)",
            hint="{{spy}} draws its pattern, {{format_json}} lists its entries")


def _display_extent(shape: tuple[int, ...]) -> tuple[int, int]:
    """Rows and columns of the (block) matrix :func:`grid_latex` makes of ``shape``."""
    if len(shape) <= 2:
        return (1, math.prod(shape)) if len(shape) < 2 else shape
    rows, cols = _block_grid(shape)
    return rows * shape[-2], cols * shape[-1]


def print_cells(values: Grid, options: LatexOptions = LatexOptions()) -> Grid:
    """Each SymPy entry printed (``"0"`` for zeros)."""
    return values.map(lambda expr: latex_expr(expr, options) if expr != 0 else "0")


def number_tex(value: float) -> str:
    r"""``0.25``, ``1.5 \cdot 10^{-12}``, ``\infty``.

    Examples
    --------
    >>> number_tex(0.25), number_tex(1.5e-12), number_tex(float("-inf"))
    ('0.25', '1.5 \\cdot 10^{-12}', '-\\infty')
    """
    value = float(value)
    if math.isnan(value):
        return r"\text{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    mantissa, _, exponent = f"{value:.10g}".partition("e")
    return mantissa if not exponent else rf"{mantissa} \cdot 10^{{{int(exponent)}}}"


# -- blocks: what a derivation is made of ---------------------------------------------------

@dataclass(frozen=True)
class Block:
    """One piece of output: a ``"section"`` title, a ``"text"`` paragraph or ``"math"``."""

    kind: str
    tex: str


@dataclass(frozen=True)
class Style:
    """What a block function knows about the output being made.

    Attributes
    ----------
    options : LatexOptions
        Matrix environment, transpose mark, element style.
    flatten : bool
        3D/4D Jacobians as their flattened matrices.
    fit : bool
        A standalone document: long entries are listed rather than put in one
        huge matrix.
    derivation : bool
        The steps, not only the results.
    headers : bool
        A section title per result (standalone documents).
    shared : dict
        Scratch space shared by the results of one :func:`to_latex` call
        (e.g. "this forward pass is already shown").
    """

    options: LatexOptions = LatexOptions()
    flatten: bool = False
    fit: bool = False
    derivation: bool = False
    headers: bool = False
    shared: dict = field(default_factory=dict, compare=False)


def _visible(tex: str) -> int:
    """Rough printed width of some LaTeX maths, in characters."""
    tex = re.sub(r"\\(left|right|frac|begin\{\w+\}|end\{\w+\}|operatorname)", "", tex)
    tex = re.sub(r"\\partial", "d", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}_^\s]|\\,", "", tex))


def _matrix_width(cells: Grid) -> int:
    if cells.ndim <= 1:
        return sum(_visible(c) + 2 for c in cells.flat)
    if cells.ndim == 2:
        return sum(max(_visible(c) for c in col) + 2 for col in _rows(cells.T))
    lead = cells.shape[:-2]
    columns = 1 if len(lead) == 1 else lead[-1]
    size = math.prod(cells.shape[-2:])
    widest = max(_matrix_width(Grid(cells.shape[-2:], cells.flat[n * size:(n + 1) * size]))
                 for n in range(math.prod(lead)))
    return columns * (widest + 2)


def broken_equation(lhs: str, expr: sp.Expr, options: LatexOptions = LatexOptions()) -> str:
    """``lhs = expr``, a long sum broken into lines of an ``aligned`` block."""
    tex = latex_expr(expr, options)
    terms = expr.as_ordered_terms() if isinstance(expr, sp.Add) else [expr]
    if len(terms) == 1 or _visible(tex) <= LINE_CHARS:
        return f"{lhs} = {tex}"
    lines, current = [], ""
    for term in terms:
        t = latex_expr(term, options)
        piece = t if not current and not lines else (
            f" - {t[1:].lstrip()}" if t.startswith("-") else f" + {t}")
        if current and _visible(current + piece) > LINE_CHARS:
            lines.append(current)
            current = piece.lstrip()
        else:
            current += piece
    lines.append(current)
    body = r" \\ &\qquad ".join(lines)
    return rf"\begin{{aligned}} {lhs} = {{}} & {body} \end{{aligned}}"


def value_blocks(lhs: str, values: Grid, names: Grid, style: Style) -> list[Block]:
    """``lhs = matrix`` of SymPy ``values``.

    In a standalone document (``style.fit``) a wide matrix of long entries is
    shown as its pattern of entry ``names`` (printed LaTeX, same shape), each
    non-zero entry then on its own line(s).
    """
    cells = print_cells(values, style.options)
    env = style.options.matrix_env
    long = max((_visible(c) for c in cells.flat), default=0) > LINE_CHARS // 3
    if not style.fit or not long or _matrix_width(cells) <= LIST_ENTRIES_WIDTH:
        return [Block("math", f"{lhs} = {grid_latex(cells, env)}")]
    pattern, listing = [], []
    for expr, name in zip(values.flat, names.flat):
        pattern.append(name if expr != 0 else "0")
        if expr != 0:
            listing.append(Block("math", broken_equation(name, expr, style.options)))
    if len(listing) == values.size:  # no zeros: the pattern would only repeat the names
        return listing
    return [Block("math", f"{lhs} = {grid_latex(Grid(values.shape, pattern), env)}"),
            Block("text", "where the non-zero entries are"), *listing]


# -- shapes and text -------------------------------------------------------------------------

def shape_tex(shape: tuple[int, ...]) -> str:
    r"""``2 \times 3``, ``N \times d``; ``1`` for a scalar."""
    return r" \times ".join(map(_dimension_tex, shape)) if shape else "1"


def _dimension_tex(d) -> str:
    r"""A size, or a dimension name (``N``; ``\mathit{X\_rows}``), or an expression of
    names (``(n - k + 1)``)."""
    if isinstance(d, DimExpr):
        return "(" + re.sub(r"\b([a-zA-Z]\w+)", lambda m: _dimension_tex(m.group(1)),
                            str(d).replace("*", " ")) + ")"
    if not isinstance(d, str) or len(d) == 1:
        return str(d)
    return r"\mathit{" + d.replace("_", r"\_") + "}"


#: A differentiated expression larger than this many nodes (as a tree: shared parts
#: counted each time they are printed) is named by its size, not printed.
MAX_OF_NODES = 2_000
#: ... or nested deeper than this (the printer recurses; nobody reads it either).
MAX_OF_DEPTH = 200


def of_tex(trees: Sequence[Node], options: LatexOptions = LatexOptions(),
           shapes: Mapping[str, Any] | None = None, text: Sequence[str] = ()) -> str:
    r"""The differentiated expression(s), printed from their trees.

    ``shapes`` (of the names that are arrays) lets a product of scalars be
    written as a mathematician writes it (``2 \pi t``); in a product of
    arrays ``*`` is the Hadamard product. An expression too large to read is
    named by its size. A result made without trees (by hand) shows its ``text``
    verbatim: nothing is parsed back.

    Examples
    --------
    >>> from jacobian_calc.core.tree import Name, fn
    >>> t, X, W, b = Name("t"), Name("X"), Name("W"), Name("b")
    >>> of_tex([fn.cos(2 * fn.pi() * t)], shapes={})
    '\\cos\\left(2 \\pi t\\right)'
    >>> of_tex([fn.sigmoid(X @ W + b)], shapes={"X": (2, 3), "W": (3, 2), "b": (2,)})
    '\\sigma\\left(X W + b\\right)'
    >>> of_tex([t, t**2], shapes={})
    '\\left(t, t^{2}\\right)'
    >>> of_tex([], text=["x_1 * y"])
    '\\texttt{x\\_1 * y}'
    """
    if not trees:
        return r"\texttt{" + escape(", ".join(text)) + "}"
    parts = []
    for tree in trees:
        nodes, depth = fold(tree, lambda n, kids: (1 + sum(k[0] for k in kids),
                                                   1 + max((k[1] for k in kids), default=0)))
        if nodes > MAX_OF_NODES or depth > MAX_OF_DEPTH:
            parts.append(rf"\text{{an expression of about {nodes:,} nodes}}")
        else:
            parts.append(formula_latex(tree, options.transpose,
                                       lambda name: name_tex(name, options), shapes))
    return parts[0] if len(parts) == 1 else r"\left(" + ", ".join(parts) + r"\right)"


def escape(text: str) -> str:
    r"""Text safe in a LaTeX paragraph: ``x_1`` -> ``x\_1``."""
    table = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
             "#": r"\#", "_": r"\_", "%": r"\%", "^": r"\^{}", "~": r"\~{}",
             "δ": r"$\delta$", "Σ": r"$\Sigma$", "∂": r"$\partial$", "·": r"$\cdot$",
             "×": r"$\times$", "−": "-"}
    return "".join(table.get(c, c) for c in text)


def formula_tex(node: Node, options: LatexOptions = LatexOptions()) -> str:
    r"""A compact formula (an expression tree) with the options' transpose mark.

    Examples
    --------
    >>> from jacobian_calc.core.tree import Name
    >>> formula_tex(Name("X").T @ Name("dY"), LatexOptions(transpose="^T"))
    'X^T dY'
    """
    return formula_latex(node, options.transpose)


__all__ = ["LatexOptions", "Block", "Style", "latex_expr", "name_tex", "entry_tex", "generic_tex",
           "frac", "matrix", "grid_latex", "print_cells", "value_blocks", "broken_equation",
           "check_typesettable", "number_tex", "shape_tex", "of_tex", "escape",
           "registry_functions", "EntryPrinter", "formula_latex", "formula_tex",
           "INDEX_LETTERS", "MAX_TYPESET_SIDE", "MAX_OF_NODES"]
