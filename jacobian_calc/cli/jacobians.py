"""A Jacobian request: the Jacobians (and chain, values at a point) in one format."""

from __future__ import annotations

from .. import JacobianError, LimitError, budget, jacobians
from ..render import (check_size, chain_text, numeric_chain_text, numeric_text,
                      render_jacobian, text_length)
from .options import Request


def produce(req: Request) -> tuple[str, list[str], int]:
    results = jacobians(req.exprs, req.wrt, layout=req.layout, shapes=req.shapes,
                            lets=req.lets, functions=req.functions, simplify=req.simplify,
                            in_terms_of_output=req.in_terms_of_output, compact=req.compact,
                            index_form=req.index_form, limits=req.limits,
                            symmetric=req.symmetric)
    factored = _chain()(req.exprs, req.wrt or ",".join(results[0].wrt), lets=req.lets,
                         layout=req.layout, functions=req.functions,
                         limits=req.limits) if req.chain else None
    notes = list(dict.fromkeys(w for r in results for w in r.warnings))
    _check_symbolic(req, results)
    if req.at is not None:
        check_size(2 * sum(r.size for r in results), "the table of values")  # before computing
    values = [r.evaluate(req.at) for r in results] if req.at is not None else None
    if values is not None and factored is not None:  # --chain --at: every factor's values
        factored = (factored, [f.evaluate(req.at) for f in factored.factors])
    formatter = {"text": _text, "latex": _latex, "json": _json}[req.fmt]
    with budget.stage("printing"):
        text = formatter(req, results, factored, values)
    if req.spy:
        spy_jacobians(req, results)
    if req.claims:
        from .claims import attach  # noqa: PLC0415 - claims asked for
        text, code = attach(req, results, text, 0)
        return text, notes, code
    return text, notes, 0


def _check_symbolic(req: Request, results) -> None:
    """At symbolic sizes there are no entries: nothing to evaluate or plot."""
    if not any(r.symbolic for r in results):
        return
    for asked, option in ((req.at, "--at"), (req.spy, "--spy")):
        if asked:
            raise JacobianError(f"{option} needs concrete sizes (numbers in --shape); at "
                                "symbolic sizes the Jacobian is its index form")


def _text(req, results, factored, values) -> str:
    parts = []
    for i, J in enumerate(results):
        if values is None:
            parts.append(render_jacobian(J, full=req.full, flatten=req.flatten,
                                         shared=req.shared))
            if J.compact is not None:
                from ..render import compact_jacobian_text  # noqa: PLC0415
                parts[-1] += "\n\n" + compact_jacobian_text(J.compact)
        else:
            parts.append(numeric_text(J, values[i], req.at))
    if isinstance(factored, tuple):
        parts.append(numeric_chain_text(*factored, values[0], req.at))
    elif factored is not None:
        parts.append(chain_text(factored))
    return "\n\n".join(parts)


def _latex(req, results, factored, values) -> str:
    from ..render import numeric_to_latex, to_latex  # noqa: PLC0415 - LaTeX asked for
    if values is not None:
        if isinstance(factored, tuple):  # the factors' values, then the product's
            chain, factor_values = factored
            results, values = [*chain.factors, *results], [*factor_values, *values]
        return numeric_to_latex(results, values, at=req.at, **req.latex)
    size = text_length(e for J in results for e in J.entries.values())  # LaTeX is longer
    if size > req.limits.max_output:
        raise LimitError(f"the LaTeX would be over {size:,} characters long, over the limit of "
                         f"{req.limits.max_output:,}", limit="max_output",
                         hint="raise it with {{max_output}}, or use --format text or json, "
                              "which print shared subexpressions once")
    if factored is not None:  # the chain's equation ends with the direct Jacobian
        return to_latex(factored, flatten=req.flatten, **req.latex)
    return to_latex(results, flatten=req.flatten, **req.latex)


def _json(req, results, factored, values) -> str:
    from ..render import jacobians_document  # noqa: PLC0415 - JSON asked for
    chain, factor_values = factored if isinstance(factored, tuple) else (factored, None)
    doc = jacobians_document(results, flatten=req.flatten, chain=chain, values=values,
                             at=req.at, factor_values=factor_values, shared=req.shared)
    if any(J.compact is not None for J in results):
        from ..render import compact_jacobian_dict  # noqa: PLC0415
        for item, J in zip(doc["jacobians"], results):
            if J.compact is not None:
                item["compact"] = compact_jacobian_dict(J.compact)
    import json  # loaded by JSON output only, not at start-up

    return json.dumps(doc, indent=2, ensure_ascii=False)


def _chain():
    from .. import chain  # noqa: PLC0415 - --chain asked for
    return chain


def spy_jacobians(req: Request, results) -> None:
    from ..render import save_spy  # noqa: PLC0415 - matplotlib only when a plot is asked for
    save_spy(results, req.spy)
