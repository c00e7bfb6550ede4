"""Plain-text display of results: labelled matrices, labelled blocks, chains, values."""

from __future__ import annotations

import math

import sympy as sp

from ..core.grid import Grid, dim_label, ndindex
from ..core.names import entry_label
from ..results.base import printer
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult
from .shared import Printer, check_size, entry_printer

#: Tensors with more entries than this are summarised unless ``full=True``.
SUMMARY_ENTRIES = 400
SUMMARY_BLOCKS = 3
#: Characters a number of a table of values takes, about.
NUMBER_WIDTH = 12
OUT_LETTERS, IN_LETTERS = "ijmn", "klpq"


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


def labels(J: JacobianResult) -> tuple[list[str], list[str]]:
    """Labels of the output entries and the input entries (1-based, row-major)."""
    outputs = list(J.out_labels) or [entry_label(J.out_name, i) for i in ndindex(J.out_shape)]
    if len(J.wrt) > 1 or J.in_shape == (1,):
        inputs = list(J.wrt)
    else:
        inputs = [entry_label(J.in_name, i) for i in ndindex(J.in_shape)]
    return outputs, inputs


def header(J: JacobianResult) -> str:
    shape = " x ".join(map(dim_label, J.shape)) or "1"
    of = ", ".join(J.of)
    if len(of) > 70:
        of = of[:67] + "..."
    wrt = J.in_name if len(J.wrt) == 1 else "(" + ", ".join(J.wrt) + ")"
    return (f"Jacobian ∂{J.out_name}/∂{wrt} of {of}\n"
            f"{J.layout} layout, shape {shape}, {J.nnz} non-zero of {J.size}")


def _axis_labels(J: JacobianResult) -> tuple[list[str], list[str]]:
    outputs, inputs = labels(J)
    rows, cols = [f"∂{o}" for o in outputs], [f"∂/∂{x}" for x in inputs]
    return (rows, cols) if J.layout == "numerator" else (cols, rows)


def _matrix_text(J: JacobianResult, shared: bool | None) -> str:
    """The flattened Jacobian with rows ∂f_i and columns ∂/∂x_j (swapped for denominator)."""
    check_size(2 * J.size, "the table")  # before building it: each cell takes 2 or more
    flat = J.flat_grid()
    text = _printer(J, flat.flat, shared)
    texts = text.texts(flat)
    cells = [texts.flat[r * flat.shape[1]:(r + 1) * flat.shape[1]] for r in range(flat.shape[0])]
    return table(cells, *_axis_labels(J)) + _where(text)


def taken_names(J: JacobianResult) -> set[str]:
    """Names a shared subexpression must not take: every name the result mentions."""
    return set(J.variables) | set(J.wrt) | set(J.arrays) | {J.out_name, J.in_name}


def _printer(J: JacobianResult, cells: list, shared: bool | None) -> Printer:
    return entry_printer(cells, taken_names(J), shared, overhead=2, dense=len(cells),
                         what="the table")


def _where(text: Printer) -> str:
    """The shared subexpressions' definitions, below the entries that use them."""
    definitions = text.definitions()
    if not definitions:
        return ""
    return "\n\nwhere\n" + "\n".join(f"  {name} = {value}" for name, value in definitions)


@printer("text", JacobianResult)
def render_jacobian(J: JacobianResult, full: bool = False, flatten: bool = False,
                    shared: bool | None = None) -> str:
    """Text for a Jacobian: a labelled matrix for 1-D/2-D, labelled blocks beyond.

    Parameters
    ----------
    J : JacobianResult
        The Jacobian to show.
    full : bool
        Show every block of a large tensor instead of a summary.
    flatten : bool
        Show the flattened 2-D matrix (output entries by input entries).
    shared : bool or None
        Print subexpressions shared by entries once, under names ``S1, S2, ...``
        (``where S1 = ...`` below the entries): always (True), never (False),
        or when that shortens a large output a lot (None); see
        :mod:`jacobian_calc.render.shared`.
    """
    if J.symbolic:
        return generic_header(J) + index_text(J)
    return _explicit_text(J, full, flatten, shared) + index_text(J)


