r"""LaTeX output for lecture notes: matrices, block matrices, derivations, documents.

Entries are printed by SymPy's printer (one small subclass: the unit step,
ReLU's derivative, prints as the lectures' ``[x \geq 0]``), compact formulas
by :mod:`jacobian_calc.ir_latex`. What is ours: entry names (``A_{12}``), the
layout of 3D/4D tensors as block matrices, the derivation steps, and a
standalone document that compiles with pdflatex however wide the matrices or
long the entries.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from .errors import JacobianError
from .shapes import entry_symbol, latex_symbol_name
from .tensor import JacobianResult

MATRIX_ENVS = ("pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix")
TRANSPOSES = (r"^{\top}", "^T", "^{T}", r"^{\intercal}")
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
    tex = latex_symbol_name(sp.Symbol(name), options.element_style)
    if tex is None:
        return _underscored_entry(name) or sp.latex(sp.Symbol(name))
    base, index = re.fullmatch(r"(.*)(_\{[\d,]+\})", tex).groups()
    if options.element_style == "lower" and re.fullmatch(r"d[A-Z]", base):
        base = base.lower()  # Lecture 9 writes the entries of dM as dm_ij
    if "_" in base or "^" in base:  # W1_1_2: {W_{1}}_{12}, not a double subscript
        base = "{" + base + "}"
    return base + index


def _underscored_entry(name: str) -> str | None:
    """``b_out_1`` -> ``{b_{out}}_{1}``: an entry of a name that has an underscore."""
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*_[A-Za-z][A-Za-z0-9_]*?)((?:_\d+)+)", name)
    if not match:
        return None
    indices = match.group(2).split("_")[1:]
    sep = "," if any(len(i) > 1 for i in indices) else ""
    return "{" + sp.latex(sp.Symbol(match.group(1))) + "}_{" + sep.join(indices) + "}"


def entry_tex(name: str, index: tuple[int, ...], options: LatexOptions = LatexOptions()) -> str:
    """LaTeX for entry ``index`` (0-based) of array ``name``; the name itself for ``()``."""
    return name_tex(entry_symbol(name, index).name if index else name, options)


def generic_tex(name: str, letters: str, options: LatexOptions = LatexOptions()) -> str:
    """``Y_{ij}``: a generic entry of ``name`` (lower case for ``element_style="lower"``)."""
    base = name_tex(name, options)
    if options.element_style == "lower" and re.fullmatch(r"d?[A-Z]", name):
        base = base.lower()
    if "_" in base or "^" in base:
        base = "{" + base + "}"
    return f"{base}_{{{letters}}}" if letters else base


class _Printer(LatexPrinter):
    """SymPy's printer, with the unit step of ReLU written as an Iverson bracket."""

    def _print_Heaviside(self, expr, exp=None):
        if expr.args[1:] != (sp.Integer(1),):
            return super()._print_Heaviside(expr, exp)
        tex = r"\left[%s \geq 0\right]" % self._print(expr.args[0])
        return tex if exp is None else r"%s^{%s}" % (tex, exp)


def latex_expr(expr: sp.Basic, options: LatexOptions = LatexOptions()) -> str:
    r"""LaTeX for one SymPy expression, with entry symbols as ``A_{12}``.

    Examples
    --------
    >>> from jacobian_calc.shapes import entry_symbol
    >>> latex_expr(2 * entry_symbol("W", (0, 1)) + sp.Symbol("alpha"))
    '2 W_{12} + \\alpha'
    """
    expr = sp.sympify(expr)
    names = {s: name_tex(s.name, options) for s in expr.free_symbols
             if isinstance(s, sp.Symbol)}
    return _Printer({"symbol_names": names}).doprint(expr)


def frac(top: str, bottom: str) -> str:
    r"""``\frac{\partial top}{\partial bottom}``."""
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


# -- matrices -----------------------------------------------------------------------------

def matrix(rows: list[list[str]], env: str = "pmatrix") -> str:
    """A LaTeX matrix from already-printed cells."""
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return rf"\begin{{{env}}} {body} \end{{{env}}}"


