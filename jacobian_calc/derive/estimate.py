"""Size estimates of the stages that can grow, checked before each stage starts.

From shapes alone (nothing evaluated), every subtree of the input gets

* ``built`` -- expression nodes made to evaluate it (work; a subtree shared
  by several parents, or an intermediate used twice, is evaluated once);
* ``size`` -- the size of one of its entries counted as a tree, which is
  what a Jacobian entry derived from it can grow to;

from each operation's declared ``cost`` (:class:`jacobian_calc.ops.Cost`).
Evaluation is refused when the total of ``built`` exceeds
``limits.max_nodes``; differentiation when the output entries times the
part of the expression a reverse sweep visits (at most ``size``, at most
everything built) does.

Examples
--------
>>> from jacobian_calc.parsing import parse_expression
>>> costs = tree_costs([parse_expression("sum(X@X)")], {"X": (100, 100)}, {})
>>> f"{costs.forward:,.0f}"
'2,010,000'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..core.budget import active_limits
from ..core.errors import LimitError
from ..core.grid import Shape
from ..core.tree import Call, Declared, Name, Node, fold
from ..ops import Cost, default_cost, get
from ..ops.text import to_source
from ..symbolic.evaluate import node_shapes

#: A reverse sweep visits each node and builds an adjoint product per edge.
SWEEP_FACTOR = 2


@dataclass(frozen=True)
class NodeCost:
    """Estimates for one subtree: see the module docstring."""

    entries: int
    size: float
    built: float  # by this subtree, its descendants included

    @property
    def reach(self) -> float:
        """Nodes a sweep from one entry can visit: its tree, at most all that was built."""
        return max(1.0, min(self.size, self.built))


@dataclass
class Costs:
    """Estimates for every subtree of a problem."""

    nodes: dict[Node, NodeCost] = field(default_factory=dict)
    forward: float = 0.0  # nodes built by evaluating everything once
    biggest: tuple[float, Node | None] = (0.0, None)


def tree_costs(roots: Iterable[Node], shapes: Mapping[str, Shape],
               lets: Mapping[str, Node], order: Iterable[str] = (),
               found: Mapping[Node, Shape] | None = None) -> Costs:
    """Estimates for the intermediates (in ``order``) and then ``roots``.

    ``found``, the shape of every subtree, is computed here unless given.
    """
    costs = Costs()
    known: dict[str, NodeCost] = {}
    all_shapes = dict(shapes)
    found = dict(found) if found is not None else {}
    for name in order:
        found.update(node_shapes(lets[name], all_shapes))
        known[name] = _add_tree(lets[name], found, known, costs)
        all_shapes[name] = found[lets[name]]
    for root in roots:
        if root not in found:
            found.update(node_shapes(root, all_shapes))
        _add_tree(root, found, known, costs)
    return costs


def _add_tree(root: Node, found: Mapping[Node, Shape], known: dict,
              costs: Costs) -> NodeCost:
    def combine(node: Node, kids) -> NodeCost:  # children first, each subtree once
        entries = math.prod(found[node])
        per_entry, size, below = _one(node, found, known, costs)
        mine = entries * per_entry
        costs.forward += mine
        if mine > costs.biggest[0]:
            costs.biggest = (mine, node)
        # Shared subtrees are counted once per parent in ``below``; all that was built
        # so far (descendants come first) bounds it without double counting.
        return NodeCost(entries, size, min(mine + below, costs.forward))
    return fold(root, combine, costs.nodes)


def _one(node: Node, found: Mapping[Node, Shape], known: dict,
         costs: Costs) -> tuple[float, float, float]:
    """(built per entry, size of an entry, built below) for one node."""
    if isinstance(node, Name):
        let = known.get(node.id)
        return (0.0, let.size, let.built) if let else (0.0, 1.0, 0.0)
    kids = [costs.nodes[k] for k in node.children()]
    below = sum(k.built for k in kids)
    if isinstance(node, Declared):
        return 1.0, 1.0 + sum(k.size for k in kids), below
    if not isinstance(node, Call):
        return 0.0, 1.0, 0.0
    op = get(node.op)
    context = Cost(tuple(found[k] for k in node.children()), found[node],
                   tuple(k.size for k in kids), op.options(node.kwargs))
    built, size = (op.cost or default_cost)(context)
    return float(built), float(size), below


def check_forward(costs: Costs) -> None:
    """Refuse evaluating the input when it would build more than ``max_nodes`` nodes."""
    limits = active_limits()
    if costs.forward <= limits.max_nodes:
        return
    amount, node = costs.biggest
    worst = f" ({amount:,.0f} of them for {_source(node)})" if node is not None else ""
    raise LimitError(f"evaluating the expression would build about {costs.forward:,.0f} "
                     f"expression nodes, over the limit of {limits.max_nodes:,}{worst}",
                     limit="max_nodes")


def check_gradient(outputs: Iterable[NodeCost], groups: int) -> None:
    """Refuse differentiating when the reverse sweeps would take over ``max_nodes`` steps.

    Each output entry is differentiated by one sweep per input group.
    """
    limits = active_limits()
    outputs = list(outputs)
    work = groups * SWEEP_FACTOR * sum(o.entries * o.reach for o in outputs)
    if work <= limits.max_nodes:
        return
    entries = sum(o.entries for o in outputs)
    raise LimitError(f"differentiating would take about {work:,.0f} steps ({entries:,} "
                     f"output entr{'y' if entries == 1 else 'ies'}, each an expression of up to "
                     f"{max(o.reach for o in outputs):,.0f} nodes), over the limit of "
                     f"{limits.max_nodes:,}", limit="max_nodes")


def _source(node: Node) -> str:
    text = to_source(node)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["NodeCost", "Costs", "tree_costs", "check_forward", "check_gradient"]