def generic_header(J: JacobianResult) -> str:
    """The first lines for a Jacobian at symbolic sizes (no entries to count)."""
    shape = " x ".join(map(dim_label, J.shape)) or "1"
    return (f"Jacobian ∂{J.out_name}/∂{J.in_name} of {', '.join(J.of)}\n"
            f"{J.layout} layout, shape {shape}, for every size")


def index_text(J: JacobianResult) -> str:
    """The index form, when asked for: ``(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]`` with the
    index ranges."""
    if J.index is None:
        return ""
    ranges = f" ({J.index.ranges})" if J.index.ranges else ""
    where = "at these sizes" if _shifted_at_concrete_sizes(J.index) else \
        "the same at every size"
    return (f"\n\nIndex form, {where}{ranges}:\n"
            f"  {J.index.text()}")


def _shifted_at_concrete_sizes(index) -> bool:
    """An index form with shifted indices or range brackets (``pad``, ``conv1d``) at a
    concrete size holds that size's numbers (``[1 ≤ i − 1 ≤ 3]``)."""
    import sympy as sp  # noqa: PLC0415
    from ..index.algebra import InRange  # noqa: PLC0415
    form = index.index_form
    shifted = form.has(InRange) or any(
        not (a.is_Symbol or a.is_Integer)
        for e in form.atoms(sp.Indexed, sp.KroneckerDelta)
        for a in (e.indices if isinstance(e, sp.Indexed) else e.args))
    return shifted and any(getattr(n, "is_Integer", False) for n in index.sizes)


def _explicit_text(J: JacobianResult, full: bool, flatten: bool, shared: bool | None) -> str:
    head = header(J)
    if flatten or (len(J.out_shape) <= 1 and len(J.in_shape) <= 1):
        if len(J.shape) > 2:
            rows, cols = J.flat_shape()
            head += f", flattened to {rows} x {cols}"
        if J.size > SUMMARY_ENTRIES * 4 and not full:
            return head + "\n\n(too large to show; use {{full}} or {{format_json}})"
        return head + "\n\n" + _matrix_text(J, shared)
    return head + "\n\n" + _blocks_text(J, full, shared)


def letters(J: JacobianResult) -> list[str]:
    """Index letters in layout order: i, j for the output, k, l for the input."""
    out, inp = list(OUT_LETTERS[:len(J.out_shape)]), list(IN_LETTERS[:len(J.in_shape)])
    return out + inp if J.layout == "numerator" else inp + out


def _block_title(J: JacobianResult, lead: tuple[int, ...]) -> str:
    if not lead:
        return f"∂{J.out_name}/∂{J.in_name} ="
    names = letters(J)
    index = ", ".join(f"{names[a]}={i + 1}" for a, i in enumerate(lead))
    return f"∂{J.out_name}/∂{J.in_name}[{index}] ="


def _blocks_text(J: JacobianResult, full: bool, shared: bool | None) -> str:
    count = math.prod(J.shape[:-2])
    show = count if full or J.size <= SUMMARY_ENTRIES else min(count, SUMMARY_BLOCKS)
    tail = J.shape[-2:]
    check_size(2 * show * math.prod(tail), "the blocks")  # before building them
    blocks = _first_blocks(J, show)
    text = _printer(J, [e for _, block in blocks for e in block.flat], shared)
    parts = []
    row_letter, col_letter = letters(J)[-2:]
    for lead, block in blocks:
        rows, cols = block.shape
        texts = text.texts(block).flat
        cells = [texts[r * cols:(r + 1) * cols] for r in range(rows)]
        parts.append(_block_title(J, lead) + "\n" + table(
            cells, [f"{row_letter}={r + 1}" for r in range(rows)],
            [f"{col_letter}={c + 1}" for c in range(cols)]))
    if show < count:
        parts.append(f"... {count - show} more blocks of {tail[0]} x {tail[1]} "
                     "(use {{full}} to show all)")
    return "\n\n".join(parts) + _where(text)