def grid_latex(cells: np.ndarray, env: str = "pmatrix") -> str:
    """A matrix of printed cells; 3D/4D arrays become block matrices.

    The leading axes index the blocks, the last two the entries inside a block:
    block ``(i, j)`` of ``∂Y/∂X`` (numerator layout) is ``∂Y_ij/∂X``.
    """
    if cells.ndim == 0:
        return cells[()]
    if cells.ndim == 1:
        cells = cells.reshape(1, -1)
    if cells.ndim == 2:
        return matrix(cells.tolist(), env)
    lead = cells.shape[:-2]
    grid = (lead[0], 1) if len(lead) == 1 else (math.prod(lead[:-1]), lead[-1])
    blocks = cells.reshape(grid + cells.shape[-2:])
    return matrix([[grid_latex(blocks[i, j], env) for j in range(grid[1])]
                   for i in range(grid[0])], env)


def _arrange(J: JacobianResult, dense: np.ndarray, flatten: bool) -> np.ndarray:
    """Numerator-order ``dense`` (out + in axes) in J's layout, flattened to 2-D if asked."""
    k, n = len(J.out_shape), dense.ndim
    if J.layout == "denominator":
        dense = dense.transpose(list(range(k, n)) + list(range(k)))
        k = n - k
    if flatten or n <= 2:
        dense = dense.reshape(math.prod(dense.shape[:k]), math.prod(dense.shape[k:]))
    return dense


def _flat_shape(J: JacobianResult) -> tuple[int, int]:
    """Shape of ``J.flatten()``, without building it."""
    rows, cols = math.prod(J.out_shape), math.prod(J.in_shape)
    return (rows, cols) if J.layout == "numerator" else (cols, rows)


def _empty(shape: tuple[int, ...], fill) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    out.fill(fill)
    return out


def _jacobian_values(J: JacobianResult, flatten: bool) -> np.ndarray:
    """The entries (SymPy, zeros included) in display order."""
    check_typesettable(_flat_shape(J) if flatten or len(J.shape) <= 2 else J.shape)
    dense = _empty(J.out_shape + J.in_shape, sp.Integer(0))
    for index, expr in J.entries.items():
        dense[index] = expr
    return _arrange(J, dense, flatten)


def check_typesettable(shape: tuple[int, ...], what: str = "the Jacobian") -> None:
    """Refuse a display with more than :data:`MAX_TYPESET_SIDE` rows or columns."""
    rows, cols = _display_extent(shape)
    if max(rows, cols) > MAX_TYPESET_SIDE:
        raise JacobianError(
            f"{what} would be typeset as {rows} x {cols}, too large for LaTeX "
            f"(at most {MAX_TYPESET_SIDE} rows and columns)",
            hint="--spy draws its pattern, --format json lists its entries")


def _display_extent(shape: tuple[int, ...]) -> tuple[int, int]:
    """Rows and columns of the (block) matrix :func:`grid_latex` makes of ``shape``."""
    if len(shape) <= 2:
        return (1, math.prod(shape)) if len(shape) < 2 else shape
    lead = shape[:-2]
    grid = (lead[0], 1) if len(lead) == 1 else (math.prod(lead[:-1]), lead[-1])
    return grid[0] * shape[-2], grid[1] * shape[-1]


def _print_cells(values: np.ndarray, options: LatexOptions) -> np.ndarray:
    out = _empty(values.shape, "0")
    for index, expr in np.ndenumerate(values):
        if expr != 0:
            out[index] = latex_expr(expr, options)
    return out


def jacobian_latex(J: JacobianResult, options: LatexOptions = LatexOptions(),
                   flatten: bool = False) -> str:
    """The Jacobian as a LaTeX matrix (a block matrix for 3D/4D tensors)."""
    cells = _print_cells(_jacobian_values(J, flatten), options)
    return grid_latex(cells, options.matrix_env)


def numeric_latex(J: JacobianResult, values: np.ndarray,
                  options: LatexOptions = LatexOptions()) -> str:
    """A Jacobian evaluated at a point (``J.evaluate(at)``), flattened to a matrix."""
    check_typesettable(_flat_shape(J))
    flat = values.reshape(_flat_shape(J))
    cells = np.vectorize(_number_tex, otypes=[object])(flat)
    return grid_latex(cells, options.matrix_env)


def _number_tex(value: float) -> str:
    """``0.25``, ``1.5 \\cdot 10^{-12}``, ``\\infty``."""
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
    flat = int(np.ravel_multi_index(index, J.in_shape)) if index else 0
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


def _definition_cells(J: JacobianResult, flatten: bool, options: LatexOptions) -> np.ndarray:
    dense = _empty(J.out_shape + J.in_shape, "")
    k = len(J.out_shape)
    for index in np.ndindex(*dense.shape):
        dense[index] = frac(_out_entry(J, index[:k], options), _in_entry(J, index[k:], options))
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
class _Style:
    options: LatexOptions
    flatten: bool = False
    fit: bool = False  # standalone: list long entries instead of one huge matrix


