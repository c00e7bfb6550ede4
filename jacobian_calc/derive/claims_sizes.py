"""Claims at symbolic sizes: decided in index notation, for all sizes.

At sizes such as ``X=Nxd`` the entries cannot be written out one by one, so a
claim about a gradient or a named step is decided on one entry at symbolic
indices (:func:`~jacobian_calc.index.forms.entry_of`) with
:func:`~jacobian_calc.index.algebra.decide`:

* the shapes first, symbolically (``hxd, but dW is dxh; your formula is the
  transpose of dW``);
* then the entries: **proved** for all sizes; **refuted** with the reason a
  student can act on (the transpose, the opposite sign, a constant or size
  factor such as a missing ``1/N``), else where they differ, with the sizes;
* **undecided** when neither a proof nor a witness is found, or an operation
  has no index form (``det``, ``inv``): said plainly, never a verdict.
"""

from __future__ import annotations

import math

import sympy as sp

from ..core.errors import JacobianError
from ..core.grid import shape_text
from ..core.tree import Name, Node, names
from ..index import algebra as I
from ..index.forms import NoIndexFormError, entry_of, index_symbols, without_index_form
from ..symbolic.evaluate import infer_shape

#: The verdict when neither proved nor refuted.
CLAIM_UNDECIDED = "undecided"

_LETTERS = "klpq"


def symbolic(shapes) -> bool:
    """Whether any shape has a size named by a letter (``N``)."""
    return any(isinstance(d, str) for s in shapes.values() for d in s)


def decide_claim(verdict, target: str, tree: Node, context, onehot=(), concrete=None):
    """The verdict on ``target = tree`` at symbolic sizes (see the module); ``concrete``
    decides a claim at concrete sizes (``claims._decide``), for operations without an
    index form."""
    shapes = context.shapes
    jac = getattr(context, "jacobian", None)
    if jac is not None and target == "J_vec":  # vec flattens two indices into one
        missing = sorted(set(without_index_form(tree)) | set(without_index_form(jac[0]))
                         | {"vec"})
        return _instantiated(verdict, target, tree, context, missing, concrete)
    try:
        mine = tuple(infer_shape(tree, shapes))
    except JacobianError as exc:
        if without_index_form(tree):  # kron(), vec(): shapes of products of sizes (N*h)
            return _instantiated(verdict, target, tree, context, without_index_form(tree),
                                 concrete)
        return verdict.refuted(exc.message, "shape")
    want = tuple(shapes[target]) if target in shapes else \
        tuple(infer_shape(context.definitions[target], shapes))
    defs = context.definitions
    missing = sorted(set(without_index_form(tree)).union(
        *(without_index_form(defs[n]) for n in _used(target, tree, defs)),
        without_index_form(jac[0]) if jac and target == "J" else ()))
    if missing:
        return _instantiated(verdict, target, tree, context, missing, concrete)
    taken = set(shapes) | set(defs) | _dims(shapes)
    ix = index_symbols(_LETTERS, len(want), taken)
    ctx = I.Context(dict(zip(ix, (I.size(d) for d in want))), onehot)
    try:
        correct = _correct(target, ix, context)
        if mine != want:
            words = f"{_words(mine)}, but {target} is {_words(want)}"
            if len(mine) == 2 and mine[::-1] == want:
                flipped = entry_of(tree, ix[::-1], shapes, defs=defs)
                if I.decide(flipped, correct, ctx).verdict == I.PROVED:
                    return verdict.refuted(f"{words}; your formula is the transpose of {target}",
                                           "transpose")
            if len(mine) == len(want) and all(a in (1, b) for a, b in zip(mine, want)):
                pass  # broadcast to the target's shape: compared below
            else:
                return verdict.refuted(words, "shape")
        yours = entry_of(tree, _at(ix, mine, want), shapes, defs=defs)
    except NoIndexFormError as exc:
        return verdict.with_(CLAIM_UNDECIDED, f"{exc.message}: not decided at symbolic sizes")
    decision = I.decide(yours, correct, ctx)
    if decision.verdict == I.PROVED:
        return verdict.with_("proved", f"equal to {target} for all sizes")
    for c in _candidates(_dims(shapes), len(ix) == 2 and want[0] == want[1]):
        if c == "T":
            other = entry_of(tree, ix[::-1], shapes, defs=defs)
            if I.decide(other, correct, ctx).verdict == I.PROVED:
                return verdict.refuted(f"equals the transpose of {target}", "transpose")
        elif I.decide(yours, c * correct, ctx).verdict == I.PROVED:
            return _factor(verdict, c)
    if decision.verdict == I.DIFFERS:
        return _differs(verdict, decision.witness, ix)
    return verdict.with_(CLAIM_UNDECIDED, f"not proved for all sizes, and no size found where "
                         f"it differs from {target} ({decision.note})")


