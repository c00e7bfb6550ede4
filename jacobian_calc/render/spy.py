"""Spy plots: where a (flattened) Jacobian is non-zero, its entries named on the axes.

The lectures' point about element-wise maps ("N = 1024: 1024² entries, only
1024 non-zero") is best seen, not counted. Matplotlib is an optional extra
(``pip install "jacobian_calc[plot]"``), imported only when a plot is asked for;
the figure is drawn without ``pyplot``, so no global backend is touched.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np

from ..core.errors import JacobianError
from ..core.files import atomic_write
from ..results.jacobian import JacobianResult
from .text import labels as entry_labels

#: Image formats by file suffix (matplotlib writes each natively).
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

#: Resolution of saved images, in dots per inch.
DPI = 100
#: Inches per matrix cell, and the bounds of a panel's side.
CELL_INCHES, MIN_INCHES, MAX_INCHES = 0.32, 1.2, 16.0
#: Room for the tick labels and the title around each panel, in inches.
MARGIN_INCHES = (1.3, 1.2)  # (width, height)
#: At most this many tick labels per axis; beyond, every k-th entry is named.
MAX_TICKS = 40
#: Cell borders are drawn up to this many rows or columns.
MAX_GRID = 100


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise JacobianError("{{spy}} needs matplotlib, which is not installed",
                            hint='install it with: pip install "jacobian_calc[plot]"') from None
    return Figure, FigureCanvasAgg


def _jacobians(result) -> list[JacobianResult]:
    """The Jacobians inside a result: itself, a chain's direct one, a gradient's."""
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    out = []
    for item in items:
        J = getattr(item, "direct", None) or getattr(item, "jacobian", None) or item
        if not isinstance(J, JacobianResult):
            raise JacobianError(f"cannot draw the pattern of a {type(item).__name__}")
        out.append(J)
    return out


def pattern(J: JacobianResult) -> np.ndarray:
    """Boolean matrix: where the flattened Jacobian (in J's layout) is non-zero.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> pattern(jacobian("x1*x2, x2", wrt="x1,x2")).astype(int)
    array([[1, 1],
           [0, 1]])
    """
    n_out, n_in = int(np.prod(J.out_shape)), int(np.prod(J.in_shape))
    mask = np.zeros((n_out, n_in), dtype=bool)
    k = len(J.out_shape)
    for index in J.entries:
        row = np.ravel_multi_index(index[:k], J.out_shape) if k else 0
        mask[row, np.ravel_multi_index(index[k:], J.in_shape)] = True
    return mask if J.layout == "numerator" else mask.T


def _panel_inches(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = mask.shape
    return _side(cols, MARGIN_INCHES[0]), _side(rows, MARGIN_INCHES[1])


def _side(cells: int, margin: float) -> float:
    """Whole quarter inches, so that inches × dpi is a whole number of pixels."""
    inches = min(MAX_INCHES, max(MIN_INCHES, cells * CELL_INCHES)) + margin
    return math.ceil(inches * 4) / 4


def figure_size(result) -> tuple[float, float]:
    """Figure size in inches: the panels side by side (pixels = inches × dpi)."""
    sizes = [_panel_inches(pattern(J)) for J in _jacobians(result)]
    return sum(w for w, _ in sizes), max(h for _, h in sizes)


def _ticks(labels: list[str]) -> tuple[list[int], list[str]]:
    step = max(1, -(-len(labels) // MAX_TICKS))
    positions = list(range(0, len(labels), step))
    return positions, [labels[i] for i in positions]


def _draw(ax, J: JacobianResult) -> None:
    mask = pattern(J)
    outs, ins = entry_labels(J)
    rows, cols = (outs, ins) if J.layout == "numerator" else (ins, outs)
    ax.imshow(mask, cmap="Greys", vmin=0, vmax=1.25, interpolation="nearest", aspect="equal")
    size = max(5, min(9, 220 / max(mask.shape)))
    for set_ticks, set_labels, labels in ((ax.set_xticks, ax.set_xticklabels, cols),
                                          (ax.set_yticks, ax.set_yticklabels, rows)):
        positions, names = _ticks(labels)
        set_ticks(positions)
        set_labels(names, fontsize=size)
    ax.tick_params(axis="x", labelrotation=90, top=True, labeltop=True,
                   bottom=False, labelbottom=False)
    if max(mask.shape) <= MAX_GRID:  # cell borders; beyond, they would be a grey smear
        ax.set_xticks(np.arange(-0.5, mask.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, mask.shape[0]), minor=True)
        ax.grid(which="minor", color="0.85", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
    wrt = J.in_name if len(J.wrt) == 1 else "(" + ", ".join(J.wrt) + ")"
    ax.set_title(f"∂{J.out_name}/∂{wrt}\n{J.nnz} of {J.size} non-zero", fontsize=10)


def spy_figure(result):
    """A matplotlib ``Figure`` with one spy panel per Jacobian of ``result``."""
    Figure, FigureCanvasAgg = _matplotlib()
    jacobians = _jacobians(result)
    widths = [_panel_inches(pattern(J))[0] for J in jacobians]
    fig = Figure(figsize=figure_size(jacobians), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(jacobians), squeeze=False, width_ratios=widths)[0]
    for ax, J in zip(axes, jacobians):
        _draw(ax, J)
    return fig


def spy(result, path: str, *, dpi: int = DPI) -> tuple[int, int]:
    """Save the non-zero pattern of ``result`` as PNG, SVG or PDF (by suffix), atomically.

    Parameters
    ----------
    result : JacobianResult, ChainResult, gradient result or a list of them
        One panel per Jacobian (a gradient's is ``∂Y/∂W``).
    path : str
        Where to write; the suffix (``.png``, ``.svg``, ``.pdf``) names the
        format. A failure leaves no partial file.
    dpi : int
        Dots per inch: a PNG is ``figure_size(result) × dpi`` pixels
        (exactly, for a dpi divisible by 4).

    Returns
    -------
    (width, height) in pixels at ``dpi``.
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise JacobianError(f"cannot draw into {path}: use a .png, .svg or .pdf file name")
    fig = spy_figure(result)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=FORMATS[suffix], dpi=dpi)
    atomic_write(path, buffer.getvalue())
    width, height = fig.get_size_inches() * dpi
    return int(round(width)), int(round(height))