def _visible(tex: str) -> int:
    """Rough printed width of some LaTeX maths, in characters."""
    tex = re.sub(r"\\(left|right|frac|begin\{\w+\}|end\{\w+\}|operatorname)", "", tex)
    tex = re.sub(r"\\partial", "d", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}_^\s]|\\,", "", tex))


def _matrix_width(cells: np.ndarray) -> int:
    if cells.ndim <= 1:
        return sum(_visible(c) + 2 for c in cells.flat)
    if cells.ndim == 2:
        return sum(max(_visible(c) for c in col) + 2 for col in cells.T)
    lead = cells.shape[:-2]
    columns = 1 if len(lead) == 1 else lead[-1]
    widest = max(_matrix_width(cells[i]) for i in np.ndindex(*lead))
    return columns * (widest + 2)


def _broken(lhs: str, expr: sp.Expr, options: LatexOptions) -> str:
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


def _value_blocks(lhs: str, values: np.ndarray, names: np.ndarray, style: _Style) -> list[Block]:
    """``lhs = matrix``; in a standalone document a wide matrix of long entries is
    shown as its pattern of entry names, each entry then on its own line(s)."""
    cells = _print_cells(values, style.options)
    env = style.options.matrix_env
    long = max((_visible(c) for c in cells.flat), default=0) > LINE_CHARS // 3
    if not style.fit or not long or _matrix_width(cells) <= LIST_ENTRIES_WIDTH:
        return [Block("math", f"{lhs} = {grid_latex(cells, env)}")]
    pattern = _empty(values.shape, "0")
    listing = []
    for index, expr in np.ndenumerate(values):
        if expr != 0:
            pattern[index] = names[index]
            listing.append(Block("math", _broken(names[index], expr, style.options)))
    if len(listing) == values.size:  # no zeros: the pattern would only repeat the names
        return listing
    return [Block("math", f"{lhs} = {grid_latex(pattern, env)}"),
            Block("text", "where the non-zero entries are"), *listing]


# -- Jacobians -------------------------------------------------------------------------------

def _shape_tex(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape)) if shape else "1"


def _of_tex(sources: list[str], options: LatexOptions, scalar: bool = False) -> str:
    """The differentiated expression(s), printed from the calculator's syntax.

    Scalar expressions go through SymPy (``2 \\pi t``); matrix expressions
    through the compact printer, where ``*`` is the Hadamard product.
    """
    from .arrays import Env, evaluate
    from .ir_latex import compact_to_latex
    from .parser import parse
    try:
        nodes = [node for source in sources for node in parse(source)]
        parts = [latex_expr(evaluate(n, Env())[()], options) if scalar else
                 compact_to_latex(n, options.transpose) for n in nodes]
    except (JacobianError, ValueError, TypeError, IndexError):
        return r"\texttt{" + _escape(", ".join(sources)) + "}"
    return parts[0] if len(parts) == 1 else r"\left(" + ", ".join(parts) + r"\right)"


def _scalar_inputs(J: JacobianResult) -> bool:
    """Differentiated w.r.t. scalars (not the entries of a declared array)."""
    return all(s.name in J.wrt for s in J.in_symbols)


def _escape(text: str) -> str:
    table = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
             "#": r"\#", "_": r"\_", "%": r"\%", "^": r"\^{}", "~": r"\~{}"}
    return "".join(table.get(c, c) for c in text)


def _jacobian_header(J: JacobianResult, style: _Style) -> list[Block]:
    o = style.options
    out = _group_tex(J.out_labels, o) if J.out_labels else name_tex(J.out_name, o)
    shape = f"shape ${_shape_tex(J.shape)}$"
    if style.flatten and len(J.shape) > 2:
        shape += f", flattened to ${_shape_tex(_flat_shape(J))}$"
    of = _of_tex(J.of, o, scalar=_scalar_inputs(J))
    return [Block("section", f"Jacobian of ${out} = {of}$ with respect to "
                             f"${_group_tex(J.wrt, o)}$"),
            Block("text", f"{J.layout.capitalize()} layout, {shape}; "
                          f"{J.nnz} of its {J.size} entries are non-zero.")]


