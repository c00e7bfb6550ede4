"""Explicit Hessians: the Jacobian of the gradient, entry by entry.

The pipeline is the Jacobian's (:mod:`.jacobian`): parse, check shapes and
limits, evaluate to SymPy entries; then one reverse sweep per output entry
gives the first derivatives (:func:`~jacobian_calc.symbolic.autodiff.gradient`)
and one more sweep per first derivative the second ones. Only non-zero
entries are stored. Both ``∂²f/∂a∂b`` and ``∂²f/∂b∂a`` are computed, so the
symmetry of the Hessian is checked rather than assumed.

A compact form is sought by :mod:`.hessian_compact` and verified against
these entries.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterable, Mapping, Sequence

import sympy as sp

from ..core import budget
from ..core.errors import JacobianError, JacobianTypeError, LimitError, warn
from ..core.grid import Grid, Shape, flat_index, ndindex, shape_text
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.names import entry_label
from ..results.hessian import (NOT_SYMMETRIC, SYMMETRIC, UNDECIDED, CompactHessian,
                               HessianBlock, HessianResult, Symmetry, Variable)
from ..results.jacobian import check_layout
from ..symbolic.autodiff import gradient
from ..symbolic.plain import factor_common
from ..symbolic.simplify import notes as simplify_notes
from ..symbolic.simplify import simplify_entry
from ..symbolic.symbols import scalar_symbol, symbol_grid
from ..results.backprop import DIFFERS, PROVED
from .hessian_compact import decide, inlined
from .jacobian import _out_name
from .problem import ExprLike, Problem, default_wrt, parse_wrt, prepare, wrt_groups
from ..symbolic.trusted import as_sympy


@budget.entry_point
def hessian(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
            layout: str = "numerator", shapes: Mapping | None = None,
            lets: Mapping | None = None, functions: Iterable[str] | None = None,
            simplify: bool = False, compact: bool = True, signs: str | Iterable | None = None,
            onehot: str | Iterable | None = None, limits: Limits = DEFAULT_LIMITS
            ) -> HessianResult:
    """The explicit Hessian of ``of`` with respect to ``wrt``, its symmetry checked,
    and a compact form where one is found.

    Parameters
    ----------
    of : str, SymPy expression, or a list of them
        A scalar (``"x.T@A@x"``) or an array (``"sin(x1*x2), x1**2"``: a vector
        gives the ``m x n x n`` tensor).
    wrt : str or sequence, optional
        ``"x"`` (one declared array), ``"W,b"`` (several: every block), or
        scalars ``"x1,x2"`` taken as one vector. Default: every free name.
    layout : {"numerator", "denominator"}
        Where the output axes go: first (numerator) or last. The same for a
        scalar ``f``.
    shapes, lets, functions, limits
        As for :func:`jacobian_calc.jacobian`.
    simplify : bool
        Simplify every entry (each within ``limits.simplify_seconds``).
    compact : bool
        Look for a compact form (``A + A.T``; a Hessian-vector product where no
        matrix is written) and verify it against the explicit entries.
    signs : str or iterable of str, optional
        Arrays whose entries are -1 or 1 (labels ``t`` of logistic regression),
        so that ``t**2 = 1`` in the compact form and its verification.
    onehot : str or iterable of str, optional
        Targets whose rows are one-hot (sum to 1), as for :func:`backprop`.

    Returns
    -------
    HessianResult
        ``.blocks[(U, V)]``, ``.block(U, V)``, ``.tensor`` (one variable),
        ``.matrix`` (the whole Hessian of a scalar), ``.symmetry``, ``.compact``.

    Examples
    --------
    >>> H = hessian("x.T@A@x", "x", shapes={"x": 2, "A": (2, 2)})
    >>> H.tensor
    Matrix([
    [      2*A_1_1, A_1_2 + A_2_1],
    [A_1_2 + A_2_1,       2*A_2_2]])
    >>> H.symmetry.verdict, H.compact.terms[0].text, H.compact.check.verdict
    ('symmetric', 'A + A.T', 'proved')
    """
    check_layout(layout)
    for name, value in (("simplify", simplify), ("compact", compact)):
        if not isinstance(value, bool):
            raise JacobianTypeError(f"{name} must be True or False, not {value!r}")
    problem = prepare(of, shapes=shapes, lets=lets, functions=functions)
    groups = wrt_groups(parse_wrt(wrt) or default_wrt(problem), problem)
    sign_names = _declared(signs, problem, "signs")
    onehot_names = _declared(onehot, problem, "{{onehot}}")
    variables = [_variable(g, problem) for g in groups]
    out = _output(problem)
    _check_size(out.shape, variables)
    blocks = {k: b.map(_checked(factor_common))
              for k, b in second_derivatives(out, variables).items()}
    symmetry = check_symmetry(blocks, variables, out.shape,
                              budget.active_limits().simplify_seconds)
    result = HessianResult(
        of=problem.sources(), of_trees=tuple(problem.components),
        of_shapes=problem.array_shapes(), out_name=_out_name(problem), out_shape=out.shape,
        variables=variables, blocks=blocks, symmetry=symmetry, arrays=dict(problem.shapes),
        names=tuple(sorted(problem.used_names() - set(problem.lets))),
        warnings=_absent(variables, out), signs=tuple(sorted(sign_names)),
        onehot=tuple(sorted(onehot_names)),
        tree=inlined(problem) if len(problem.components) == 1 else None)
    if compact:
        result = _with_compact(result, problem, groups)
    if simplify:
        with simplify_notes() as kept:
            seconds = budget.active_limits().simplify_seconds
            result = result.map(_checked(lambda e: simplify_entry(e, seconds)))
        result = replace(result, warnings=list(result.warnings) + kept)
    return result.with_layout(layout) if layout != "numerator" else result


def _checked(func):
    """``func`` with the request's deadline checked before each call."""
    def call(entry):
        budget.check()
        return func(entry)
    return call


