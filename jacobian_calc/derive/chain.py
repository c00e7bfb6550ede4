"""The chain rule made visible: the factor Jacobians through the intermediates.

With ``y1 = a*w1``, ``y2 = y1 + b1`` and ``φ = y2**2``, the factors are
``∂φ/∂y2 · ∂y2/∂y1 · ∂y1/∂w1``. In general the intermediates are arranged
in levels (a level is one more than the deepest thing an intermediate uses);
each factor maps one level's frontier to the next, passing through, with an
identity row, any quantity that is needed later. Their product is checked
against the direct Jacobian.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping, Sequence

import sympy as sp

from ..core import budget
from ..core.errors import JacobianError, LimitError
from ..core.grid import Grid
from ..core.limits import DEFAULT_LIMITS, Limits
from ..core.tree import names as tree_names
from ..results.chain import ChainResult
from ..results.jacobian import JacobianResult, check_layout
from ..symbolic.autodiff import gradient
from ..symbolic.evaluate import Env, evaluate
from ..symbolic.measure import Measures, expanded_terms, replace_symbols
from ..symbolic.simplify import EXPAND_TERMS, is_zero
from ..symbolic.symbols import scalar_symbol
from ..symbolic.sympy_input import Reading, read
from .jacobian import jacobian
from .problem import ExprLike, parse_wrt, prepare


#: Products compared (and shown) expanded only up to this many nodes per entry, as trees:
#: nested intermediates make trees exponentially larger than the expressions in memory.
EXPAND_NODES = 2_000


@budget.entry_point
def chain(of: ExprLike | Sequence[ExprLike], wrt: str | Iterable, *,
          lets: Mapping, layout: str = "numerator", functions: Iterable[str] | None = None,
          limits: Limits = DEFAULT_LIMITS) -> ChainResult:
    """Factor the Jacobian of ``of`` through the intermediates ``lets``.

    Examples
    --------
    >>> c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
    >>> [f.tensor for f in c.factors]
    [Matrix([[2*y2]]), Matrix([[1]]), Matrix([[a]])]
    >>> c.agree
    True
    """
    check_layout(layout)
    if not lets:
        raise JacobianError("{{chain}} needs intermediates: define them with {{lets}}")
    problem = prepare(of, lets=lets, functions=functions)
    problem.check_forward()
    if problem.shapes:
        raise JacobianError("{{chain}} works with scalar intermediates; for arrays use "
                            "{{backprop}}, which names every step")
    names = parse_wrt(wrt)
    if names is None:
        raise JacobianError("{{chain}} needs {{wrt}}")
    direct = jacobian(of, names, lets=lets, functions=functions)
    deps = {n: tree_names(problem.lets[n]) for n in problem.let_order}
    out_deps = set().union(*(tree_names(c) for c in problem.components))
    level = _levels(problem.let_order, deps, names)
    top = 1 + max([level.get(d, -1) for d in out_deps] + [0])
    frontiers = _frontiers(names, problem.let_order, deps, out_deps, level, top)
    symbolic = _symbolic_definitions(problem, level)
    factors = []
    for d in range(top):
        rows, cols = frontiers[d + 1], frontiers[d]
        if d + 1 < top:
            exprs = [symbolic[r] if r in symbolic and level.get(r) == d + 1
                     else scalar_symbol(r) for r in rows]
        else:
            exprs = [g.item() for g in problem.evaluate(_symbol_env(problem, level))]
        factors.append(_factor(exprs, rows if d + 1 < top else None, cols))
    factors.reverse()
    defined = tuple((scalar_symbol(n), symbolic[n]) for n in problem.let_order if n in symbolic)
    variables = tuple(sorted(problem.used_names() - set(problem.lets)))
    factors = [replace(f, defined=defined, variables=variables) for f in factors]
    with budget.stage("checking the product of the factors"):
        product = _product(factors, problem)
        agree = _agree(product, direct.tensor)
    return ChainResult(direct.with_layout(layout), [f.with_layout(layout) for f in factors],
                       product if layout == "numerator" else product.T, bool(agree))


def _levels(order: list[str], deps: dict, wrt: list[str]) -> dict[str, int]:
    level = {n: 0 for n in wrt}
    for name in order:
        used = [level[d] for d in deps[name] if d in level]
        if used:
            level[name] = 1 + max(used)
    return level


def _frontiers(wrt, order, deps, out_deps, level, top) -> list[list[str]]:
    frontiers = [list(wrt)]
    for d in range(1, top):
        later = [deps[n] for n in order if level.get(n, -1) > d] + [out_deps]
        needed = set().union(*later)
        frontiers.append([n for n in list(wrt) + order
                          if n in level and level[n] <= d and n in needed])
    frontiers.append(["f"])
    return frontiers


def _symbol_env(problem, level) -> Env:
    """Intermediates that depend on ``wrt`` stay symbols; constant ones are substituted."""
    env = Env()
    for name in problem.let_order:
        if name not in level:
            env.values[name] = evaluate(problem.lets[name], env)
    return env


def _symbolic_definitions(problem, level) -> dict[str, sp.Expr]:
    env = _symbol_env(problem, level)
    return {n: evaluate(problem.lets[n], env).item() for n in problem.let_order if n in level}


def _factor(exprs, rows, cols) -> JacobianResult:
    inputs = [scalar_symbol(c) for c in cols]
    entries = {}
    for i, expr in enumerate(exprs):
        for symbol, d in gradient(expr, inputs).items():
            entries[(i, inputs.index(symbol))] = d
    out_name = "f" if rows is None else "y"
    reading = Reading()
    return JacobianResult(of=[str(e) for e in exprs],
                          of_trees=tuple(read(e, reading) for e in exprs), wrt=list(cols),
                          out_shape=(len(exprs),), in_shape=(len(cols),), entries=entries,
                          out_name=out_name, in_name="x", in_symbols=tuple(inputs),
                          out_labels=tuple(rows) if rows else ())


def _product(factors: list[JacobianResult], problem) -> sp.Matrix:
    env = problem.env()
    values = {scalar_symbol(n): env.values[n].item() for n in problem.let_order}
    product = None
    for f in factors:
        budget.check()
        m = f.tensor.applyfunc(lambda e: _substitute(e, values))
        product = m if product is None else product * m
    measures, terms = Measures(), {}
    if all(measures.size(e) <= EXPAND_NODES and expanded_terms(e, terms) <= EXPAND_TERMS
           for e in product):
        return product.applyfunc(sp.expand)
    return product


def _substitute(expr: sp.Expr, values: dict) -> sp.Expr:
    """The intermediates' definitions put in, each distinct subexpression once.

    ``subs``, not a plain replacement, where a derivative of an undefined
    function is taken with respect to an intermediate (``Derivative(L(y1), y1)``
    needs ``Subs``); those entries are small.
    """
    if any(isinstance(node, sp.Derivative) for node in Measures([expr]).keep):
        return expr.subs(values)
    return replace_symbols(expr, values)


def _agree(product: sp.Matrix, direct: sp.Matrix) -> bool:
    """Whether the product equals the direct Jacobian: symbolically where the entries
    are small enough to expand, else at random points."""
    measures = Measures()
    pairs = list(zip(product, direct))
    if all(measures.size(p) + measures.size(q) <= EXPAND_NODES for p, q in pairs):
        verdicts = [is_zero(p - q, budget.active_limits().simplify_seconds) for p, q in pairs]
        if all(v is True for v in verdicts):
            return True
    from ..symbolic.compare import compare  # noqa: PLC0415 - NumPy only when needed
    try:
        first, second = Grid((len(pairs),), [p for p, _ in pairs]), \
            Grid((len(pairs),), [q for _, q in pairs])
        return compare(first, second, symbolic=False).agree
    except JacobianError:  # an undefined function has no numeric value
        raise LimitError(f"the chain product has entries of about "
                         f"{max(measures.size(p) for p, _ in pairs):,} nodes (as trees), too "
                         "large to verify symbolically, and undefined functions cannot be "
                         "checked numerically", limit="max_nodes") from None


__all__ = ["chain", "ChainResult"]
