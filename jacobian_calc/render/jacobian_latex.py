r"""The LaTeX of a Jacobian: its matrix, its name, and its derivation.

Registered with :func:`~jacobian_calc.render.latex.block_printer` for
:class:`~jacobian_calc.results.jacobian.JacobianResult`, as the other result
types are from their own modules (:mod:`.chain_latex`, :mod:`.backprop_latex`,
:mod:`.hessian_latex`).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import sympy as sp

from ..core.grid import Grid, strides
from ..results.jacobian import JacobianResult
from .latex import block_printer, make_style, render_blocks, resolve_settings
from .tex import (INDEX_LETTERS, MAX_DEFINITION_ENTRIES, Block, LatexOptions, Style,
                  check_typesettable, entry_tex, escape, frac, generic_tex, grid_latex,
                  name_tex, number_tex, of_tex, print_cells, shape_tex, value_blocks)


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


def _jacobian_of_tex(J: JacobianResult, options: LatexOptions) -> str:
    return of_tex(J.of_trees, options, J.of_shapes, J.of)


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


@block_printer(JacobianResult)
def jacobian_blocks(J: JacobianResult, style: Style) -> list[Block]:
    """A Jacobian: its matrix; with ``derivation`` its definition first."""
    if J.symbolic:  # no matrix at symbolic sizes: the index form (and its compact form)
        return _index_blocks(J) + _after(J, style)
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


__all__ = ["jacobian_blocks", "jacobian_latex", "numeric_latex", "jacobian_name", "numeric_to_latex",
           "JACOBIAN_EXTRAS"]
