"""LaTeX output: matrices, block matrices for 3D/4D tensors.

Entries are printed by SymPy's printer; only entry-symbol names (``A_{12}``)
and the matrix layout are ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .shapes import latex_symbol_name
from .tensor import JacobianResult


@dataclass(frozen=True)
class LatexOptions:
    """Printing choices a lecturer expects to make.

    Attributes
    ----------
    matrix_env : str
        ``"pmatrix"`` (default) or ``"bmatrix"`` (any amsmath matrix environment).
    transpose : str
        ``"^{\\top}"`` or ``"^T"``.
    element_style : str
        ``"upper"`` writes entries of ``A`` as ``A_{ij}``, ``"lower"`` as ``a_{ij}``.
    """

    matrix_env: str = "pmatrix"
    transpose: str = r"^{\top}"
    element_style: str = "upper"


def latex_expr(expr: sp.Basic, options: LatexOptions = LatexOptions()) -> str:
    """LaTeX for one SymPy expression, with entry symbols as ``A_{12}``."""
    names = {}
    for s in expr.free_symbols:
        tex = latex_symbol_name(s, options.element_style)
        if tex is not None:
            names[s] = tex
    return sp.latex(expr, symbol_names=names)


def matrix(rows: list[list[str]], env: str = "pmatrix") -> str:
    """A LaTeX matrix from already-printed cells."""
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return rf"\begin{{{env}}} {body} \end{{{env}}}"


def _dense_latex(dense: np.ndarray, options: LatexOptions) -> str:
    if dense.ndim == 0:
        return latex_expr(dense[()], options)
    if dense.ndim == 1:
        dense = dense.reshape(1, -1)
    if dense.ndim == 2:
        return matrix([[latex_expr(e, options) for e in row] for row in dense],
                      options.matrix_env)
    # A block matrix: the leading axes index the blocks, the last two the entries.
    lead = dense.shape[:-2]
    grid = lead if len(lead) == 2 else (lead[0], 1)
    blocks = dense.reshape(grid + dense.shape[-2:])
    rows = [[_dense_latex(blocks[i, j], options) for j in range(grid[1])]
            for i in range(grid[0])]
    return matrix(rows, options.matrix_env)


def jacobian_latex(J: JacobianResult, options: LatexOptions = LatexOptions(),
                   flatten: bool = False) -> str:
    """The Jacobian as a LaTeX matrix (a block matrix for 3D/4D tensors)."""
    if flatten:
        dense = np.array(J.flatten().tolist(), dtype=object)
    else:
        dense = J.as_object_array()
    return _dense_latex(dense, options)


def to_latex(result, *, flatten: bool = False, matrix_env: str = "pmatrix",
             transpose: str = r"^{\top}", element_style: str = "upper", **_ignored) -> str:
    """LaTeX for a result of the calculator.

    Parameters
    ----------
    result : JacobianResult
        What to print.
    flatten : bool
        Print a 3D/4D Jacobian as its flattened 2-D matrix.
    matrix_env, transpose, element_style
        See :class:`LatexOptions`.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> to_latex(jacobian("x*y", wrt="x,y"))
    '\\\\begin{pmatrix} y & x \\\\end{pmatrix}'
    """
    options = LatexOptions(matrix_env, transpose, element_style)
    return jacobian_latex(result, options, flatten=flatten)
