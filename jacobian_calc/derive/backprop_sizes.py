"""Backprop at symbolic sizes: the steps derived once, checked at several sizes.

The forward and backward steps of :func:`~jacobian_calc.derive.backprop.backprop`
are derived from the operations' rules without looking at sizes, so with
``X`` of ``N x d`` they read as they always do (``dW = X.T @ dZ``,
``dZ2 = (P - T) / N``). What needs entries -- each step against its explicit
contraction, and the composed gradients against the derivative of the whole
expression -- is done by the same code as for concrete sizes, at several
instantiated sizes (:mod:`.instantiate`) in which all dimensions differ.

A request at concrete sizes takes the same route (:func:`backprop_generalized`):
its dimensions are named (:mod:`.generalize`), its steps derived and proved at
the names, and shown -- rules and derivations -- at the requested sizes; what
is not proved for all sizes, and the end-to-end comparison, run at the
requested sizes while that is cheap (:func:`cheap`), else at small ones.

``route`` is what these functions reuse of :mod:`.backprop` (its
``ROUTE``): deriving the steps, checking one, the explicit gradients.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from ..core import dims as D
from ..core.errors import JacobianError, LimitError
from ..core.grid import Grid, Shape
from ..core.progress import advance, stage
from ..core.tree import Call, Num, names, walk
from ..index.prove import UNAVAILABLE, prove_step
from ..ops import get
from ..ops.text import to_source
from ..results.backprop import (ALL_SIZES, AT_REQUESTED, CHECKED, DIFFERS, PROVED,
                                BackpropResult, BackwardStep, Check, EndToEnd, ForwardStep)
from ..symbolic.evaluate import Env, evaluate, node_shapes
from ..symbolic.float_tree import float_evaluate
from .problem import prepare
from .generalize import generalize
from .instantiate import assignments, node_at, one_size_text, shape_at, sizes_text


def ordered_dimensions(shapes: Mapping[str, Shape], dims: set[str]) -> list[str]:
    """The dimension names in the order they are first declared (``N, d, h``), then
    any other (``eye(e)``) in sorted order."""
    out = [n for shape in shapes.values() for d in shape for n in D.names_of(d)]
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


def fitting(graph):
    """Whether an assignment of sizes suits ``graph``: every size computed from the names
    (a convolution's ``n - k + 1``) at least 1, and every shape rule satisfied there."""
    def fits(sizes: Mapping[str, int]) -> bool:
        if any(D.at(d, sizes) < 1 for s in graph.shapes.values() for d in s):
            return False
        try:
            g = graph_at(graph, sizes)
            node_shapes(g.root, g.variables)
        except (JacobianError, ValueError, KeyError):
            return False
        return True
    return fits


def rule_at(rule, sizes: Mapping[str, int]):
    """A backward rule with every dimension a number (``/ N`` -> ``/ 2``)."""
    return dataclasses.replace(rule, tree=node_at(rule.tree, sizes),
                               upstream=node_at(rule.upstream, sizes),
                               fused=[(n, node_at(t, sizes)) for n, t in rule.fused],
                               through=list(rule.through))


def check_steps(route, rules: list, graph, dims: Sequence[str],
                simplify: bool, shown: list | None = None, shown_graph=None,
                requested=None, at: Mapping[str, int] | None = None
                ) -> tuple[list[BackwardStep], list[dict[str, int]]]:
    """Each backward step proved for all sizes, else against its explicit contraction at
    every assignment of :func:`~.instantiate.assignments`; ``shown`` are the rules as
    shown (at the requested sizes ``at``), one per rule, in ``shown_graph``;
    ``requested(i)``, where given, checks the i-th step at the requested sizes instead
    of the instantiated ones."""
    sizes = assignments(dims, fits=fitting(graph))
    graphs = None
    out = []
    with stage("proving backward steps for all sizes", len(rules)):
        for i, rule in enumerate(rules):
            proof = _proof(rule, graph, at, shown[i].tree if shown else None)
            if proof is not None and proof.verdict == PROVED:
                out.append(_proved(shown[i] if shown else rule, proof))
            elif requested is not None:
                out.append(_at_requested(requested(i), proof))
            else:
                graphs = graphs or [graph_at(graph, s) for s in sizes]
                checked = [_checked(route, rule_at(rule, s), g, simplify, s)
                           for s, g in zip(sizes, graphs)]
                out.append(_merged(route, shown[i] if shown else rule, shown_graph or graph,
                                   checked, sizes, proof))
            advance()
    return out, sizes


def _at_requested(step: BackwardStep, proof) -> BackwardStep:
    """A step checked against its explicit contraction at the requested sizes (cheap
    there), and why it was not proved for all sizes."""
    why = "not proved for all sizes"
    if proof is not None and proof.verdict == UNAVAILABLE:
        why = proof.note.split(";")[0]  # no index form for logdet
    c = step.check
    if c.verdict != PROVED:
        return dataclasses.replace(step, check=dataclasses.replace(c, how=f"{c.how}; {why}"
                                                                   if c.how else why))
    how = c.how or "in the step's own symbols"
    return dataclasses.replace(step, check=dataclasses.replace(
        c, how=f"{AT_REQUESTED}, {how}; {why}"))


#: Whether steps are first proved for all sizes (tests turn it off to exercise the
#: instantiated checks alone).
PROVE = True


def _proof(rule, graph, at=None, shown=None):
    """The step proved against its index-notation contraction for all sizes
    (:func:`~jacobian_calc.index.prove.prove_step`), or why not; None where the
    prover cannot read it. ``at`` and ``shown``: written at the requested sizes."""
    if not PROVE:
        return None
    steps = [(n, graph.step(n).expr) for n in rule.through]
    upstream = None if isinstance(rule.upstream, Num) else rule.upstream.id
    try:
        return prove_step(rule.tree, target=rule.target, steps=steps, upstream=upstream,
                          shapes=graph.shapes, onehot=graph.onehot,
                          accumulate=rule.accumulate, at=at, shown=shown)
    except LimitError:
        raise
    except Exception:  # noqa: BLE001 - not proved is never wrong: it is then instantiated
        return None


def _proved(rule, proof) -> BackwardStep:
    """A step proved for all sizes: its derivation in index notation is its contraction."""
    return BackwardStep(f"d{rule.target}", rule.target, tuple(rule.through),
                        getattr(rule.upstream, "id", "1"), rule.tree, to_source(rule.tree),
                        rule.accumulate, tuple((n, to_source(t)) for n, t in rule.fused),
                        proof.text, Grid((0,), []), (),
                        Check(PROVED, f"{ALL_SIZES}, {proof.note.split(', ', 1)[-1]}"
                              if proof.note.startswith(ALL_SIZES) else ALL_SIZES),
                        derivation_tex=tuple(proof.latex), fused_trees=tuple(rule.fused))


def _checked(route, rule, graph, simplify: bool, sizes) -> BackwardStep:
    """One step at one size; a rule that cannot even be evaluated there (a transpose
    of a matrix that was square at the requested sizes) differs."""
    try:
        return route.checked(rule, graph, simplify)
    except (ValueError, JacobianError) as exc:
        if isinstance(exc, LimitError):
            raise
        how = f"the rule cannot be evaluated at {one_size_text(sizes)} ({exc})"
        return BackwardStep(f"d{rule.target}", rule.target, tuple(rule.through),
                            getattr(rule.upstream, "id", "1"), rule.tree,
                            to_source(rule.tree), rule.accumulate, (), "", Grid((0,), []),
                            (), Check(DIFFERS, how))


def _merged(route, rule, graph, checked: list[BackwardStep], sizes, proof=None
            ) -> BackwardStep:
    """One step at symbolic sizes from its checks at each assignment (and why it was
    not proved for all sizes)."""
    k = next((i for i, b in enumerate(checked) if b.check.verdict == DIFFERS),
             next((i for i, b in enumerate(checked) if b.check.verdict != PROVED), None))
    if k is None:
        why = ""
        if proof is not None and proof.verdict == UNAVAILABLE:
            why = f"; {proof.note.split(';')[0]}"  # no index form for logdet
        elif proof is not None:
            why = "; not proved for all sizes"
        check, k = Check(CHECKED, f"at sizes {sizes_text(sizes)}{why}"), 0
    else:
        c = checked[k].check
        at = f", at {one_size_text(sizes[k])}"
        check = dataclasses.replace(c, how=c.how if at in c.how else c.how + at)
    return dataclasses.replace(
        checked[k], tree=rule.tree, text=to_source(rule.tree),
        fused=tuple((n, to_source(t)) for n, t in rule.fused),
        fused_trees=tuple((n, t) for n, t in rule.fused),
        contraction=route.contraction(rule, graph), check=check,
        at=one_size_text(sizes[k]), sizes=tuple(dict(s) for s in sizes))


def end_to_end(route, graph, rules: list, sizes: list[dict[str, int]], points: int,
               seed: int, small=None) -> EndToEnd:
    """The composed gradients against the explicit derivative of the whole expression at
    the first (smallest) instantiated sizes; exactly at rational points only where the
    expression can be rational (no exp, log, tanh ...). ``small``: the graph at those
    sizes and its output, where already evaluated."""
    s = sizes[0]
    g, output = small or _at_first(graph, sizes)
    explicit = route.explicit(g, output)
    exact = 2 if _maybe_rational(g.root) else 0
    try:
        e = route.numbers().end_to_end(g, [rule_at(r, s) for r in rules], explicit, points,
                                     seed, exact)
    except ValueError as exc:  # a rule of the wrong shape at these sizes
        return EndToEnd(Check(DIFFERS, f"cannot be evaluated at {one_size_text(s)} ({exc})",
                              mismatch=("the gradients", "-", "-")), 0, sizes=dict(s))
    return dataclasses.replace(e, check=dataclasses.replace(
        e.check, how=f"{e.check.how}, at {one_size_text(s)}"), sizes=dict(s))


def _at_first(graph, sizes: list[dict[str, int]]):
    """The graph at the first instantiated sizes, and its output's entries there."""
    g = graph_at(graph, sizes[0])
    return g, evaluate(g.root, Env(g.variables))


def _maybe_rational(root) -> bool:
    """Whether every operation of ``root`` declares rational values (``Op.rational``)."""
    return all(not isinstance(n, Call) or get(n.op).rational for n in walk(root))


def backprop_at_sizes(route, problem, request, graph, rules: list, *, expand: bool,
                      simplify: bool, inline: bool, points: int, seed: int):
    """The :class:`BackpropResult` of a problem stated at symbolic sizes."""
    if expand:
        raise JacobianError("{{expand}} writes out every entry, which needs concrete sizes "
                            "({{shape_example}})")
    dims = ordered_dimensions(problem.shapes, problem.dimensions)
    backward, sizes = check_steps(route, rules, graph, dims, simplify)
    small, output = _at_first(graph, sizes)  # which variables the output depends on, too
    end = end_to_end(route, graph, rules, sizes, points, seed, (small, output))
    gradients = route.gradients(graph, rules, {n: None for n in graph.wrt}, False, False)
    return route.result(
        problem, request, graph, backward, gradients, end, small.variables, output,
        inline=inline, sizes=sizes_text(sizes),
        shapes={n: s for n, s in graph.shapes.items() if n not in problem.dimensions})


def _same_numbers(a, b, shapes: Mapping[str, Shape], seed: int = 0) -> bool:
    """Two trees evaluated with NumPy at one random point (positive values: logs)."""
    import numpy as np  # noqa: PLC0415 - only a backprop loads NumPy

    from ..symbolic.sampling import draw_array  # noqa: PLC0415 - NumPy too

    rng = np.random.default_rng(seed)
    values = {n: draw_array(rng, shapes.get(n, ()), 1) for n in sorted(names(a) | names(b))}
    with np.errstate(all="ignore"):
        x, y = float_evaluate(a, values), float_evaluate(b, values)
    return bool(np.allclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True))


