"""Backprop at symbolic sizes: the steps derived once, checked at several sizes.

The forward and backward steps of :func:`~jacobian_calc.derive.backprop.backprop`
are derived from the operations' rules without looking at sizes, so with
``X`` of ``N x d`` they read as they always do (``dW = X.T @ dZ``,
``dZ2 = (P - T) / N``). What needs entries -- each step against its explicit
contraction, and the composed gradients against the derivative of the whole
expression -- is done by the same code as for concrete sizes, at several
instantiated sizes (:mod:`.instantiate`) in which all dimensions differ.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.limits import Limits
from ..core.progress import advance, stage
from ..core.tree import names
from ..ops.text import to_source
from ..results.backprop import (CHECKED, DIFFERS, PROVED, UNDECIDED, BackpropResult,
                                BackwardStep, Check, EndToEnd, ForwardStep)
from ..symbolic.evaluate import Env, evaluate
from . import backprop as bp
from .instantiate import assignments, node_at, one_size_text, shape_at, sizes_text


def ordered_dimensions(shapes: Mapping[str, Shape], dims: set[str]) -> list[str]:
    """The dimension names in the order they are first declared (``N, d, h``), then
    any other (``eye(e)``) in sorted order."""
    out = [d for shape in shapes.values() for d in shape if isinstance(d, str)]
    out = list(dict.fromkeys(out))
    return out + sorted(dims - set(out))


def graph_at(graph, sizes: Mapping[str, int]):
    """The forward graph with every dimension a number and no dimension a variable."""
    def at(shapes):
        return {n: shape_at(s, sizes) for n, s in shapes.items() if n not in sizes}

    steps = []
    for s in graph.steps:
        expr = node_at(s.expr, sizes)
        steps.append(ForwardStep(s.name, expr, to_source(expr), shape_at(s.shape, sizes),
                                 tuple(sorted(names(expr)))))
    return dataclasses.replace(graph, root=node_at(graph.root, sizes), steps=steps,
                               out_shape=shape_at(graph.out_shape, sizes),
                               shapes=at(graph.shapes), variables=at(graph.variables))


def rule_at(rule, sizes: Mapping[str, int]):
    """A backward rule with every dimension a number (``/ N`` -> ``/ 2``)."""
    return dataclasses.replace(rule, tree=node_at(rule.tree, sizes),
                               upstream=node_at(rule.upstream, sizes),
                               fused=[(n, node_at(t, sizes)) for n, t in rule.fused],
                               through=list(rule.through))


def check_steps(rules: list, graph, dims: Sequence[str], limits: Limits,
                simplify: bool) -> tuple[list[BackwardStep], list[dict[str, int]]]:
    """Each backward step against its explicit contraction at every assignment of
    :func:`~.instantiate.assignments`."""
    sizes = assignments(dims)
    graphs = [graph_at(graph, s) for s in sizes]
    out = []
    with stage("checking backward steps at instantiated sizes", len(rules)):
        for rule in rules:
            checked = [bp._checked(rule_at(rule, s), g, limits, simplify)
                       for s, g in zip(sizes, graphs)]
            out.append(_merged(rule, graph, checked, sizes))
            advance()
    return out, sizes


def _merged(rule, graph, checked: list[BackwardStep], sizes) -> BackwardStep:
    """One step at symbolic sizes from its checks at each assignment."""
    k = next((i for i, b in enumerate(checked) if b.check.verdict == DIFFERS),
             next((i for i, b in enumerate(checked) if b.check.verdict != PROVED), None))
    if k is None:
        check, k = Check(CHECKED, f"at sizes {sizes_text(sizes)}"), 0
    else:
        c = checked[k].check
        check = dataclasses.replace(c, how=f"{c.how}, at {one_size_text(sizes[k])}")
    return dataclasses.replace(
        checked[k], tree=rule.tree, text=to_source(rule.tree),
        fused=tuple((n, to_source(t)) for n, t in rule.fused),
        contraction=bp._contraction_text(rule, graph), check=check,
        at=one_size_text(sizes[k]))


def end_to_end(graph, rules: list, sizes: list[dict[str, int]], points: int,
               seed: int) -> EndToEnd:
    """The composed gradients against the explicit derivative of the whole expression,
    the points shared out among the instantiated sizes."""
    compared, exact, worst = 0, 0, 0.0
    for k, s in enumerate(sizes):
        share = points // len(sizes) + (k < points % len(sizes))
        if not share:
            continue
        g = graph_at(graph, s)
        output = evaluate(g.root, Env(g.variables))
        explicit = bp._explicit_gradients(g, output)
        e = bp._numbers().end_to_end(g, [rule_at(r, s) for r in rules], explicit, share,
                                     seed + k)
        if e.check.verdict == DIFFERS:
            how = f"{e.check.how}, at {one_size_text(s)}"
            return dataclasses.replace(e, check=dataclasses.replace(e.check, how=how),
                                       points=compared + e.points,
                                       exact_points=exact + e.exact_points)
        if e.check.verdict == UNDECIDED:
            continue
        compared, exact = compared + e.points, exact + e.exact_points
        worst = max(worst, e.check.max_abs_error)
    if not compared:
        return EndToEnd(Check(UNDECIDED, "no random point was inside the domain"), 0)
    return EndToEnd(Check("agrees", f"at {compared} random points at sizes "
                          f"{sizes_text(sizes)}", worst), compared, exact)




def backprop_at_sizes(problem, request, graph, rules: list, *, expand: bool, simplify: bool,
                      inline: bool, points: int, seed: int):
    """The :class:`BackpropResult` of a problem stated at symbolic sizes."""
    if expand:
        raise JacobianError("{{expand}} writes out every entry, which needs concrete sizes "
                            "(--shape X=4x3)")
    dims = ordered_dimensions(problem.shapes, problem.dimensions)
    backward, sizes = check_steps(rules, graph, dims, problem.limits, simplify)
    end = end_to_end(graph, rules, sizes, points, seed)
    gradients = bp._gradients(graph, rules, {n: None for n in graph.wrt}, False, False,
                              problem.limits)
    return BackpropResult(
        of=to_source(graph.root), output=graph.output, out_shape=graph.out_shape,
        upstream=graph.upstream or "1", steps=graph.steps, backward=backward,
        gradients=gradients, end_to_end=end, warnings=[],
        shapes={n: s for n, s in graph.shapes.items() if n not in problem.dimensions},
        inline=inline, onehot=tuple(sorted(request.onehot)), sizes=sizes_text(sizes))


__all__ = ["backprop_at_sizes", "check_steps", "end_to_end", "graph_at", "rule_at",
           "ordered_dimensions"]
