"""Text and JSON of Hessians: labelled blocks, the symmetry verdict, the compact form.

A block ``∂²f/∂U∂V`` prints as one labelled table when both variables are
vectors (``x1 x2 x3`` along both sides); a matrix variable gives a 4-D block,
printed as tables over its last two axes, each titled by the leading indices
(``[k=1, l=2]``), or with ``flatten`` as one ``nU x nV`` table per output entry.
"""

from __future__ import annotations

from ..core.grid import Grid, ndindex, shape_text
from ..results.base import printer
from ..results.hessian import (MATRIX, NOT_SYMMETRIC, SYMMETRIC, CompactHessian,
                               HessianBlock, HessianResult)
from .entries import aligned_equations, check_text, entry_text
from .json import entries as entry_forms, envelope
from .text import table

#: Blocks with more entries than this are summarised unless ``full=True``.
SUMMARY_ENTRIES = 400
SUMMARY_TABLES = 3
OUT_LETTERS, ROW_LETTERS, COL_LETTERS = "ijmn", "kl", "pq"


@printer("text", HessianResult)
def hessian_text(H: HessianResult, full: bool = False, flatten: bool = False,
                 values: dict | None = None, at: str | None = None) -> str:
    """The whole Hessian as text.

    Parameters
    ----------
    H : HessianResult
        What :func:`jacobian_calc.hessian` returned.
    full : bool
        Every table of a large block (default: a summary beyond 400 entries).
    flatten : bool
        Each variable's axes merged: an ``nU x nV`` table per output entry.
    values : dict, optional
        ``H.evaluate(at)``: numbers instead of entries.
    at : str, optional
        The point ``values`` were computed at (shown in the heading).
    """
    parts = [_heading(H, at)]
    for key in H.pairs():
        numbers = None if values is None else values[key]
        parts.append(_block_text(H, H.blocks[key], full, flatten, numbers))
    parts += [_symmetry_text(H), compact_text(H)]
    return "\n\n".join(p for p in parts if p)


def _heading(H: HessianResult, at: str | None) -> str:
    of = ", ".join(H.of)
    of = of if len(of) <= 70 else of[:67] + "..."
    wrt = ", ".join(v.name if len(v.names) == 1 else "(" + ", ".join(v.names) + ")"
                    for v in H.variables)
    n = sum(v.size for v in H.variables)
    if H.out_shape:
        layout = (f"{H.layout} layout: the output's axes "
                  f"{'first' if H.layout == 'numerator' else 'last'} "
                  f"({H.out_name} has shape {shape_text(H.out_shape)})")
    else:
        layout = f"{H.out_name} is a scalar (numerator and denominator layouts coincide)"
    lines = [f"Hessian of {H.out_name} = {of} with respect to {wrt}",
             f"{layout}; {n} variable entries, {H.nnz} non-zero second derivatives of "
             f"{H.size}"]
    if at:
        lines.append(f"at {at}")
    return "\n".join(lines)


def _symmetry_text(H: HessianResult) -> str:
    s = H.symmetry
    single = len(H.variables) == 1 and len(H.variables[0].shape) == 1 and not H.out_shape
    what = "H = H.T" if single else "∂²f/∂a∂b = ∂²f/∂b∂a for every pair of entries"
    if s.verdict == SYMMETRIC:
        return f"Symmetric: {what} ({s.pairs} {_plural(s.pairs, 'pair')} proved equal)"
    if s.verdict == NOT_SYMMETRIC:
        a, b, x, y = s.mismatch
        return f"NOT symmetric: {a} = {entry_text(x)} but {b} = {entry_text(y)}"
    return f"Symmetry: {s.how} ({s.pairs} {_plural(s.pairs, 'pair')})"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


# -- blocks -----------------------------------------------------------------------------

def block_axes(H: HessianResult, b: HessianBlock, flatten: bool) -> list[list[str]]:
    """Labels along every axis of a block, in its layout (flattened or not)."""
    U, V = H.variable(b.row), H.variable(b.col)
    if flatten:
        out = [[f"{H.out_name}{i + 1}" for i in range(_count(H.out_shape))]] \
            if H.out_shape else []
        own = [list(U.labels), list(V.labels)]
    else:
        out = [[f"{OUT_LETTERS[a]}={i + 1}" for i in range(n)]
               for a, n in enumerate(H.out_shape)]
        own = _variable_axes(U, ROW_LETTERS) + _variable_axes(V, COL_LETTERS)
    return out + own if b.layout == "numerator" else own + out


def _variable_axes(v, letters: str) -> list[list[str]]:
    if len(v.shape) == 1:
        return [list(v.labels)]
    return [[f"{letters[a]}={i + 1}" for i in range(n)] for a, n in enumerate(v.shape)]


def _count(shape) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def block_title(H: HessianResult, b: HessianBlock) -> str:
    return f"∂²{H.out_name}/∂{b.row}∂{b.col}"


