"""Compact Jacobians: the matrix formula of a whole Jacobian, as the lectures write it.

1. **Tangent.** Forward mode over the expression's tree (:func:`.jvp.jvp`,
   derived from the operations' backward rules): the differential of the
   output when the input moves by ``v``, tidied as the backward steps are
   (:func:`.hessian_rules.tidy_more`): ``softmax(l) * (v - sum(v * softmax(l)))``.
2. **Matrix.** For vector and scalar inputs and outputs the Jacobian is read
   off that linear map (:mod:`.linear_map`): ``diag(p) - outer(p, p)``,
   ``W.T``, ``diag(cos(A @ x)) @ A``; a scalar output's Jacobian is the row
   ``r`` with ``df = r @ v``, a scalar input's the tangent at ``v = 1``. The
   denominator layout is the transpose, tidied.
3. **Linear map and vec form.** For a matrix input or output the compact
   Jacobian is the map itself, ``dY = X @ dW``, and its vec form
   ``kron(eye(h), X)`` (:mod:`.vec_form`; vec stacks columns).
4. **Checked.** Every formula is evaluated entry by entry and compared with
   the explicit Jacobian (:func:`.hessian_compact.decide`): proved equal, or
   the first differing entry. Nothing is shown unchecked.
"""

from __future__ import annotations

import math
import sympy as sp

from ..core.errors import JacobianError, Message
from ..core.grid import Shape, ndindex
from ..core.tree import Call, Name, Node, Num, names, substitute
from ..ops import get
from ..ops.text import to_source
from ..results.compact import LINEAR_MAP, MATRIX, CompactJacobian
from ..results.jacobian import JacobianResult
from ..symbolic.autodiff import gradient
from ..symbolic.evaluate import Env, evaluate, node_shapes
from ..symbolic.symbols import symbol_grid
from .hessian_compact import RESERVED, _replaced, decide, inlined
from .naming import Namer, numbered
from .compact_rules import tidy_compact
from .jvp import jvp
from .linear_map import NotLinear, _Reader, matrix_of
from .problem import Problem
from .vec_form import vec_form

def compact_jacobian(result: JacobianResult, problem: Problem) -> CompactJacobian:
    """The compact form of ``result`` (any layout), proved against its entries.

    Raises
    ------
    JacobianError
        When there is none to seek (a list of scalar components, several scalar
        inputs taken together) or an operation has no compact rule.
    """
    if len(problem.components) != 1:
        raise JacobianError("a list of scalar components: its Jacobian is the matrix of "
                            "their derivatives, already entry by entry")
    if len(result.wrt) != 1:
        raise JacobianError("several scalar inputs taken as one vector: declare them as "
                            "one vector ({{shapes}}) for a compact Jacobian")
    x = result.wrt[0]
    root = inlined(problem)
    shapes = {n: tuple(problem.shapes.get(n, ())) for n in names(root) | {x}}
    namer = Namer(problem.used_names() | set(problem.shapes) | set(problem.lets)
                  | set(problem.functions) | RESERVED | {x})
    out_name = _output_name(result, problem, root, namer)
    xs, ys = shapes[x], tuple(result.out_shape)
    if len(xs) <= 1 and len(ys) <= 1:
        direction = namer.first_free(numbered("vuh", True))
        shapes[direction] = xs
        form = _matrix_form(root, x, direction, shapes, result, out_name)
        if form is not None:
            return form
    direction = f"d{x}" if namer.free(f"d{x}") else \
        namer.first_free(numbered("vuh", len(xs) < 2))
    shapes[direction] = xs
    return _map_form(root, x, direction, shapes, result, out_name)


def _output_name(result: JacobianResult, problem: Problem, root: Node,
                 namer: Namer) -> tuple[str, Node] | None:
    """The output's name where the formula may use it: a name the user gave (``--let``),
    or the lecture's (``p`` for a softmax)."""
    if result.out_name in problem.lets:
        return result.out_name, root
    if isinstance(root, Call) and get(root.op).output_name:  # Op.output_name
        name = get(root.op).output_name
        name = name if len(result.out_shape) < 2 else name.upper()
        if namer.free(name):
            return name, root
    return None


def _tangent(root: Node, x: str, direction: str, shapes) -> Node:
    t = jvp(root, {x: Name(direction)}, shapes)
    return Num(0) if t is None else tidy_compact(t, shapes)


def read_matrix(root, x, v, shapes, result: JacobianResult, broadcast: bool) -> Node | None:
    """The Jacobian as one matrix read off the tangent of ``root`` in direction ``v``,
    tidied, in the result's layout; ``None`` where no matrix is read off. A scalar
    input's derivative is broadcast to the output's shape when ``broadcast``."""
    xs, ys = shapes[x], tuple(result.out_shape)
    t = _tangent(root, x, v, shapes)
    if xs == ():
        m = substitute(t, {v: Num(1)})
        if broadcast and node_shapes(m, shapes)[m] != ys:
            m = Call("mul", (m, Call("ones_like", (root,))))
    elif ys == ():
        m = _row(t, v, shapes, Name(x))
    else:
        m = matrix_of(t, v, shapes, Name(x))
    if m is None:
        return None
    m = tidy_compact(m, shapes)
    if result.layout == "denominator" and len(xs) == 1 and len(ys) == 1:
        m = tidy_compact(Call("transpose", (m,)), shapes)
    return m


