"""Cutting an expression into named forward steps, as Lecture 9 writes them.

The expression is cut where a lecture names things: ``Z1 = X @ W1 + b1``,
``Y1 = tanh(Z1)``, ``Z2 = Y1 @ W2 + b2``, ``P = softmax(Z2)``,
``L = -mean(T * log(P))``. A layer (a matrix product plus biases), the argument
of an activation, and an activation feeding a product or a reduction each get a
name; names given with ``lets`` are kept. The request (the names asked for,
the upstream gradient, one-hot targets) is read and checked here, since the
steps' names must not clash with the user's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Container, Mapping

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.tree import Call, Declared, Name, Node, Num, names, substitute, with_children
from ..ops import get
from ..ops.text import to_source
from ..parsing import declared_name
from ..results.backprop import ForwardStep
from ..symbolic.evaluate import node_shapes
from .naming import Namer, repeated
from .problem import Problem, entry_indices, parse_wrt, wrt_groups


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

#: Letters of generated names, by what the step is, in order of preference; a step of an
#: operation that declares its own (``Op.step_letters``: ``P = softmax(Z)``) takes those.
LETTERS = {"loss": "LJC", "output": "YFG", "layer": "ZUV", "activation": "YHA",
           "other": "HGK",
           "mean": ("mu", "m"), "variance": ("v", "s"), "statistic": ("s", "t"),
           "centred": ("c", "xc")}
#: Kinds of steps named in lower case whatever their shape (``mu``, ``v``).
STATISTIC_KINDS = ("mean", "variance", "statistic")


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
    if _role(node) == "condition":  # where(abs(r) <= 1, ...) keeps it
        return False
    if _atomic(node) or isinstance(parent, Declared) or (
            isinstance(node, Call) and node.op == "transpose"):
        return False
    if _is_activation(parent):  # Z in Y = f(Z), but not 1 - y in log(1 - y)
        return not _plain_arithmetic(node, steps)
    if parent.op == "matmul":
        return not (isinstance(node, Call) and node.op == "matmul")  # chains stay whole
    arithmetic = _role(parent) == "arithmetic"
    if _role(node) == "own step":  # sum(max(X, axis=1))
        return True
    if _is_layer(node):  # (X@W - T)**2 names X@W; trace(A@X) and X@W + b keep it
        return arithmetic and not _is_layer(parent)
    if isinstance(node, Call) and get(node.op).step_in_arithmetic and arithmetic:
        return True  # P = softmax(z) in sum(P * (log_softmax(z) - log(q)))
    if _is_activation(node) and arithmetic:  # 1 + tanh(u) names t = tanh(u) when u is not
        return _nonlinear(node.args[0], steps)  # linear: its derivative repeats it (GELU)
    return _is_activation(node) and not arithmetic  # mean(sigmoid(Z)) names the sigmoid


def _nonlinear(node: Node, steps: Container[Node] = ()) -> bool:
    """Whether ``node`` holds a power or an activation that is not already a step."""
    if node in steps or _atomic(node) or not isinstance(node, Call):
        return False
    if node.op == "pow" or _is_activation(node):
        return True
    return any(_nonlinear(a, steps) for a in node.args)


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
        if _role(node) == "statistic" and tuple(top) != tuple(found[node]):
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
            _role(parent) == "statistic" and _is_layer(node)  # h = H @ v in L = mean(h)
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
    if _role(node) == "statistic":  # a normalisation statistic (Op.step_role)
        square = isinstance(node.args[0], Call) and node.args[0].op == "pow" and \
            node.args[0].args[1] == Num(2)
        return "variance" if square else ("mean" if node.op == "mean" else "statistic")
    if isinstance(node, Call) and node.op == "add" and any(
            isinstance(a, Call) and a.op == "neg" and a.args[0] in cuts and
            isinstance(a.args[0], Call) and a.args[0].op == "mean" for a in node.args):
        return "centred"
    if isinstance(node, Call) and get(node.op).step_letters:
        return f"{node.op}()"  # named by the operation's own letters
    return "activation" if _is_activation(node) else "other"


def _letters(kind: str):
    """The letters of a step of this kind (``_kind``), in order of preference."""
    return get(kind[:-2]).step_letters if kind.endswith("()") else LETTERS[kind]


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
        shapes = {n: tuple(problem.shapes.get(n, ()))  # sorted: the random points drawn in order
                  for n in sorted(names(root) | set(request.wrt))}
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
                names_[n] = namer.first_free(repeated(_letters(kinds[n]), suffix[n]))
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
            names_[n] = namer.first_free(repeated(_letters(kinds[n]), suffix[n], lower))
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

# -- backward steps, while they are derived -------------------------------------------------------------------------

@dataclass
class _Rule:
    """One backward step while it is being derived."""

    target: str
    through: list[str]
    upstream: Node
    tree: Node
    accumulate: bool = False
    fused: list[tuple[str, Node]] = field(default_factory=list)
