"""A backward step's compact rule, proved against its contraction for all sizes.

For a step ``Z = X @ W + b`` with upstream gradient ``dZ`` and the rule
``dW = X.T @ dZ``, the contraction is written in index notation and its
δs summed out, as the handwritten note does::

    dW[k,l] = Σ_i Σ_j dZ[i,j] X[i,k] δ[j,l] = Σ_i X[i,k] dZ[i,l] = (X.T @ dZ)[k,l]

and the last equality is decided by :func:`~jacobian_calc.index.algebra.decide`:
proved for every size, or a witness at a concrete size, or undecided. The
Jacobian ``∂Z[i,j]/∂W[k,l]`` comes from differentiating the step's entry
(:func:`~jacobian_calc.index.algebra.derivative`), never from the rule.

Use :func:`prove_step`; an expression with an operation that has no index form
(``det``, ``inv``, ``logdet``) gets the verdict ``"unavailable"`` and a note
naming them, to be checked at concrete sizes instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import sympy as sp

from ..core import dims as D
from ..core.errors import JacobianError
from ..core.grid import Shape, broadcast_shapes, shape_text
from ..core.tree import Call, Name, Node, names
from ..ops.text import to_source
from ..symbolic.evaluate import node_shapes
from . import algebra as I
from .forms import NoIndexFormError, entry_of, index_symbols, premises, without_index_form
from .printing import decimal, entry_tex, latex, size_latex, size_text, text

#: Verdicts: the three of :class:`~.algebra.Decision`, and no index form at all.
PROVED, DIFFERS, UNDECIDED, UNAVAILABLE = I.PROVED, I.DIFFERS, I.UNDECIDED, "unavailable"

OUT_LETTERS, TARGET_LETTERS = "ijmn", "klpq"


@dataclass(frozen=True)
class StepProof:
    """The verdict on one backward step, with its derivation.

    Attributes
    ----------
    verdict : str
        ``"proved"`` (for all sizes), ``"differs"`` (``witness`` says where),
        ``"undecided"`` or ``"unavailable"`` (an operation without index form).
    lines : tuple of str
        The derivation as text, first line with the gradient's name:
        ``("dW[k,l] = Σ_i Σ_j dZ[i,j] X[i,k] δ[j,l]", "= Σ_i X[i,k] dZ[i,l]",
        "= (X.T @ dZ)[k,l]")``.
    latex : tuple of str
        The same lines in LaTeX.
    note : str
        How the verdict was reached, in words.
    witness : dict
        For ``"differs"``: sizes, indices and both values.
    ranges : tuple of str
        The index ranges, ``("k = 1..d", "l = 1..h")``.
    index_form : SymPy expression or None
        The contraction with its δs summed out (the second line).
    indices : tuple
        The target's index symbols (``k, l``).
    """

    verdict: str
    lines: tuple[str, ...] = ()
    latex: tuple[str, ...] = ()
    note: str = ""
    witness: Mapping = field(default_factory=dict)
    ranges: tuple[str, ...] = ()
    index_form: sp.Expr | None = None
    indices: tuple = ()

    @property
    def proved(self) -> bool:
        """Proved for every size."""
        return self.verdict == PROVED

    @property
    def text(self) -> str:
        """The derivation on one line: ``dW[k,l] = ... = (X.T @ dZ)[k,l]``."""
        return " ".join(self.lines)


def prove_step(rule: Node, *, target: str, steps: Sequence[tuple[str, Node]],
               upstream: str | None, shapes: Mapping[str, Shape],
               onehot: Iterable[str] = (), accumulate: bool = False,
               at: Mapping[str, int] | None = None, shown: Node | None = None) -> StepProof:
    """Decide a backward step's compact rule against its contraction, for all sizes.

    Parameters
    ----------
    rule : Node
        The compact rule, in the steps' names (``X.T @ dZ``).
    target : str
        The input whose gradient it is (``W``).
    steps : sequence of (str, Node)
        The forward steps it goes back through, outermost first, as
        ``BackwardStep.through`` names them: ``[("Z", X @ W + b)]``, or
        ``[("L", -sum(T*log(P))/N), ("P", softmax(Z))]`` for a fused step.
    upstream : str or None
        The upstream gradient's name (``dZ``); ``None`` for a scalar output seeded with 1.
    shapes : mapping
        Shapes of every name (inputs, step outputs, the upstream gradient);
        dimensions are ``int`` or ``str`` (a size name).
    onehot : iterable of str
        Names whose rows (last axis) sum to 1.
    accumulate : bool
        Written ``dW +=`` (a further contribution).
    at : mapping, optional
        Sizes of the dimension names to write the derivation at (a request at
        concrete sizes restated at named ones): the verdict is still for all
        sizes, the lines read in the requested numbers.
    shown : Node, optional
        The rule as shown at those sizes (``(Z - T) / 32``), the last line's.

    Returns
    -------
    StepProof

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression as parse
    >>> shapes = {"X": ("N", "d"), "W": ("d", "h"), "b": ("h",), "Z": ("N", "h"),
    ...           "dZ": ("N", "h")}
    >>> p = prove_step(parse("X.T @ dZ"), target="W", steps=[("Z", parse("X @ W + b"))],
    ...                upstream="dZ", shapes=shapes)
    >>> p.verdict
    'proved'
    >>> print(p.text)
    dW[k,l] = Σ_i Σ_j dZ[i,j] X[i,k] δ[j,l] = Σ_i X[i,k] dZ[i,l] = (X.T @ dZ)[k,l]
    """
    top, expr = steps[0]
    missing = sorted(set().union(*(without_index_form(e) for _, e in steps),
                                 without_index_form(rule)))
    if missing:
        return StepProof(UNAVAILABLE, note=f"no index form for {', '.join(missing)}; "
                                           "check at concrete sizes")
    shapes = dict(shapes)
    misfit = _misfit(rule, shapes, target)
    if misfit:
        return StepProof(DIFFERS, note=misfit)
    for name, e in steps:
        if name in names(e):
            raise JacobianError(f"the step {name} = {to_source(e)} uses its own name")
    taken = set().union(*(names(e) for _, e in steps), names(rule), [top, target],
                        _sizes_in_indices(shapes, [rule, *(e for _, e in steps)]))
    out = index_symbols(OUT_LETTERS, len(shapes[top]), taken)
    mine = index_symbols(TARGET_LETTERS, len(shapes.get(target, ())), taken | {str(s) for s in out})
    inner = {name: e for name, e in steps[1:]}
    defs = {name: e for name, e in steps}
    try:
        y = entry_of(expr, out, shapes, defs=inner)
        compact = _rule_entry(rule, mine, shapes, shapes.get(target, ()), defs)
    except NoIndexFormError as error:
        return StepProof(UNAVAILABLE, note=str(error))
    try:
        jac = I.derivative(y, I.entry(target, mine))
    except NotImplementedError as error:
        return StepProof(UNAVAILABLE, note=str(error))
    sizes = [I.size(d) for d in shapes[top]]
    g = I.entry(upstream, out) if upstream else sp.S.One
    contraction = I.summation(g * jac, *zip(out, sizes))
    found = [*shapes.values(), *(s for _, e in steps for s in node_shapes(e, shapes).values())]
    ctx = I.Context(dict(zip(mine, (I.size(d) for d in shapes.get(target, ())))), onehot,
                    premises(found))
    decision = I.decide(contraction, compact, ctx)
    return _proof(decision, ctx, locals())


def _sizes_in_indices(shapes: Mapping[str, Shape], nodes) -> set[str]:
    """The dimension names, where sizes are expressions of them (``n - k + 1``): they are
    then written in indices and brackets (``[1 ≤ l + 1 − m ≤ n − k + 1]``), and no index
    may be called ``k`` too."""
    found = [*shapes.values(), *(s for node in nodes for s in node_shapes(node, shapes).values())]
    if not premises(found):
        return set()
    return {n for s in found for d in s for n in D.names_of(d)}


def prove_backward(step, forward: Sequence, shapes: Mapping[str, Shape],
                   onehot: Iterable[str] = ()) -> StepProof:
    """:func:`prove_step` for a ``BackwardStep`` of a backprop result.

    Parameters
    ----------
    step : BackwardStep
        ``.tree``, ``.target``, ``.through``, ``.upstream`` (``"1"`` for the
        scalar output) and ``.accumulate`` are read.
    forward : sequence of ForwardStep
        The forward steps (``.name`` and ``.expr``), e.g. ``result.steps``.
    shapes : mapping
        Shapes of every name, e.g. ``result.shapes`` (gradients ``dZ`` have the
        shape of ``Z`` where not given).
    onehot : iterable of str
        One-hot targets, e.g. ``result.onehot``.

    Examples
    --------
    >>> from jacobian_calc import backprop
    >>> r = backprop("sum(tanh(X@W + b))", "W", shapes={"X": (4, 3), "W": (3, 2), "b": 2})
    >>> [prove_backward(s, r.steps, r.shapes).verdict for s in r.backward]
    ['proved', 'proved', 'proved']
    """
    by_name = {s.name: s for s in forward}
    shapes = dict(shapes)
    for s in forward:
        shapes.setdefault(s.name, s.shape)
        shapes.setdefault(f"d{s.name}", s.shape)
    upstream = None if step.upstream == "1" else step.upstream
    return prove_step(step.tree, target=step.target,
                      steps=[(n, by_name[n].expr) for n in step.through], upstream=upstream,
                      shapes=shapes, onehot=onehot, accumulate=step.accumulate)


def _misfit(rule: Node, shapes: Mapping, target: str) -> str | None:
    """Why the rule cannot be the target's gradient by its shape alone, if it cannot."""
    want = tuple(shapes.get(target, ()))
    try:
        shape = node_shapes(rule, shapes)[rule]
        broadcast_shapes(shape, want)
    except (JacobianError, ValueError) as error:
        if isinstance(error, JacobianError):
            return f"the rule is not well-shaped: {error}"
        shape = node_shapes(rule, shapes)[rule]
    else:
        if len(shape) <= len(want) and broadcast_shapes(shape, want) == want:
            return None
    return f"the rule has shape {shape_text(shape)}, the gradient of {target} {shape_text(want)}"


