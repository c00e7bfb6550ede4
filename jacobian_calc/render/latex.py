r"""LaTeX output for lecture notes: matrices, block matrices, derivations, documents.

Entries are printed by SymPy's printer, with one small subclass: our own
SymPy functions (sigmoid, ReLU, softplus, the unit step) print from their
operation's declaration in the registry, so ``step(x)`` is the lectures'
``\left[x \geq 0\right]``. Compact formulas are printed by
:mod:`jacobian_calc.render.formula_latex`. What is ours: entry names
(``A_{12}``), the layout of 3D/4D tensors as block matrices, the derivation
steps, and a standalone document that compiles with pdflatex however wide the
matrices or long the entries.

Output is built as a list of :class:`Block` (section titles, sentences and
displays), one list per result, by the function registered for the result's
class with :func:`block_printer`; :func:`to_latex` renders the blocks as a
fragment or a document. Another result type prints by registering its own
block function, from its own module, as backprop results do
(:mod:`jacobian_calc.render.backprop_latex`)::

    @block_printer(BackpropResult)
    def backprop_blocks(r, style: Style) -> list[Block]: ...

This module does not import NumPy (the plain ``jac`` path stays fast): arrays
of cells are :class:`~jacobian_calc.core.grid.Grid` objects.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter

from ..core.errors import JacobianError
from ..core.grid import Grid, strides
from ..core.tree import Node
from ..ops.registry import PREC_ATOM
from ..parsing import parse
from ..results.base import printer
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult
from ..symbolic.classes import function_ops, is_ours, registry_cached
from ..symbolic.evaluate import Env, evaluate
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


def _arrange(J: JacobianResult, dense: Grid, flatten: bool) -> Grid:
    """Numerator-order ``dense`` (out + in axes) in J's layout, flattened to 2-D if asked.

    The gradient of a scalar with respect to a matrix keeps the matrix's shape
    (Lecture 9's ``dM``, in either layout) unless ``flatten``.
    """
    k, n = len(J.out_shape), dense.ndim
    if J.layout == "denominator":
        dense = dense.transpose(list(range(k, n)) + list(range(k)))
    return dense.reshape(_shown_shape(J, flatten)) if n <= 2 or flatten else dense


def _shown_shape(J: JacobianResult, flatten: bool) -> tuple[int, ...]:
    """The shape J is displayed in: flattened, the matrix of a scalar's gradient, or J's."""
    if flatten:
        return J.flat_shape()
    if J.out_shape == () and len(J.in_shape) == 2:
        return J.in_shape
    return J.flat_shape() if len(J.shape) <= 2 else J.shape


def _jacobian_values(J: JacobianResult, flatten: bool) -> Grid:
    """The entries (SymPy, zeros included) in display order."""
    check_typesettable(_shown_shape(J, flatten))
    return _arrange(J, J.with_layout("numerator").as_grid(), flatten)


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


def jacobian_latex(J: JacobianResult, options: LatexOptions = LatexOptions(),
                   flatten: bool = False) -> str:
    """The Jacobian as a LaTeX matrix (a block matrix for 3D/4D tensors)."""
    cells = print_cells(_jacobian_values(J, flatten), options)
    return grid_latex(cells, options.matrix_env)


def numeric_latex(J: JacobianResult, values, options: LatexOptions = LatexOptions()) -> str:
    """A Jacobian evaluated at a point (``J.evaluate(at)``: a NumPy array, or a Grid of
    floats), flattened."""
    check_typesettable(J.flat_shape())
    shape = J.flat_shape()
    flat = values.reshape(shape) if isinstance(values, Grid) else \
        Grid.from_nested(values.reshape(shape).tolist())  # NumPy's array, without NumPy
    return grid_latex(flat.map(number_tex), options.matrix_env)


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


# -- naming Jacobians --------------------------------------------------------------------

def _out_entry(J: JacobianResult, index: tuple[int, ...], options: LatexOptions) -> str:
    if J.out_labels:
        return name_tex(J.out_labels[index[0]], options)
    return entry_tex(J.out_name, () if _scalar_output(J) else index, options)


def _in_entry(J: JacobianResult, index: tuple[int, ...], options: LatexOptions) -> str:
    flat = sum(i * s for i, s in zip(index, strides(J.in_shape)))
    if J.in_symbols:
        return name_tex(J.in_symbols[flat].name, options)
    return entry_tex(J.in_name, index, options)


def _group_tex(names, options: LatexOptions) -> str:
    names = [name_tex(n, options) for n in names]
    return names[0] if len(names) == 1 else r"\left(" + ", ".join(names) + r"\right)"


def jacobian_name(J: JacobianResult, options: LatexOptions = LatexOptions()) -> str:
    r"""``\frac{\partial f}{\partial x}`` for J (tuples for vectors of named scalars)."""
    out = _group_tex(J.out_labels, options) if J.out_labels else name_tex(J.out_name, options)
    return frac(out, _group_tex(J.wrt, options))


def _definition_cells(J: JacobianResult, flatten: bool, options: LatexOptions) -> Grid:
    k = len(J.out_shape)
    dense = Grid.from_function(J.out_shape + J.in_shape, lambda index: frac(
        _out_entry(J, index[:k], options), _in_entry(J, index[k:], options)))
    return _arrange(J, dense, flatten)


def _generic_definition(J: JacobianResult, options: LatexOptions) -> str | None:
    r"""The generic entry, ``(∂Y/∂W)_{ijkl} = ∂Y_{ij}/∂W_{kl}`` in LaTeX.

    None where an index would say nothing (a scalar input) or could not be
    written (intermediates, a vector of unrelated scalar names).
    """
    scalar_out = _scalar_output(J)
    k = 0 if scalar_out else len(J.out_shape)
    outs = INDEX_LETTERS[:k]
    if len(J.wrt) > 1 and _numbered(J.wrt):  # x1, x2, ... read as the vector x
        ins = INDEX_LETTERS[k]
        in_tex = generic_tex(re.match(r"[A-Za-z]+", J.wrt[0]).group(0), ins, options)
    elif len(J.wrt) == 1 and J.in_symbols and J.in_symbols[0].name != J.wrt[0]:
        ins = INDEX_LETTERS[k:k + len(J.in_shape)]
        in_tex = generic_tex(J.in_name, ins, options)
    else:
        return None
    if J.out_labels or not (outs or ins):
        return None
    out_tex = generic_tex(J.out_name, outs, options)
    order = outs + ins if J.layout == "numerator" else ins + outs
    return rf"\left({jacobian_name(J, options)}\right)_{{{order}}} = " + frac(out_tex, in_tex)


def _scalar_output(J: JacobianResult) -> bool:
    """One scalar component: its entries are ``f``, not ``f_1``."""
    return J.out_shape == () or (J.out_shape == (1,) and len(J.of) == 1 and not J.out_labels)


def _numbered(names: list[str]) -> bool:
    """``x1, x2, ..., xn`` in order: a vector whose entries can be written ``x_j``."""
    found = [re.fullmatch(r"([A-Za-z]+)(\d+)", n) for n in names]
    return len(names) > 1 and all(found) and len({f.group(1) for f in found}) == 1 and \
        [int(f.group(2)) for f in found] == list(range(1, len(names) + 1))


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


# -- Jacobians -------------------------------------------------------------------------------

def shape_tex(shape: tuple[int, ...]) -> str:
    r"""``2 \times 3``, ``N \times d``; ``1`` for a scalar."""
    return r" \times ".join(map(_dimension_tex, shape)) if shape else "1"


def _dimension_tex(d) -> str:
    r"""A size, or a dimension name (``N``; ``\mathit{X\_rows}``)."""
    if not isinstance(d, str) or len(d) == 1:
        return str(d)
    return r"\mathit{" + d.replace("_", r"\_") + "}"


def of_tex(sources: list[str], options: LatexOptions = LatexOptions(), scalar: bool = False,
           shapes: dict | None = None, functions: frozenset = frozenset()) -> str:
    r"""The differentiated expression(s), printed from the calculator's syntax.

    Scalar expressions go through SymPy (``2 \pi t``); matrix expressions
    through the formula printer, where ``*`` is the Hadamard product. What
    cannot be read back is shown verbatim.

    Examples
    --------
    >>> of_tex(["cos(2*pi*t)"], scalar=True), of_tex(["sigmoid(X@W + b)"])
    ('\\cos{\\left(2 \\pi t \\right)}', '\\sigma\\left(X W + b\\right)')
    """
    try:
        nodes = [node for source in sources for node in parse(source, functions=functions)]
        parts = []
        for node in nodes:
            value = evaluate(node, Env(shapes or {})) if scalar else None
            parts.append(latex_expr(value.item(), options) if value is not None
                         and value.shape == () else formula_latex(node, options.transpose))
    except (JacobianError, ValueError, TypeError, IndexError, ZeroDivisionError):
        return r"\texttt{" + escape(", ".join(sources)) + "}"
    return parts[0] if len(parts) == 1 else r"\left(" + ", ".join(parts) + r"\right)"


def _declared_functions(J: JacobianResult) -> frozenset:
    """Names of the undefined functions (``f(x1, x2)``) the entries mention."""
    found = set()
    for expr in J.entries.values():
        found |= {type(f).__name__ for f in expr.atoms(AppliedUndef)}
    return frozenset(found)


def _jacobian_of_tex(J: JacobianResult, options: LatexOptions) -> str:
    return of_tex(J.of, options, _scalar_inputs(J), dict(J.arrays), _declared_functions(J))


def _scalar_inputs(J: JacobianResult) -> bool:
    """Differentiated w.r.t. scalars (not the entries of a declared array)."""
    return all(s.name in J.wrt for s in J.in_symbols)


def escape(text: str) -> str:
    r"""Text safe in a LaTeX paragraph: ``x_1`` -> ``x\_1``."""
    table = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
             "#": r"\#", "_": r"\_", "%": r"\%", "^": r"\^{}", "~": r"\~{}"}
    return "".join(table.get(c, c) for c in text)


def _jacobian_header(J: JacobianResult, style: Style) -> list[Block]:
    o = style.options
    out = _group_tex(J.out_labels, o) if J.out_labels else name_tex(J.out_name, o)
    shape = f"shape ${shape_tex(J.shape)}$"
    if style.flatten and len(J.shape) > 2:
        shape += f", flattened to ${shape_tex(J.flat_shape())}$"
    return [Block("section", f"Jacobian of ${out} = {_jacobian_of_tex(J, o)}$ with respect to "
                             f"${_group_tex(J.wrt, o)}$"),
            Block("text", f"{J.layout.capitalize()} layout, {shape}; "
                          f"{J.nnz} of its {J.size} entries are non-zero.")]


def _jacobian_steps(J: JacobianResult, style: Style, derivation: bool) -> list[Block]:
    o = style.options
    name = jacobian_name(J, o)
    values = _jacobian_values(J, style.flatten)  # checks the size first
    definitions = _definition_cells(J, style.flatten, o)
    blocks = []
    if derivation:
        blocks = _definition_blocks(J, name, definitions, style)
        blocks.append(Block("text", "Evaluating every entry:"))
    return blocks + value_blocks(name, values, definitions, style)


def _block_sentence(J: JacobianResult, options: LatexOptions) -> str:
    r"""How to read a block matrix: block $(i, j)$ holds $\frac{\partial Y_{ij}}{\partial W}$."""
    k = 0 if _scalar_output(J) else len(J.out_shape)
    outs, ins = INDEX_LETTERS[:k], INDEX_LETTERS[k:k + len(J.in_shape)]
    first, order = (outs, outs + ins) if J.layout == "numerator" else (ins, ins + outs)
    lead = order[:len(J.shape) - 2]
    where = lead if len(lead) == 1 else "(" + ", ".join(lead) + ")"
    if lead != first:  # the blocks split an index group: name the fixed indices only
        dots = r"\cdot" * (len(order) - len(lead))
        held = rf"\left({jacobian_name(J, options)}\right)_{{{lead}{dots}}}"
    elif J.layout == "numerator":
        held = frac(generic_tex(J.out_name, lead, options), name_tex(J.in_name, options))
    else:
        held = frac(name_tex(J.out_name, options), generic_tex(J.in_name, lead, options))
    return f"It is written as a block matrix: block ${where}$ holds ${held}$."


def _reading(J: JacobianResult, options: LatexOptions) -> str:
    """How to read the matrix, where it is not the plain stack of gradients."""
    if J.out_shape == () and len(J.in_shape) == 2:
        return f" (a scalar's gradient has the shape of ${name_tex(J.in_name, options)}$)"
    if J.layout == "numerator" and len(J.shape) == 2:
        return " (rows are the gradients of the components)"
    return ""


def _definition_blocks(J: JacobianResult, name: str, definitions: Grid,
                       style: Style) -> list[Block]:
    o = style.options
    generic = _generic_definition(J, o)
    blocks = [Block("text", "By definition, in " + J.layout + " layout" + _reading(J, o) + ",")]
    if generic:
        blocks.append(Block("math", generic))
    if len(J.shape) > 2 and not style.flatten:
        blocks.append(Block("text", _block_sentence(J, o)))
    if definitions.size <= MAX_DEFINITION_ENTRIES:
        blocks.append(Block("math", f"{name} = {grid_latex(definitions, o.matrix_env)}"))
    return blocks


# -- block functions per result type ----------------------------------------------------------

_BLOCK_PRINTERS: dict[type, Callable[[Any, Style], list[Block]]] = {}


def block_printer(cls: type):
    """Register ``func(result, style) -> list[Block]`` as the LaTeX of ``cls``.

    The function makes the blocks of one result; :func:`to_latex` renders
    them (fragment or document) and ``result.to_latex()`` works too. A
    subclass without its own function uses its base class's.

    Examples
    --------
    >>> class Note:
    ...     text = "a remark"
    >>> @block_printer(Note)
    ... def note_blocks(note, style):
    ...     return [Block("text", note.text)]
    >>> to_latex(Note())
    'a remark'
    >>> unregister_block_printer(Note)
    """
    def register(func: Callable[[Any, Style], list[Block]]):
        _BLOCK_PRINTERS[cls] = func
        printer("latex", cls)(_print_result)
        return func
    return register


def unregister_block_printer(cls: type) -> None:
    """Remove the block function of ``cls`` (tests add and remove their own)."""
    _BLOCK_PRINTERS.pop(cls, None)


def result_blocks(result: Any, style: Style) -> list[Block]:
    """The blocks of one result, by the function registered for its class."""
    for cls in type(result).__mro__:
        func = _BLOCK_PRINTERS.get(cls)
        if func is not None:
            return func(result, style)
    raise JacobianError(f"cannot print a {type(result).__name__} as LaTeX")


def _print_result(result: Any, **settings) -> str:
    """``result.to_latex(**settings)``."""
    return to_latex(result, **settings)


@block_printer(JacobianResult)
def jacobian_blocks(J: JacobianResult, style: Style) -> list[Block]:
    """A Jacobian: its matrix; with ``derivation`` its definition first."""
    if J.symbolic:  # no matrix at symbolic sizes: the index form
        return _index_blocks(J)
    if style.derivation or style.headers:
        header = _jacobian_header(J, style) if style.headers else []
        return (header + _jacobian_steps(J, style, style.derivation) + _after(J, style)
                + _index_blocks(J))
    matrix_tex = jacobian_latex(J, style.options, style.flatten)
    if style.shared.get("several") or J.compact is not None:  # say which Jacobian it is
        matrix_tex = f"{jacobian_name(J, style.options)} = {matrix_tex}"
    return [Block("math", matrix_tex)] + _after(J, style) + _index_blocks(J)


#: ``func(J, style) -> list[Block]``: what follows a Jacobian's matrix (its compact form,
#: registered by :mod:`.compact_latex`).
JACOBIAN_EXTRAS: list[Callable[[Any, Style], list[Block]]] = []


def _after(J: JacobianResult, style: Style) -> list[Block]:
    return [b for func in JACOBIAN_EXTRAS for b in func(J, style)]


def _index_blocks(J: JacobianResult) -> list[Block]:
    """The index form, when asked for, with its index ranges."""
    if J.index is None:
        return []
    ranges = ", ".join(rf"{s} = 1, \dots, {sp.latex(n)}"
                       for s, n in zip(J.index.indices, J.index.sizes))
    return [Block("math", rf"{J.index.latex()} \qquad ({ranges})")]


@block_printer(ChainResult)
def chain_blocks(c: ChainResult, style: Style) -> list[Block]:
    """A chain: the product of factor Jacobians equals the direct Jacobian."""
    o = style.options
    factors = list(c.factors)
    if c.direct.layout == "denominator":  # (ABC)^T = C^T B^T A^T
        factors.reverse()
    names = " ".join(jacobian_name(f, o) for f in factors)
    products = " ".join(jacobian_latex(f, o) for f in factors)
    direct = jacobian_latex(c.direct, o)
    lhs = jacobian_name(c.direct, o)
    blocks = _chain_header(c, style) if style.headers else []
    if not style.derivation:
        return blocks + [Block("math", f"{lhs} = {names} = {products} = {direct}")]
    blocks += [Block("text", "The chain rule through the intermediates:"),
               Block("math", f"{lhs} = {names}"),
               Block("text", "The factors, each in terms of its own inputs:")]
    blocks += [Block("math", f"{jacobian_name(f, o)} = {jacobian_latex(f, o)}") for f in factors]
    blocks += [Block("text", "Their product, with the intermediates substituted:"),
               Block("math", f"{lhs} = {products} = {direct}"),
               Block("text", "The product equals the Jacobian of the substituted expression "
                             "(checked entry by entry)." if c.agree else
                     r"\textbf{The product differs from the direct Jacobian}.")]
    return blocks


def _chain_header(c: ChainResult, style: Style) -> list[Block]:
    return [Block("section", "Chain rule for $" + name_tex(c.direct.out_name, style.options)
                  + " = " + _jacobian_of_tex(c.direct, style.options) + "$")]


# -- rendering blocks ---------------------------------------------------------------------------

def render_fragment(blocks: list[Block], derivation: bool = False) -> str:
    r"""Blocks as a fragment: maths alone, or with ``derivation`` text and ``\[...\]``.

    Maths alone is one display, pasteable inside ``\[...\]`` as it is: several
    equations become the lines of one ``gathered`` block.
    """
    if not derivation:
        maths = [b.tex for b in blocks]
        if len(maths) == 1 or any(b.kind != "math" for b in blocks):
            return "\n\n".join(maths)
        return "\\begin{gathered} " + " \\\\ ".join(maths) + " \\end{gathered}"
    parts = []
    for b in blocks:
        if b.kind == "section":
            parts.append(rf"\paragraph{{{b.tex}}}")
        elif b.kind == "text":
            parts.append(b.tex)
        else:
            parts.append("\\[\n" + b.tex + "\n\\]")
    return "\n\n".join(parts)


PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage{adjustbox}
\setcounter{MaxMatrixCols}{%d}
\renewcommand{\arraystretch}{1.3}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\begin{document}
"""


def _fitted(tex: str) -> str:
    """Display maths scaled down (never up) to fit the text width and page height.

    Not a ``center`` environment: it invites a page break before itself, which
    would part a display from the sentence introducing it.
    """
    return ("\\smallskip\n{\\centering\n"
            "\\begin{adjustbox}{max totalsize={\\linewidth}{0.9\\textheight}}\n"
            f"$\\displaystyle {_row_per_line(tex)}$\n"
            "\\end{adjustbox}\\par}\n\\smallskip")


def _row_per_line(tex: str) -> str:
    """One matrix row per line: TeX reads at most 200,000 characters per line."""
    return tex.replace(r" \\ ", " \\\\\n")


def render_document(blocks: list[Block]) -> str:
    """Blocks as a standalone document for pdflatex (displays scaled to fit the page)."""
    parts = []
    for b, after in zip(blocks, blocks[1:] + [None]):
        if b.kind == "section":
            parts.append(rf"\section*{{{b.tex}}}")
        elif b.kind == "text":  # a sentence introducing a display stays on its page
            parts.append(b.tex + ("\n\\nopagebreak" if after and after.kind == "math" else ""))
        else:
            parts.append(_fitted(b.tex))
    body = "\n\n".join(parts)
    return PREAMBLE % max(10, max_matrix_columns(body)) + body + "\n\n\\end{document}\n"


def max_matrix_columns(tex: str) -> int:
    r"""The most columns of any ``*matrix`` environment in ``tex`` (amsmath's
    ``MaxMatrixCols`` must be at least this).

    Examples
    --------
    >>> inner = r"\begin{bmatrix} a & b & c \end{bmatrix}"
    >>> max_matrix_columns(r"\begin{pmatrix} 1 & " + inner + r" \\ 3 & 4 \end{pmatrix}")
    3
    """
    best, stack = 0, []
    for token in re.finditer(r"\\begin\{[A-Za-z]*matrix\}|\\end\{[A-Za-z]*matrix\}|&|\\\\",
                             tex):
        text = token.group(0)
        if text.startswith(r"\begin"):
            stack.append([1, 1])
        elif not stack:
            continue
        elif text.startswith(r"\end"):
            best = max(best, *stack.pop())
        elif text == "&":
            stack[-1][0] += 1
            stack[-1][1] = max(stack[-1])
        else:
            stack[-1][0] = 1
    return best


# -- defaults and the public entry points ---------------------------------------------------------

_DEFAULTS: contextvars.ContextVar[dict] = contextvars.ContextVar("latex_defaults", default={})
SETTINGS = ("derivation", "standalone", "flatten", "matrix_env", "transpose", "element_style")


@contextlib.contextmanager
def printoptions(**settings):
    r"""Defaults for :func:`to_latex` inside a ``with`` block, like ``numpy.printoptions``.

    The CLI sets the user's choices once; code that formats results (such as
    the backprop report) then calls ``to_latex(results)`` unchanged.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> with printoptions(matrix_env="bmatrix"):
    ...     to_latex(jacobian("x*y", wrt="x,y"))
    '\\begin{bmatrix} y & x \\end{bmatrix}'
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown LaTeX settings: {', '.join(sorted(unknown))}")
    token = _DEFAULTS.set({**_DEFAULTS.get(), **settings})
    try:
        yield
    finally:
        _DEFAULTS.reset(token)


def resolve_settings(**given) -> dict:
    """The given settings over the :func:`printoptions` defaults over the built-in ones."""
    unknown = set(given) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown LaTeX settings: {', '.join(sorted(unknown))}")
    return {**dict(derivation=False, standalone=False, flatten=False), **LatexOptions().__dict__,
            **_DEFAULTS.get(), **{k: v for k, v in given.items() if v is not None}}


def make_style(s: dict) -> Style:
    """The :class:`Style` of some :func:`resolve_settings`."""
    options = LatexOptions(s["matrix_env"], s["transpose"], s["element_style"])
    return Style(options, flatten=bool(s["flatten"]), fit=bool(s["standalone"]),
                 derivation=bool(s["derivation"]), headers=bool(s["standalone"]))


def render_blocks(blocks: list[Block], s: dict) -> str:
    """Blocks as a document (``standalone``) or a fragment, as the settings ``s`` say
    (:func:`resolve_settings`)."""
    if s["standalone"]:
        return render_document(blocks)
    return render_fragment(blocks, bool(s["derivation"]))


def numeric_to_latex(results: list[JacobianResult], values: list, at: str | None = None,
                     **settings) -> str:
    r"""Jacobians evaluated at a point (``J.evaluate(at)`` for each), as LaTeX.

    ``settings`` are those of :func:`to_latex`; the matrices are flattened.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> J = jacobian("x1*x2", wrt="x1,x2")
    >>> numeric_to_latex([J], [J.evaluate("x1=0.5,x2=2")])
    '\\begin{pmatrix} 2 & 0.5 \\end{pmatrix}'
    """
    s = resolve_settings(**{**settings, "flatten": True})
    style = make_style(s)
    blocks: list[Block] = []
    for J, value in zip(results, values):
        matrix_tex = numeric_latex(J, value, style.options)
        if not (s["standalone"] or s["derivation"]):
            label = f"{jacobian_name(J, style.options)} = " if len(results) > 1 else ""
            blocks.append(Block("math", label + matrix_tex))
            continue
        blocks += _jacobian_header(J, style) if s["standalone"] else []
        if s["derivation"]:
            name = jacobian_name(J, style.options)
            blocks += _definition_blocks(J, name, _definition_cells(J, True, style.options),
                                         style)
        if at:
            blocks.append(Block("text", r"At \texttt{" + escape(at) + "}:"))
        blocks.append(Block("math", f"{jacobian_name(J, style.options)} = {matrix_tex}"))
    return render_blocks(blocks, s)


def to_latex(result, derivation: bool | None = None, standalone: bool | None = None,
             flatten: bool | None = None, matrix_env: str | None = None,
             transpose: str | None = None, element_style: str | None = None) -> str:
    r"""LaTeX for a result of the calculator.

    Parameters
    ----------
    result : JacobianResult, ChainResult, BackpropResult, or a list of them
        What to print (any result whose class has a :func:`block_printer`; a
        backprop result's is in :mod:`jacobian_calc.render.backprop_latex`).
    derivation : bool
        The steps, as slides present them: the definition (a matrix of
        :math:`\partial f_i/\partial x_j`), then the evaluated entries; the
        factor product of a chain; each backward step of a backprop result.
    standalone : bool
        A complete document for pdflatex (amsmath, geometry, adjustbox);
        wide matrices are scaled down to the page, long entries listed.
    flatten : bool
        Print a 3D/4D Jacobian as its flattened 2-D matrix.
    matrix_env, transpose, element_style
        See :class:`LatexOptions`.

    Without ``derivation`` or ``standalone`` the result is maths without
    delimiters (a matrix for a Jacobian); otherwise text with ``\[...\]``
    displays. Unset parameters come from :func:`printoptions`, else the
    defaults (``False``, ``"pmatrix"``, ``"^{\top}"``, ``"upper"``).

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> to_latex(jacobian("x*y", wrt="x,y"))
    '\\begin{pmatrix} y & x \\end{pmatrix}'
    >>> to_latex(jacobian("A@x", wrt="x", shapes={"A": (2, 2), "x": 2}), matrix_env="bmatrix")
    '\\begin{bmatrix} A_{11} & A_{12} \\\\ A_{21} & A_{22} \\end{bmatrix}'
    """
    s = resolve_settings(derivation=derivation, standalone=standalone, flatten=flatten,
                 matrix_env=matrix_env, transpose=transpose, element_style=element_style)
    style = make_style(s)
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    style.shared["several"] = len(results) > 1
    blocks = [b for r in results for b in result_blocks(r, style)]
    return render_blocks(blocks, s)


def formula_tex(node: Node, options: LatexOptions = LatexOptions()) -> str:
    r"""A compact formula (an expression tree) with the options' transpose mark.

    Examples
    --------
    >>> from jacobian_calc.core.tree import Name
    >>> formula_tex(Name("X").T @ Name("dY"), LatexOptions(transpose="^T"))
    'X^T dY'
    """
    return formula_latex(node, options.transpose)


__all__ = ["LatexOptions", "Block", "Style", "to_latex", "numeric_to_latex", "printoptions",
           "latex_expr", "name_tex", "entry_tex", "generic_tex", "frac", "matrix", "grid_latex",
           "print_cells", "value_blocks", "broken_equation", "check_typesettable", "number_tex",
           "shape_tex", "of_tex", "escape", "jacobian_latex", "numeric_latex", "jacobian_name",
           "block_printer", "unregister_block_printer", "result_blocks", "render_blocks",
           "render_fragment", "render_document", "resolve_settings", "make_style",
           "max_matrix_columns", "registry_functions", "EntryPrinter", "formula_latex",
           "formula_tex", "INDEX_LETTERS", "MAX_TYPESET_SIDE"]