def _matrix_form(root, x, v, shapes, result: JacobianResult, out_name) -> CompactJacobian | None:
    m = read_matrix(root, x, v, shapes, result, broadcast=True)
    if m is None:
        return None
    compact = evaluate(m, Env(shapes))
    if compact.size == math.prod(result.shape):  # a row or column of a scalar's Jacobian
        compact = compact.reshape(result.shape)
    compact = compact.broadcast_to(result.shape)
    explicit = result.as_grid()
    labels, pairs = [], []
    for index, value in explicit.items():
        labels.append("J[" + ",".join(str(i + 1) for i in index) + "]")
        pairs.append((sp.sympify(value), sp.sympify(compact[index])))
    check = decide(pairs, labels)
    tree, where = _named(m, out_name)
    return CompactJacobian(MATRIX, "J", result.layout, tree, to_source(tree), m, to_source(m),
                           result.shape, where, check=check)


def _row(t: Node, v: str, shapes, like: Node) -> Node | None:
    """``r`` with ``t == r @ v`` for a scalar ``t`` linear in the vector ``v``."""
    if t == Num(0):
        return Call("mul", (Num(0), Call("ones_like", (like,))))
    try:
        return _Reader(v, shapes, like, t).row(t)
    except NotLinear:
        return None


def _map_form(root, x, d, shapes, result: JacobianResult, out_name) -> CompactJacobian:
    t = _tangent(root, x, d, shapes)
    ys, xs = tuple(result.out_shape), shapes[x]
    label = "d" + (result.out_name if result.out_name not in ("f",) else "f")
    numerator = result.with_layout("numerator")
    check = _check_map(t, d, shapes, numerator)
    k, why = vec_form(t, d, shapes) if t != Num(0) else (None, "the map is zero")
    vec_text, vec_shape, reason = "", (), ""
    if k is not None:
        k = tidy_compact(k, shapes)
        vec_check = _check_vec(k, numerator, shapes)
        if not vec_check.ok:
            check = vec_check
        vec_text, vec_shape = to_source(k), (math.prod(ys), math.prod(xs))
    else:
        reason = f"no vec form was read off the map: {why}"
    tree, where = _named(t, out_name)
    return CompactJacobian(LINEAR_MAP, label, "numerator", tree, to_source(tree), t,
                           to_source(t), ys, where, d, k, vec_text, vec_shape, check, reason)


def _check_map(t: Node, d: str, shapes, J: JacobianResult):
    """The map's derivative by each entry of ``d`` against the explicit Jacobian."""
    grid = evaluate(t, Env(shapes)).broadcast_to(J.out_shape)
    where = {s: b for b, s in zip(ndindex(J.in_shape), symbol_grid(d, J.in_shape).flat)}
    labels, pairs = [], []
    for a in ndindex(J.out_shape):
        found = gradient(sp.sympify(grid[a]), set(where))
        if any(s not in where for s in found):
            raise JacobianError("the differential is not linear in the direction")
        for s, b in where.items():
            x, y = J.entries.get(a + b, sp.Integer(0)), found.get(s, sp.Integer(0))
            if x != 0 or y != 0:
                labels.append("J[" + ",".join(str(i + 1) for i in a + b) + "]")
                pairs.append((x, y))
    return decide(pairs, labels)


def column_major(index: tuple[int, ...], shape: Shape) -> int:
    """The position of ``index`` in ``vec`` of an array of ``shape`` (columns stacked)."""
    out, stride = 0, 1
    for i, n in zip(index, shape):
        out += i * stride
        stride *= n
    return out


def _check_vec(k: Node, J: JacobianResult, shapes):
    grid = evaluate(k, Env(shapes))
    rows, cols = math.prod(J.out_shape), math.prod(J.in_shape)
    if grid.shape != (rows, cols):
        raise JacobianError(f"the vec form has shape {grid.shape}, not {(rows, cols)}")
    labels, pairs = [], []
    for a in ndindex(J.out_shape):
        for b in ndindex(J.in_shape):
            r, c = column_major(a, J.out_shape), column_major(b, J.in_shape)
            x, y = J.entries.get(a + b, sp.Integer(0)), sp.sympify(grid[r, c])
            if x != 0 or y != 0:
                labels.append(f"J_vec[{r + 1},{c + 1}]")
                pairs.append((x, y))
    return decide(pairs, labels)


def _named(tree: Node, out_name) -> tuple[Node, tuple]:
    if out_name is None:
        return tree, ()
    name, root = out_name
    named = _replaced(tree, {root: Name(name)})
    if named == tree:
        return tree, ()
    return named, ((name, root, to_source(root)),)


def with_compact(result: JacobianResult, problem: Problem) -> JacobianResult:
    """``result`` with its compact form (or the reason there is none) attached."""
    from dataclasses import replace  # noqa: PLC0415

    try:
        form = compact_jacobian(result, problem)
    except JacobianError as exc:
        form = CompactJacobian(None, reason=Message(exc.marked))
    return replace(result, compact=form)


__all__ = ["compact_jacobian", "with_compact", "column_major"]