def _jacobian_blocks(J: JacobianResult, style: _Style, derivation: bool) -> list[Block]:
    o = style.options
    name = jacobian_name(J, o)
    values = _jacobian_values(J, style.flatten)  # checks the size first
    definitions = _definition_cells(J, style.flatten, o)
    blocks = []
    if derivation:
        blocks = _definition_blocks(J, name, definitions, style)
        blocks.append(Block("text", "Evaluating every entry:"))
    return blocks + _value_blocks(name, values, definitions, style)


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


def _definition_blocks(J, name, definitions, style: _Style) -> list[Block]:
    o = style.options
    generic = _generic_definition(J, o)
    blocks = [Block("text", "By definition, in " + J.layout + " layout"
                    + (" (rows are the gradients of the components)"
                       if J.layout == "numerator" and len(J.shape) == 2 else "") + ",")]
    if generic:
        blocks.append(Block("math", generic))
    if len(J.shape) > 2 and not style.flatten:
        blocks.append(Block("text", _block_sentence(J, o)))
    if definitions.size <= MAX_DEFINITION_ENTRIES:
        blocks.append(Block("math", f"{name} = {grid_latex(definitions, o.matrix_env)}"))
    return blocks


# -- chain rule ----------------------------------------------------------------------------------

def _chain_blocks(c, style: _Style, derivation: bool) -> list[Block]:
    o = style.options
    factors = list(c.factors)
    if c.direct.layout == "denominator":  # (ABC)^T = C^T B^T A^T
        factors.reverse()
    names = " ".join(jacobian_name(f, o) for f in factors)
    products = " ".join(jacobian_latex(f, o) for f in factors)
    direct = jacobian_latex(c.direct, o)
    lhs = jacobian_name(c.direct, o)
    if not derivation:
        return [Block("math", f"{lhs} = {names} = {products} = {direct}")]
    blocks = [Block("text", "The chain rule through the intermediates:"),
              Block("math", f"{lhs} = {names}"),
              Block("text", "The factors, each in terms of its own inputs:")]
    blocks += [Block("math", f"{jacobian_name(f, o)} = {jacobian_latex(f, o)}") for f in factors]
    blocks += [Block("text", "Their product, with the intermediates substituted:"),
               Block("math", f"{lhs} = {products} = {direct}"),
               Block("text", "The product equals the Jacobian of the substituted expression "
                             "(checked entry by entry)." if c.agree else
                     r"\textbf{The product differs from the direct Jacobian}.")]
    return blocks


def _chain_header(c, style: _Style) -> list[Block]:
    return [Block("section", "Chain rule for $"
                  + name_tex(c.direct.out_name, style.options) + " = "
                  + _of_tex(c.direct.of, style.options, _scalar_inputs(c.direct)) + "$")]


# -- backprop ------------------------------------------------------------------------------------

def _output_name(g) -> str:
    return g.steps[-1][0] if g.steps else "Y"


def _gradient_shared(g, style: _Style) -> list[Block]:
    """The forward pass and the upstream gradient, shared by all variables."""
    from .ir_latex import compact_to_latex
    o = style.options
    blocks = []
    if g.steps:
        lines = r" \\ ".join(f"{name_tex(n)} &= {compact_to_latex(e, o.transpose)}"
                              for n, e in g.steps)
        blocks += [Block("text", "Forward pass, with named intermediates:"),
                   Block("math", rf"\begin{{aligned}} {lines} \end{{aligned}}")]
    out = _output_name(g)
    if g.upstream == "1":
        blocks.append(Block("text", f"The output ${name_tex(out)}$ is a scalar: the gradient of "
                                    f"a variable $M$ is $dM = \\partial {name_tex(out)} / "
                                    "\\partial M$, of the shape of $M$."))
        return blocks
    letters = INDEX_LETTERS[:len(g.jacobian.out_shape) if g.jacobian is not None else 2]
    blocks.append(Block("text", f"The upstream gradient ${name_tex(g.upstream)}$ has the shape "
                                f"of ${name_tex(out)}$: ${generic_tex(g.upstream, letters, o)} = "
                                f"\\partial J / \\partial {generic_tex(out, letters, o)}$ "
                                "for the scalar loss $J$."))
    return blocks