def _block_text(H: HessianResult, b: HessianBlock, full: bool, flatten: bool,
                numbers=None) -> str:
    grid = b.flat_grid() if flatten else b.as_grid()
    if numbers is not None:
        grid = Grid(grid.shape, [f"{float(x):.10g}" for x in numbers.reshape(grid.shape).flat])
    else:
        grid = grid.map(entry_text)
    axes = block_axes(H, b, flatten)
    title = block_title(H, b)
    if grid.ndim < 2:  # one entry each side: a 1 x 1 table
        grid, axes = grid.reshape((1, grid.size)), [[""], *axes]
    tables = list(_tables(grid, axes))
    shown = tables if full or grid.size <= SUMMARY_ENTRIES else tables[:SUMMARY_TABLES]
    parts = [f"{title}{lead} =\n{text}" for lead, text in shown]
    if len(shown) < len(tables):
        rows, cols = grid.shape[-2:]
        parts.append(f"... {len(tables) - len(shown)} more tables of {rows} x {cols} "
                     "(use {{full}} to show all)")
    return "\n\n".join(parts)


def _tables(grid: Grid, axes: list[list[str]]):
    rows, cols = grid.shape[-2:]
    size = rows * cols
    for n, lead in enumerate(ndindex(grid.shape[:-2])):
        flat = grid.flat[n * size:(n + 1) * size]
        cells = [flat[r * cols:(r + 1) * cols] for r in range(rows)]
        title = "[" + ", ".join(axes[a][i] for a, i in enumerate(lead)) + "]" if lead else ""
        yield title, table(cells, axes[-2], axes[-1])


# -- the compact form ---------------------------------------------------------------------

def compact_text(H: HessianResult) -> str:
    """The compact form, where it was found, with its verdict; else why not."""
    c = H.compact
    if not c.found:
        return (f"Compact Hessian: none ({c.reason}).\nThe explicit Hessian above is "
                "the answer.")
    if c.kind == MATRIX:
        head = "Compact Hessian"
    else:
        dirs = ", ".join(f"{d} ({shape_text(H.variable(v).shape)})"
                         for v, d in c.directions.items())
        head = (f"Compact Hessian-vector product, in the direction {dirs}"
                + (f"\n({c.reason})" if c.reason else
                   " (no matrix is written for a matrix variable or several variables)"))
    lines = [head] + _formula_lines(c)
    if c.rewrites:
        lines.append(f"  (using {'; '.join(c.rewrites)})")
    lines.append(f"Verified against the explicit Hessian: {verdict_text(c)}")
    return "\n".join(lines)


def _formula_lines(c: CompactHessian) -> list[str]:
    rows = [(t.label, t.text, shape_text(t.shape)) for t in c.terms]
    rows += [(f"where {name}", text, "") for name, _, text in c.where]
    return aligned_equations(rows)


def verdict_text(c: CompactHessian) -> str:
    return check_text(c.check)


# -- JSON -------------------------------------------------------------------------------------

@printer("dict", HessianResult)
def hessian_dict(H: HessianResult, flatten: bool = False, values: dict | None = None,
                 at: str | None = None) -> dict:
    """The JSON document of a Hessian (``jac --hessian --format json``)."""
    doc = {
        **envelope("hessian", H.of), "output": H.out_name, "output_shape": list(H.out_shape),
        "layout": H.layout, "wrt": H.wrt,
        "variables": [{"name": v.name, "names": list(v.names), "shape": list(v.shape)}
                      for v in H.variables],
        "blocks": [_block_dict(H.blocks[k], flatten, None if values is None else values[k])
                   for k in H.pairs()],
        "nonzeros": H.nnz,
        "symmetry": {"verdict": H.symmetry.verdict, "pairs": H.symmetry.pairs,
                     "how": H.symmetry.how},
        "compact": compact_dict(H.compact), "warnings": list(H.warnings),
    }
    if at is not None:
        doc["at"] = at
    return doc


def _block_dict(b: HessianBlock, flatten: bool, numbers) -> dict:
    grid = b.flat_grid() if flatten else b.as_grid()
    item = {"rows": b.row, "cols": b.col, "shape": list(grid.shape)}
    if numbers is None:
        item.update(entry_forms(grid))
    else:
        item["values"] = numbers.reshape(grid.shape).tolist()
    return item


def compact_dict(c: CompactHessian) -> dict:
    out = {"kind": c.kind, "reason": c.reason, "rewrites": list(c.rewrites),
           "directions": dict(c.directions),
           "terms": [{"label": t.label, "wrt": t.wrt, "compact": t.text,
                      "inline": str(t.inline_tree), "shape": list(t.shape)} for t in c.terms],
           "where": [{"name": n, "expr": text} for n, _, text in c.where]}
    if c.check is not None:
        out.update(verdict=c.check.verdict, how=c.check.how,
                   max_abs_error=c.check.max_abs_error)
    return out


__all__ = ["hessian_text", "hessian_dict", "compact_text", "compact_dict", "block_axes",
           "block_title", "verdict_text"]
