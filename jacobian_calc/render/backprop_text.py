"""Text and JSON of backprop results: the steps as Lecture 9 writes them.

Each backward step is shown with the contraction it stands for, its first
explicit entries in the step's own symbols, and its verdict; then the
gradients (in the step names, or substituted with ``inline``) and what was
proved.
"""

from __future__ import annotations

from ..core.errors import marked
from ..core.grid import Grid, shape_text
from ..results.backprop import BackpropResult, BackwardStep, Gradient
from ..results.base import printer
from ..symbolic.symbols import entry_name
from .entries import entry_text
from .json import entries, envelope

#: Explicit entries shown per step unless ``full``.
SHOWN_ENTRIES = 1
#: Entries of an expanded gradient shown unless ``full``.
SHOWN_EXPANDED = 4


@printer("text", BackpropResult)
def backprop_text(r: BackpropResult, full: bool = False, inline: bool | None = None) -> str:
    """The whole derivation as text.

    Parameters
    ----------
    r : BackpropResult
        What :func:`jacobian_calc.backprop` returned.
    full : bool
        Every explicit entry of every step (default: the first of each).
    inline : bool, optional
        Gradients fully substituted (default: as the result was asked for).
    """
    inline = r.inline if inline is None else inline
    parts = [_heading(r), _forward(r), _backward(r, full), _gradients(r, inline, full),
             f"Verified: {r.summary()}"]
    if not r.agree:
        parts.append(f"DISAGREE: {r.disagreement()}")
    return "\n\n".join(parts)


def _heading(r: BackpropResult) -> str:
    first = f"Backprop of {r.output} = {r.of}"
    if r.upstream == "1":
        return f"{first}\n{r.output} is a scalar: its upstream gradient is 1."
    entries = entry_label(r.upstream, len(r.out_shape))
    return (f"{first}\n{r.output} has shape {shape_text(r.out_shape)}: its upstream gradient is "
            f"{r.upstream} (entries {entries}).")


def entry_label(name: str, ndim: int) -> str:
    """``dY_i_j`` for a matrix, ``dy_i`` for a vector, the name for a scalar."""
    return name + "".join(f"_{c}" for c in "ijmn"[:ndim])


def _forward(r: BackpropResult) -> str:
    width = max(len(s.name) for s in r.steps)
    text = max(len(s.text) for s in r.steps)
    lines = [f"  {s.name.ljust(width)} = {s.text.ljust(text)}   {shape_text(s.shape)}"
             for s in r.steps]
    return "Forward steps\n" + "\n".join(lines)


def _backward(r: BackpropResult, full: bool) -> str:
    if not r.backward:
        return "Backward steps: none (no variable asked for appears)"
    head = "Backward steps, each against its explicit contraction in its own symbols"
    if r.sizes or any(b.derivation_tex for b in r.backward):  # proved in index notation,
        # or checked at small sizes
        head = "Backward steps, each against its contraction"
    return head + "\n" + "\n".join(_step(b, full) for b in r.backward)


def _step(b: BackwardStep, full: bool) -> str:
    sign = "+=" if b.accumulate else "="
    lines = [f"  {b.name} {sign} {b.text}" + _origin(b)]
    notes = [f"symbols {', '.join(b.symbols)}"] if b.symbols else []
    notes += [f"entries at {b.at}"] if b.at else []
    legend = f"   ({'; '.join(notes)})" if notes else ""
    lines.append(f"      {b.contraction}{legend}")
    lines += [f"      {line}" for line in entry_lines(b.name, b.explicit, full, SHOWN_ENTRIES)]
    lines.append(f"      {verdict_text(b)}")
    return "\n".join(lines)


def _origin(b: BackwardStep) -> str:
    if not b.fused:
        return ""
    fused = ", ".join(f"{n} = {t}" for n, t in b.fused)
    return f"   ({' and '.join(b.through)} fused; {fused})"


def entry_lines(name: str, grid: Grid, full: bool, shown: int) -> list[str]:
    """``dW_1_1 = ...`` lines, the first ``shown`` unless ``full``."""
    items = list(grid.items())
    keep = items if full else items[:shown]
    lines = [f"{entry_name(name, i) if i else name} = {e}" for i, e in keep]
    if len(keep) < len(items):
        lines.append(f"... {len(items) - len(keep)} more "
                     f"{'entry' if len(items) - len(keep) == 1 else 'entries'} ({{{{full}}}})")
    return lines


def verdict_text(b: BackwardStep) -> str:
    """``proved (in the step's own symbols)`` or ``DIFFERS at dX_1_1: ...``."""
    c = b.check
    if c.verdict == "differs":
        label, first, second = c.mismatch
        return f"DIFFERS at {label}: explicit {first}, compact {second}"
    return f"{c.verdict} ({c.how})" if c.how else c.verdict


