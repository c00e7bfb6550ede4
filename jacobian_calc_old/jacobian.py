"""Build explicit (generalized) Jacobians from user input.

The pipeline: parse -> resolve intermediates (``lets``) -> infer shapes and
check limits -> evaluate to arrays of SymPy entries -> one reverse sweep per
output entry (:func:`jacobian_calc.autodiff.gradient`) -> a sparse
:class:`~jacobian_calc.tensor.JacobianResult` in numerator layout; the
requested layout is applied at the edge.
"""

from __future__ import annotations

import math
import re
import warnings as _warnings
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence, Union

import numpy as np
import sympy as sp

from . import ir
from .arrays import Env, evaluate, infer_shape, shape_text
from .autodiff import gradient
from .errors import JacobianError
from .limits import DEFAULT_LIMITS, Limits
from .functions import CONSTANTS, RESERVED
from .parser import check_name, parse
from .shapes import Shape, normalize_shapes, scalar_symbol, symbol_array
from .simplify import simplify_entry
from .tensor import JacobianResult, check_layout

ExprLike = Union[str, sp.Expr, ir.Node]


@dataclass
class Problem:
    """Parsed, checked input shared by Jacobians, chains and backprop."""

    components: list[ir.Node | sp.Expr]
    shapes: dict[str, Shape]
    lets: dict[str, ir.Node]
    let_order: list[str]
    limits: Limits

    def env(self) -> Env:
        """A fresh evaluation environment with the intermediates substituted."""
        env = Env(self.shapes)
        for name in self.let_order:
            env.values[name] = evaluate(self.lets[name], env)
        return env

    def let_shapes(self) -> dict[str, Shape]:
        shapes = dict(self.shapes)
        for name in self.let_order:
            shapes[name] = infer_shape(self.lets[name], shapes)
        return shapes

    def component_shapes(self) -> list[Shape]:
        shapes = self.let_shapes()
        return [infer_shape(c, shapes) if isinstance(c, ir.Node) else ()
                for c in self.components]

    def sources(self) -> list[str]:
        return [ir.to_source(c) if isinstance(c, ir.Node) else str(c)
                for c in self.components]

    def evaluate(self, env: Env | None = None) -> list[np.ndarray]:
        env = env or self.env()
        return [evaluate(c, env) if isinstance(c, ir.Node) else _scalar_array(c)
                for c in self.components]


def _scalar_array(expr: sp.Expr) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = expr
    return out


def prepare(of: ExprLike | Sequence[ExprLike], *, shapes: Mapping | None = None,
            lets: Mapping[str, ExprLike] | None = None,
            limits: Limits = DEFAULT_LIMITS) -> Problem:
    """Parse and validate the input of any computation."""
    shapes = normalize_shapes(shapes, limits)
    components = _components(of, limits)
    let_nodes = {_user_name(k, "intermediate name"): _one_node(v, k, limits)
                 for k, v in (lets or {}).items()}
    for name in let_nodes:
        if name in shapes:
            raise JacobianError(f"{name!r} is both declared with --shape and defined by --let")
    order = _let_order(let_nodes)
    _check_entry_names(components, let_nodes, shapes)
    problem = Problem(components, shapes, let_nodes, order, limits)
    problem.component_shapes()  # shape errors surface here, before any SymPy work
    return problem


def _user_name(name: str, what: str) -> str:
    """A name the user defines or differentiates by: not a function or a constant."""
    check_name(name, what)
    if name in RESERVED:
        kind = "constant" if name in CONSTANTS else "function"
        raise JacobianError(f"{name!r} is a built-in {kind} and cannot be used as {what}")
    return name


def _check_entry_names(components, lets, shapes) -> None:
    """Entry symbols are NAME_i_j: refuse names that would collide with them."""
    for name in shapes:
        if re.search(r"_\d+$", name):
            raise JacobianError(f"declared name {name!r} ends in '_<digits>', which would be "
                                "confused with entry names; choose another name")
    if not shapes:
        return
    pattern = re.compile(rf"(?:{'|'.join(map(re.escape, shapes))})(?:_\d+)+")
    used = set().union(*(ir.names(c) for c in components if isinstance(c, ir.Node)),
                       *(ir.names(n) for n in lets.values()))
    for name in sorted(used - set(shapes)):
        if pattern.fullmatch(name):
            raise JacobianError(f"{name!r} looks like an entry of a declared array; use the "
                                "array itself (entries are not separate variables)")


def _components(of, limits: Limits) -> list[ir.Node | sp.Expr]:
    items = [of] if isinstance(of, (str, sp.Basic, ir.Node)) else list(of)
    if not items:
        raise JacobianError("nothing to differentiate: no expression given")
    out: list[ir.Node | sp.Expr] = []
    for item in items:
        if isinstance(item, str):
            out.extend(parse(item, limits))
        elif isinstance(item, ir.Node):
            out.append(item)
        elif isinstance(item, sp.Basic):
            out.append(_realify(sp.sympify(item)))
        else:
            raise JacobianError(f"cannot differentiate a {type(item).__name__}; "
                                "pass a string or a SymPy expression")
    return out


