r"""What the lecture notebooks need: maths to display, the calculator's symbols, exact checks.

A result typed alone in a Jupyter cell already renders as maths (its
``_repr_latex_``). These helpers cover the rest:

- :func:`show` displays ``label = value`` (a result, a SymPy object, a
  :class:`~jacobian_calc.core.grid.Grid` of entries) as rendered maths;
  :func:`maths` is the same LaTeX as a string;
- :func:`entry_symbols` gives the symbols the calculator uses for a declared
  array (``X_1_1``, ...), to write a lecture's answer in SymPy;
- :func:`same` compares two arrays exactly, entry by entry;
- :func:`spy_figure` draws where Jacobians are non-zero (needs matplotlib).

IPython and matplotlib are imported only when :func:`show` or :func:`spy_figure`
is called.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .core.errors import JacobianError, JacobianTypeError
from .core.grid import Grid, Shape
from .render.latex import make_style, resolve_settings, to_latex
from .render.tex import grid_latex, latex_expr, print_cells
from .results.jacobian import JacobianResult
from .symbolic.symbols import symbol_grid
from .symbolic.trusted import as_sympy


def maths(label: str, value: Any, **settings) -> str:
    r"""``label = value`` in LaTeX: what :func:`show` displays.

    Parameters
    ----------
    label : str
        LaTeX for the left-hand side, e.g. ``r"\frac{\partial z}{\partial x}"``.
    value
        A result of the calculator (printed by :func:`~jacobian_calc.to_latex`),
        a SymPy expression, ``Matrix`` or ``Array``, a ``Grid`` of entries (a
        backward step's ``explicit``), a number, or a string of LaTeX.
    **settings
        Those of :func:`~jacobian_calc.to_latex` that concern maths: ``matrix_env``,
        ``transpose``, ``element_style``, ``flatten``.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> maths("J", jacobian("x*y", wrt="x,y"))
    'J = \\begin{pmatrix} y & x \\end{pmatrix}'
    >>> maths("dM", entry_symbols("M", (1, 2)), matrix_env="bmatrix")
    'dM = \\begin{bmatrix} M_{11} & M_{12} \\end{bmatrix}'
    >>> maths("g", Grid((2,), [sp.Symbol("a"), 0]))  # a vector's gradient is a column
    'g = \\begin{pmatrix} a \\\\ 0 \\end{pmatrix}'
    """
    return f"{label} = {_value_tex(value, settings)}"


def _value_tex(value: Any, settings: dict) -> str:
    if isinstance(value, str):
        return value
    cells = _as_grid(value)
    if cells is None:
        return to_latex(value, **settings)
    options = make_style(resolve_settings(**settings)).options
    if cells.ndim == 0:
        return latex_expr(cells.item(), options)
    if cells.ndim == 1:
        cells = cells.reshape((cells.size, 1))
    return grid_latex(print_cells(cells, options), options.matrix_env)


def _as_grid(value: Any) -> Grid | None:
    """SymPy objects, grids and numbers as a Grid of SymPy entries; None for results."""
    if isinstance(value, Grid):
        return value.map(as_sympy)
    if isinstance(value, sp.MatrixBase):
        return Grid(value.shape, list(value))
    if isinstance(value, sp.NDimArray):
        return Grid(value.shape, list(sp.flatten(value.tolist())) if value.shape else [value[()]])
    if isinstance(value, (sp.Basic, int, float)):
        return Grid.scalar(as_sympy(value))
    return None


def show(label: str, value: Any, **settings) -> None:
    r"""Display ``label = value`` as rendered maths in Jupyter (see :func:`maths`).

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> show(r"\nabla f", jacobian("x*y", wrt="x,y"))  # doctest: +SKIP
    """
    from IPython.display import Math, display  # noqa: PLC0415 - only inside Jupyter

    display(Math(maths(label, value, **settings)))


def entry_symbols(name: str, shape: int | Shape = ()) -> sp.Expr | sp.Matrix | sp.Array:
    """The symbols the calculator uses for a declared array: entry ``(i, j)`` of ``A`` is
    the real symbol ``A_{i+1}_{j+1}`` (1-based, as on the slides).

    A scalar is its symbol, a vector a column ``Matrix``, a matrix a ``Matrix``,
    anything larger an ``Array``.

    Examples
    --------
    >>> entry_symbols("W", (2, 2))
    Matrix([
    [W_1_1, W_1_2],
    [W_2_1, W_2_2]])
    >>> entry_symbols("b", 2).T, entry_symbols("t"), entry_symbols("t").is_real
    (Matrix([[b_1, b_2]]), t, True)
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    grid = symbol_grid(name, shape)
    if grid.ndim == 0:
        return grid.item()
    if grid.ndim <= 2:
        return sp.Matrix(shape[0], shape[1] if grid.ndim == 2 else 1, grid.flat)
    return sp.ImmutableDenseNDimArray(grid.flat, shape)


def same(a: Any, b: Any) -> bool:
    """Exact symbolic equality, entry by entry.

    ``a`` and ``b`` may be results (a Jacobian compares in its layout), SymPy
    objects, grids, nested lists or scalars. Their shapes must agree; a 1-D
    sequence (which has no orientation) matches a column or a row of its length.
    Entries are equal when their difference expands or simplifies to zero.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> same([[x * (x + y)]], sp.Matrix([[x**2 + x*y]]))
    True
    >>> same([x, y], sp.Matrix([x, y])), same([x, y], sp.Matrix([[x, y]]))
    (True, True)
    >>> same(sp.Matrix([[x, y]]), sp.Matrix([x, y])), same([x, y], [x, x])
    (False, False)
    """
    first, second = _entries(a), _entries(b)
    if not _same_shape(first.shape, second.shape):
        return False
    return all(_equal(p, q) for p, q in zip(first.flat, second.flat))


def _entries(value: Any) -> Grid:
    if isinstance(value, JacobianResult):
        return value.as_grid()
    grid = _as_grid(value)
    if grid is not None:
        return grid
    if not isinstance(value, (list, tuple)):
        raise JacobianTypeError(f"same() compares results, SymPy objects, numbers and nested "
                                f"lists of them, not {type(value).__name__}")
    return _nested(value)


#: Deepest nested list same() reads (arrays of the calculator have far fewer dimensions).
MAX_NESTING = 32


def _nested(value: list | tuple) -> Grid:
    """Nested lists of SymPy objects or numbers as a Grid (text refused, never parsed)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > MAX_NESTING:
            raise JacobianError(f"same(): lists nested more than {MAX_NESTING} deep")
        stack.extend((v, level + 1) for v in item if isinstance(v, (list, tuple)))
    try:
        grid = Grid.from_nested(value)
    except ValueError:
        raise JacobianError("same(): ragged nested lists") from None
    return grid.map(lambda v: as_sympy(v, "an entry compared by same()"))


def _same_shape(first: Shape, second: Shape) -> bool:
    def vector(shape: Shape) -> Shape:
        return (max(shape),) if len(shape) == 2 and min(shape) == 1 else shape
    if len(first) == 1 or len(second) == 1:
        return vector(first) == vector(second)
    return first == second


def _equal(p: Any, q: Any) -> bool:
    difference = as_sympy(p) - as_sympy(q)
    return sp.expand(difference) == 0 or sp.simplify(difference) == 0


def spy_figure(result) -> Any:
    """A matplotlib ``Figure``: where each Jacobian of ``result`` is non-zero, flattened,
    entries named on the axes (one panel per Jacobian). Needs matplotlib
    (``pip install "jacobian_calc[plot]"``).
    """
    from .render.spy import spy_figure as draw  # noqa: PLC0415 - NumPy and matplotlib

    return draw(result)


__all__ = ["show", "maths", "entry_symbols", "same", "spy_figure"]