def _gradients(r: BackpropResult, inline: bool, full: bool) -> str:
    rows = [(f"{g.label} = {g.name}", g.inline_text if inline else g.text,
             shape_text(g.shape)) for g in r.gradients.values()]
    left = max(len(a) for a, _, _ in rows)
    body = max(len(b) for _, b, _ in rows)
    lines = [f"  {a.ljust(left)} = {b.ljust(body)}   {s}" for a, b, s in rows]
    for g in r.gradients.values():
        if g.expanded is not None:
            lines.append(f"  {g.name} expanded, in the variables' entries:")
            lines += [f"      {line}" for line in entry_lines(g.name, g.expanded, full,
                                                              SHOWN_EXPANDED)]
    title = "Gradients, fully substituted" if inline else "Gradients"
    return title + "\n" + "\n".join(lines)


# -- JSON ---------------------------------------------------------------------------------

@printer("dict", BackpropResult)
def backprop_dict(r: BackpropResult, values: dict | None = None, at: str | None = None) -> dict:
    """The JSON document of a backprop result (``jac --backprop --format json``); with
    ``values`` (``r.evaluate(at)``), every gradient's values at the point."""
    doc = _document(r)
    if values is not None:
        doc["at"] = at
        for item in doc["gradients"]:
            v = values[item["wrt"]]
            item["values"] = {"explicit": v.explicit.tolist(), "compact": v.compact.tolist(),
                              "max_abs_error": v.max_abs_error, "agree": v.agree}
    return doc


def gradient_values_text(r: BackpropResult, values: dict, at: str) -> str:
    """Every gradient at a point, by both routes."""
    lines = [f"At {at}:"]
    lines += [f"  {marked(message)}" for message in r.onehot_breaks(at)]
    for name, v in values.items():
        g = r.gradients[name]
        if v.agree:
            lines.append(f"  {g.name} ({shape_text(g.shape)}), explicit and compact agree "
                         f"(max |error| {v.max_abs_error:.2g}):")
            lines += [f"    {row}" for row in _number_rows(v.compact)]
            continue
        lines.append(f"  {g.name} ({shape_text(g.shape)}), explicit and compact DISAGREE "
                     f"(max |error| {v.max_abs_error:.2g}):")
        lines.append("    explicit (the derivative of the whole expression):")
        lines += [f"      {row}" for row in _number_rows(v.explicit)]
        lines.append("    compact (the backward steps):")
        lines += [f"      {row}" for row in _number_rows(v.compact)]
    return "\n".join(lines)


def _number_rows(array) -> list[str]:
    grid = array.reshape(-1, 1) if array.ndim == 1 else array.reshape(1, 1) \
        if array.ndim == 0 else array
    cells = [[f"{x:.10g}" for x in row] for row in grid.tolist()]
    width = max(len(c) for row in cells for c in row)
    return ["  ".join(c.rjust(width) for c in row) for row in cells]


def _document(r: BackpropResult) -> dict:
    return envelope(
        "backprop", [r.of], output=r.output, shape=list(r.out_shape), upstream=r.upstream,
        onehot=list(r.onehot),
        steps=[{"name": s.name, "expr": s.text, "shape": list(s.shape)} for s in r.steps],
        backward=[_step_dict(b) for b in r.backward],
        gradients=[_gradient_dict(g) for g in r.gradients.values()],
        end_to_end={"verdict": r.end_to_end.check.verdict,
                    "points": r.end_to_end.points,
                    "exact_points": r.end_to_end.exact_points,
                    "max_abs_error": r.end_to_end.check.max_abs_error,
                    "mismatch": _mismatch(r.end_to_end.check.mismatch),
                    "sizes": dict(r.end_to_end.sizes) or None},
        agree=r.agree, summary=r.summary(), warnings=list(r.warnings))


def _step_dict(b: BackwardStep) -> dict:
    return {"name": b.name, "target": b.target, "through": list(b.through),
            "upstream": b.upstream, "compact": b.text, "accumulate": b.accumulate,
            "fused": [{"name": n, "compact": t} for n, t in b.fused],
            "contraction": b.contraction, "symbols": list(b.symbols),
            **entries(b.explicit, "explicit"),
            "verdict": b.check.verdict, "how": b.check.how,
            "max_abs_error": b.check.max_abs_error, "mismatch": _mismatch(b.check.mismatch),
            "sizes": [dict(s) for s in b.sizes] or None}


def _gradient_dict(g: Gradient) -> dict:
    item = {"wrt": g.wrt, "name": g.name, "label": g.label, "shape": list(g.shape),
            "compact": g.text, "inline": g.inline_text}
    if g.expanded is not None:
        item.update(entries(g.expanded, "expanded"))
    return item


def _mismatch(m) -> dict | None:
    if m is None:
        return None
    label, first, second = m
    return {"entry": label, "explicit": entry_text(first), "compact": entry_text(second)}


__all__ = ["backprop_text", "backprop_dict", "entry_lines", "verdict_text", "entry_label"]