def _contraction(g, style: _Style) -> str:
    o = style.options
    J = g.jacobian
    out_shape = J.out_shape if J is not None else ()
    k, m = len(out_shape), len(g.shape)
    outs, ins = INDEX_LETTERS[:k], INDEX_LETTERS[k:k + m]
    lhs = generic_tex("d" + g.wrt, ins, o)
    var = generic_tex(g.wrt, ins, o)
    out = _output_name(g)
    if g.upstream == "1":
        return f"{lhs} = {frac(name_tex(out), var)}"
    total = rf"\sum_{{{','.join(outs)}}} " if outs else ""
    return (f"{lhs} = {total}{generic_tex(g.upstream, outs, o)} "
            f"{frac(generic_tex(out, outs, o), var)}")


def _explicit_values(g) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(g.explicit_array, dtype=object)
    check_typesettable(values.shape[::-1] if values.ndim == 1 else values.shape,
                       f"the gradient d{g.wrt}")
    names = _empty(values.shape, "")
    for index in np.ndindex(*values.shape):
        names[index] = entry_tex("d" + g.wrt, index)
    if values.ndim == 1:  # a vector's gradient is a column
        values, names = values.reshape(-1, 1), names.reshape(-1, 1)
    return values, names


def _verdict(g, options: LatexOptions) -> str:
    if g.agree:
        how = ("the difference of every entry simplifies to $0$" if g.symbolic else
               "they agree numerically; the symbolic check was undecided")
        return (f"The explicit and the compact gradient agree: {how} "
                f"(largest numerical difference ${_number_tex(g.max_abs_error)}$).")
    index, first, second = g.mismatch
    at = ", ".join(map(str, index))
    return (rf"\textbf{{The explicit and the compact gradient disagree}} at entry $({at})$: "
            f"${latex_expr(first, options)}$ against ${latex_expr(second, options)}$ "
            f"(largest difference ${_number_tex(g.max_abs_error)}$).")


def _compact_tex(g, options: LatexOptions) -> str:
    from .ir_latex import compact_to_latex
    return compact_to_latex(g.compact, options.transpose)


def _gradient_blocks(g, style: _Style, derivation: bool) -> list[Block]:
    o = style.options
    lhs = name_tex("d" + g.wrt, o)
    values, names = _explicit_values(g)
    if not derivation:
        cells = _print_cells(values, o)
        return [Block("math", f"{lhs} = {_compact_tex(g, o)} = {grid_latex(cells, o.matrix_env)}")]
    from .ir_latex import compact_to_latex
    blocks = [Block("section", f"Gradient with respect to ${name_tex(g.wrt, o)}$"
                               f" (${_shape_tex(g.shape)}$)")]
    if g.jacobian is not None:
        J, name = g.jacobian, frac(name_tex(_output_name(g), o), name_tex(g.wrt, o))
        blocks.append(Block("text", f"The Jacobian ${name}$ has shape ${_shape_tex(J.shape)}$ "
                                    f"and {J.nnz} non-zero entries out of {J.size}. "
                                    + ("Contracting it with the upstream gradient:"
                                       if g.upstream != "1" else
                                       "Each entry of the gradient is one of its entries:")))
    blocks.append(Block("math", _contraction(g, style)))
    blocks.append(Block("text", "Explicitly, entry by entry:"))
    blocks += _value_blocks(lhs, values, names, style)
    if g.backward:
        lines = r" \\ ".join(f"{name_tex(n, o)} &= {compact_to_latex(e, o.transpose)}"
                             for n, e in g.backward)
        blocks += [Block("text", "Backward pass, one compact rule per operation:"),
                   Block("math", rf"\begin{{aligned}} {lines} \end{{aligned}}")]
    blocks += [Block("text", "The compact form:"),
               Block("math", f"{lhs} = {_compact_tex(g, o)}"),
               Block("text", _verdict(g, o))]
    return blocks


def _gradient_header(g, style: _Style) -> list[Block]:
    return [Block("section", "Backpropagation through $"
                  + name_tex(_output_name(g), style.options) + " = "
                  + _of_tex([g.of], style.options) + "$")]


# -- putting it together -------------------------------------------------------------------------

