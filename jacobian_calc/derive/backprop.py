"""Backpropagation as Lecture 9 writes it: named steps, each checked on its own.

1. **Forward steps.** The expression is cut where a lecture names things:
   ``Z1 = X @ W1 + b1``, ``Y1 = tanh(Z1)``, ``Z2 = Y1 @ W2 + b2``,
   ``P = softmax(Z2)``, ``L = -mean(T * log(P))``. A layer (a matrix product
   plus biases), the argument of an activation, and an activation feeding a
   product or a reduction each get a name; names given with ``lets`` are kept.
2. **Backward steps.** For every forward step, one backward step per input
   that needs a gradient, composed from the operations' own rules
   (:attr:`Op.vjp <jacobian_calc.ops.registry.Op.vjp>`) inside the step and
   tidied (:mod:`.tidy`): ``dW2 = Y1.T @ dZ2``, ``db2 = sum(dZ2, axis=0)``,
   ``dY1 = dZ2 @ W2.T``. A step whose rule gets simpler with its upstream
   gradient substituted is fused with it (softmax and cross-entropy:
   ``dZ2 = (P - T) / 12``).
3. **Each step checked.** The explicit route contracts the step's own
   Jacobian with its upstream gradient, ``dX[k,l] = Σ_ij dY[i,j] ∂Y[i,j]/∂X[k,l]``,
   in the step's own symbols (``P_1_1``, ``dP_1_1``), by
   :func:`~jacobian_calc.symbolic.autodiff.gradient` -- never by the rules.
   The entries are small, so equality is decided: proved, or a differing entry.
4. **End to end.** The composed compact gradients are evaluated with NumPy at
   random points and compared with the derivative of the whole expression
   (and exactly at rational points where the expression is rational).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Container, Iterable, Mapping

import sympy as sp

from ..core import budget
from ..core.errors import JacobianError, JacobianTypeError
from ..core.grid import Grid, Shape, ndindex
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.progress import advance, stage
from .naming import Namer, repeated
from ..core.tree import Call, Declared, Name, Node, Num, names, substitute, with_children
from ..ops import NotDifferentiable, Vjp, get
from ..ops.text import to_source
from ..parsing import declared_name
from ..results.backprop import (AGREES, DIFFERS, PROVED, BackpropResult, BackwardStep,
                                Check, ForwardStep, Gradient)
from ..symbolic.autodiff import gradient
from ..symbolic.canonical import canonical_add, canonical_mul
from ..symbolic.evaluate import Env, evaluate, node_shapes
from ..symbolic.plain import factor_common
from ..symbolic.simplify import is_zero, simplify_entry
from ..symbolic.simplify import notes as simplify_notes
from ..symbolic.symbols import entry_name, symbol_grid
from ..symbolic.through_outputs import through_outputs
from .problem import (ExprLike, Problem, absence_warnings, parse_wrt, prepare,
                      entry_indices, wrt_groups)
from .tidy import cost, tidy


@budget.entry_point
def backprop(of: ExprLike, wrt: str | Iterable, *, shapes: Mapping | None = None,
             upstream: str | None = None, lets: Mapping | None = None,
             functions: Iterable[str] | None = None, onehot: str | Iterable[str] | None = None,
             inline: bool = False, expand: bool = False, simplify: bool = False,
             points: int = 3, seed: int = 0, limits: Limits = DEFAULT_LIMITS,
             explicit: bool | None = None) -> BackpropResult:
    """Gradients of ``of`` as named backward steps, each checked against its
    explicit contraction.

    Parameters
    ----------
    of : str, SymPy expression or tree
        One expression, e.g. ``"-mean(T*log(softmax(tanh(X@W1 + b1)@W2 + b2)))"``.
    wrt : str or sequence of str
        The variables, e.g. ``"W1,b1,W2,b2"``.
    shapes : dict, optional
        Declared shapes, ``{"X": (4, 3), "W1": (3, 5), "b1": 5}``.
    upstream : str, optional
        Name of the upstream gradient of an array output (default ``d`` + the
        output's name, ``dY``); a scalar output's upstream gradient is 1. It
        must not be, or look like the gradient of, a name in the expression.
    lets : dict, optional
        Forward steps named by the caller, ``{"H": "tanh(X@W + b)"}``.
    functions : iterable of str, optional
        Declared undefined functions (they have no backward rule: an error).
    onehot : str or iterable of str, optional
        Targets whose entries along the last axis sum to 1, so that
        softmax with cross-entropy reads ``dZ = (P - T) / N``.
    inline : bool
        Show the gradients fully substituted (both forms are always computed).
    expand : bool
        Keep the explicit gradient of the whole expression, entry by entry in
        the variables' entries, in each :class:`Gradient` (for small cases).
    simplify : bool
        Simplify the explicit entries shown (each within
        ``limits.simplify_seconds``).
    points, seed : int
        Random points of the end-to-end comparison.
    limits : Limits
        Resource limits.
    explicit : bool, optional
        Where each step is checked against its explicit contraction: at the
        requested sizes (True; the explicit gradients are then kept for
        :meth:`BackpropResult.evaluate`), at small instantiated sizes in which
        every dimension differs (False), or at the requested sizes while that
        is cheap (None, the default). At symbolic sizes always instantiated.

    Returns
    -------
    BackpropResult
        ``.steps`` (forward), ``.backward`` (each with its explicit contraction
        and verdict), ``.gradients``, ``.end_to_end``, ``.agree``, ``.summary()``.

    Examples
    --------
    >>> r = backprop("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (4, 3), "W": (3, 2), "b": 2})
    >>> [f"{s.name} = {s.text}" for s in r.steps]
    ['Z = X @ W + b', 'Y = sigmoid(Z)', 'L = mean(Y)']
    >>> [f"{b.name} = {b.text}" for b in r.backward]
    ['dY = ones_like(Y) / 8', 'dZ = dY * Y * (1 - Y)', 'dW = X.T @ dZ', 'db = sum(dZ, axis=0)']
    >>> r.summary()
    '4 steps proved symbolically; end to end agrees at 3 points (max error ...)'
    """
    _check_flags(points, inline=inline, expand=expand, simplify=simplify)
    if explicit is not None:
        _check_flags(points, explicit=explicit)
    with simplify_notes() as kept:
        result = _backprop(of, wrt, shapes, upstream, lets, functions, onehot, inline, expand,
                           simplify, points, seed, limits, explicit)
    return replace(result, warnings=list(result.warnings) + kept)


def _backprop(of, wrt, shapes, upstream, lets, functions, onehot, inline, expand, simplify,
              points, seed, limits, explicit) -> BackpropResult:
    problem = prepare(of, shapes=shapes, lets=lets, functions=functions, limits=limits,
                      symbolic=True)
    problem.check_work()  # the forward pass, and the explicit gradients it is checked against
    request = _Request.read(problem, wrt, upstream, onehot)
    graph = _Graph.build(problem, request)
    rules = _fuse(_backward(graph), graph)
    if problem.symbolic:  # derived once for all sizes; checked at instantiated ones
        return _sizes().backprop_at_sizes(ROUTE, problem, request, graph, rules, expand=expand,
                                          simplify=simplify, inline=inline, points=points,
                                          seed=seed)
    if not expand and (explicit is False or (explicit is None and not _sizes().cheap(problem))):
        small = _sizes().backprop_generalized(
            ROUTE, problem, request, graph, rules, of=of, wrt=wrt, upstream=upstream, onehot=onehot,
            lets=lets, functions=functions, inline=inline, points=points, seed=seed,
            simplify=simplify)
        if small is not None:
            return small
    with stage("checking backward steps", len(rules)):
        backward = []
        for rule in rules:
            backward.append(_checked(rule, graph, limits, simplify))
            advance()
    output = evaluate(graph.root, Env(graph.variables))
    explicit = _explicit_gradients(graph, output)
    gradients = _gradients(graph, rules, explicit, expand, simplify, limits)
    end = _numbers().end_to_end(graph, rules, explicit, points, seed)
    return BackpropResult(
        of=to_source(graph.root), output=graph.output, out_shape=graph.out_shape,
        upstream=graph.upstream or "1", steps=graph.steps, backward=backward,
        gradients=gradients, end_to_end=end,
        warnings=request.notes + absence_warnings(graph.wrt, graph.variables, output.flat,
                                                  problem.used_names()),
        shapes=dict(graph.shapes), inline=inline, onehot=tuple(sorted(request.onehot)))


def _numbers():
    """The numeric checks, imported when a backprop runs: the Jacobian path (and
    ``import jacobian_calc.api``) must not load NumPy."""
    from . import backprop_numbers  # noqa: PLC0415
    return backprop_numbers


def _sizes():
    """Backprop at symbolic sizes (:mod:`.backprop_sizes`), imported when asked for."""
    from . import backprop_sizes  # noqa: PLC0415
    return backprop_sizes


def _check_flags(points: int, **flags) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise JacobianTypeError(f"{name} must be True or False, not {value!r}")
    if type(points) is not int or points < 1:
        raise JacobianTypeError(f"points must be a positive integer, not {points!r}")


# -- the request: names, upstream, one-hot targets ---------------------------------------

@dataclass
class _Request:
    """What was asked for, checked against the names the expression uses."""

    root: Node
    lets: dict[Node, str]
    wrt: list[str]
    upstream: str | None
    onehot: set[str]
    user: set[str]
    notes: list[str] = field(default_factory=list)  # names changed, said as warnings

    @classmethod
    def read(cls, problem: Problem, wrt, upstream, onehot) -> "_Request":
        if len(problem.components) != 1:
            raise JacobianError("{{backprop}} needs exactly one expression, got "
                                f"{len(problem.components)} components")
        root, lets = _inline_lets(problem)
        names_ = parse_wrt(wrt)
        if names_ is None:
            raise JacobianError("{{backprop}} needs {{wrt}} naming the variables, e.g. W,b")
        wrt_groups(names_, problem)  # the same refusals as the Jacobian route
        user = (problem.used_names() | set(problem.shapes) | set(problem.lets)
                | set(problem.functions) | set(names_) | problem.dimensions)
        for name in names_:
            if f"d{name}" in user:
                raise JacobianError(f"the gradient of {name} is written d{name}, which is "
                                    "also a name in the expression; rename one of them")
        if upstream is not None:
            _check_upstream(upstream, user)
        return cls(root, lets, names_, upstream, _onehot(onehot, problem), user)


def _check_upstream(upstream: str, user: set[str]) -> None:
    """The upstream gradient's name must not be, or read as the gradient of, a user name."""
    declared_name(upstream, "upstream name")  # not an operation, nor read as an entry (X_1_1)
    if upstream in user:
        raise JacobianError(f"the {{{{upstream}}}} name {upstream!r} is also a name in the "
                            f"expression ({upstream}); choose another")
    if upstream.startswith("d") and upstream[1:] in user:
        raise JacobianError(f"the {{{{upstream}}}} name {upstream!r} would read as the "
                            f"gradient of {upstream[1:]}, a name in the expression; choose "
                            "another")


def _onehot(onehot, problem: Problem) -> set[str]:
    if onehot is None:
        return set()
    items = [s.strip() for s in onehot.split(",")] if isinstance(onehot, str) else list(onehot)
    for name in items:
        if name not in problem.used_names():
            raise JacobianError(f"{{{{onehot}}}} names {name!r}, which the expression does "
                                "not use")
        if not problem.shapes.get(name):
            raise JacobianError(f"{{{{onehot}}}} target {name!r} must be a declared array "
                                "(its rows sum to 1)")
    return set(items)


def _inline_lets(problem: Problem) -> tuple[Node, dict[Node, str]]:
    """The expression with intermediates substituted, and which subtree each named."""
    inlined: dict[str, Node] = dict(entry_indices(problem))  # x_2 of an array x is x[1]
    entries = set(inlined)
    for name in problem.let_order:
        inlined[name] = substitute(problem.lets[name], inlined)
    named = {}
    for name, node in inlined.items():
        if name not in entries and not isinstance(node, (Name, Num)):
            named.setdefault(node, name)
    return substitute(problem.components[0], inlined), named


# -- forward steps ------------------------------------------------------------------------

#: Reductions whose backward rule reads their output: always a step of their own.
NAMED_REDUCTIONS = ("max", "min")

#: Comparisons, the conditions of where(): read inside their step, never a step.
CONDITIONS = ("less", "less_equal", "greater", "greater_equal")

#: Letters of generated names, by what the step is, in order of preference.
LETTERS = {"loss": "LJC", "output": "YFG", "layer": "ZUV", "activation": "YHA",
           "softmax": "PQ", "log_softmax": "SR", "other": "HGK",
           "mean": ("mu", "m"), "variance": ("v", "s"), "statistic": ("s", "t"),
           "centred": ("c", "xc")}
#: Kinds of steps named in lower case whatever their shape (``mu``, ``v``).
STATISTIC_KINDS = ("mean", "variance", "statistic")
#: Reductions whose result, broadcast back against the data, is a normalisation statistic.
STATISTICS = ("mean", "sum")


def _atomic(node: Node) -> bool:
    """Names, numbers and constants, and their transposes and negations."""
    if isinstance(node, (Name, Num)) or (isinstance(node, Call) and not node.args):
        return True
    return isinstance(node, Call) and node.op in ("transpose", "neg") and \
        isinstance(node.args[0], (Name, Num))


def _is_layer(node: Node) -> bool:
    """A matrix product, possibly plus bias names: ``X @ W + b``."""
    if isinstance(node, Call) and node.op == "matmul":
        return True
    return (isinstance(node, Call) and node.op == "add"
            and any(isinstance(a, Call) and a.op == "matmul" for a in node.args)
            and all(isinstance(a, Name) or (isinstance(a, Call) and a.op == "matmul")
                    for a in node.args))


def _plain_arithmetic(node: Node, steps: Container[Node] = ()) -> bool:
    """Entry-by-entry arithmetic of names, numbers and steps (``1 - y``, ``x1 - x2``)."""
    if _atomic(node):
        return True
    return _role(node) == "arithmetic" and all(
        a in steps or _plain_arithmetic(a, steps) for a in node.args)


def _role(node: Node) -> str | None:
    """What a step of ``node`` is, as its operation declares (``Op.role``)."""
    return get(node.op).role if isinstance(node, Call) else None


def _is_activation(node: Node) -> bool:
    return isinstance(node, Call) and bool(node.args) and _role(node) == "activation"


def _named_by_lecture(node: Node, parent: Node, steps: Container[Node] = ()) -> bool:
    """Whether a lecture names ``node``, an argument of ``parent`` (``steps``: subtrees
    already known to be named, which read as names)."""
    if isinstance(node, Call) and node.op in CONDITIONS:  # where(abs(r) <= 1, ...) keeps it
        return False
    if _atomic(node) or isinstance(parent, Declared) or (
            isinstance(node, Call) and node.op == "transpose"):
        return False
    if _is_activation(parent):  # Z in Y = f(Z), but not 1 - y in log(1 - y)
        return not _plain_arithmetic(node, steps)
    if parent.op == "matmul":
        return not (isinstance(node, Call) and node.op == "matmul")  # chains stay whole
    arithmetic = _role(parent) == "arithmetic"
    if isinstance(node, Call) and node.op in NAMED_REDUCTIONS:  # sum(max(X, axis=1))
        return True
    if _is_layer(node):  # (X@W - T)**2 names X@W; trace(A@X) and X@W + b keep it
        return arithmetic and not _is_layer(parent)
    if isinstance(node, Call) and node.op == "softmax" and arithmetic:
        return True  # P = softmax(z) in sum(P * (log_softmax(z) - log(q)))
    return _is_activation(node) and not arithmetic  # mean(sigmoid(Z)) names the sigmoid


def _cuts(root: Node, lets: Mapping[Node, str], found: Mapping[Node, Shape] | None = None
          ) -> list[Node]:
    """The subtrees that become steps, in evaluation order (the root last).

    Two passes: ``log(1 - sigmoid(z))`` needs no step for ``1 - y`` once the
    sigmoid is known to be the step ``y``, wherever that was found. Besides the
    lecture's layers and activations, a subexpression used more than once
    (``c = x - mu``) and a normalisation statistic (``mu = mean(x)``, a reduction
    broadcast back against the data) are steps.
    """
    shared = _shared(root) | (_statistics(root, found) if found is not None else set())
    first = _find_cuts(root, lets, set(), shared)
    return _evaluation_order(root, set(_find_cuts(root, lets, set(first), shared)))


def _shared(root: Node) -> set[Node]:
    """Subtrees used more than once (by two parents, or twice by one), not atomic."""
    uses: dict[Node, int] = {}
    seen: set[Node] = set()

    def visit(node: Node) -> None:
        if node in seen:
            return
        seen.add(node)
        for child in node.children():
            uses[child] = uses.get(child, 0) + 1
            visit(child)

    visit(root)
    return {n for n, k in uses.items() if k > 1 and not _atomic(n) and not (
        isinstance(n, Call) and n.op == "transpose")}


def _elementwise(node: Node) -> bool:
    return isinstance(node, Call) and (_role(node) == "arithmetic" or _is_activation(node))


def _statistics(root: Node, found: Mapping[Node, Shape]) -> set[Node]:
    """Reductions broadcast back against larger arrays through entry-by-entry operations
    (``x - mean(x)``, ``c / sqrt(mean(c**2) + eps)``), not a loss's final reduction."""
    out: set[Node] = set()
    seen: set[tuple[Node, Shape]] = set()

    def visit(node: Node, top: Shape) -> None:
        if (node, top) in seen:
            return
        seen.add((node, top))
        if isinstance(node, Call) and node.op in STATISTICS and tuple(top) != tuple(found[node]):
            out.add(node)
        for child in node.children():
            visit(child, top if _elementwise(node) else found[child])

    visit(root, found[root])
    return out


def _group_affine(root: Node, found: Mapping[Node, Shape], lets: Mapping[Node, str]
                  ) -> tuple[Node, dict[Node, str]]:
    """``Y1 @ W2 + b2 - T`` read as ``(Y1 @ W2 + b2) - T``: the affine pre-activation
    with its bias (a name broadcast against the product) is a layer of its own."""
    memo: dict[Node, Node] = {}

    def bias(a: Node, shape: Shape) -> bool:
        return isinstance(a, Name) and tuple(found.get(a, ())) != tuple(shape) and \
            len(found.get(a, ())) > 0

    def visit(node: Node) -> Node:
        if node in memo:
            return memo[node]
        out = with_children(node, [visit(k) for k in node.children()]) \
            if node.children() else node
        if isinstance(out, Call) and out.op == "add" and node not in lets:
            layer = [a for a in out.args if isinstance(a, Call) and a.op == "matmul"]
            layer += [a for a in out.args if bias(a, found[node])]
            rest = [a for a in out.args if a not in layer]
            if len(layer) > 1 and rest and any(isinstance(a, Call) and a.op == "matmul"
                                               for a in layer):
                out = Call("add", [Call("add", layer)] + rest, out.kwargs)
        memo[node] = out
        return out

    new = visit(root)
    return new, {memo.get(n, n): name for n, name in lets.items()}


def _evaluation_order(root: Node, cuts: set[Node]) -> list[Node]:
    """``cuts`` in a topological order of the expression's DAG: a step comes after every
    step it uses, wherever that one was first named (``exp(h) @ h`` computes ``h`` first)."""
    order: dict[Node, None] = {}
    done: set[Node] = set()

    def visit(node: Node) -> None:
        if node in done:
            return
        for child in node.children():
            visit(child)
        done.add(node)
        if node in cuts:
            order[node] = None

    visit(root)
    return list(order)


def _find_cuts(root: Node, lets: Mapping[Node, str], steps: set[Node],
               shared: Container[Node] = ()) -> list[Node]:
    found: dict[Node, None] = {}

    def visit(node: Node, parent: Node | None) -> None:
        transpose = isinstance(node, Call) and node.op == "transpose" and parent is not None
        through = parent if transpose else node  # a transpose is read through
        for child in node.children():
            visit(child, through)
        loss_argument = parent is root and isinstance(parent, Call) and \
            parent.op in STATISTICS and _is_layer(node)  # h = H @ v in L = mean(h)
        if parent is None or node in lets or node in shared or loss_argument or \
                _named_by_lecture(node, parent, steps):
            found[node] = None

    visit(root, None)
    return list(found)


def _kind(node: Node, is_root: bool, shape: Shape, cuts: Container[Node] = ()) -> str:
    if is_root:
        return "loss" if shape == () else "output"
    if _is_layer(node):
        return "layer"
    if isinstance(node, Call) and node.op in STATISTICS:
        square = isinstance(node.args[0], Call) and node.args[0].op == "pow" and \
            node.args[0].args[1] == Num(2)
        return "variance" if square else ("mean" if node.op == "mean" else "statistic")
    if isinstance(node, Call) and node.op == "add" and any(
            isinstance(a, Call) and a.op == "neg" and a.args[0] in cuts and
            isinstance(a.args[0], Call) and a.args[0].op == "mean" for a in node.args):
        return "centred"
    if isinstance(node, Call) and node.op in ("softmax", "log_softmax"):
        return node.op
    return "activation" if _is_activation(node) else "other"


def _suffixes(cuts: list[Node], kinds: dict[Node, str]) -> dict[Node, str]:
    """Layer numbers when there are several layers; an activation takes its layer's."""
    suffix: dict[Node, str] = {}
    for kind in set(kinds.values()):
        members = [n for n in cuts if kinds[n] == kind]
        for i, n in enumerate(members):
            suffix[n] = str(i + 1) if len(members) > 1 else ""
    activations = [n for n in cuts if kinds[n] == "activation"]
    aligned = [suffix.get(n.args[0], "") for n in activations]
    if all(aligned) and len(set(aligned)) == len(aligned):
        suffix.update(zip(activations, aligned))
    return suffix


@dataclass
class _Graph:
    """The forward steps and every shape the backward pass needs."""

    root: Node
    steps: list[ForwardStep]
    output: str
    out_shape: Shape
    upstream: str | None  # None: a scalar output, seeded with 1
    wrt: list[str]
    needs: set[str]
    shapes: dict[str, Shape]
    onehot: set[str]
    variables: dict[str, Shape] = field(default_factory=dict)

    @classmethod
    def build(cls, problem: Problem, request: _Request) -> "_Graph":
        root = request.root
        shapes = {n: tuple(problem.shapes.get(n, ())) for n in names(root) | set(request.wrt)}
        found = node_shapes(root, shapes)
        root, request.lets = _group_affine(root, found, request.lets)
        found = node_shapes(root, shapes)
        cuts = _cuts(root, request.lets, found)
        names_ = _step_names(cuts, root, found, request)
        steps = [_forward_step(node, names_, found) for node in cuts]
        _check_order(steps, set(shapes))
        out_shape = found[root]
        output = steps[-1].name
        upstream = None if out_shape == () else (request.upstream or f"d{output}")
        graph = cls(root, steps, output, out_shape, upstream, request.wrt,
                    _needs(steps, request.wrt), dict(shapes), request.onehot, dict(shapes))
        graph._gradient_shapes()
        return graph

    def _gradient_shapes(self) -> None:
        for s in self.steps:
            self.shapes[s.name] = s.shape
            self.shapes[f"d{s.name}"] = s.shape
        for name, shape in self.variables.items():
            if f"d{name}" not in self.shapes:  # else a user's name: never asked for (refused)
                self.shapes[f"d{name}"] = shape
        if self.upstream:
            self.shapes[self.upstream] = self.out_shape

    def step(self, name: str) -> ForwardStep:
        return next(s for s in self.steps if s.name == name)

    @property
    def named(self) -> dict[str, Node]:
        """The steps before the output, by name: a backward formula writes them by name."""
        return {s.name: s.expr for s in self.steps[:-1]}

    @property
    def seed(self) -> Node:
        return Num(1) if self.upstream is None else Name(self.upstream)


def _step_names(cuts: list[Node], root: Node, found, request: _Request) -> dict[Node, str]:
    namer = Namer(request.user, gradients=True)
    kinds = {n: _kind(n, n is cuts[-1], found[n], cuts) for n in cuts}
    suffix = _suffixes(cuts, kinds)
    names_: dict[Node, str] = {}
    for n in cuts:  # the caller's names, unless their gradient would be another name
        if n in request.lets:
            name = request.lets[n]
            if f"d{name}" in request.user:
                names_[n] = namer.first_free(repeated(LETTERS[kinds[n]], suffix[n]))
                request.notes.append(f"the step {name} is written {names_[n]} here: its "
                                     f"gradient d{name} would be the name d{name} of the "
                                     "expression")
            else:
                names_[n] = name
    wanted = request.upstream[1:] if request.upstream and request.upstream.startswith("d") \
        else ""
    if root not in names_ and wanted and namer.free(wanted):
        names_[root] = namer.take(wanted)  # --upstream dZ names the output Z
    if request.upstream:
        namer.take(request.upstream)
    for n in cuts:
        if n not in names_:
            lower = (len(found[n]) < 2 and kinds[n] != "loss") or kinds[n] in STATISTIC_KINDS
            names_[n] = namer.first_free(repeated(LETTERS[kinds[n]], suffix[n], lower))
    return names_


def _forward_step(node: Node, names_: dict[Node, str], found) -> ForwardStep:
    expr = with_children(node, [_as_name(k, names_) for k in node.children()])
    return ForwardStep(names_[node], expr, to_source(expr), found[node],
                       tuple(sorted(names(expr))))


def _as_name(node: Node, names_: dict[Node, str]) -> Node:
    if node in names_:
        return Name(names_[node])
    return with_children(node, [_as_name(k, names_) for k in node.children()])


def _check_order(steps: list[ForwardStep], given: set[str]) -> None:
    """Every step after the steps it uses: a failure is a bug of ours, never the user's
    (and its message must not name a generated step as if it were theirs)."""
    known = set(given)
    for s in steps:
        if not set(s.inputs) <= known:
            raise AssertionError("internal error: a forward step comes before a step it uses")
        known.add(s.name)


def _needs(steps: list[ForwardStep], wrt: list[str]) -> set[str]:
    """The variables asked for and every step that depends on one of them."""
    needs = set(wrt)
    for s in steps:
        if needs & set(s.inputs):
            needs.add(s.name)
    return needs


# -- backward steps -------------------------------------------------------------------------

@dataclass
class _Rule:
    """One backward step while it is being derived."""

    target: str
    through: list[str]
    upstream: Node
    tree: Node
    accumulate: bool = False
    fused: list[tuple[str, Node]] = field(default_factory=list)


def _backward(graph: _Graph) -> list[_Rule]:
    """One rule per (forward step, input needing a gradient), last step first."""
    rules: list[_Rule] = []
    started: set[str] = set()
    order = {name: i for i, name in enumerate(graph.wrt)}
    for step in reversed(graph.steps):
        if step is not graph.steps[-1] and (step.name not in graph.needs
                                            or step.name not in started):
            continue  # not on a path to a variable, or its gradient is zero (step, sign)
        g = graph.seed if step is graph.steps[-1] else Name(f"d{step.name}")
        parts = local_vjps(step.expr, Name(step.name), g, graph.shapes, graph.needs)
        for target in sorted(parts, key=lambda n: (n not in order, order.get(n, 0))):
            tree = tidy(Call("add", parts[target]) if len(parts[target]) > 1
                        else parts[target][0], graph.shapes, graph.onehot, graph.named)
            rules.append(_Rule(target, [step.name], g, tree, target in started))
            started.add(target)
    return _without_zeros(rules)


def _zero(tree: Node) -> bool:
    """``0``, or ``0 * ones_like(...)``: a contribution that cancelled out."""
    return tree == Num(0) or (isinstance(tree, Call) and tree.op == "mul"
                              and tree.args[0] == Num(0))


def _without_zeros(rules: list[_Rule]) -> list[_Rule]:
    """Contributions that cancelled (``softmax(z) - exp(log_softmax(z)) * sum(...)``)
    dropped where the target has others; the first remaining one starts the sum."""
    kept = [r for r in rules if not _zero(r.tree)
            or all(_zero(o.tree) for o in rules if o.target == r.target)]
    kept = [r for i, r in enumerate(kept) if not _zero(r.tree)
            or r.target not in {o.target for o in kept[:i]}]
    started: set[str] = set()
    for r in kept:
        r.accumulate = r.target in started
        started.add(r.target)
    return kept


def local_vjps(expr: Node, out: Name, g: Node, shapes: Mapping[str, Shape],
               wanted: set[str]) -> dict[str, list[Node]]:
    """The gradients of one step's inputs: the operations' rules composed inside it.

    Parameters
    ----------
    expr : Node
        The step's formula (``X @ W + b``).
    out : Name
        The step's output name (what its last operation's rule calls ``Y``).
    g : Node
        The step's upstream gradient (``dZ``).
    shapes : mapping
        Shapes of every name.
    wanted : set of str
        Names whose gradients are wanted.

    Returns
    -------
    dict
        Name -> contributions (trees to be summed).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> parts = local_vjps(parse_expression("X @ W + b"), Name("Z"), Name("dZ"),
    ...                    {"X": (4, 3), "W": (3, 2), "b": (2,), "Z": (4, 2)}, {"W", "b"})
    >>> {k: [to_source(t) for t in v] for k, v in parts.items()}
    {'W': ['X.T @ dZ'], 'b': ['sum(dZ, axis=0)']}
    """
    found = node_shapes(expr, shapes)
    parts: dict[str, list[Node]] = {}

    def visit(node: Node, grad: Node, top: bool) -> None:
        if isinstance(node, Name):
            if node.id in wanted:
                parts.setdefault(node.id, []).append(grad)
            return
        if not names(node) & wanted:
            return
        op = _differentiable(node)
        v = Vjp(node.args, out if top else node, grad, tuple(found[a] for a in node.args),
                found[node], op.options(node.kwargs))
        for arg, ga in zip(node.args, op.vjp(v)):
            if ga is not None:
                visit(arg, unbroadcast(ga, found[arg], found[node]) if op.broadcasts else ga,
                      False)

    visit(expr, g, True)
    return parts


def _differentiable(node: Node):
    if isinstance(node, Declared):
        raise JacobianError(f"no compact backprop rule for {node.name}(); the explicit route "
                            "still works without {{backprop}}")
    op = get(node.op)
    if isinstance(op.vjp, NotDifferentiable):
        raise JacobianError(f"no compact backprop rule for {op.name}(): {op.vjp.reason}")
    return op


def unbroadcast(g: Node, shape: Shape, out_shape: Shape) -> Node:
    """``g`` (of ``out_shape``) summed over the axes along which ``shape`` was broadcast.

    Examples
    --------
    >>> to_source(unbroadcast(Name("dZ"), (3,), (4, 3)))
    'sum(dZ, axis=0)'
    >>> to_source(unbroadcast(Name("dZ"), (4, 1), (4, 3)))
    'sum(dZ, axis=1, keepdims=True)'
    """
    if tuple(shape) == tuple(out_shape):
        return g
    if not shape:
        return Call("sum", (g,))
    for _ in range(len(out_shape) - len(shape)):  # NumPy prepends axes: sum them away
        g = Call("sum", (g,), {"axis": 0})
    for axis, (n, m) in enumerate(zip(shape, out_shape[len(out_shape) - len(shape):])):
        if n == 1 and m != 1:
            g = Call("sum", (g,), {"axis": axis, "keepdims": True})
    return g


def _simpler(fused: Node, rule: Node) -> bool:
    """Fewer names and no more nodes: something cancelled (``P`` against ``1/P``)."""
    (names_a, nodes_a), (names_b, nodes_b) = cost(fused), cost(rule)
    return names_a < names_b and nodes_a <= nodes_b


def _constant(tree: Node) -> bool:
    """A gradient that depends on shapes only (``ones_like(Y) / 8``): a sum's or a
    mean's, which Lecture 9 shows as a step of its own."""
    if isinstance(tree, Name):
        return False
    if isinstance(tree, Call) and tree.op in ("ones_like", "eye_like"):
        return True
    return all(_constant(k) for k in tree.children())


def _fuse(rules: list[_Rule], graph: _Graph) -> list[_Rule]:
    """Substitute a step's upstream gradient into its rule where that reads simpler:
    softmax after cross-entropy gives ``dZ = (P - T) / N``, not ``P * (dP - ...)``."""
    for step in reversed(graph.steps[:-1]):  # from the output back, so fusions compose
        own = [r for r in rules if r.through[-1] == step.name]
        into = [r for r in rules if r.target == step.name]
        if len(own) != 1 or len(into) != 1:
            continue
        rule, producer = own[0], into[0]
        if _constant(producer.tree):
            continue
        fused = tidy(substitute(rule.tree, {f"d{step.name}": producer.tree}), graph.shapes,
                     graph.onehot, graph.named)
        if _simpler(fused, rule.tree):
            rule.fused = producer.fused + [(f"d{step.name}", producer.tree)]
            rule.tree, rule.upstream = fused, producer.upstream
            rule.through = producer.through + rule.through
            rules.remove(producer)
    return rules


# -- each step against its explicit contraction ---------------------------------------------

def _checked(rule: _Rule, graph: _Graph, limits: Limits, simplify: bool) -> BackwardStep:
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


# -- gradients -----------------------------------------------------------------------------

def _totals(rules: list[_Rule]) -> dict[str, Node]:
    parts: dict[str, list[Node]] = {}
    for r in rules:
        parts.setdefault(f"d{r.target}", []).append(r.tree)
    return {n: t[0] if len(t) == 1 else Call("add", t) for n, t in parts.items()}


def _gradients(graph: _Graph, rules: list[_Rule], explicit: dict[str, Grid], expand: bool,
               simplify: bool, limits: Limits) -> dict:
    totals = _totals(rules)
    defs = {**totals, **{s.name: s.expr for s in graph.steps}}
    out = {}
    for name in graph.wrt:
        tree = tidy(totals.get(f"d{name}", Num(0)), graph.shapes, graph.onehot, graph.named)
        inline = tidy(substitute(tree, defs), graph.shapes, graph.onehot)
        grid = None
        if expand:
            grid = explicit[name].map(lambda e: simplify_entry(e, limits.simplify_seconds)
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


#: What the routes at other sizes (:mod:`.backprop_sizes`) reuse of this one.
ROUTE = SimpleNamespace(
    request=_Request.read, graph=_Graph.build, rules=lambda g: _fuse(_backward(g), g),
    checked=_checked, contraction=_contraction_text, explicit=_explicit_gradients,
    gradients=_gradients, numbers=_numbers)

__all__ = ["backprop", "local_vjps", "unbroadcast"]