def _correct(target: str, ix: tuple, context) -> sp.Expr:
    """The entry of ``target`` at the indices ``ix``: a defined name's through its
    definition, a Jacobian's ``J`` its index form (the output's entry differentiated by
    the input's, in the layout's order of indices)."""
    jac = getattr(context, "jacobian", None)
    if jac is not None and target == "J":
        root, x, ys, xs, layout = jac
        out, mine = (ix[:len(ys)], ix[len(ys):]) if layout == "numerator" else \
            (ix[len(xs):], ix[:len(xs)])
        return I.derivative(entry_of(root, out, context.shapes, defs=context.definitions),
                            I.entry(x, mine))
    return entry_of(Name(target), ix, context.shapes, defs=context.definitions)


def _used(target: str, tree: Node, defs) -> set:
    """The defined names reached from ``target`` and ``tree``."""
    seen, todo = set(), [target, *names(tree)]
    while todo:
        n = todo.pop()
        if n in defs and n not in seen:
            seen.add(n)
            todo.extend(names(defs[n]))
    return seen


def _dims(shapes) -> set:
    return {d for s in shapes.values() for d in s if isinstance(d, str)}


def _words(shape) -> str:
    return "a scalar" if not shape else shape_text(shape)


def _at(ix, mine, want):
    return tuple(sp.Integer(1) if a == 1 and b != 1 else i for i, a, b in zip(ix, mine, want))


def _candidates(dims, square: bool):
    """The factors tried, most likely first: the transpose, the sign, the sizes (a missing
    ``1/N``), small numbers."""
    sizes = sorted({I.size(d) for d in dims}, key=str)
    out: list = ["T"] if square else []
    out.append(sp.Integer(-1))
    for s in sizes:
        out += [s, 1 / s, -s, -1 / s]
    for n in (2, 3, 4):
        out += [sp.Integer(n), sp.Rational(1, n), -sp.Integer(n), -sp.Rational(1, n)]
    return out


def _factor(verdict, c: sp.Expr):
    target = verdict.target
    if c == -1:
        return verdict.refuted(f"opposite sign: equals -{target}", "sign", factor="-1")
    a = -c if c.could_extract_minus_sign() else c
    sign = "-" if a is not c else ""
    num, den = sp.fraction(a)
    if den == 1:
        missing = f"a 1/{num} is missing"
    elif num == 1:
        missing = f"a factor {den} is missing"
    else:
        missing = f"a factor {den}/{num} is missing"
    if sign:
        missing = "the sign is flipped and " + missing
    shown = str(num) if den == 1 else f"{num}/{den}"
    return verdict.refuted(f"equals {target} times {sign}{shown}: {missing}", "factor",
                           factor=f"{sign}{shown}")


def _differs(verdict, witness, ix):
    target = verdict.target
    sizes = ", ".join(f"{k}={v}" for k, v in witness["sizes"].items())
    where = witness["indices"]
    at = ",".join(str(where.get(str(i), i)) for i in ix)
    label = target + (f"[{at}]" if at else "")
    yours, correct = float(witness["left"]), float(witness["right"])
    return verdict.refuted(f"differs at {label} when {sizes}: yours is {yours:.6g}, "
                           f"{target}'s is {correct:.6g} at a random point", "entry",
                           entry=(label, yours, correct))


def _instantiated(verdict, target: str, tree: Node, context, missing, concrete):
    """No index form: the claim decided at three size assignments, all sizes distinct
    within each; refuted at one of them, or agreeing at all (not proved)."""
    from dataclasses import replace  # noqa: PLC0415

    from .instantiate import (assignments, node_at, one_size_text, shape_at,  # noqa: PLC0415
                              shapes_at)
    dims = sorted(_dims(context.shapes))  # the same order every run (N, d, h)
    try:
        for sizes in assignments(dims):
            at = replace(context, shapes=shapes_at(context.shapes, sizes),
                         inputs=shapes_at(context.inputs, sizes),
                         definitions={n: node_at(t, sizes) for n, t in context.definitions.items()},
                         targets={n: None for n in context.targets})
            if getattr(context, "jacobian", None) is not None:  # J at these sizes
                root, x, ys, xs, layout = context.jacobian
                at = replace(at, jacobian=(node_at(root, sizes), x, shape_at(ys, sizes),
                                           shape_at(xs, sizes), layout))
                if target == "J_vec":
                    at.shapes["J_vec"] = (math.prod(at.jacobian[2]), math.prod(at.jacobian[3]))
            v = concrete(target, node_at(tree, sizes), verdict.claim, at)
            if v.refuted:
                return verdict.refuted(f"{v.reason} (when {one_size_text(sizes)})", v.kind,
                                       factor=v.factor, entry=v.entry)
            if v.verdict != "proved":
                raise JacobianError(v.reason)
    except JacobianError as exc:
        return verdict.with_(CLAIM_UNDECIDED, f"no index form for {', '.join(missing)}, and "
                             f"not decided at concrete sizes ({exc.message})")
    return verdict.with_("agrees", f"equal to {target} at 3 size assignments "
                         f"({'; '.join(one_size_text(a) for a in assignments(dims))}); no index "
                         f"form for {', '.join(missing)}, so not proved for all sizes")
