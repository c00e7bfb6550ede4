"""Compact Hessians: the compact gradient formula, differentiated once more.

1. **Gradient.** The operations' backward rules, composed over the whole
   expression (:func:`.vjp.local_vjps`) and tidied: ``(A + A.T) @ x``.
2. **Hessian-vector product.** The tangent of that formula when each
   variable moves in a direction (:func:`.jvp.jvp`, forward mode derived from
   the same rules), tidied with the rules of second derivatives
   (:mod:`.hessian_rules`): ``(A + A.T) @ v``. For a matrix variable, or
   several, this *is* the compact answer: ``HV``, linear in ``V``.
3. **Matrix.** For one vector variable the matrix is read off the product as
   a linear map of ``v`` (:mod:`.linear_map`): ``A + A.T``;
   ``X.T @ diag(s * (1 - s)) @ X / N``; ``diag(p) - outer(p, p)``.
4. **Named.** Subexpressions such as ``sigmoid(X @ w)`` are named (``s``) the
   way a lecture names them.
5. **Checked.** The compact form is evaluated entry by entry and compared
   with the explicit Hessian: proved equal symbolically, or a differing entry
   found at random points. Nothing is shown unchecked.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from typing import Mapping

import sympy as sp

from ..core import budget
from ..core.errors import JacobianError
from ..core.grid import Grid, Shape, flat_index, ndindex
from ..core.names import GENERATED_CODE_NAMES
from .naming import Namer, numbered
from ..core.tree import Call, Name, Node, Num, names, substitute, walk, with_children
from ..ops import get
from ..ops.text import to_source
from ..results.backprop import AGREES, DIFFERS, PROVED, Check
from ..results.hessian import HVP, MATRIX, CompactHessian, CompactTerm, HessianResult, Variable
from ..symbolic.autodiff import gradient
from ..symbolic.evaluate import Env, evaluate, node_shapes
from ..symbolic.symbols import entry_name, symbol_grid
from ..symbolic.zero import prove_zero
from .vjp import local_vjps
from .hessian_rules import rewrite_input, tidy_more
from .jvp import jvp
from .linear_map import matrix_of
from .problem import Problem, entry_indices
from ..symbolic.trusted import as_sympy

#: Names the generated code reserves (never chosen for a direction or a subexpression).
RESERVED = GENERATED_CODE_NAMES | {"H", "Hv", "HV"}  # and the labels H v, Hv


def compact_hessian(result: HessianResult, problem: Problem, groups) -> CompactHessian:
    """The compact form of ``result``'s Hessian, checked against its explicit blocks.

    Raises
    ------
    JacobianError
        When there is none to seek (an array output, scalar variables) or an
        operation has no compact rule; the message says why.
    """
    _applicable(result, problem, groups)
    root = inlined(problem)
    shapes = {n: tuple(problem.shapes.get(n, ())) for n in names(root) | set(result.wrt)}
    root, rewrites = rewrite_input(root, shapes)
    signs, onehot = set(result.signs), set(result.onehot)
    tidied = functools.partial(tidy_more, shapes=shapes, onehot=onehot, signs=signs)
    grads = _gradients(root, result.variables, shapes, tidied)
    taken = _taken(problem, result)
    directions = _directions(result.variables, taken)
    shapes.update({directions[v.name]: v.shape for v in result.variables})
    tangents = {v.name: Name(directions[v.name]) for v in result.variables}
    hvps = {v.name: _hvp(grads[v.name], v, tangents, shapes, tidied)
            for v in result.variables}
    terms, kind, reason = _terms(hvps, result.variables, directions, shapes, tidied)
    check = verify(terms, kind, result, directions, shapes)
    named, where = name_subexpressions([t.tree for t in terms], shapes,
                                       taken | set(directions.values()))
    terms = [CompactTerm(t.label, t.wrt, tree, to_source(tree), t.tree, t.shape)
             for t, tree in zip(terms, named)]
    return CompactHessian(kind, tuple(terms), directions, tuple(where), check, reason,
                          tuple(rewrites), grads)


def _applicable(result: HessianResult, problem: Problem, groups) -> None:
    if result.out_shape:
        raise JacobianError("a compact Hessian is sought for a scalar output only; the "
                            "output here is an array")
    if len(problem.components) != 1:
        raise JacobianError("a compact Hessian needs one expression")
    scalars = [g for g in groups if g[0] not in problem.shapes]
    if scalars:
        raise JacobianError(f"{', '.join(scalars[0])} are scalars: the explicit Hessian is "
                            "already as compact as it gets")


def inlined(problem: Problem) -> Node:
    """The (one) expression with its intermediates substituted."""
    defs: dict[str, Node] = dict(entry_indices(problem))  # x_2 of an array x is x[1]
    for name in problem.let_order:
        defs[name] = substitute(problem.lets[name], defs)
    return substitute(problem.components[0], defs)


def _gradients(root: Node, variables: list[Variable], shapes, tidied) -> dict[str, Node]:
    """The compact gradient of every variable, in the variables alone."""
    wanted = {v.name for v in variables}
    parts = local_vjps(root, root, Num(1), shapes, wanted)
    out = {}
    for v in variables:
        terms = parts.get(v.name, [])
        total = Num(0) if not terms else terms[0] if len(terms) == 1 else Call("add", terms)
        out[v.name] = tidied(total)
    return out


def _hvp(grad: Node, v: Variable, tangents, shapes, tidied) -> Node:
    tangent = jvp(grad, tangents, shapes)
    if tangent is None:
        return Num(0)
    if node_shapes(tangent, shapes)[tangent] != v.shape:
        tangent = Call("mul", (tangent, Call("ones_like", (Name(v.name),))))
    return tidied(tangent)


def _terms(hvps: dict, variables: list[Variable], directions, shapes, tidied):
    """A matrix for one vector variable where one is read off; else the products."""
    if len(variables) == 1 and len(variables[0].shape) == 1:
        v = variables[0]
        m = Num(0) if hvps[v.name] == Num(0) else \
            matrix_of(hvps[v.name], directions[v.name], shapes, Name(v.name))
        if m is not None:
            m = tidied(m)
            return [_term("H", v.name, m, v.shape * 2)], MATRIX, ""
        reason = "no matrix form was found; the Hessian-vector product is compact"
    else:
        reason = ""
    single = len(variables) == 1
    terms = [_term(_hvp_label(v, directions, single), v.name, hvps[v.name], v.shape)
             for v in variables]
    return terms, HVP, reason


def _term(label: str, wrt: str, tree: Node, shape: Shape) -> CompactTerm:
    return CompactTerm(label, wrt, tree, to_source(tree), tree, shape)


def _hvp_label(v: Variable, directions, single: bool) -> str:
    return f"H{directions[v.name]}" if single else f"(Hv)_{v.name}"


# -- names ----------------------------------------------------------------------------------

def _taken(problem: Problem, result: HessianResult) -> set[str]:
    return (problem.used_names() | set(problem.shapes) | set(problem.lets)
            | set(problem.functions) | set(result.wrt) | RESERVED)


def _directions(variables: list[Variable], taken: set[str]) -> dict[str, str]:
    """``v`` (a vector) or ``V`` (a matrix) for one variable; ``v_W``, ``v_b`` for several."""
    namer = Namer(taken)
    if len(variables) == 1:
        v = variables[0]
        return {v.name: namer.first_free(numbered("vuh", len(v.shape) < 2))}
    out = {}
    for v in variables:
        name = f"v_{v.name}"
        out[v.name] = namer.take(name) if namer.free(name) else \
            namer.first_free(numbered("vuh", len(v.shape) < 2))
    return out


#: Letters of subexpression names where the operation declares none (``Op.hessian_letters``;
#: upper case for matrices).
LETTERS = "hgk"


def name_subexpressions(trees: list[Node], shapes: Mapping[str, Shape], taken: set[str]
                        ) -> tuple[list[Node], list[tuple[str, Node, str]]]:
    """Name the functions' applications that a lecture would name: those used more
    than once, and those of an argument that is not a plain name.

    Returns the trees in those names, and the definitions ``(name, tree, text)``,
    innermost first.
    """
    counts = Counter(n for t in trees for n in walk(t) if _nameable(n))
    order = list(dict.fromkeys(n for t in trees for n in _post_order(t) if _nameable(n)))
    namer = Namer(taken)
    chosen: dict[Node, Name] = {}
    where = []
    for node in order:
        if counts[node] < 2 and all(isinstance(a, (Name, Num)) for a in node.args):
            continue
        shape = node_shapes(node, shapes)[node]
        name = namer.first_free(numbered(get(node.op).hessian_letters or LETTERS, len(shape) < 2))
        definition = _replaced(node, chosen, top=False)
        chosen[node] = Name(name)
        where.append((name, definition, to_source(definition)))
    return [_replaced(t, chosen) for t in trees], where


def _nameable(node: Node) -> bool:
    if not isinstance(node, Call) or not node.args or not names(node):
        return False
    op = get(node.op)
    return op.category in ("elementwise", "neural network")


def _post_order(node: Node):
    for k in node.children():
        yield from _post_order(k)
    yield node


def _replaced(node: Node, chosen: Mapping[Node, Name], top: bool = True) -> Node:
    if top and node in chosen:
        return chosen[node]
    if not node.children():
        return node
    return with_children(node, [_replaced(k, chosen) for k in node.children()])


# -- verification ------------------------------------------------------------------------------

def verify(terms: list[CompactTerm], kind: str, result: HessianResult,
           directions: Mapping[str, str], shapes) -> Check:
    """The compact terms against the explicit Hessian, entry by entry (one-hot rows
    summing to 1 and signs squaring to 1, where declared).

    A Hessian-vector product is linear in the directions: its derivative with
    respect to direction entry ``b`` is the compact form's ``H[a, b]``, compared
    with the explicit entry itself (smaller than ``Σ_b H[a, b] v[b]``)."""
    pairs, labels = [], []
    rows = _onehot_rows(result)
    for term in terms:
        compact = evaluate(term.inline_tree, Env(shapes)).broadcast_to(term.shape)
        if kind == MATRIX:
            items = [(entry_name(term.label, i), x, compact[i])
                     for i, x in result.block(term.wrt).as_grid().items()]
        else:
            items = _product_entries(result, term, compact, directions)
        for label, x, y in items:
            pairs.append((as_sympy(x).xreplace(rows), as_sympy(y).xreplace(rows)))
            labels.append(label)
    given = []
    if rows:
        given.append("the rows of " + " and ".join(result.onehot) + " sum to 1")
    if result.signs:
        given.append("the entries of " + " and ".join(result.signs) + " are -1 or 1")
    return decide(pairs, labels, _sign_symbols(result), " and ".join(given))


def _product_entries(result: HessianResult, term: CompactTerm, compact: Grid,
                     directions: Mapping[str, str]) -> list[tuple]:
    """``(label, explicit H[a, b], ∂(compact Hv)[a]/∂v[b])`` for every ``a``, ``b``."""
    U = result.variable(term.wrt)
    where = {s: (V, j) for V in result.variables
             for j, s in zip(ndindex(V.shape), symbol_grid(directions[V.name], V.shape).flat)}
    out = []
    for a in ndindex(U.shape):
        found = gradient(as_sympy(compact[a]), set(where))
        if any(found_symbol not in where for found_symbol in found):
            raise JacobianError("the Hessian-vector product is not linear in the direction")
        for s, (V, b) in where.items():
            x = result.block(U.name, V.name).entries.get(a + b, sp.Integer(0))
            y = found.get(s, sp.Integer(0))
            if x != 0 or y != 0:
                out.append((f"H[{U.labels[flat_index(a, U.shape)]}, {V.labels[flat_index(b, V.shape)]}]",
                            x, y))
    return out


def _onehot_rows(result: HessianResult) -> dict:
    """One-hot targets: the last entry of each row is 1 minus the others."""
    mapping = {}
    for name in result.onehot:
        grid = symbol_grid(name, result.arrays[name])
        for _, row in grid.lines(-1):
            mapping[row[-1]] = 1 - sp.Add(*row[:-1])
    return mapping


def _sign_symbols(result: HessianResult) -> frozenset:
    return frozenset(s for n in result.signs for s in symbol_grid(n, result.arrays[n]).flat)


#: Seconds one comparison may spend on symbolic proofs in all (each pair also has its own
#: budget, :data:`PAIR_SECONDS`): beyond, what is left is compared at random points only,
#: and said so. Read at each call (the tests raise both, so that no verdict they pin
#: depends on how busy the machine is).
PROOF_SECONDS = 20.0
PAIR_SECONDS = 5.0


def decide(pairs: list[tuple], labels: list[str], signs: frozenset = frozenset(),
           given: str = "", seconds: float | None = None,
           total: float | None = None) -> Check:
    """Proved (every difference shown to be 0), or a differing entry found at random
    points, or equal at those points and not (all) proved within the time allowed."""
    seconds = PAIR_SECONDS if seconds is None else seconds
    total = PROOF_SECONDS if total is None else total
    given = f", given that {given}" if given else ""
    open_ = [(i, x, y) for i, (x, y) in enumerate(pairs) if x != y]
    worst, bad = _numeric([(x, y) for _, x, y in open_], signs) if open_ else (0.0, None)
    if bad is not None:
        i, x, y = open_[bad]
        return Check(DIFFERS, "at a random point" + given, worst, (labels[i], x, y))
    proved, deadline = len(pairs) - len(open_), time.monotonic() + total
    for _, x, y in open_:
        budget.check()
        left = deadline - time.monotonic()
        if left <= 0:
            break
        proved += bool(prove_zero(x - y, min(seconds, left), signs))
    if proved == len(pairs):
        return Check(PROVED, "symbolically, entry by entry" + given, worst)
    return Check(AGREES, f"at 3 random points; {proved} of {len(pairs)} entries proved "
                         "symbolically in the time allowed" + given, worst)


def _numeric(pairs: list[tuple], signs: set, points: int = 3, seed: int = 0):
    """The largest difference at random points, and the first pair that differs."""
    import numpy as np  # noqa: PLC0415 - NumPy only when a comparison needs numbers

    from ..symbolic.compare import largest_difference  # noqa: PLC0415
    from ..symbolic.numeric import float_eval, free_symbols  # noqa: PLC0415
    from ..symbolic.sampling import draw_symbols  # noqa: PLC0415
    symbols = free_symbols([e for p in pairs for e in p])
    values = draw_symbols(np.random.default_rng(seed), symbols, points, signs, kind=3)
    first = float_eval([x for x, _ in pairs], values)
    second = float_eval([y for _, y in pairs], values)
    return largest_difference(first, second, points)


def differs_numerically(x: sp.Expr, y: sp.Expr) -> bool:
    """Whether two entries differ at some random point."""
    return _numeric([(x, y)], set())[1] is not None


__all__ = ["compact_hessian", "inlined", "verify", "decide", "name_subexpressions",
           "differs_numerically"]
