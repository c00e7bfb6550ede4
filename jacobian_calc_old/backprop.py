"""Backpropagation two ways, checked to agree.

*Explicit route*: the generalized Jacobian ``∂Y/∂W`` (sparse) contracted with
the upstream gradient: ``dW_kl = Σ_ij dY_ij ∂Y_ij/∂W_kl``.

*Compact route*: the forward expression is cut into named intermediates the
way a lecture writes them (``Z = X @ W + b``, ``Y = sigmoid(Z)``), then
reverse accumulation applies one rule of :mod:`jacobian_calc.rules` per
operation, giving matrix formulas such as ``dW = X.T @ dZ``.

Both are expanded entry by entry and compared (:mod:`jacobian_calc.check`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

import numpy as np
import sympy as sp

from . import ir
from .arrays import Env, evaluate, infer_shape
from .autodiff import canonical_add, canonical_mul
from .check import Agreement, compare
from .errors import JacobianError
from .jacobian import ExprLike, build, parse_wrt, prepare
from .limits import DEFAULT_LIMITS, Limits
from .parser import check_name
from .rules import Context, mul, num, rule_for
from .shapes import Shape, symbol_array
from .tensor import JacobianResult

Step = tuple[str, ir.Node]

#: Gradients up to this many entries are also written via intermediate entries.
NAMED_ENTRIES = 256


@dataclass(frozen=True)
class GradientResult:
    """The gradient of the output w.r.t. one variable, by both routes.

    Attributes
    ----------
    of, wrt, upstream : str
        The expression, the variable, the upstream gradient's name
        (``"1"`` for a scalar output).
    shape : tuple of int
        The variable's shape (and the gradient's).
    explicit : sympy.Matrix
        The contraction of the Jacobian with the upstream gradient (a column
        for a vector variable, 1 x 1 for a scalar).
    explicit_array : numpy.ndarray
        The same entries in the variable's shape.
    compact : ir.Node
        The compact formula, in terms of the inputs, the named forward
        intermediates and the upstream gradient.
    compact_text, compact_latex : str
        The formula in the calculator's syntax and in LaTeX.
    agree, symbolic, max_abs_error, mismatch
        The agreement verdict, see :class:`jacobian_calc.check.Agreement`.
    steps, backward : list of (name, ir.Node)
        Named forward intermediates, and the backward steps (``dZ = ...``).
    jacobian : JacobianResult
        The generalized Jacobian of the output w.r.t. the variable.
    """

    of: str
    wrt: str
    shape: Shape
    upstream: str
    explicit: sp.Matrix
    explicit_array: np.ndarray
    compact: ir.Node
    compact_text: str
    compact_latex: str
    agree: bool
    symbolic: bool | None
    max_abs_error: float
    mismatch: tuple | None
    steps: list[Step] = field(default_factory=list)
    backward: list[Step] = field(default_factory=list)
    jacobian: JacobianResult | None = None
    explicit_named: np.ndarray | None = None

    def to_json(self) -> dict:
        """The JSON-ready dict of one gradient."""
        strings = np.vectorize(str, otypes=[object])(self.explicit_array)
        item = {"wrt": self.wrt, "shape": list(self.shape),
                "explicit": strings.tolist() if strings.ndim else strings[()],
                "compact": self.compact_text, "compact_latex": self.compact_latex,
                "agree": self.agree, "symbolic": self.symbolic,
                "max_abs_error": self.max_abs_error}
        if self.mismatch is not None:
            index, first, second = self.mismatch
            item["mismatch"] = {"index": list(index), "explicit": str(first),
                                "compact": str(second)}
        return item


def backprop(of: ExprLike, wrt: str | Iterable, *, shapes: Mapping | None = None,
             upstream: str = "dY", lets: Mapping[str, ExprLike] | None = None, symbolic: bool = True, points: int = 3, seed: int = 0,
             limits: Limits = DEFAULT_LIMITS) -> list[GradientResult]:
    """Gradients of ``of`` w.r.t. each variable in ``wrt``, explicit and compact.

    Parameters
    ----------
    of : str
        One (matrix) expression, e.g. ``"mean(sigmoid(X@W + b))"``.
    wrt : str or sequence of str
        Variables, e.g. ``"W,b"``.
    shapes : dict
        Declared shapes, e.g. ``{"X": (4, 3), "W": (3, 2), "b": (2,)}``.
    upstream : str
        Name of the upstream gradient of a non-scalar output (its entries are
        the symbols ``dY_i_j``); a scalar output's upstream is 1.
    lets : dict, optional
        Named intermediates, ``{"Z": "X@W + b"}``; they become the names of the
        forward steps instead of the automatic ones.
    symbolic : bool
        Also decide agreement symbolically (numeric comparison always runs).
    points, seed : int
        Random points for the numeric comparison.

    Returns
    -------
    list of GradientResult

    Examples
    --------
    >>> [g] = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    >>> g.compact_text, g.agree
    ('X.T @ dY', True)
    """
    check_name(upstream, "upstream name")
    problem = prepare(of, shapes=shapes, lets=lets, limits=limits)
    if len(problem.components) != 1 or not isinstance(problem.components[0], ir.Node):
        raise JacobianError("--backprop needs exactly one expression")
    inlined = {}
    for name in problem.let_order:
        inlined[name] = _inline(problem.lets[name], inlined)
    root = _inline(problem.components[0], inlined)
    preferred = {node: name for name, node in inlined.items()}
    names = parse_wrt(wrt)
    if names is None:
        raise JacobianError("--backprop needs --wrt naming the variables")
    used = ir.names(root)
    for name in names:
        if name not in used:
            raise JacobianError(f"{name} does not appear in {ir.to_source(root)}")
    graph = Graph.build(root, problem.shapes, upstream, preferred)
    compacts, backward = graph.backward(names)
    env, up = graph.forward_env()
    output = env.values[graph.root_name] if graph.root_name else evaluate(root, env)
    results = []
    for name in names:
        J = build(problem, [output], [name], limits, False)
        explicit = contract(J, up, problem.shapes.get(name, ()))
        compact = compacts[name]
        value = np.broadcast_to(evaluate(compact, env), explicit.shape)
        verdict = compare(explicit, value, points=points, seed=seed, symbolic=symbolic,
                          seconds=limits.simplify_seconds)
        result = _result(graph, name, J, explicit, compact, verdict, backward)
        if explicit.size <= NAMED_ENTRIES:  # a display aid: skip it for huge gradients
            result = replace(result, explicit_named=graph.in_terms_of_steps(explicit, env))
        results.append(result)
    return results


def _result(graph, name, J, explicit, compact, verdict: Agreement, backward) -> GradientResult:
    from .ir_latex import compact_to_latex
    return GradientResult(
        of=ir.to_source(graph.root), wrt=name, shape=explicit.shape,
        upstream=graph.upstream if graph.out_shape else "1",
        explicit=_as_matrix(explicit), explicit_array=explicit, compact=compact,
        compact_text=ir.to_source(compact), compact_latex=compact_to_latex(compact),
        agree=verdict.agree, symbolic=verdict.symbolic,
        max_abs_error=verdict.max_abs_error, mismatch=verdict.mismatch,
        steps=list(graph.steps), backward=[s for s in backward if s[0] in graph.needed(name, backward)],
        jacobian=J)


def _as_matrix(a: np.ndarray) -> sp.Matrix:
    if a.ndim == 2:
        return sp.Matrix(a.tolist())
    return sp.Matrix(list(a.flat)) if a.ndim == 1 else sp.Matrix([[a[()]]])


def contract(J: JacobianResult, upstream: np.ndarray | None, shape: Shape) -> np.ndarray:
    """``Σ_i up[i] J[i, k]`` over the output axes, touching only non-zero entries."""
    k = len(J.out_shape)
    up = None if upstream is None else upstream.reshape(J.out_shape)
    terms: dict[tuple, list] = {}
    for index, expr in J.entries.items():
        term = expr if up is None else canonical_mul(up[index[:k]], expr)
        terms.setdefault(index[k:], []).append(term)
    out = np.full(J.in_shape, sp.Integer(0), dtype=object)
    for index, parts in terms.items():
        out[index] = canonical_add(*parts)
    return out.reshape(shape)


# -- the compact route ----------------------------------------------------------------

_LETTERS = {"affine": ("Z", "U", "V"), "elementwise": ("Y", "H", "A"),
            "softmax": ("P", "Q"), "scalar": ("J", "L", "S")}


@dataclass
class Graph:
    """The forward computation cut into named steps."""

    root: ir.Node
    shapes: dict[str, Shape]
    upstream: str
    steps: list[Step]
    out_shape: Shape
    root_name: str

    @classmethod
    def build(cls, root: ir.Node, shapes: Mapping[str, Shape], upstream: str,
              preferred: Mapping[ir.Node, str] | None = None) -> "Graph":
        out_shape = infer_shape(root, shapes)
        named = _choose_names(root, shapes, upstream, out_shape, preferred or {})
        steps = [(name, _rewrite(node, named, top=True)) for node, name in named.items()]
        all_shapes = dict(shapes)
        for name, expr in steps:
            all_shapes[name] = infer_shape(expr, all_shapes)
        root_name = named.get(root, "")
        return cls(root, all_shapes, upstream, steps, out_shape, root_name)

    def backward(self, wrt: list[str]) -> tuple[dict[str, ir.Node], list[Step]]:
        """Reverse accumulation: compact gradient per variable, and the named steps."""
        seed = ir.Name(self.upstream) if self.out_shape else num(1)
        if self.out_shape:
            self.shapes[self.upstream] = self.out_shape
        grads: dict[str, list[ir.Node]] = {}
        backward: list[Step] = []
        if not self.steps:  # the output is a bare variable
            grads[self.root.id] = [seed]
        else:
            grads[self.root_name] = [seed]
        for name, expr in reversed(self.steps):
            contributions = grads.pop(name, [])
            if not contributions:
                continue
            g = _total(contributions)
            if name != self.root_name:
                backward.append(("d" + name, tidy(g, self.shapes)))
                self.shapes["d" + name] = self.shapes[name]
                g = ir.Name("d" + name)
            self._propagate(expr, g, ir.Name(name), grads)
        compacts = {}
        for var in wrt:
            total = _total(grads.get(var, [])) if grads.get(var) else num(0)
            compacts[var] = tidy(_inline(total, dict(backward)), self.shapes)
        return compacts, backward

    def _propagate(self, node: ir.Node, g: ir.Node, output: ir.Node, grads: dict) -> None:
        if isinstance(node, ir.Name):
            grads.setdefault(node.id, []).append(g)
            return
        if isinstance(node, ir.Num):
            return
        rule = rule_for(node)
        for child, child_grad in rule(node, g, Context(self.shapes, output)):
            if child_grad is not None and ir.names(child):
                self._propagate(child, child_grad, child, grads)

    def forward_env(self) -> tuple[Env, np.ndarray | None]:
        """Evaluation environment with the intermediates and the upstream symbols."""
        env = Env({k: v for k, v in self.shapes.items()})
        for name, expr in self.steps:
            env.values[name] = evaluate(expr, env)
        up = None
        if self.out_shape:
            up = symbol_array(self.upstream, self.out_shape)
            env.values[self.upstream] = up
        return env, up

    def in_terms_of_steps(self, values: np.ndarray, env: Env) -> np.ndarray:
        """Entries rewritten with intermediate entry symbols (``Y_1_1`` for a sigmoid)."""
        mapping = {}
        for name, _ in self.steps:
            if name == self.root_name and not self.out_shape:
                continue
            for index, expr in np.ndenumerate(env.values[name]):
                if not expr.is_Atom:
                    mapping[expr] = symbol_array(name, env.values[name].shape)[index]
        rewrite = np.vectorize(lambda e: e.xreplace(mapping), otypes=[object])
        return rewrite(values) if values.size else values

    def needed(self, var: str, backward: list[Step]) -> set[str]:
        """Backward step names the compact gradient of ``var`` depends on."""
        defs = dict(backward)
        return set(defs)  # every step is shown; kept simple on purpose


def _total(parts: list[ir.Node]) -> ir.Node:
    return parts[0] if len(parts) == 1 else ir.Add(tuple(parts), (1,) * len(parts))


def _choose_names(root: ir.Node, shapes, upstream: str, out_shape: Shape,
                  preferred: Mapping[ir.Node, str]) -> dict:
    """Post-ordered {node: name} for the intermediates a lecture would name.

    Nodes the user named with ``lets`` keep those names.
    """
    chosen: list[tuple[ir.Node, str]] = []
    seen: set = set()
    stack: list[tuple[ir.Node, ir.Node | None, bool]] = [(root, None, False)]
    while stack:
        node, parent, done = stack.pop()
        if done:
            if node not in seen and (node in preferred or _worth_naming(node, parent)):
                seen.add(node)
                chosen.append((node, _category(node)))
            continue
        stack.append((node, parent, True))
        stack.extend((c, node, False) for c in reversed(node.children()))
    taken = (set(shapes) | ir.names(root) | set(preferred.values())
             | ({upstream} if out_shape else set()))
    counts: dict[str, int] = {}
    for _, cat in chosen:
        counts[cat] = counts.get(cat, 0) + 1
    numbering: dict[str, int] = {}
    names = {}
    for node, cat in chosen:
        if node in preferred:
            names[node] = preferred[node]
            continue
        if node == root and out_shape and upstream.startswith("d") and \
                upstream[1:] not in taken - {upstream} and len(upstream) > 1:
            names[node] = upstream[1:]
            continue
        numbering[cat] = numbering.get(cat, 0) + 1
        names[node] = _fresh(cat, numbering[cat], counts[cat], taken | set(names.values()))
    return names


def _worth_naming(node: ir.Node, parent: ir.Node | None) -> bool:
    if isinstance(node, (ir.Name, ir.Num)):
        return False
    if parent is None:
        return True
    if isinstance(node, ir.Call):
        return node.func != "ones_like"
    if isinstance(node, (ir.Transpose, ir.Neg)):
        return False
    return isinstance(parent, (ir.Call, ir.MatMul)) or (
        isinstance(parent, ir.Pow) and node is parent.base)


def _category(node: ir.Node) -> str:
    if isinstance(node, ir.Call):
        if node.func == "softmax":
            return "softmax"
        if node.func in ("sum", "mean"):
            return "scalar"
        return "elementwise"
    if isinstance(node, ir.Pow):
        return "elementwise"
    return "affine"


def _fresh(cat: str, number: int, count: int, taken: set) -> str:
    for letter in _LETTERS[cat]:
        name = letter if count == 1 else f"{letter}{number}"
        if name not in taken and "d" + name not in taken:
            return name
    suffix = 1
    while f"{_LETTERS[cat][0]}{number}_{suffix}" in taken:
        suffix += 1
    return f"{_LETTERS[cat][0]}{number}_{suffix}"


def _rewrite(node: ir.Node, named: dict, top: bool = False) -> ir.Node:
    if not top and node in named:
        return ir.Name(named[node])
    kids = node.children()
    if not kids:
        return node
    return ir.with_children(node, [_rewrite(k, named) for k in kids])


def _inline(node: ir.Node, defs: dict[str, ir.Node]) -> ir.Node:
    if isinstance(node, ir.Name) and node.id in defs:
        return _inline(defs[node.id], defs)
    kids = node.children()
    if not kids:
        return node
    return ir.with_children(node, [_inline(k, defs) for k in kids])


def tidy(node: ir.Node, shapes: Mapping[str, Shape]) -> ir.Node:
    """Cosmetic clean-up of a compact formula: fold numbers, drop ``* ones_like(..)``."""
    kids = node.children()
    if kids:
        node = ir.with_children(node, [tidy(k, shapes) for k in kids])
    if isinstance(node, ir.Mul):
        return _tidy_mul(node, shapes)
    if isinstance(node, ir.Div) and isinstance(node.left, ir.Num) and isinstance(node.right, ir.Num):
        return num(node.left.value / node.right.value)
    if isinstance(node, ir.Div) and isinstance(node.left, ir.Mul):
        numbers = [f for f in node.left.factors if isinstance(f, ir.Num)]
        if numbers and isinstance(node.right, ir.Num):
            rest = [f for f in node.left.factors if not isinstance(f, ir.Num)]
            coeff = sp.Mul(*[f.value for f in numbers]) / node.right.value
            return _tidy_mul(ir.Mul((num(coeff), *rest)), shapes)
    return node


def _tidy_mul(node: ir.Mul, shapes) -> ir.Node:
    factors = list(mul(*node.factors).factors) if isinstance(mul(*node.factors), ir.Mul) \
        else [mul(*node.factors)]
    coeff = sp.Integer(1)
    rest = []
    for f in factors:
        if isinstance(f, ir.Num):
            coeff *= f.value
        elif isinstance(f, ir.Neg):
            coeff, rest = -coeff, rest + [f.operand]
        else:
            rest.append(f)
    shape = infer_shape(node, shapes)
    ones = [f for f in rest if isinstance(f, ir.Call) and f.func == "ones_like"]
    others = [f for f in rest if f not in ones]
    if ones and others and infer_shape(mul(*others), shapes) == shape:
        rest = others
    if coeff == 0:
        return num(0)
    out = mul(*rest) if rest else num(coeff)
    if rest and coeff == -1:
        return ir.Neg(out)
    if rest and coeff != 1:
        return mul(num(coeff), out) if not isinstance(out, ir.Mul) else ir.Mul((num(coeff), *out.factors))
    return out