def _first_blocks(J: JacobianResult, count: int) -> list[tuple[tuple, Grid]]:
    """The first ``count`` 2-D blocks (over the trailing two axes), from the sparse entries.

    Only those blocks are made dense: a summary of a large tensor never builds all of it.
    """
    if len(J.shape) <= 2:
        return list(J.blocks())
    leads = list(ndindex(J.shape[:-2]))[:count]
    tail = J.shape[-2:]
    wanted = {lead: Grid.full(tail, sp.S.Zero) for lead in leads}
    for index, expr in J.nonzeros().items():
        block = wanted.get(index[:-2])
        if block is not None:
            block.flat[block.offset(index[-2:])] = expr
    return [(lead, wanted[lead]) for lead in leads]


def numeric_text(J: JacobianResult, values, at: str) -> str:
    """A Jacobian evaluated at a point (``J.evaluate(at)``), flattened to a table."""
    rows, cols = J.flat_shape()
    check_size(NUMBER_WIDTH * J.size, "the table of values")
    flat = values.reshape(rows, cols)
    cells = [[f"{v:.10g}" for v in row] for row in flat]
    return header(J) + f"\nat {at}\n\n" + table(cells, *_axis_labels(J))


def numeric_chain_text(c: ChainResult, factor_values: list, direct_values, at: str) -> str:
    """The chain rule at a point: every factor's values and their product."""
    import numpy as np  # values are NumPy arrays (only with --at)
    names = [_factor_name(f) for f in c.factors]
    lines = [f"Chain rule at {at}: " + " · ".join(names)]
    for name, f, value in zip(names, c.factors, factor_values):
        lines.append(f"\n{name} =\n" + numeric_text(f, value, at).split("\n\n", 1)[1])
    product = factor_values[0]
    for value in factor_values[1:]:
        product = product @ value
    same = np.allclose(product, np.asarray(direct_values).reshape(product.shape),
                       rtol=1e-9, atol=1e-12)
    verdict = "equals the direct Jacobian's values" if same else \
        "DIFFERS from the direct Jacobian's values (please report this)"
    lines.append(f"\nproduct of the factors {verdict}")
    return "\n".join(lines)


def _factor_name(f: JacobianResult) -> str:
    out = "f" if not f.out_labels else (f.out_labels[0] if len(f.out_labels) == 1
                                        else "(" + ", ".join(f.out_labels) + ")")
    wrt = f.wrt[0] if len(f.wrt) == 1 else "(" + ", ".join(f.wrt) + ")"
    return f"∂{out}/∂{wrt}"


@printer("text", ChainResult)
def render_chain(c: ChainResult, **options) -> str:
    """The direct Jacobian, then each factor of the chain rule and the verdict."""
    return render_jacobian(c.direct) + "\n\n" + chain_text(c)


def chain_text(c: ChainResult) -> str:
    """The chain rule's line and its factor Jacobians (after the direct one)."""
    names = [_factor_name(f) for f in c.factors]
    wrt = c.direct.wrt[0] if len(c.direct.wrt) == 1 else "(" + ", ".join(c.direct.wrt) + ")"
    lines = [f"Chain rule: ∂f/∂{wrt} = " + " · ".join(names)]
    for name, f in zip(names, c.factors):
        lines.append(f"\n{name} =\n" + render_jacobian(f).split("\n\n", 1)[1])
    verdict = ("equals the direct Jacobian (verified)" if c.agree
               else "DIFFERS from the direct Jacobian (please report this)")
    lines.append(f"\nproduct of the factors, intermediates substituted, {verdict}")
    return "\n".join(lines)


__all__ = ["table", "labels", "header", "render_jacobian", "render_chain", "chain_text",
           "numeric_text"]