def _blocks(results: list, style: _Style, derivation: bool, headers: bool) -> list[Block]:
    from .backprop import GradientResult
    from .chain import ChainResult
    blocks: list[Block] = []
    shared_done: set[str] = set()
    for r in results:
        if isinstance(r, ChainResult):
            blocks += (_chain_header(r, style) if headers else []) + \
                _chain_blocks(r, style, derivation)
        elif isinstance(r, GradientResult):
            if r.of not in shared_done and (headers or derivation):
                shared_done.add(r.of)
                blocks += _gradient_header(r, style) if headers else []
                blocks += _gradient_shared(r, style) if derivation else []
            blocks += _gradient_blocks(r, style, derivation)
        elif isinstance(r, JacobianResult):
            if headers:
                blocks += _jacobian_header(r, style)
            blocks += _jacobian_blocks(r, style, derivation or headers) if derivation else \
                _jacobian_blocks(r, style, False) if headers else \
                [Block("math", jacobian_latex(r, style.options, style.flatten))]
        else:
            raise JacobianError(f"cannot print a {type(r).__name__} as LaTeX")
    return blocks


def _render_fragment(blocks: list[Block], derivation: bool) -> str:
    if not derivation:
        return "\n\n".join(b.tex for b in blocks)
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


def _render_document(blocks: list[Block]) -> str:
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


# -- defaults and the public entry point ---------------------------------------------------------

_DEFAULTS: contextvars.ContextVar[dict] = contextvars.ContextVar("latex_defaults", default={})
_SETTINGS = ("derivation", "standalone", "flatten", "matrix_env", "transpose", "element_style")


@contextlib.contextmanager
def printoptions(**settings):
    """Defaults for :func:`to_latex` inside a ``with`` block, like ``numpy.printoptions``.

    The CLI sets the user's choices once; code that formats results (such as
    the backprop report) then calls ``to_latex(results)`` unchanged.
    """
    unknown = set(settings) - set(_SETTINGS)
    if unknown:
        raise TypeError(f"unknown LaTeX settings: {', '.join(sorted(unknown))}")
    token = _DEFAULTS.set({**_DEFAULTS.get(), **settings})
    try:
        yield
    finally:
        _DEFAULTS.reset(token)


def _settings(**given) -> dict:
    """The given settings over the :func:`printoptions` defaults over the built-in ones."""
    return {**dict(derivation=False, standalone=False, flatten=False), **LatexOptions().__dict__,
            **_DEFAULTS.get(), **{k: v for k, v in given.items() if v is not None}}


def _style(s: dict) -> _Style:
    options = LatexOptions(s["matrix_env"], s["transpose"], s["element_style"])
    return _Style(options, flatten=bool(s["flatten"]), fit=bool(s["standalone"]))


def _render(blocks: list[Block], s: dict) -> str:
    if s["standalone"]:
        return _render_document(blocks)
    return _render_fragment(blocks, bool(s["derivation"]))


def numeric_to_latex(results: list[JacobianResult], values: list[np.ndarray],
                     at: str | None = None, **settings) -> str:
    """Jacobians evaluated at a point (``J.evaluate(at)`` for each), as LaTeX.

    ``settings`` are those of :func:`to_latex`; the matrices are flattened.
    """
    s = _settings(**{**settings, "flatten": True})
    style = _style(s)
    blocks: list[Block] = []
    for J, value in zip(results, values):
        matrix_tex = numeric_latex(J, value, style.options)
        if not (s["standalone"] or s["derivation"]):
            blocks.append(Block("math", matrix_tex))
            continue
        blocks += _jacobian_header(J, style) if s["standalone"] else []
        if s["derivation"]:
            name = jacobian_name(J, style.options)
            blocks += _definition_blocks(J, name, _definition_cells(J, True, style.options),
                                         style)
        if at:
            blocks.append(Block("text", r"At \texttt{" + _escape(at) + "}:"))
        blocks.append(Block("math", f"{jacobian_name(J, style.options)} = {matrix_tex}"))
    return _render(blocks, s)


def to_latex(result, derivation: bool | None = None, standalone: bool | None = None,
             flatten: bool | None = None, matrix_env: str | None = None,
             transpose: str | None = None, element_style: str | None = None) -> str:
    r"""LaTeX for a result of the calculator.

    Parameters
    ----------
    result : JacobianResult, ChainResult, GradientResult, or a list of them
        What to print.
    derivation : bool
        The steps, as slides present them: the definition (a matrix of
        :math:`\partial f_i/\partial x_j`), then the evaluated entries; the
        factor product of a chain; the contraction, explicit and compact
        gradients and their agreement for backprop results.
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
    s = _settings(derivation=derivation, standalone=standalone, flatten=flatten,
                  matrix_env=matrix_env, transpose=transpose, element_style=element_style)
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    blocks = _blocks(results, _style(s), bool(s["derivation"]), headers=bool(s["standalone"]))
    return _render(blocks, s)
