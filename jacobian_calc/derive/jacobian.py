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
from ..results.jacobian import JacobianResult, check_layout
from ..symbolic.autodiff import Differentiator
from ..symbolic.measure import replace_symbols
from ..symbolic.simplify import check_simplify_time, simplify_entry
from ..symbolic.symbols import scalar_symbol, symbol_grid, undefined_function
from .output_form import rewrite_in_terms_of_output
from .problem import (ExprLike, Problem, absence_warnings, default_wrt, parse_wrt, prepare,
                      wrt_groups)


@budget.entry_point
def jacobians(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
              layout: str = "numerator", shapes: Mapping | None = None,
              lets: Mapping | None = None, functions: Iterable[str] | None = None,
              simplify: bool = False, in_terms_of_output: bool = False,
              limits: Limits = DEFAULT_LIMITS) -> list[JacobianResult]:
    """One Jacobian per input group of ``wrt``; see :func:`jacobian`."""
    check_layout(layout)
    _check_flag(simplify, "simplify")
    _check_flag(in_terms_of_output, "in_terms_of_output")
    with budget.stage("reading the input"):
        problem = prepare(of, shapes=shapes, lets=lets, functions=functions, limits=limits)
    names = parse_wrt(wrt) or default_wrt(problem)
    groups = wrt_groups(names, problem)
    check_sizes(problem, groups)
    with budget.stage("evaluating the expression"):
        arrays = problem.evaluate()
    results = []
    for group in groups:
        with budget.stage("differentiating"):
            result = build(problem, arrays, group, in_terms_of_output)
        if simplify:
            check_simplify_time(result.entries.values(), limits.simplify_seconds,
                                limits.timeout)
            with budget.stage("simplifying the entries"):
                result = result.map(lambda e: simplify_entry(e, limits.simplify_seconds))
        results.append(result.with_layout(layout))
    return results


@budget.entry_point
def jacobian(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
             layout: str = "numerator", shapes: Mapping | None = None,
             lets: Mapping | None = None, functions: Iterable[str] | None = None,
             simplify: bool = False, in_terms_of_output: bool = False,
             limits: Limits = DEFAULT_LIMITS) -> JacobianResult:
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
    limits : Limits
        Resource limits.

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
                        in_terms_of_output=in_terms_of_output, limits=limits)
    if len(results) != 1:
        raise JacobianError(f"{len(results)} inputs given "
                            f"({', '.join(r.wrt[0] for r in results)}); "
                            "use jacobians() for one Jacobian each")
    return results[0]


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
        if size > problem.limits.max_entries:
            raise LimitError(
                f"the Jacobian would have {size:,} entries (shape "
                f"{shape_text(out_shape + in_shape)}), over the limit of "
                f"{problem.limits.max_entries:,}", limit="max_entries")
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
    if group[0] in problem.shapes:
        return symbol_grid(group[0], problem.shapes[group[0]])
    return Grid((len(group),), [scalar_symbol(name) for name in group])


def build(problem: Problem, arrays: list[Grid], group: list[str],
          in_terms_of_output: bool = False) -> JacobianResult:
    """The Jacobian of already-evaluated output grids w.r.t. one input group."""
    out = _output_grid(problem, arrays, group)
    inputs = _input_grid(group, problem)
    position = {s: i for i, s in inputs.items()}
    wanted = set(position)
    entries: dict[tuple[int, ...], sp.Expr] = {}
    differentiator = Differentiator(wanted)  # one for all entries: they share subexpressions
    with stage(f"∂{_out_name(problem)}/∂{group[0] if len(group) == 1 else 'x'}: rows",
               out.size):
        for out_index, expr in out.items():
            budget.check()
            for symbol, derivative in differentiator.gradient(expr).items():
                entries[out_index + position[symbol]] = derivative
            advance()
    result = JacobianResult(
        of=problem.sources(), wrt=list(group), out_shape=out.shape, in_shape=inputs.shape,
        entries=entries, out_name=_out_name(problem),
        in_name=group[0] if len(group) == 1 else "x",
        in_symbols=tuple(inputs.flat), arrays=dict(problem.shapes),
        variables=tuple(sorted(problem.used_names() - set(problem.lets))),
        warnings=absence_warnings(group, problem.shapes, out.flat, problem.used_names()),
        outputs=tuple(out.flat))
    if in_terms_of_output:
        result = rewrite_in_terms_of_output(result, problem, group)
    return in_caller_symbols(result, problem)


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
        return "Y" if problem.component_shapes()[0] else "f"
    return "f"