def _realify(expr: sp.Basic) -> sp.Basic:
    """Use the calculator's real symbols for a user's SymPy expression."""
    return expr.xreplace({s: scalar_symbol(s.name) for s in expr.free_symbols
                          if isinstance(s, sp.Symbol)})


def _one_node(value: ExprLike, name: str, limits: Limits) -> ir.Node:
    if isinstance(value, ir.Node):
        return value
    if isinstance(value, sp.Basic):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise JacobianError(f"intermediate {name!r} has no definition")
    parts = parse(value, limits)
    if len(parts) != 1:
        raise JacobianError(f"intermediate {name!r} must be one expression, "
                            f"got {len(parts)} components")
    return parts[0]


def _let_order(lets: Mapping[str, ir.Node]) -> list[str]:
    """Topological order of intermediates; a cycle is an error naming it."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = in progress, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):]
            raise JacobianError("cyclic intermediates: " + " -> ".join(cycle))
        state[name] = 1
        for dep in sorted(ir.names(lets[name]) & set(lets)):
            visit(dep, path + [dep])
        state[name] = 2
        order.append(name)

    for name in lets:
        visit(name, [name])
    return order


# -- wrt resolution ---------------------------------------------------------------

def parse_wrt(wrt: str | Iterable | None) -> list[str] | None:
    """Normalise ``wrt`` ("x1,x2", a list of names or symbols) to a list of names."""
    if wrt is None:
        return None
    if isinstance(wrt, str):
        parts = [p.strip() for p in wrt.split(",")]
    elif isinstance(wrt, sp.Symbol):
        parts = [wrt.name]
    else:
        parts = [p.name if isinstance(p, sp.Symbol) else p for p in wrt]
    if not parts or any(not isinstance(p, str) or not p for p in parts):
        raise JacobianError(f"malformed --wrt list {wrt!r}: expected names like x1,x2")
    for p in parts:
        _user_name(p, "a --wrt name")
    seen = set()
    for p in parts:
        if p in seen:
            raise JacobianError(f"duplicate name {p!r} in --wrt")
        seen.add(p)
    return parts


def natural_key(name: str) -> list:
    """Sort key putting ``x2`` before ``x10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _default_wrt(problem: Problem, arrays: list[np.ndarray]) -> list[str]:
    names = set()
    for comp in problem.components:
        names |= ir.names(comp) if isinstance(comp, ir.Node) else {
            s.name for s in comp.free_symbols}
    for name in problem.let_order:
        names |= ir.names(problem.lets[name])
    names -= set(problem.lets)
    if not names:
        raise JacobianError("the expression has no variables to differentiate with respect to")
    return sorted(names, key=natural_key)


def _groups(names: list[str], problem: Problem) -> list[list[str]]:
    """Consecutive scalar names form one input vector; declared arrays stand alone."""
    groups: list[list[str]] = []
    used = set().union(*(ir.names(c) for c in problem.components if isinstance(c, ir.Node)),
                       *(ir.names(n) for n in problem.lets.values()))
    for name in names:
        if problem.shapes and name not in problem.shapes and name not in used:
            raise JacobianError(f"--wrt names {name!r}, which is neither declared with "
                                "--shape nor used in the expression",
                                hint=f"declare it, e.g. --shape {name}=2x3")
        if name in problem.lets:
            raise JacobianError(f"{name!r} is an intermediate (--let); differentiate with "
                                "respect to the variables it is made of")
        if name in problem.shapes:
            groups.append([name])
        elif groups and groups[-1][0] not in problem.shapes:
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


# -- building -----------------------------------------------------------------------

def jacobians(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
              layout: str = "numerator", shapes: Mapping | None = None,
              lets: Mapping[str, ExprLike] | None = None, simplify: bool = False,
              in_terms_of_output: bool = False,
              limits: Limits = DEFAULT_LIMITS) -> list[JacobianResult]:
    """One Jacobian per input group of ``wrt``; see :func:`jacobian`."""
    check_layout(layout)
    if parse_wrt(wrt) is not None:  # refuse an oversized request before evaluating
        check_request_size(of, wrt, shapes=shapes, lets=lets, limits=limits)
    problem = prepare(of, shapes=shapes, lets=lets, limits=limits)
    env = problem.env()
    arrays = problem.evaluate(env)
    names = parse_wrt(wrt) or _default_wrt(problem, arrays)
    results = []
    for group in _groups(names, problem):
        result = build(problem, arrays, group, limits, in_terms_of_output)
        if simplify:
            result = result.map(lambda e: simplify_entry(e, limits.simplify_seconds))
        results.append(result.with_layout(layout))
    return results


