"""Output of ``jac --backprop`` and ``jac --rules``."""

from __future__ import annotations

import json

import numpy as np

from . import ir
from .backprop import GradientResult, backprop
from .rules import RULE_TABLE

MAX_SHOWN_ENTRIES = 36


def rules_text() -> str:
    """The rule table, one line per operation."""
    width = max(len(op) for op, _ in RULE_TABLE)
    lines = ["Compact backprop rules (Y = the operation's output, dY its upstream gradient):", ""]
    lines += [f"  {op.ljust(width)}   {rule}" for op, rule in RULE_TABLE]
    return "\n".join(lines)


def produce_backprop(req) -> tuple[str, list[str]]:
    """Run ``backprop`` for a request; return text and notes (DISAGREE lines among them)."""
    if req.wrt is None:
        from .errors import JacobianError
        raise JacobianError("--backprop needs --wrt naming the variables, e.g. --wrt W,b")
    results = backprop(req.exprs, req.wrt, shapes=req.shapes, upstream=req.upstream,
                       lets=req.lets, limits=req.limits)
    notes = [f"DISAGREE for d{g.wrt}: explicit and compact gradients differ"
             for g in results if not g.agree]
    formatter = {"text": backprop_text, "json": backprop_json, "latex": backprop_latex}[req.fmt]
    return formatter(results, req), notes


def verdict_line(g: GradientResult) -> str:
    """``agree`` with how it was established, or ``DISAGREE`` with the entry."""
    if g.agree:
        how = ("the difference simplifies to 0" if g.symbolic else
               "symbolic check undecided")
        return f"agree ({how}; numeric max |error| = {g.max_abs_error:.2g})"
    index, first, second = g.mismatch
    return (f"DISAGREE at entry {index}: explicit = {first}, compact = {second} "
            f"(max |error| = {g.max_abs_error:.3g})")


def backprop_text(results: list[GradientResult], req) -> str:
    g0 = results[0]
    up = ("the output is a scalar, so the upstream gradient is 1" if g0.upstream == "1"
          else f"upstream gradient {g0.upstream} (entries {g0.upstream}_i_j)")
    lines = [f"Backprop through {g0.of}; {up}", ""]
    if g0.steps:
        lines.append("Forward (named intermediates):")
        lines += [f"  {name} = {ir.to_source(expr)}" for name, expr in g0.steps]
        lines.append("")
    if g0.backward:
        lines.append("Backward (one compact rule per operation):")
        lines += [f"  {name} = {ir.to_source(expr)}" for name, expr in g0.backward]
        lines.append("")
    for g in results:
        lines.append(_gradient_text(g, req.full))
    return "\n".join(lines).rstrip()


def _gradient_text(g: GradientResult, full: bool) -> str:
    shape = " x ".join(map(str, g.shape)) or "scalar"
    k = ",".join("klpq"[:len(g.shape)])
    k = f"[{k}]" if k else ""
    if g.upstream == "1":
        formula = f"d{g.wrt}{k} = ∂J/∂{g.wrt}{k}"
    else:
        i = ",".join("ijmn"[:len(g.jacobian.out_shape)])
        formula = (f"d{g.wrt}{k} = Σ_{i.replace(',', '')} {g.upstream}[{i}] "
                   f"∂Y[{i}]/∂{g.wrt}{k}")
    out = [f"d{g.wrt}  ({shape})", f"  explicit: {formula}, entry by entry"]
    named = g.explicit_named if g.explicit_named is not None else g.explicit_array
    steps = g.steps[:-1]  # the output itself never appears in its gradient
    if steps:
        out[-1] += (" (with intermediate entries " + ", ".join(f"{n}_i_j" for n, _ in steps)
                    + " where they appear)")
    entries = list(np.ndenumerate(named))
    shown = entries if full or len(entries) <= MAX_SHOWN_ENTRIES else entries[:6]
    for index, expr in shown:
        label = ",".join(str(i + 1) for i in index)
        out.append(f"    d{g.wrt}[{label}] = {expr}")
    if len(shown) < len(entries):
        out.append(f"    ... {len(entries) - len(shown)} more entries (use --full or --format json)")
    out.append(f"  compact:  d{g.wrt} = {g.compact_text}")
    out.append(f"  verdict:  {verdict_line(g)}")
    return "\n".join(out) + "\n"


def backprop_json(results: list[GradientResult], req) -> str:
    doc = {"layout": req.layout, "of": results[0].of,
           "upstream": results[0].upstream,
           "steps": [{"name": n, "expr": ir.to_source(e)} for n, e in results[0].steps],
           "backward": [{"name": n, "expr": ir.to_source(e)} for n, e in results[0].backward],
           "gradients": [g.to_json() for g in results]}
    return json.dumps(doc, indent=2, ensure_ascii=False)


def backprop_latex(results: list[GradientResult], req) -> str:
    from .latex import to_latex
    return to_latex(results)