def _rule_entry(rule: Node, mine: tuple, shapes: Mapping, target_shape, defs) -> sp.Expr:
    """The rule's entry at the target's indices (a rule broadcast to the target's shape
    is read as NumPy broadcasts it)."""
    shape = node_shapes(rule, shapes)[rule]
    own = mine[len(mine) - len(shape):] if shape else ()
    at = tuple(sp.Integer(1) if d == 1 and t != 1 else a
               for a, d, t in zip(own, shape, target_shape[len(target_shape) - len(shape):]))
    return entry_of(rule, at, shapes, defs=defs)


def _proof(decision: I.Decision, ctx: I.Context, v: dict) -> StepProof:
    out, mine, target, upstream = v["out"], v["mine"], v["target"], v["upstream"]
    taken = {str(s) for s in mine} | v["taken"]
    order = out + mine
    own = {v["y"]: I.entry(v["top"], out)} if out else {v["y"]: sp.Symbol(v["top"])}
    raw_jac, raw_summed = (v[k].xreplace(own) for k in ("jac", "contraction"))  # tanh(..) -> y
    try:
        jac = _readable(I.eliminated(raw_jac, ctx, taken | {str(s) for s in out}))
        summed = _readable(I.eliminated(raw_summed, ctx, taken))
    except I.TooLarge:  # shown as differentiated, not multiplied out
        jac, summed = v["jac"], v["contraction"]
    numbers = {I.size(d): sp.Integer(n) for d, n in (v["at"] or {}).items()}
    if numbers:  # read at the requested sizes: 2 (Z - T) / (N K) -> (Z - T) / 32
        jac, summed = (_at_sizes(e, numbers) for e in (jac, summed))
    if v["shown"] is not None:
        v = {**v, "rule": v["shown"]}
    lhs = f"d{target}{_brackets(mine)} {'+=' if v['accumulate'] else '='}"
    sums = "".join(f"Σ_{s} " for s in out)
    head = f"{upstream}{_brackets(out)} " if upstream else ""
    factor = _factor_text(jac, order) if upstream else text(jac, order)
    if head and factor.startswith("1 / "):  # dmu / n, not dmu 1 / n
        head, factor = head.rstrip(), factor[1:]
    rule = to_source(v["rule"])
    rule = rule if _atomic(v["rule"]) else f"({rule})"
    first = (upstream,) if upstream else ()  # dY[k,l] Y[k,l], as the lectures write it
    rhs = _distinct([f"{sums}{head}{factor}", text(summed, mine, first),
                     f"{rule}{_brackets(mine)}"])
    lines = [f"{lhs} {rhs[0]}"] + [f"= {r}" for r in rhs[1:]]
    tex_sums = "".join(rf"\sum_{{{s}=1}}^{{{size_latex(I.size(d).subs(numbers))}}} "
                       for s, d in zip(out, v["shapes"][v["top"]]))
    tex_head = f"{_tex_entry(upstream, out)} " if upstream else ""
    sign = r"\mathrel{+}=" if v["accumulate"] else "="
    tex_factor = _factor_tex(jac, order) if upstream else latex(jac, order)
    tex_rhs = _distinct([f"{tex_sums}{tex_head}{tex_factor}", latex(summed, mine, first)])
    tex = [rf"{_tex_entry('d' + target, mine)} {sign} {tex_rhs[0]}"] + \
        [f"= {r}" for r in tex_rhs[1:]]
    ranges = tuple(f"{s} = 1..{size_text(I.size(d).subs(numbers))}"
                   for s, d in zip(mine, v["shapes"].get(target, ())))
    return StepProof(decision.verdict, tuple(lines), tuple(tex), decision.note,
                     decision.witness, ranges, summed, tuple(mine))


