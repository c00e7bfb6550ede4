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
3. **Each step checked.** First in index notation, for all sizes (the request's
   dimensions named: :mod:`.backprop_sizes`). Where that does not settle it, and
   always with ``explicit=True``, the explicit route contracts the step's own
   Jacobian with its upstream gradient, ``dX[k,l] = Σ_ij dY[i,j] ∂Y[i,j]/∂X[k,l]``,
   in the step's own symbols (``P_1_1``, ``dP_1_1``), by
   :func:`~jacobian_calc.symbolic.autodiff.gradient` -- never by the rules.
   The entries are small, so equality is decided: proved, or a differing entry.
4. **End to end.** The composed compact gradients are evaluated with NumPy at
   random points and compared with the derivative of the whole expression
   (and exactly at rational points where the expression is rational).

This module runs the four in order; each has a module of its own: the steps
(:mod:`.steps`), the reverse pass inside a step (:mod:`.vjp`), the check of a
step (:mod:`.step_check`), the gradients (:mod:`.gradients`) and their numbers
(:mod:`.backprop_numbers`).
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Iterable, Mapping

from ..core import budget
from ..core.errors import JacobianTypeError
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.progress import advance, stage
from ..core.tree import Call, Name, Node, Num, substitute
from ..ops import get
from ..ops.text import to_source
from ..results.backprop import BackpropResult
from ..symbolic.evaluate import Env, evaluate
from ..symbolic.simplify import notes as simplify_notes
from .gradients import _explicit_gradients, _gradients
from .problem import ExprLike, absence_warnings, prepare
from .step_check import _checked, _contraction_text
from .steps import _Graph, _Request, _Rule
from .tidy import cost, tidy
from .vjp import local_vjps


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
        Resource limits (default: the active request's, else ``DEFAULT_LIMITS``).
    explicit : bool, optional
        True: every step is checked against its explicit contraction at the
        requested sizes (the old route; its entries are shown). Otherwise the
        steps are derived at named sizes and proved for all sizes in index
        notation; a step that is not, and the end-to-end comparison, are checked
        at the requested sizes while that is cheap (None, the default; the
        explicit gradients are then kept for :meth:`BackpropResult.evaluate`),
        else, or always with False, at small instantiated sizes in which every
        dimension differs. At symbolic sizes always instantiated; where the
        shapes cannot be named (``conv2d``) as with True.

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
    '4 steps proved for all sizes; end to end agrees at 3 points (max error ...)'
    """
    _check_flags(points, inline=inline, expand=expand, simplify=simplify)
    if explicit is not None:
        _check_flags(points, explicit=explicit)
    with simplify_notes() as kept:
        result = _backprop(of, wrt, shapes, upstream, lets, functions, onehot, inline, expand,
                           simplify, points, seed, explicit)
    return replace(result, warnings=list(result.warnings) + kept)


def _backprop(of, wrt, shapes, upstream, lets, functions, onehot, inline, expand, simplify,
              points, seed, explicit) -> BackpropResult:
    problem = prepare(of, shapes=shapes, lets=lets, functions=functions, symbolic=True)
    problem.check_work()  # the forward pass, and the explicit gradients it is checked against
    request = _Request.read(problem, wrt, upstream, onehot)
    graph = _Graph.build(problem, request)
    rules = _fuse(_backward(graph), graph)
    if problem.symbolic:  # derived once for all sizes; checked at instantiated ones
        return _sizes().backprop_at_sizes(ROUTE, problem, request, graph, rules, expand=expand,
                                          simplify=simplify, inline=inline, points=points,
                                          seed=seed)
    if not expand and explicit is not True:  # derived for all sizes, shown at these
        general = _sizes().backprop_generalized(
            ROUTE, problem, request, graph, rules, of=of, wrt=wrt, upstream=upstream, onehot=onehot,
            lets=lets, functions=functions, inline=inline, points=points, seed=seed,
            simplify=simplify, at_requested=explicit is None and _sizes().cheap(problem))
        if general is not None:
            return general
    with stage("checking backward steps", len(rules)):
        backward = []
        for rule in rules:
            backward.append(_checked(rule, graph, simplify))
            advance()
    output = evaluate(graph.root, Env(graph.variables))
    explicit = _explicit_gradients(graph, output)
    gradients = _gradients(graph, rules, explicit, expand, simplify)
    end = _numbers().end_to_end(graph, rules, explicit, points, seed)
    return _result(problem, request, graph, backward, gradients, end, graph.variables, output,
                   inline=inline, shapes=dict(graph.shapes))


def _result(problem, request, graph, backward, gradients, end, variables, output, *,
            inline: bool, shapes: dict, sizes: str = "") -> BackpropResult:
    """The result of every route; warnings about variables the output (evaluated with
    ``variables``) does not depend on."""
    return BackpropResult(
        of=to_source(graph.root), of_tree=graph.root, output=graph.output,
        out_shape=graph.out_shape,
        upstream=graph.upstream or "1", steps=graph.steps, backward=backward,
        gradients=gradients, end_to_end=end,
        warnings=request.notes + absence_warnings(graph.wrt, variables, output.flat,
                                                  problem.used_names()),
        shapes=shapes, inline=inline, onehot=tuple(sorted(request.onehot)), sizes=sizes)

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

# -- backward steps -------------------------------------------------------------------------

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

def _simpler(fused: Node, rule: Node, dims: frozenset = frozenset()) -> bool:
    """Fewer names and no more nodes: something cancelled (``P`` against ``1/P``). A
    dimension name (``N`` in ``/ (N * K)``) counts as the number it stands for."""
    if dims:
        fused, rule = (substitute(t, {d: Num(2) for d in dims}) for t in (fused, rule))
    (names_a, nodes_a), (names_b, nodes_b) = cost(fused), cost(rule)
    return names_a < names_b and nodes_a <= nodes_b


def _constant(tree: Node, dims: frozenset = frozenset()) -> bool:
    """A gradient that depends on shapes only (``ones_like(Y) / 8``, ``/ N`` at
    symbolic sizes): a sum's or a mean's, which Lecture 9 shows as a step of its own."""
    if isinstance(tree, Name):
        return tree.id in dims
    if isinstance(tree, Call) and get(tree.op).shape_only:
        return True
    return all(_constant(k, dims) for k in tree.children())


def _fuse(rules: list[_Rule], graph: _Graph) -> list[_Rule]:
    """Substitute a step's upstream gradient into its rule where that reads simpler:
    softmax after cross-entropy gives ``dZ = (P - T) / N``, not ``P * (dP - ...)``."""
    dims = frozenset(d for shape in graph.shapes.values() for d in shape if isinstance(d, str))
    for step in reversed(graph.steps[:-1]):  # from the output back, so fusions compose
        own = [r for r in rules if r.through[-1] == step.name]
        into = [r for r in rules if r.target == step.name]
        if len(own) != 1 or len(into) != 1:
            continue
        rule, producer = own[0], into[0]
        if _constant(producer.tree, dims):
            continue
        fused = tidy(substitute(rule.tree, {f"d{step.name}": producer.tree}), graph.shapes,
                     graph.onehot, graph.named)
        if _simpler(fused, rule.tree, dims):
            rule.fused = producer.fused + [(f"d{step.name}", producer.tree)]
            rule.tree, rule.upstream = fused, producer.upstream
            rule.through = producer.through + rule.through
            rules.remove(producer)
    return rules

#: What the routes at other sizes (:mod:`.backprop_sizes`) reuse of this one.
ROUTE = SimpleNamespace(
    request=_Request.read, graph=_Graph.build, rules=lambda g: _fuse(_backward(g), g),
    checked=_checked, contraction=_contraction_text, explicit=_explicit_gradients,
    gradients=_gradients, numbers=_numbers, result=_result)

__all__ = ["backprop"]