def jacobian(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable | None = None, *,
             layout: str = "numerator", shapes: Mapping | None = None,
             lets: Mapping[str, ExprLike] | None = None, simplify: bool = False,
             in_terms_of_output: bool = False,
             limits: Limits = DEFAULT_LIMITS) -> JacobianResult:
    """The explicit Jacobian of ``of`` with respect to ``wrt``.

    Parameters
    ----------
    of : str, SymPy expression, or a list of them
        ``"sin(x1-x2), cos(x1-x2)"`` is a vector with two components. With
        ``shapes``, matrix expressions such as ``"X@W + b"`` are allowed.
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
                        simplify=simplify, in_terms_of_output=in_terms_of_output,
                        limits=limits)
    if len(results) != 1:
        raise JacobianError(f"{len(results)} inputs given ({', '.join(r.wrt[0] for r in results)}); "
                            "use jacobians() for one Jacobian each")
    return results[0]


def _output_array(problem: Problem, arrays: list[np.ndarray], vector_input: bool) -> np.ndarray:
    if len(arrays) == 1 and (arrays[0].ndim > 0 or not vector_input):
        return arrays[0]
    bad = [s for s, a in zip(problem.sources(), arrays) if a.ndim > 0]
    if bad:
        raise JacobianError(f"a list of components must be scalars, but {bad[0]} is an array")
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a[()]
    return out


def _input_array(group: list[str], problem: Problem) -> np.ndarray:
    if group[0] in problem.shapes:
        return symbol_array(group[0], problem.shapes[group[0]])
    out = np.empty(len(group), dtype=object)
    for i, name in enumerate(group):
        out[i] = scalar_symbol(name)
    return out


def _check_size(out_shape: Shape, in_shape: Shape, limits: Limits) -> None:
    size = math.prod(out_shape) * math.prod(in_shape)
    if size > limits.max_entries:
        raise JacobianError(
            f"the Jacobian would have {size:,} entries (shape "
            f"{shape_text(out_shape + in_shape)}), over the limit of {limits.max_entries:,}",
            hint="raise it with --max-entries")


def check_request_size(of, wrt, *, shapes=None, lets=None, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse an oversized request from shapes alone, before any evaluation."""
    problem = prepare(of, shapes=shapes, lets=lets, limits=limits)
    names = parse_wrt(wrt)
    if names is None:
        return
    out_shapes = problem.component_shapes()
    for group in _groups(names, problem):
        declared = group[0] in problem.shapes
        out_shape = (out_shapes[0] if len(out_shapes) == 1 and (out_shapes[0] or declared)
                     else (len(out_shapes),))
        in_shape = problem.shapes[group[0]] if declared else (len(group),)
        _check_size(out_shape, in_shape, limits)


def build(problem: Problem, arrays: list[np.ndarray], group: list[str], limits: Limits,
           in_terms_of_output: bool) -> JacobianResult:
    """The Jacobian of already-evaluated output arrays w.r.t. one input group."""
    vector_input = group[0] not in problem.shapes
    out = _output_array(problem, arrays, vector_input)
    inputs = _input_array(group, problem)
    _check_size(out.shape, inputs.shape, limits)
    position = {s: i for i, s in np.ndenumerate(inputs)}
    wanted = set(position)
    entries: dict[tuple[int, ...], sp.Expr] = {}
    for out_index, expr in np.ndenumerate(out):
        for symbol, derivative in gradient(expr, wanted).items():
            entries[out_index + position[symbol]] = derivative
    result = JacobianResult(
        of=problem.sources(), wrt=list(group), out_shape=out.shape, in_shape=inputs.shape,
        entries=entries, out_name=_out_name(problem),
        in_name=group[0] if len(group) == 1 else "x",
        in_symbols=tuple(inputs.flat), warnings=_absent_warnings(group, out, problem))
    if in_terms_of_output:
        from .output_form import in_terms_of_output as rewrite
        result = rewrite(result, problem, group)
    return result


def _out_name(problem: Problem) -> str:
    if len(problem.components) == 1:
        source = problem.sources()[0]
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", source):
            return source
        return "Y" if isinstance(problem.components[0], ir.Node) and problem.component_shapes()[0] else "f"
    return "f"


def _absent_warnings(group: list[str], out: np.ndarray, problem: Problem) -> list[str]:
    present: set = set()
    for expr in out.flat:
        present |= {s.name for s in expr.free_symbols}
    messages = []
    for name in group:
        symbols = ({name} if name not in problem.shapes else
                   {s.name for s in symbol_array(name, problem.shapes[name]).flat})
        if not symbols & present:
            messages.append(f"{name} does not appear in the expression; "
                            "its derivatives are all zero")
    for message in messages:
        _warnings.warn(message, stacklevel=4)
    return messages
