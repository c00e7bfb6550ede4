"""Compact Jacobians at symbolic sizes: derived once, proved in index notation.

The compact form is derived exactly as at concrete sizes (:mod:`.compact_jacobian`:
the tangent by forward mode, then the matrix ``diag(p) - outer(p, p)`` or the
map ``dY = X @ dW`` read off it); those steps work on shapes with size names.
What changes is the check, since there are no entries to compare one by one:

* the matrix's entry at symbolic indices (:func:`~jacobian_calc.index.forms.entry_of`),
  or the map's derivative by one entry of the direction, is decided against the
  Jacobian's index form with :func:`~jacobian_calc.index.algebra.decide`:
  **proved for all sizes**, a differing entry at a concrete size, or undecided;
* the vec form (``kron``, which has no index form) is checked at 3 size
  assignments, all sizes distinct within each, against the explicit Jacobian
  there, and the verdict says so.

An operation without an index form in the expression or the formula is refused
plainly: nothing is shown that was not decided.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from ..core.errors import JacobianError
from ..core.tree import Node, Num, names
from ..index import algebra as I
from ..index.forms import entry_of, index_symbols, without_index_form
from ..ops.registry import size_node
from ..ops.text import to_source
from ..results.backprop import Check
from ..results.compact import LINEAR_MAP, MATRIX, CompactJacobian
from ..results.jacobian import JacobianResult
from ..symbolic.evaluate import node_shapes
from .compact_jacobian import _named, _output_name, _tangent, read_matrix
from .compact_rules import tidy_compact
from .hessian_compact import RESERVED, inlined
from .naming import Namer, numbered
from .problem import Problem
from .vec_form import vec_form

_LETTERS = "ijklmnqrst"
#: What a compact form at symbolic sizes is verified against.
AGAINST = "the Jacobian's index form"


def compact_jacobian_sizes(result: JacobianResult, problem: Problem,
                           explicit: Callable[..., JacobianResult]) -> CompactJacobian:
    """The compact form of a Jacobian at symbolic sizes, proved for all sizes.

    Parameters
    ----------
    result : JacobianResult
        The Jacobian at symbolic sizes (its index form).
    problem : Problem
        The request it answers.
    explicit : callable
        ``explicit(of, wrt, shapes)``: the explicit Jacobian at concrete sizes (the
        vec form is checked against it at 3 size assignments).

    Raises
    ------
    JacobianError
        As :func:`.compact_jacobian.compact_jacobian`, and when an operation has
        no index form (``det``): then the sizes must be numbers.
    """
    if len(problem.components) != 1 or len(result.wrt) != 1:
        raise JacobianError("the compact Jacobian needs one expression and one variable")
    x = result.wrt[0]
    root = inlined(problem)
    missing = without_index_form(root)
    if missing:
        raise JacobianError(f"{', '.join(missing)} has no index form, so a compact Jacobian "
                            "cannot be proved for all sizes; give numbers for the sizes in "
                            "{{shapes}}")
    shapes = {n: tuple(problem.shapes.get(n, ())) for n in names(root) | {x}}
    shapes.update({n: tuple(s) for n, s in problem.shapes.items()})
    namer = Namer(problem.used_names() | set(problem.shapes) | set(problem.lets)
                  | set(problem.functions) | RESERVED | {x} | problem.dimensions)
    out_name = _output_name(result, problem, root, namer)
    xs, ys = shapes[x], tuple(node_shapes(root, shapes)[root])
    taken = set(shapes) | problem.dimensions | names(root)
    ix = index_symbols(_LETTERS, len(ys) + len(xs), taken)
    out_ix, in_ix = ix[:len(ys)], ix[len(ys):]
    ranges = dict(zip(ix, (I.size(n) for n in ys + xs)))
    correct = I.derivative(entry_of(root, out_ix, shapes), I.entry(x, in_ix))
    if len(xs) <= 1 and len(ys) <= 1:
        v = namer.first_free(numbered("vuh", True))
        form = _matrix_form(root, x, v, {**shapes, v: xs}, result, out_name, correct,
                            (out_ix, in_ix), ranges)
        if form is not None:
            return form
    d = f"d{x}" if namer.free(f"d{x}") else namer.first_free(numbered("vuh", len(xs) < 2))
    return _map_form(root, x, d, {**shapes, d: xs}, result, out_name, correct,
                     (out_ix, in_ix), ranges, problem, explicit)


def _matrix_form(root, x, v, shapes, result, out_name, correct, ix, ranges):
    """``J = diag(p) - outer(p, p)`` read off the tangent, its entry decided against
    ``correct`` (the Jacobian's index form); ``None`` when no matrix is read off."""
    xs, ys = shapes[x], tuple(result.out_shape)
    m = read_matrix(root, x, v, shapes, result, broadcast=False)
    if m is None:
        return None
    out_ix, in_ix = ix
    order = out_ix + in_ix
    if result.layout == "denominator" and len(xs) == 1 and len(ys) == 1:
        order = in_ix + out_ix
    _require_index_form(m)
    found = node_shapes(m, shapes)[m]
    want = tuple(ranges[i] for i in order)
    if tuple(I.size(n) for n in found) == want:
        mine = entry_of(m, order, shapes)
    elif found == ():
        mine = entry_of(m, (), shapes)
    else:
        return None
    check = _decided(mine, correct, ranges, "J", order)
    tree, where = _named(m, out_name)
    return CompactJacobian(MATRIX, "J", result.layout, tree, to_source(tree), m, to_source(m),
                           tuple(result.shape), where, check=check, against=AGAINST)


def _map_form(root, x, d, shapes, result, out_name, correct, ix, ranges, problem, explicit):
    """``dY = X @ dW``: its derivative by the entry ``dW[k,l]`` decided against ``correct``;
    the vec form, where one is read off, checked at 3 size assignments."""
    t = _tangent(root, x, d, shapes)
    ys, xs = tuple(result.out_shape), shapes[x]
    out_ix, in_ix = ix
    label = "d" + (result.out_name if result.out_name not in ("f",) else "f")
    _require_index_form(t)
    found = node_shapes(t, shapes)[t]
    at = tuple(sp.Integer(1) if a == 1 and b != 1 else i
               for i, a, b in zip(out_ix[len(out_ix) - len(found):], found,
                                  ys[len(ys) - len(found):]))
    mine = I.derivative(entry_of(t, at, shapes), I.entry(d, in_ix))
    check = _decided(mine, correct, ranges, "J", out_ix + in_ix)
    k, why = vec_form(t, d, shapes) if t != Num(0) else (None, "the map is zero")
    vec_text, vec_shape, reason = "", (), ""
    if k is not None and check.ok:
        try:
            k = tidy_compact(k, shapes)
            vec_shape = (_product(ys), _product(xs))
        except JacobianError as exc:  # vec(D) of a matrix: a size N*h
            k, why = None, exc.message
    if k is not None and check.ok:
        vec = _vec_at_sizes(root, x, d, k, problem, explicit)
        if not vec.ok:
            check = vec
        else:
            check = Check(check.verdict, f"{check.how}; the vec form {vec.how}")
        vec_text = to_source(k)
    elif k is None:
        reason = f"no vec form was read off the map: {why}"
    tree, where = _named(t, out_name)
    return CompactJacobian(LINEAR_MAP, label, "numerator", tree, to_source(tree), t,
                           to_source(t), ys, where, d, k if vec_text else None, vec_text,
                           vec_shape, check, reason, AGAINST)


def _product(dims) -> str | int:
    """``N*h`` for a vec form's side at symbolic sizes (a number where all are numbers)."""
    node = size_node(dims)
    return node.value if isinstance(node, Num) else "(" + to_source(node).replace(" ", "") + ")"


def _require_index_form(tree: Node) -> None:
    missing = without_index_form(tree)
    if missing:
        raise JacobianError(f"the compact form uses {', '.join(missing)}, which has no index "
                            "form, so it cannot be proved for all sizes; give numbers for the "
                            "sizes in {{shapes}}")


def _decided(mine: sp.Expr, correct: sp.Expr, ranges, label: str, order) -> Check:
    """The compact form's entry against the Jacobian's index form, for all sizes."""
    decision = I.decide(mine, correct, I.Context(ranges))
    if decision.verdict == I.PROVED:
        return Check("proved", "for all sizes, in index notation")
    if decision.verdict == I.DIFFERS:
        w = decision.witness
        at = ",".join(str(w["indices"].get(str(i), i)) for i in order)
        sizes = ", ".join(f"{k}={v}" for k, v in w["sizes"].items())
        where = f"{label}[{at}]" + (f" when {sizes}" if sizes else "")
        return Check("differs", "at a concrete size, at a random point",
                     mismatch=(where, sp.Float(w["right"], 6), sp.Float(w["left"], 6)))
    return Check("undecided", f"in index notation: {decision.note}")


def _vec_at_sizes(root: Node, x: str, d: str, k: Node, problem: Problem, explicit) -> Check:
    """The vec form against the explicit Jacobian at 3 size assignments (no index form
    for ``kron``), all sizes distinct within each."""
    from .compact_jacobian import _check_vec  # noqa: PLC0415
    from .instantiate import assignments, node_at, one_size_text, shapes_at, sizes_text  # noqa
    dims = sorted(problem.dimensions)
    chosen = assignments(dims)
    for sizes in chosen:
        shapes = shapes_at(problem.shapes, sizes)
        J = explicit(to_source(node_at(root, sizes)), x,
                     {n: s for n, s in shapes.items() if n in names(root) | {x}})
        check = _check_vec(node_at(k, sizes), J, {**shapes, d: shapes[x]})
        if not check.ok:
            label, a, b = check.mismatch
            return Check("differs", check.how,
                         mismatch=(f"{label} when {one_size_text(sizes)}", a, b))
    return Check("checked", f"checked at {sizes_text(chosen)} (kron has no index form)")


__all__ = ["compact_jacobian_sizes"]
