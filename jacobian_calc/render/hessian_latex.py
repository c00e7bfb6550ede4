r"""LaTeX of Hessians: one (block) matrix per pair of variables, the compact form.

Registered with :func:`~jacobian_calc.render.latex.block_printer`, so
``to_latex(hessian(...))`` and ``jac --hessian --format latex`` work as for
Jacobians: maths alone by default; with ``derivation`` the definition, the
symmetry verdict and the verification of the compact form in words.
"""

from __future__ import annotations

from ..core.grid import Grid
from ..results.hessian import MATRIX, SYMMETRIC, CompactHessian, HessianBlock, HessianResult
from .latex import block_printer
from .tex import (Block, LatexOptions, Style, check_typesettable, escape, formula_tex,
                  grid_latex, name_tex, number_tex, of_tex, print_cells)


def hessian_name(H: HessianResult, b: HessianBlock, options: LatexOptions) -> str:
    r"""``\frac{\partial^2 f}{\partial W \, \partial b}``."""
    f = name_tex(H.out_name, options)
    u, v = name_tex(b.row, options), name_tex(b.col, options)
    if len(b.col_shape) == 1:  # x x^T: the Hessian of a vector variable
        v += options.transpose
    return rf"\frac{{\partial^2 {f}}}{{\partial {u} \, \partial {v}}}"


def _cells(H: HessianResult, b: HessianBlock, style: Style, values=None) -> Grid:
    grid = b.flat_grid() if style.flatten else b.as_grid()
    check_typesettable(grid.shape, f"the Hessian block {b.row}, {b.col}")
    if values is not None:
        return Grid(grid.shape, [number_tex(float(x)) for x in values.reshape(grid.shape).flat])
    return print_cells(grid, style.options)


def block_math(H: HessianResult, b: HessianBlock, style: Style, values=None) -> str:
    """``name = matrix`` of one block."""
    cells = _cells(H, b, style, values)
    return f"{hessian_name(H, b, style.options)} = {grid_latex(cells, style.options.matrix_env)}"


def compact_math(c: CompactHessian, options: LatexOptions) -> list[str]:
    """The compact formulas, then the named subexpressions."""
    lines = [f"{_label_tex(t.label, options)} = {formula_tex(t.tree, options)}"
             for t in c.terms]
    lines += [f"{name_tex(name, options)} = {formula_tex(tree, options)}"
              for name, tree, _ in c.where]
    return lines


def _label_tex(label: str, options: LatexOptions) -> str:
    if label.startswith("(Hv)_"):
        return rf"(H v)_{{{name_tex(label[5:], options)}}}"
    if label.startswith("H") and len(label) > 1:
        return "H " + name_tex(label[1:], options)
    return label


@block_printer(HessianResult)
def hessian_blocks(H: HessianResult, style: Style, values: dict | None = None) -> list[Block]:
    """The blocks, then the compact form; with ``derivation`` the words too."""
    o = style.options
    blocks: list[Block] = []
    if style.headers:
        wrt = ", ".join(name_tex(v, o) for v in H.wrt)
        of = of_tex(H.of_trees, o, H.of_shapes, H.of)
        blocks.append(Block("section", f"Hessian of ${name_tex(H.out_name, o)} = {of}$ with "
                                       f"respect to ${wrt}$"))
    if style.derivation:
        blocks.append(Block("text", _definition(H)))
    for key in H.pairs():
        number = None if values is None else values[key]
        blocks.append(Block("math", block_math(H, H.blocks[key], style, number)))
    if style.derivation or style.headers:
        blocks.append(Block("text", _symmetry_sentence(H)))
    c = H.compact
    if not c.found:
        if style.derivation or style.headers:
            blocks.append(Block("text", "No compact form: " + escape(c.reason) + "."))
        return blocks
    if style.derivation or style.headers:
        blocks.append(Block("text", "In compact form" + (":" if c.kind == MATRIX else
                                                         ", as a Hessian-vector product:")))
    blocks += [Block("math", line) for line in compact_math(c, o)]
    if style.derivation or style.headers:
        blocks.append(Block("text", "Checked against the explicit Hessian: "
                            + escape(f"{c.check.verdict} ({c.check.how})") + "."))
    return blocks


def _definition(H: HessianResult) -> str:
    layout = ("" if not H.out_shape else " The output's axes come "
              + ("first" if H.layout == "numerator" else "last") + f" ({H.layout} layout).")
    return ("The Hessian is the Jacobian of the gradient: each entry is a second "
            "derivative, one block per pair of variables." + layout)


def _symmetry_sentence(H: HessianResult) -> str:
    s = H.symmetry
    if s.verdict == SYMMETRIC:
        pairs = "1 pair" if s.pairs == 1 else f"{s.pairs} pairs"
        return f"It is symmetric: {pairs} of mixed partial derivatives proved equal."
    return escape(f"Symmetry: {s.verdict} ({s.how}).")


__all__ = ["hessian_blocks", "hessian_name", "block_math", "compact_math"]
