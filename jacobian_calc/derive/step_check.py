"""Each backward step checked against its explicit contraction.

The explicit route contracts the step's own Jacobian with its upstream
gradient, ``dX[k,l] = Σ_ij dY[i,j] ∂Y[i,j]/∂X[k,l]``, in the step's own symbols
(``P_1_1``, ``dP_1_1``), by :func:`~jacobian_calc.symbolic.autodiff.gradient`
-- never by the rules. The entries are small, so equality is decided: proved,
or a differing entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.budget import active_limits
from ..core.grid import Grid, Shape, ndindex
from ..core.tree import Node, Num, names
from ..ops.text import to_source
from ..results.backprop import AGREES, DIFFERS, PROVED, BackwardStep, Check
from ..symbolic.autodiff import gradient
from ..symbolic.canonical import canonical_add, canonical_mul
from ..symbolic.evaluate import Env, evaluate
from ..symbolic.plain import factor_common
from ..symbolic.simplify import is_zero, simplify_entry
from ..symbolic.symbols import entry_name, symbol_grid
from ..symbolic.through_outputs import through_outputs
from .steps import _Graph, _Rule


def _numbers():
    """The numeric checks (:mod:`.backprop_numbers`), imported when a step is checked:
    the Jacobian path (and ``import jacobian_calc.api``) must not load NumPy."""
    from . import backprop_numbers  # noqa: PLC0415
    return backprop_numbers


def _checked(rule: _Rule, graph: _Graph, simplify: bool) -> BackwardStep:
    limits = active_limits()
    local = _Local.build(rule, graph)
    explicit = local.explicit()
    compact = local.compact(rule.tree)
    check = local.decide(explicit, compact, limits.simplify_seconds)
    shown = explicit.map(lambda e: simplify_entry(e, limits.simplify_seconds) if simplify
                         else factor_common(e))
    return BackwardStep(
        name=f"d{rule.target}", target=rule.target, through=tuple(rule.through),
        upstream="1" if isinstance(rule.upstream, Num) else rule.upstream.id,
        tree=rule.tree, text=to_source(rule.tree), accumulate=rule.accumulate,
        fused=tuple((n, to_source(t)) for n, t in rule.fused),
        fused_trees=tuple((n, t) for n, t in rule.fused),
        contraction=_contraction_text(rule, graph), explicit=shown,
        symbols=local.legend(shown), check=check)


def _contraction_text(rule: _Rule, graph: _Graph) -> str:
    """``dW2[k,l] = Σ_ij dZ2[i,j] ∂Z2[i,j]/∂W2[k,l]``."""
    top = graph.step(rule.through[0])
    target = f"{rule.target}{_indices('klpq', graph.shapes[rule.target])}"
    lhs = f"d{target} {'+=' if rule.accumulate else '='}"
    paths = ""
    if any(rule.target in graph.step(n).inputs for n in rule.through[:-1]):
        paths = f"   (through {rule.through[-1]} only, {rule.target} elsewhere held fixed)"
    if isinstance(rule.upstream, Num):  # the scalar output, seeded with 1
        return f"{lhs} ∂{top.name}/∂{target}{paths}"
    up = rule.upstream.id
    out = _indices("ijmn", top.shape)
    if not out:
        return f"{lhs} {up} ∂{top.name}/∂{target}{paths}"
    letters = out[1:-1].replace(",", "")
    return f"{lhs} Σ_{letters} {up}{out} ∂{top.name}{out}/∂{target}{paths}"


def _indices(letters: str, shape: Shape) -> str:
    return f"[{','.join(letters[:len(shape)])}]" if shape else ""


@dataclass
class _Local:
    """One backward step in its own symbols: inputs, outputs and upstream gradient."""

    rule: _Rule
    graph: _Graph
    inputs: dict[str, Grid]
    outputs: dict[str, Grid]  # evaluated through the inputs
    upstream: Grid | None
    arrays: dict[str, Shape]
    # the top output with the target held fixed above the innermost step, and the
    # stand-ins back to the target's entries
    held: tuple[Grid | None, dict] = (None, {})

    @classmethod
    def build(cls, rule: _Rule, graph: _Graph) -> "_Local":
        chain = [graph.step(n) for n in reversed(rule.through)]  # innermost first
        inner = {s.name for s in chain}
        names_ = sorted({n for s in chain for n in s.inputs} - inner)
        env = Env(graph.shapes, {n: symbol_grid(n, graph.shapes[n]) for n in names_})
        target = env.values.get(rule.target)
        held = _held(rule.target, target)
        outputs = {}
        for i, s in enumerate(chain):
            if i == 1 and held is not None:  # the paths through the innermost step only
                env.values[rule.target] = held
            outputs[s.name] = env.values[s.name] = evaluate(s.expr, env)
        top = outputs[chain[-1].name]
        if held is not None:
            env.values[rule.target] = target
            back = dict(zip(held.flat, target.flat))
            outputs = {n: g.map(lambda e: sp.sympify(e).xreplace(back))
                       for n, g in outputs.items()}
        up_name = None if isinstance(rule.upstream, Num) else rule.upstream.id
        upstream = symbol_grid(up_name, chain[-1].shape) if up_name else None
        arrays = {n: graph.shapes[n] for n in names_ + list(inner) + [up_name] if n}
        release = dict(zip(held.flat, target.flat)) if held is not None else {}
        return cls(rule, graph, {n: env.values[n] for n in names_}, outputs, upstream,
                   arrays, (top, release))

    @property
    def top(self) -> str:
        return self.rule.through[0]

    def explicit(self) -> Grid:
        """``Σ_ij dY[i,j] ∂Y[i,j]/∂X[k,l]`` by differentiating, through the outputs."""
        y, release = self.held
        terms = y.flat if self.upstream is None else \
            [canonical_mul(u, e) for u, e in zip(self.upstream.flat, y.flat)]
        target = symbol_grid(self.rule.target, self.graph.shapes[self.rule.target])
        found = gradient(canonical_add(*terms), set(target.flat))
        self.raw = Grid(target.shape, [sp.sympify(found.get(s, sp.Integer(0))).xreplace(release)
                                       for s in target.flat])
        pairs = [(s, e) for name, grid in self.outputs.items()
                 for s, e in zip(symbol_grid(name, grid.shape).flat, grid.flat)]
        return Grid(target.shape, through_outputs(self.raw.flat, pairs))

    def compact(self, tree: Node) -> Grid:
        """The rule evaluated in the same symbols (outputs as their own symbols)."""
        values = dict(self.inputs)
        values.update({n: symbol_grid(n, g.shape) for n, g in self.outputs.items()})
        if self.upstream is not None:
            values[self.rule.upstream.id] = self.upstream
        self._other_steps(tree, values)
        shape = self.graph.shapes[self.rule.target]
        return evaluate(tree, Env(self.graph.shapes, values)).broadcast_to(shape)

    def _other_steps(self, tree: Node, values: dict) -> None:
        """Steps the rule writes by name (``H2.T`` for ``inv(S).T``) that are not among
        its own inputs: their values through their formulas, from symbols of the names
        these use (the explicit side then reads the same formula)."""
        steps = {s.name: s for s in self.graph.steps}
        for name in sorted(names(tree) - set(values)):
            if name in steps:
                self._other_steps(steps[name].expr, values)
                values[name] = evaluate(steps[name].expr, Env(self.graph.shapes, values))
            elif name in self.graph.shapes and not name.startswith("d"):
                values[name] = symbol_grid(name, self.graph.shapes[name])

    def onehot(self) -> dict[sp.Symbol, sp.Expr]:
        """One-hot targets: the last entry of each row is 1 minus the others."""
        mapping = {}
        for name in sorted(self.graph.onehot & set(self.inputs)):
            for _, row in self.inputs[name].lines(-1):
                mapping[row[-1]] = 1 - sp.Add(*row[:-1])
        return mapping

    def ties(self) -> tuple[dict[sp.Symbol, sp.Expr], list[str]]:
        """Inputs of the step that are steps of other inputs of it (``p = softmax(z)`` in
        ``L = sum(p * (log_softmax(z) - log(q)))``), written through those, when the rule
        writes a subexpression by such a name."""
        if not names(self.rule.tree) & set(self.inputs):
            return {}, []
        steps = {s.name: s for s in self.graph.steps}
        ties, tied = {}, []
        for name in sorted(self.inputs):
            step = steps.get(name)
            if step is None or not set(step.inputs) <= set(self.inputs) - {name}:
                continue
            if name not in names(self.rule.tree):
                continue
            value = evaluate(step.expr, Env(self.graph.shapes, dict(self.inputs)))
            ties.update(zip(self.inputs[name].flat, value.flat))
            tied.append(name)
        return ties, tied

    def decide(self, explicit: Grid, compact: Grid, seconds: float) -> Check:
        """Proved in the step's own symbols, or with the outputs written out, or a
        differing entry found at random points (one-hot rows summing to 1)."""
        rows = self.onehot()
        given = (", rows of " + " and ".join(sorted(self.graph.onehot & set(self.inputs)))
                 + " summing to 1") if rows else ""
        a, b = (g.map(lambda e: sp.sympify(e).xreplace(rows)) for g in (explicit, compact))
        if all(x == y or sp.expand(x - y) == 0 for x, y in zip(a.flat, b.flat)):
            return Check(PROVED, "in the step's own symbols" + given)
        ties, tied = self.ties()
        if ties:  # the rule wrote a subexpression by a step's name: that step's formula
            rows = {k: sp.sympify(v).xreplace(ties) for k, v in rows.items()} | ties
            given += ", " + " and ".join(f"{n} = {self.graph.step(n).text}" for n in tied)
            a, b = (g.map(lambda e: sp.sympify(e).xreplace(rows)) for g in (explicit, compact))
            if all(x == y or sp.expand(x - y) == 0 for x, y in zip(a.flat, b.flat)):
                return Check(PROVED, "in the step's own symbols" + given)
        back = {s: e for name, grid in self.outputs.items()
                for s, e in zip(symbol_grid(name, grid.shape).flat, grid.flat)}
        raw = self.raw.map(lambda e: sp.sympify(e).xreplace(rows))
        written = b.map(lambda e: e.xreplace(back))
        numeric = _numbers().random_mismatch(raw, written, seed=len(self.rule.through))
        if not numeric.agree:
            index = tuple(k - 1 for k in numeric.mismatch[0])
            return Check(DIFFERS, "at a random point" + given, numeric.max_abs_error,
                         (entry_name(f"d{self.rule.target}", index), explicit[index],
                          compact[index]))
        if all(is_zero(x - y, seconds) for x, y in zip(raw.flat, written.flat)):
            return Check(PROVED, "with the outputs written through the inputs" + given,
                         numeric.max_abs_error)
        return Check(AGREES, "numerically at 3 points; not proved symbolically" + given,
                     numeric.max_abs_error)

    def legend(self, shown: Grid) -> tuple[str, ...]:
        """``Y1_i_j``-style names of the arrays whose entries appear in ``shown``."""
        present = {s.name for e in shown.flat for s in sp.sympify(e).free_symbols}
        out = []
        for name, shape in self.arrays.items():
            if {entry_name(name, i) if shape else name for i in ndindex(shape)} & present:
                out.append(name + "".join(f"_{c}" for c in "ijmn"[:len(shape)]))
        return tuple(out)


def _held(name: str, grid: Grid | None) -> Grid | None:
    """Stand-ins for the target's entries in the steps above the innermost one of a fused
    rule: the rule stands for the paths through the innermost step, so the target's other
    occurrences (``X.T`` in ``L = sum(Z * X.T)`` with ``Z = X @ X``) are held fixed."""
    if grid is None:
        return None
    return grid.map(lambda s: sp.Dummy(f"{s}_held"))
