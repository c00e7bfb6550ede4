"""Plain-text display of Jacobians: labelled matrices and labelled blocks."""

from __future__ import annotations

import numpy as np

from .tensor import JacobianResult

#: Tensors with more entries than this are summarised unless ``full=True``.
SUMMARY_ENTRIES = 400
SUMMARY_BLOCKS = 3
_OUT_LETTERS, _IN_LETTERS = "ijmn", "klpq"


def table(cells: list[list[str]], row_labels: list[str], col_labels: list[str]) -> str:
    """An aligned text table with row and column labels."""
    widths = [max([len(col_labels[j])] + [len(r[j]) for r in cells])
              for j in range(len(col_labels))]
    label_width = max((len(x) for x in row_labels), default=0)
    lines = [" " * label_width + "   " + "  ".join(c.rjust(w) for c, w in zip(col_labels, widths))]
    for label, row in zip(row_labels, cells):
        lines.append(label.ljust(label_width) + " │ "
                     + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)


def _labels(J: JacobianResult) -> tuple[list[str], list[str]]:
    """Labels of the output entries and the input entries (1-based, row-major)."""
    outputs = list(J.out_labels) or [_entry_label(J.out_name, i)
                                      for i in np.ndindex(*J.out_shape)]
    if len(J.wrt) > 1 or J.in_shape == (1,):
        inputs = list(J.wrt)
    else:
        inputs = [_entry_label(J.in_name, i) for i in np.ndindex(*J.in_shape)]
    return outputs, inputs


def _entry_label(name: str, index: tuple[int, ...]) -> str:
    if not index:
        return name
    if all(i < 9 for i in index):
        return name + "".join(str(i + 1) for i in index)
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


def _header(J: JacobianResult) -> str:
    shape = " x ".join(map(str, J.shape)) or "1"
    of = ", ".join(J.of)
    if len(of) > 70:
        of = of[:67] + "..."
    wrt = J.in_name if len(J.wrt) == 1 else "(" + ", ".join(J.wrt) + ")"
    return (f"Jacobian ∂{J.out_name}/∂{wrt} of {of}\n"
            f"{J.layout} layout, shape {shape}, {J.nnz} non-zero of {J.size}")


def _matrix_text(J: JacobianResult) -> str:
    """The flattened Jacobian with rows ∂f_i and columns ∂/∂x_j (swapped for denominator)."""
    outputs, inputs = _labels(J)
    flat = J.flatten()
    cells = [[str(flat[r, c]) for c in range(flat.cols)] for r in range(flat.rows)]
    if J.layout == "numerator":
        return table(cells, [f"∂{o}" for o in outputs], [f"∂/∂{x}" for x in inputs])
    return table(cells, [f"∂/∂{x}" for x in inputs], [f"∂{o}" for o in outputs])


def render_jacobian(J: JacobianResult, full: bool = False, flatten: bool = False) -> str:
    """Text for a Jacobian: a labelled matrix for 1-D/2-D, labelled blocks beyond.

    Parameters
    ----------
    J : JacobianResult
        The Jacobian to show.
    full : bool
        Show every block of a large tensor instead of a summary.
    flatten : bool
        Show the flattened 2-D matrix (output entries by input entries).
    """
    head = _header(J)
    if flatten or (len(J.out_shape) <= 1 and len(J.in_shape) <= 1):
        if len(J.shape) > 2:
            rows, cols = J.flatten().shape
            head += f", flattened to {rows} x {cols}"
        if J.size > SUMMARY_ENTRIES * 4 and not full:
            return head + "\n\n(too large to show; use --full or --format json)"
        return head + "\n\n" + _matrix_text(J)
    return head + "\n\n" + _blocks_text(J, full)


def _letters(J: JacobianResult) -> list[str]:
    """Index letters in layout order: i, j for the output, k, l for the input."""
    out, inp = list(_OUT_LETTERS[:len(J.out_shape)]), list(_IN_LETTERS[:len(J.in_shape)])
    return out + inp if J.layout == "numerator" else inp + out


def _block_title(J: JacobianResult, lead: tuple[int, ...]) -> str:
    letters = _letters(J)
    index = ", ".join(f"{letters[a]}={i + 1}" for a, i in enumerate(lead))
    return f"∂{J.out_name}/∂{J.in_name}[{index}] ="


def _blocks_text(J: JacobianResult, full: bool) -> str:
    blocks = list(J.blocks())
    show = blocks if full or J.size <= SUMMARY_ENTRIES else blocks[:SUMMARY_BLOCKS]
    parts = []
    for lead, block in show:
        cells = [[str(e) for e in row] for row in block]
        row_letter, col_letter = _letters(J)[-2:]
        rows = [f"{row_letter}={r + 1}" for r in range(block.shape[0])]
        cols = [f"{col_letter}={c + 1}" for c in range(block.shape[1])]
        parts.append(_block_title(J, lead) + "\n" + table(cells, rows, cols))
    if len(show) < len(blocks):
        parts.append(f"... {len(blocks) - len(show)} more blocks of "
                     f"{blocks[0][1].shape[0]} x {blocks[0][1].shape[1]} "
                     "(use --full to show all)")
    return "\n\n".join(parts)