def _with_compact(result: HessianResult, problem: Problem, groups) -> HessianResult:
    from dataclasses import replace  # noqa: PLC0415

    from .hessian_compact import compact_hessian  # noqa: PLC0415
    try:
        form = compact_hessian(result, problem, groups)
    except JacobianError as exc:
        form = CompactHessian(None, reason=str(exc))
    return replace(result, compact=form)


def _declared(given, problem: Problem, what: str) -> set[str]:
    """Names of arrays declared to have special entries (``signs``, ``onehot``)."""
    if given is None:
        return set()
    items = [s.strip() for s in given.split(",")] if isinstance(given, str) else list(given)
    for name in items:
        if name not in problem.used_names():
            raise JacobianError(f"{what} names {name!r}, which the expression does not use")
        if not problem.shapes.get(name):
            raise JacobianError(f"{what} names {name!r}, which must be a declared array")
    return set(items)


def _variable(group: list[str], problem: Problem) -> Variable:
    if group[0] in problem.shapes:
        name, shape = group[0], tuple(problem.shapes[group[0]])
        symbols = tuple(symbol_grid(name, shape).flat)
        labels = tuple(entry_label(name, i) for i in ndindex(shape))
        return Variable(name, shape, (name,), symbols, labels)
    symbols = tuple(problem.caller_symbol(n) for n in group)
    name = group[0] if len(group) == 1 else "x"
    return Variable(name, (len(group),), tuple(group), symbols, tuple(group))


def _output(problem: Problem) -> Grid:
    """The differentiated output: one expression (any shape), or scalar components
    as a vector."""
    arrays = problem.evaluate()
    if problem.matrix_input:
        out = Grid((len(arrays),), [a.item() for a in arrays])
    elif len(arrays) == 1:
        out = arrays[0]
    elif any(a.ndim > 0 for a in arrays):
        raise JacobianError("a list of components must be scalars")
    else:
        out = Grid((len(arrays),), [a.item() for a in arrays])
    mapping = {scalar_symbol(n): s for n, s in problem.symbols.items()
               if s != scalar_symbol(n)}
    return out.map(lambda e: e.xreplace(mapping)) if mapping else out



