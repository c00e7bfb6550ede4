"""The gradients: each variable's backward steps summed, and the explicit route on
the whole expression that the end-to-end check compares them with."""

from __future__ import annotations

import sympy as sp

from ..core.budget import active_limits
from ..core.grid import Grid
from ..core.tree import Call, Node, Num, substitute
from ..ops.text import to_source
from ..results.backprop import Gradient
from ..symbolic.autodiff import gradient
from ..symbolic.canonical import canonical_add, canonical_mul
from ..symbolic.simplify import simplify_entry
from ..symbolic.symbols import symbol_grid
from .steps import _Graph, _Rule
from .tidy import tidy


def _totals(rules: list[_Rule]) -> dict[str, Node]:
    parts: dict[str, list[Node]] = {}
    for r in rules:
        parts.setdefault(f"d{r.target}", []).append(r.tree)
    return {n: t[0] if len(t) == 1 else Call("add", t) for n, t in parts.items()}


def _gradients(graph: _Graph, rules: list[_Rule], explicit: dict[str, Grid], expand: bool,
               simplify: bool) -> dict:
    totals = _totals(rules)
    defs = {**totals, **{s.name: s.expr for s in graph.steps}}
    out = {}
    for name in graph.wrt:
        tree = tidy(totals.get(f"d{name}", Num(0)), graph.shapes, graph.onehot, graph.named)
        inline = tidy(substitute(tree, defs), graph.shapes, graph.onehot)
        grid = None
        if expand:
            grid = explicit[name].map(lambda e: simplify_entry(e, active_limits().simplify_seconds)
                                      if simplify else e)
        label = f"∂{graph.output}/∂{name}" if graph.upstream is None else \
            f"{graph.upstream}·∂{graph.output}/∂{name}"  # the upstream times the Jacobian
        out[name] = Gradient(name, f"d{name}", label,
                             graph.variables[name], tree, to_source(tree), inline,
                             to_source(inline), grid, explicit[name])
    return out


def _explicit_gradients(graph: _Graph, y: Grid) -> dict[str, Grid]:
    """The explicit route on the whole expression ``y``: ``Σ dY[i] Y[i]`` differentiated
    w.r.t. every variable's entries (no rule of any operation is used)."""
    if graph.upstream is None:
        total = y.item()
    else:
        up = symbol_grid(graph.upstream, graph.out_shape)
        total = canonical_add(*(canonical_mul(u, e) for u, e in zip(up.flat, y.flat)))
    targets = {n: symbol_grid(n, graph.variables[n]) for n in graph.wrt}
    found = gradient(total, {s for g in targets.values() for s in g.flat})
    return {n: g.map(lambda s: found.get(s, sp.Integer(0))) for n, g in targets.items()}
