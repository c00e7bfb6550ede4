"""Build explicit (generalized) Jacobians from user input.

The pipeline: parse -> resolve intermediates (``lets``) -> infer shapes and
check limits -> evaluate to grids of SymPy entries -> one reverse sweep per
output entry (:func:`jacobian_calc.symbolic.autodiff.gradient`) -> a sparse
:class:`~jacobian_calc.results.JacobianResult` in numerator layout; the
requested layout is applied at the edge.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Iterable, Mapping, Sequence

import sympy as sp

from ..core import budget
from ..core.errors import JacobianError, JacobianTypeError, LimitError
from ..core.grid import Grid, Shape, shape_text
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.progress import advance, stage
from ..core.tree import substitute
from ..results.jacobian import JacobianResult, check_layout
from ..symbolic.autodiff import Differentiator
from ..symbolic.measure import replace_symbols
from ..symbolic.simplify import check_simplify_time, simplify_entry
from ..symbolic.simplify import notes as simplify_notes
from ..symbolic.symbols import scalar_symbol, symbol_grid, symmetric_grid, undefined_function
from .output_form import rewrite_in_terms_of_output
from .problem import (ExprLike, Problem, absence_warnings, default_wrt, parse_wrt, prepare,
                      wrt_groups)


@budget.entry_point
def jacobians(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
              layout: str = "numerator", shapes: Mapping | None = None,
              lets: Mapping | None = None, functions: Iterable[str] | None = None,
              simplify: bool = False, in_terms_of_output: bool = False,
              compact: bool = False, index_form: bool = False,
              limits: Limits = DEFAULT_LIMITS,
              symmetric: Iterable[str] | None = None) -> list[JacobianResult]:
    """One Jacobian per input group of ``wrt``; see :func:`jacobian`."""
    check_layout(layout)
    _check_flag(simplify, "simplify")
    _check_flag(compact, "compact")
    _check_flag(in_terms_of_output, "in_terms_of_output")
    _check_flag(index_form, "index_form")
    with budget.stage("reading the input"):
        problem = prepare(of, shapes=shapes, lets=lets, functions=functions,
                          symmetric=symmetric, symbolic=True)
    names = parse_wrt(wrt) or default_wrt(problem)
    groups = wrt_groups(names, problem)
    if problem.symbolic:  # sizes are names: the index form is the result
        with budget.stage("the index form"):
            results = [_generic(problem, group, in_terms_of_output).with_layout(layout)
                       for group in groups]
        if len(problem.components) == 1:
            results = [replace(r, tree=_inlined(problem)) for r in results]
        if compact:
            with budget.stage("the compact Jacobian"):
                results = [_with_compact_sizes(r, problem) for r in results]
        return results
    check_sizes(problem, groups)
    with budget.stage("evaluating the expression"):
        arrays = problem.evaluate()
    results = []
    for group in groups:
        with budget.stage("differentiating"):
            result = build(problem, arrays, group, in_terms_of_output)
        if simplify:
            active = budget.active_limits()
            check_simplify_time(result.entries.values(), active.simplify_seconds,
                                active.timeout)
            with budget.stage("simplifying the entries"), simplify_notes() as kept:
                result = result.map(lambda e: simplify_entry(e, active.simplify_seconds))
            result = replace(result, warnings=list(result.warnings) + kept)
        if index_form:
            with budget.stage("the index form"):
                result = replace(result, index=_index_form(problem, group, result,
                                                           in_terms_of_output))
        result = result.with_layout(layout)
        if len(problem.components) == 1:
            result = replace(result, tree=_inlined(problem))
        if compact:
            with budget.stage("the compact Jacobian"):
                result = _with_compact(result, problem)
        results.append(result)
    return results


def _inlined(problem: Problem):
    from .hessian_compact import inlined  # noqa: PLC0415 - the one expression, lets substituted
    return inlined(problem)


def _with_compact(result: JacobianResult, problem: Problem) -> JacobianResult:
    from .compact_jacobian import with_compact  # noqa: PLC0415 - only when asked for
    return with_compact(result, problem)


def _with_compact_sizes(result: JacobianResult, problem: Problem) -> JacobianResult:
    """At symbolic sizes: the compact form proved for all sizes, or why there is none."""
    from ..core.errors import Message  # noqa: PLC0415
    from ..results.compact import CompactJacobian  # noqa: PLC0415
    from .compact_sizes import compact_jacobian_sizes  # noqa: PLC0415 - only when asked for
    try:
        form = compact_jacobian_sizes(result, problem, lambda of, wrt, shapes:
                                      jacobian(of, wrt, shapes=shapes))
    except JacobianError as exc:
        form = CompactJacobian(None, reason=Message(exc.marked))
    return replace(result, compact=form)


@budget.entry_point
def jacobian(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
             layout: str = "numerator", shapes: Mapping | None = None,
             lets: Mapping | None = None, functions: Iterable[str] | None = None,
             simplify: bool = False, in_terms_of_output: bool = False,
             compact: bool = False, index_form: bool = False,
             limits: Limits = DEFAULT_LIMITS,
             symmetric: Iterable[str] | None = None) -> JacobianResult:
    """The explicit Jacobian of ``of`` with respect to ``wrt``.

    Parameters
    ----------
    of : str, SymPy expression or Matrix, or a list of them
        ``"sin(x1-x2), cos(x1-x2)"`` is a vector with two components. With
        ``shapes`` (or SymPy ``MatrixSymbol``s), matrix expressions such as
        ``"X@W + b"`` are allowed.
    wrt : str or sequence, optional
        ``"x1,x2"`` or ``[x1, x2]``: the input vector, in column order; or one
        declared array name. Default: every free name, in natural order.
    layout : {"numerator", "denominator"}
        Numerator: ``m x n`` (rows are gradients of the components);
        denominator: the transpose.
    shapes : dict, optional
        ``{"A": (2, 3), "x": 3}`` declares arrays; undeclared names are scalars.
    lets : dict, optional
        Intermediates, ``{"y1": "a*w1", "y2": "y1 + b1"}``, substituted in.
    functions : iterable of str, optional
        Undefined functions of scalars, ``["f", "g"]``: their derivatives stay
        symbolic (any other unknown name is an error).
    simplify : bool
        Simplify every entry (each within a time budget).
    in_terms_of_output : bool
        Write derivatives of element-wise functions and softmax in terms of
        their output (``Y*(1 - Y)`` for the sigmoid, ``p_i (δ_ij - p_j)``).
    compact : bool
        Also find the compact Jacobian (``diag(p) - outer(p, p)``, ``W.T``; for
        a matrix input or output the linear map ``dY = X @ dW`` and its vec
        form ``kron(eye(2), X)``), proved equal to the entries: ``.compact``.
        At symbolic sizes it is proved for all sizes against the index form
        (the vec form, ``kron``, checked at 3 size assignments).
    index_form : bool
        Also give the Jacobian in index notation, for every size:
        ``.index_form`` (``X[i, k]*KroneckerDelta(j, l)``) and ``.indices``.
    limits : Limits
        Resource limits (default: the active request's, else ``DEFAULT_LIMITS``).
    symmetric : iterable of str, optional
        Square matrices declared symmetric, ``["S"]``: entries ``S_i_j`` and
        ``S_j_i`` are one symbol, so the derivative w.r.t. ``S`` is the Matrix
        Cookbook's ``G + G.T - diag(G)`` (w.r.t. the independent entries; ``G``
        the derivative of a general matrix). A note says so.

    Returns
    -------
    JacobianResult
        ``.tensor`` is a SymPy ``Matrix`` (2-D) or ``Array``; ``.shape``,
        ``.layout``, ``.wrt``, ``.nonzeros()``, ``to_latex()``, ``to_json()``.
        Entries are in the caller's own symbols where SymPy symbols were given.

    Examples
    --------
    >>> J = jacobian("sin(x1-x2), cos(x1-x2)", wrt="x1,x2")
    >>> J.tensor
    Matrix([
    [ cos(x1 - x2), -cos(x1 - x2)],
    [-sin(x1 - x2),  sin(x1 - x2)]])
    >>> jacobian("A@x", wrt="A", shapes={"A": (2, 3), "x": (3,)}).shape
    (2, 2, 3)
    """
    results = jacobians(of, wrt, layout=layout, shapes=shapes, lets=lets,
                        functions=functions, simplify=simplify,
                        in_terms_of_output=in_terms_of_output, compact=compact,
                        index_form=index_form, symmetric=symmetric)
    if len(results) != 1:
        raise JacobianError(f"{len(results)} inputs given "
                            f"({', '.join(r.wrt[0] for r in results)}); "
                            "use jacobians() for one Jacobian each")
    return results[0]


def _index_form(problem: Problem, group: list[str], J: JacobianResult,
                in_terms_of_output: bool):
    """The Jacobian in index notation (one expression, one variable)."""
    from ..index.jacobian import index_jacobian  # noqa: PLC0415 - asked for
    if len(problem.components) != 1 or (len(group) != 1 and group[0] not in problem.shapes):
        raise JacobianError("{{index_form}} needs one expression and one variable, "
                            "e.g. X@W + b with respect to W")
    expr = substitute(problem.components[0], dict(problem.lets))
    return index_jacobian(expr, group[0], problem.shapes, of=problem.sources()[0],
                          out_name=None if in_terms_of_output else _out_name(problem),
                          in_terms_of_output=in_terms_of_output)


def _generic(problem: Problem, group: list[str], in_terms_of_output: bool) -> JacobianResult:
    """A Jacobian at symbolic sizes: no entries, its index form for every size."""
    clash = sorted(problem.dimensions & problem.used_names())
    if clash:
        raise JacobianError(f"{clash[0]!r} is both a dimension name (a size) and a variable "
                            "in the expression; choose another name for one of them")
    index = _index_form(problem, group, None, in_terms_of_output)
    return JacobianResult(
        of=problem.sources(), of_trees=tuple(problem.components),
        of_shapes=problem.array_shapes(), wrt=list(group), out_shape=tuple(index.out_shape),
        in_shape=tuple(problem.shapes.get(group[0], ())), entries={},
        out_name=index.out_name, in_name=group[0], arrays=dict(problem.shapes),
        variables=tuple(sorted(problem.used_names() - set(problem.lets) - problem.dimensions)),
        index=index)


def _check_flag(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise JacobianTypeError(f"{name} must be True or False, not {value!r}")


def output_shape(problem: Problem, group: list[str]) -> Shape:
    """Shape of the differentiated output: one array, or a vector of scalar components."""
    shapes = problem.component_shapes()
    declared = group[0] in problem.shapes
    if problem.matrix_input and len(shapes) > 1:
        return (len(shapes),)
    if len(shapes) == 1 and (shapes[0] or declared):
        return shapes[0]
    return (len(shapes),)


def input_shape(problem: Problem, group: list[str]) -> Shape:
    return problem.shapes[group[0]] if group[0] in problem.shapes else (len(group),)


def check_sizes(problem: Problem, groups: list[list[str]]) -> None:
    """Refuse an oversized Jacobian from shapes alone, before any evaluation."""
    for group in groups:
        out_shape, in_shape = output_shape(problem, group), input_shape(problem, group)
        size = math.prod(out_shape) * math.prod(in_shape)
        if size > budget.active_limits().max_entries:
            raise LimitError(
                f"the Jacobian would have {size:,} entries (shape "
                f"{shape_text(out_shape + in_shape)}), over the limit of "
                f"{budget.active_limits().max_entries:,}", limit="max_entries")
    problem.check_work(len(groups))


def _output_grid(problem: Problem, arrays: list[Grid], group: list[str]) -> Grid:
    shape = output_shape(problem, group)
    if len(arrays) == 1 and arrays[0].shape == shape:
        return arrays[0]
    bad = [s for s, a in zip(problem.sources(), arrays) if a.ndim > 0]
    if bad:
        raise JacobianError(f"a list of components must be scalars, but {bad[0]} is an array")
    return Grid(shape, [a.item() for a in arrays])


def _input_grid(group: list[str], problem: Problem) -> Grid:
    if group[0] in problem.symmetric:
        return symmetric_grid(group[0], problem.shapes[group[0]][0])
    if group[0] in problem.shapes:
        return symbol_grid(group[0], problem.shapes[group[0]])
    return Grid((len(group),), [scalar_symbol(name) for name in group])


def build(problem: Problem, arrays: list[Grid], group: list[str],
          in_terms_of_output: bool = False) -> JacobianResult:
    """The Jacobian of already-evaluated output grids w.r.t. one input group."""
    out = _output_grid(problem, arrays, group)
    inputs = _input_grid(group, problem)
    position: dict[sp.Symbol, list] = {}  # a symmetric matrix's symbol sits twice
    for i, s in inputs.items():
        position.setdefault(s, []).append(i)
    wanted = set(position)
    entries: dict[tuple[int, ...], sp.Expr] = {}
    differentiator = Differentiator(wanted)  # one for all entries: they share subexpressions
    with stage(f"∂{_out_name(problem)}/∂{group[0] if len(group) == 1 else 'x'}: rows",
               out.size):
        for out_index, expr in out.items():
            budget.check()
            for symbol, derivative in differentiator.gradient(expr).items():
                for place in position[symbol]:
                    entries[out_index + place] = derivative
            advance()
    result = JacobianResult(
        of=problem.sources(), of_trees=tuple(problem.components),
        of_shapes=problem.array_shapes(), wrt=list(group), out_shape=out.shape,
        in_shape=inputs.shape,
        entries=entries, out_name=_out_name(problem),
        in_name=group[0] if len(group) == 1 else "x",
        in_symbols=tuple(inputs.flat), arrays=dict(problem.shapes),
        variables=tuple(sorted(problem.used_names() - set(problem.lets))),
        warnings=absence_warnings(group, problem.shapes, out.flat, problem.used_names())
        + symmetric_notes(group, problem),
        outputs=tuple(out.flat))
    if in_terms_of_output:
        result = rewrite_in_terms_of_output(result, problem, group)
    return in_caller_symbols(result, problem)


def symmetric_notes(group: list[str], problem: Problem) -> list[str]:
    """What the derivative w.r.t. a symmetric matrix means (the convention, stated)."""
    name = group[0]
    if name not in problem.symmetric:
        return []
    return [f"{name} is symmetric: {name}_i_j and {name}_j_i are one symbol, so each "
            f"off-diagonal entry is the derivative w.r.t. that one entry, G + G.T - diag(G) "
            "(the Matrix Cookbook's, G the derivative for a general matrix); the symmetric "
            "gradient (G + G.T)/2 halves the off-diagonal entries"]


def in_caller_symbols(result: JacobianResult, problem: Problem) -> JacobianResult:
    """The result written in the caller's own SymPy symbols and functions, where given."""
    mapping = {scalar_symbol(n): s for n, s in problem.symbols.items()
               if s != scalar_symbol(n)}
    functions = {undefined_function(n): f for n, f in problem.function_classes.items()}
    if not mapping and not functions:
        return result

    memo: dict = {}  # one for all entries: shared subexpressions are rebuilt once

    def swap(e: sp.Expr) -> sp.Expr:
        return replace_symbols(e, mapping, functions, memo, rename=True)

    return replace(result, entries={i: swap(e) for i, e in result.entries.items()},
                   in_symbols=tuple(mapping.get(s, s) for s in result.in_symbols))


def _out_name(problem: Problem) -> str:
    if len(problem.components) == 1:
        source = problem.sources()[0]
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", source):
            return source
        shape = problem.component_shapes()[0]
        if len(shape) == 1 and "y" not in problem.used_names():
            return "y"  # y = A @ x, as the lectures write a vector output
        return "Y" if shape else "f"
    return "f"