def _check_size(out_shape: Shape, variables: list[Variable]) -> None:
    """Refuse an oversized Hessian from shapes alone, before any differentiation."""
    limits = budget.active_limits()
    n = sum(v.size for v in variables)
    size = math.prod(out_shape) * n * n
    if size > limits.max_entries:
        raise LimitError(f"the Hessian would have {size:,} entries (shape "
                         f"{shape_text(out_shape + (n, n))}), over the limit of "
                         f"{limits.max_entries:,}", limit="max_entries")


def second_derivatives(out: Grid, variables: list[Variable]) -> dict:
    """Every block ``(U, V)``: ``∂²out / ∂U ∂V``, sparse, in numerator order.

    Examples
    --------
    >>> x, y = sp.symbols("x y", real=True)
    >>> v = Variable("x", (2,), ("x", "y"), (x, y), ("x", "y"))
    >>> second_derivatives(Grid((), [x**2 * y]), [v])[("x", "x")].entries
    {(0, 0): 2*y, (0, 1): 2*x, (1, 0): 2*x}
    """
    where = {s: (v, i) for v in variables for i, s in zip(ndindex(v.shape), v.symbols)}
    wanted = set(where)
    entries: dict = {(u.name, v.name): {} for u in variables for v in variables}
    for out_index, expr in out.items():
        budget.check()
        for a, first in gradient(expr, wanted).items():
            u, ia = where[a]
            budget.check()
            for b, second in gradient(first, wanted).items():
                v, ib = where[b]
                entries[(u.name, v.name)][out_index + ia + ib] = second
    return {(u.name, v.name): HessianBlock(u.name, v.name, out.shape, u.shape, v.shape,
                                           _sorted(entries[(u.name, v.name)]))
            for u in variables for v in variables}


def _sorted(entries: dict) -> dict:
    return {k: entries[k] for k in sorted(entries)}


def check_symmetry(blocks: dict, variables: list[Variable], out_shape: Shape,
                   seconds: float = 2.0) -> Symmetry:
    """``∂²f/∂a∂b`` against ``∂²f/∂b∂a`` for every pair of entries ``a != b``."""
    pairs, labels = [], []
    k = len(out_shape)
    for u in variables:
        for v in variables:
            first, second = blocks[(u.name, v.name)], blocks[(v.name, u.name)]
            nu = len(u.shape)
            for index in ndindex(out_shape + u.shape + v.shape):
                budget.check()
                o, ia, ib = index[:k], index[k:k + nu], index[k + nu:]
                if (u.name, ia) >= (v.name, ib):
                    continue  # each unordered pair once, the diagonal skipped
                pairs.append((first.entries.get(index, sp.Integer(0)),
                              second.entries.get(o + ib + ia, sp.Integer(0))))
                labels.append((_pair_label(u, ia, v, ib), _pair_label(v, ib, u, ia)))
    check = decide(pairs, [a for a, _ in labels], seconds=seconds)
    if check.verdict == DIFFERS:
        i = next(i for i, (a, _) in enumerate(labels) if a == check.mismatch[0])
        return Symmetry(NOT_SYMMETRIC, len(pairs), "an entry differs from its mirror",
                        labels[i] + check.mismatch[1:])
    if check.verdict != PROVED:
        return Symmetry(UNDECIDED, len(pairs), f"equal {check.how}")
    how = "every mixed partial derivative equals its swapped one" if pairs else \
        "one entry: nothing to compare"
    return Symmetry(SYMMETRIC, len(pairs), how)


def _pair_label(u: Variable, ia: tuple, v: Variable, ib: tuple) -> str:
    a, b = u.labels[flat_index(ia, u.shape)], v.labels[flat_index(ib, v.shape)]
    return f"∂²/∂{a}∂{b}"




def _absent(variables: list[Variable], out: Grid) -> list[str]:
    present: set = set()
    for expr in out.flat:
        present |= as_sympy(expr).free_symbols
    messages = [f"{v.name} does not appear in the expression; its second derivatives are "
                "all zero" for v in variables if not set(v.symbols) & present]
    for message in messages:
        warn(message)
    return messages


__all__ = ["hessian", "second_derivatives", "check_symmetry"]