# -- concrete sizes, checked at small ones ----------------------------------------------------

#: Largest forward pass (nodes, :mod:`.estimate`) whose steps are written out at the
#: requested sizes; above it they are checked at small instantiated sizes.
CHEAP_FORWARD = 1500


def cheap(problem) -> bool:
    """Whether the explicit checks at the requested sizes are cheap enough to run."""
    return problem.costs is None or problem.costs.forward <= CHEAP_FORWARD


def backprop_generalized(route, problem, request, graph, rules: list, *, of, wrt, upstream,
                         onehot, lets, functions, inline: bool, points: int, seed: int,
                         simplify: bool, at_requested: bool = False) -> BackpropResult | None:
    """A concrete request derived at symbolic sizes (:mod:`.generalize`), each step proved
    for all sizes in index notation, shown at the requested sizes; None where it cannot
    be restated (then the caller writes everything out at the requested sizes).

    What is not proved for all sizes, and the end-to-end comparison, are checked at the
    requested sizes when ``at_requested`` (cheap there: :func:`cheap`), else at small
    instantiated sizes in which every dimension differs.
    """
    try:
        general, requested = generalize(request.root, problem.shapes)
        if not requested:
            return None
        g_problem = prepare(of, shapes=general, lets=lets, functions=functions, symbolic=True)
        g_request = route.request(g_problem, wrt, upstream, onehot)
        g_graph = route.graph(g_problem, g_request)
        g_rules = route.rules(g_graph)
    except LimitError:
        raise
    except Exception:  # noqa: BLE001 - a shape rule that would not read names (conv2d's
        return None    # sizes): the full-size route, which says nothing about other sizes
    if [s.name for s in g_graph.steps] != [s.name for s in graph.steps]:
        return None
    shown = _shown(g_rules, rules, requested, graph)
    if shown is None:
        return None
    requested_check = (lambda i: route.checked(shown[i], graph, simplify)) if at_requested \
        else None
    backward, sizes = check_steps(route, g_rules, g_graph, list(requested), simplify, shown,
                                  graph, requested_check, requested)
    wanted = ", ".join(str(n) for n in requested.values())
    if at_requested:
        output = evaluate(graph.root, Env(graph.variables))
        explicit = route.explicit(graph, output)
        gradients = route.gradients(graph, shown, explicit, False, False)
        end = route.numbers().end_to_end(graph, shown, explicit, points, seed)
        variables, at = graph.variables, ""
    else:
        small, output = _at_first(g_graph, sizes)  # which variables the output depends on
        variables = small.variables
        end = end_to_end(route, g_graph, g_rules, sizes, points, seed, (small, output))
        end = dataclasses.replace(end, at=one_size_text(sizes[0]))
        gradients = route.gradients(graph, shown, {n: None for n in graph.wrt}, False, False)
        at = f"{sizes_text(sizes)} (the requested ({wanted}) not written out)"
    return route.result(problem, request, graph, backward, gradients, end, variables, output,
                        inline=inline, shapes=dict(graph.shapes), sizes=at)


def _shown(g_rules: list, rules: list, requested: Mapping[str, int], graph) -> list | None:
    """The rules as shown: the derivation at the requested sizes (``(Z - T) / 32``), one
    per rule derived at named sizes, each computing the same numbers as that rule at
    the requested sizes; None where the two derivations do not pair up."""
    if len(g_rules) != len(rules):
        return None
    out = []
    for g, rule in zip(g_rules, rules):
        if (g.target, list(g.through), g.accumulate) != (rule.target, list(rule.through),
                                                         rule.accumulate):
            return None
        at = rule_at(g, requested)
        if at.tree != rule.tree and not _same_numbers(at.tree, rule.tree, graph.shapes):
            return None
        out.append(rule)
    return out


__all__ = ["backprop_at_sizes", "backprop_generalized", "cheap", "check_steps", "end_to_end",
           "graph_at", "rule_at", "ordered_dimensions"]