def _distinct(sides: list[str]) -> list[str]:
    """The right-hand sides of a chain of equalities without a side that repeats the one
    before it (``dx[k] = Σ_i dc[i] δ[i,k] = dc[k]``, not ``... = dc[k] = dc[k]``)."""
    return [s for n, s in enumerate(sides) if n == 0 or s != sides[n - 1]]


def _at_sizes(e: sp.Expr, numbers: dict) -> sp.Expr:
    """``e`` with the requested sizes put in, its numbers gathered where that reads
    shorter (``2 Z / 32 - 2 T / 32`` -> ``(Z - T) / 16``, but not ``0.79 + 0.11 x**2``
    -> ``997355701 (200000 + 26829 x**2) / 250000000000000``)."""
    at = e.subs(numbers)
    if at == e:
        return e
    gathered = sp.factor_terms(at)
    return gathered if len(text(gathered)) <= len(text(at)) else at


def _readable(e: sp.Expr) -> sp.Expr:
    """Typed decimals kept as typed: ``0.79 + 0.11 x**2`` rather than the normal form's
    ``3.9e-6 (200000 + 26829 x**2)``, where multiplying out reads shorter."""
    if not any(decimal(r) for r in e.atoms(sp.Rational)):
        return e
    spread = sp.expand(e)
    return spread if len(text(spread)) < len(text(e)) else e


def _atomic(node: Node) -> bool:
    """A name, or a call written ``name(...)``: no parentheses before ``[k,l]``."""
    from ..ops import get  # noqa: PLC0415
    return isinstance(node, Name) or (isinstance(node, Call) and get(node.op).callable_by_name)


def _factor_text(e: sp.Expr, order) -> str:
    body = text(e, order)
    return f"({body})" if isinstance(e, sp.Add) or e.could_extract_minus_sign() else body


def _factor_tex(e: sp.Expr, order) -> str:
    """The Jacobian's entry after the upstream factor, in parentheses as in the text."""
    body = latex(e, order)
    return rf"\left({body}\right)" if isinstance(e, sp.Add) or e.could_extract_minus_sign() \
        else body


def _brackets(indices) -> str:
    return f"[{','.join(str(s) for s in indices)}]" if indices else ""


def _tex_entry(name: str, indices) -> str:
    return entry_tex(name, [str(s) for s in indices])
