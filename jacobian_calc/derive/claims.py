"""Check my answer: a student's formula, proved or refuted against the calculator's result.

A claim is ``NAME = FORMULA`` in the calculator's language (``dW = dY.T @ X``),
read by the same allow-list parser as every expression. ``NAME`` is what the
claim is about: a gradient (``dW``) or a backward or forward step of a
backprop result, the Jacobian ``J`` of a Jacobian result, the Hessian ``H``
of a Hessian result. ``FORMULA`` may use the request's names: its inputs, the
named steps, the upstream gradient, the gradients, the output's name (``p``
for a softmax).

Both sides are written out entry by entry in the inputs' entries (every step
and gradient substituted) and compared exactly:

* **proved**: every entry equal (symbolically);
* **refuted**, with the reason a student can act on: the shape (and whether
  the formula is the transpose), a constant factor (``a 1/4 is missing``),
  the opposite sign, or the first differing entry with both values at a
  random point; a formula whose shapes do not fit is refuted with the clash;
* **agrees**: equal at random points, not proved in the time allowed.

At symbolic sizes (``X=Nxd``) a claim is decided on one entry in index
notation, for all sizes (:mod:`.claims_sizes`); **undecided** is said plainly
when neither a proof nor a differing size is found.

An unknown name, a formula that does not parse, or a left-hand side that
names nothing is an error (:class:`JacobianError`), never a verdict.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable

import sympy as sp

from ..core.errors import JacobianError
from ..core.grid import Grid, shape_text
from ..core.names import suggest
from ..core.tree import Call, Name, Node, names, substitute
from ..ops import get
from ..ops.text import to_source
from ..parsing import parse_expression
from ..results.backprop import AGREES, PROVED, BackpropResult
from ..results.base import Result, printer
from ..results.hessian import HessianResult
from ..results.jacobian import JacobianResult
from ..symbolic.evaluate import Env, evaluate, infer_shape
from .claims_sizes import CLAIM_UNDECIDED, decide_claim, symbolic
from .hessian_compact import decide

#: Verdicts of a claim.
CLAIM_PROVED, CLAIM_REFUTED, CLAIM_AGREES = "proved", "refuted", "agrees"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ClaimVerdict:
    """The verdict on one claim.

    Attributes
    ----------
    claim : str
        The claim as given, tidied: ``dW = dY.T @ X``.
    target : str
        What it is about (``dW``, ``J``, ``H``).
    formula : str
        Its right-hand side, as parsed.
    verdict : str
        ``"proved"``, ``"refuted"``, ``"agrees"`` (numerically, not proved) or
        ``"undecided"`` (at symbolic sizes: neither proved nor refuted).
    reason : str
        Why, in words (``2x3, but dW is 3x2; your formula is the transpose of dW``).
    kind : str
        What was wrong, for a refuted claim: ``"shape"``, ``"transpose"``,
        ``"factor"``, ``"sign"``, ``"entry"``; ``""`` otherwise.
    factor : str
        The constant factor the formula is off by (``"4"``), where that is the reason.
    entry : tuple or None
        ``(label, yours, correct)``: the first differing entry and both values at
        a random point (floats), where that is the reason.
    """

    claim: str
    target: str
    formula: str
    verdict: str
    reason: str
    kind: str = ""
    factor: str = ""
    entry: tuple | None = None

    @property
    def refuted(self) -> bool:
        return self.verdict == CLAIM_REFUTED

    @property
    def line(self) -> str:
        """One line: ``refuted  dW = dY.T @ X: 2x3, but dW is 3x2; ...``."""
        return f"{self.verdict:<8} {self.claim}: {self.reason}"

    def __str__(self) -> str:
        return self.line

    def to_dict(self) -> dict:
        out = {"claim": self.claim, "target": self.target, "formula": self.formula,
               "verdict": self.verdict, "reason": self.reason, "kind": self.kind}
        if self.factor:
            out["factor"] = self.factor
        if self.entry is not None:
            out["entry"] = {"label": self.entry[0], "yours": self.entry[1],
                            "correct": self.entry[2]}
        return out


@dataclass
class _Context:
    """What claims about one result may name, and what they are compared with."""

    shapes: dict            # every name a formula may use -> its shape
    inputs: dict            # the names entries are written in -> shape
    definitions: dict       # step / gradient / output name -> tree (in other names)
    targets: dict           # name -> Grid of the correct entries (in the inputs' entries)
    kinds: str              # what the left-hand side may name, for messages
    onehot: tuple = ()      # one-hot names (rows sum to 1), for symbolic sizes
    jacobian: tuple | None = None  # (tree, wrt, out shape, in shape, layout) of a Jacobian


def check_claims(result, claims: str | Iterable[str]) -> list[ClaimVerdict]:
    """Decide each claim about ``result``: proved, refuted (and why), or agrees.

    Parameters
    ----------
    result : JacobianResult, BackpropResult or HessianResult
        The calculator's own answer.
    claims : str or iterable of str
        ``"dW = X.T @ dY"`` or several.

    Returns
    -------
    list of ClaimVerdict
        One per claim, in order.

    Raises
    ------
    JacobianError
        A claim that does not parse, uses an unknown name, or whose left-hand
        side names nothing that was computed.

    Examples
    --------
    >>> from jacobian_calc import backprop
    >>> r = backprop("X@W + b", "W", shapes={"X": (4, 3), "W": (3, 2), "b": 2})
    >>> [v.line for v in check_claims(r, ["dW = X.T @ dY", "dW = dY.T @ X"])]  # doctest: +NORMALIZE_WHITESPACE
    ['proved   dW = X.T @ dY: equal to dW, entry by entry',
     'refuted  dW = dY.T @ X: 2x3, but dW is 3x2; your formula is the transpose of dW']
    """
    items = [claims] if isinstance(claims, str) else list(claims)
    if not all(isinstance(c, str) for c in items):
        raise JacobianError("claims are text, such as \"dW = X.T @ dY\"")
    context = _context(result)
    parsed = [_parse(text, context) for text in items]  # every error before any verdict
    return [_decide(target, tree, text, context) for target, tree, text in parsed]


# -- contexts ---------------------------------------------------------------------------------

def _context(result) -> _Context:
    if isinstance(result, BackpropResult):
        return _backprop_context(result)
    if isinstance(result, JacobianResult):
        return _jacobian_context(result)
    if isinstance(result, HessianResult):
        return _hessian_context(result)
    if isinstance(result, list) and len(result) == 1:
        return _context(result[0])
    if isinstance(result, list):
        raise JacobianError(f"claims about a Jacobian need one input; {len(result)} were given "
                            "(ask for one with {{wrt}})")
    raise JacobianError("claims are checked against one result of jacobian(), backprop() "
                        f"or hessian(), not {type(result).__name__}")


def _backprop_context(r: BackpropResult) -> _Context:
    shapes = {n: tuple(s) for n, s in r.shapes.items()}
    steps = {s.name for s in r.steps}
    definitions: dict[str, Node] = {s.name: s.expr for s in r.steps}
    totals: dict[str, list[Node]] = {}
    for b in r.backward:
        totals.setdefault(b.name, []).append(b.tree)
    for name, trees in totals.items():
        definitions[name] = trees[0] if len(trees) == 1 else Call("add", tuple(trees))
    for g in r.gradients.values():
        definitions[g.name] = g.tree
        shapes.setdefault(g.name, tuple(g.shape))
    inputs = {n: s for n, s in shapes.items() if n not in definitions}
    targets = {}
    for g in r.gradients.values():
        if g.explicit is not None:
            targets[g.name] = g.explicit
    for name in list(definitions):
        if name not in targets:
            targets[name] = None  # computed from its definition when claimed
    kinds = "a gradient (" + ", ".join(g.name for g in r.gradients.values()) + ")" + (
        ", a backward step" if len(totals) > len(r.gradients) else "") + \
        (", a forward step (" + ", ".join(sorted(steps)) + ")" if steps else "")
    return _Context(shapes, inputs, definitions, targets, kinds, tuple(r.onehot or ()))


def _jacobian_context(J: JacobianResult) -> _Context:
    variables = set(J.variables) | set(J.arrays)
    shapes = {n: tuple(J.arrays.get(n, ())) for n in variables}
    definitions: dict[str, Node] = {}
    tree = getattr(J, "tree", None)
    if tree is not None:
        for name in _output_names(J, tree):
            if name not in shapes:
                definitions[name] = tree
                shapes[name] = infer_shape(tree, shapes)
    inputs = {n: s for n, s in shapes.items() if n not in definitions}
    if "J" in inputs:
        raise JacobianError("J is an input here; claims about the Jacobian call it J")
    shapes["J"] = tuple(J.shape)
    if J.symbolic:  # no entries: J is its index form, J_vec is decided at sizes
        return _symbolic_jacobian_context(J, tree, shapes, inputs, definitions)
    targets = {"J": J.as_grid()}
    if len(J.out_shape) == 2 or len(J.in_shape) == 2:  # a matrix Jacobian: its vec form too
        if "J_vec" in inputs:
            raise JacobianError("J_vec is an input here; claims about the vec form call it J_vec")
        targets["J_vec"] = vec_jacobian(J)
        shapes["J_vec"] = targets["J_vec"].shape
    kinds = "J (the Jacobian)" + (", J_vec (its vec form, columns stacked)"
                                  if "J_vec" in targets else "")
    return _Context(shapes, inputs, definitions, targets, kinds)


def _symbolic_jacobian_context(J: JacobianResult, tree, shapes, inputs, definitions) -> _Context:
    """Claims about a Jacobian at symbolic sizes: ``J`` is decided against its index form
    (:mod:`.claims_sizes`), ``J_vec`` at 3 size assignments."""
    if tree is None or len(J.wrt) != 1:
        raise JacobianError("claims about a Jacobian at symbolic sizes need one expression "
                            "and one variable")
    targets: dict = {"J": None}
    if len(J.out_shape) == 2 or len(J.in_shape) == 2:
        if "J_vec" in inputs:
            raise JacobianError("J_vec is an input here; claims about the vec form call it J_vec")
        targets["J_vec"] = None
        shapes["J_vec"] = ()  # flattened sizes (N*h) have no shape of their own here
    kinds = "J (the Jacobian)" + (", J_vec (its vec form, columns stacked)"
                                  if "J_vec" in targets else "")
    jac = (tree, J.wrt[0], tuple(J.out_shape), tuple(J.in_shape), J.layout)
    return _Context(shapes, inputs, definitions, targets, kinds, jacobian=jac)


def vec_jacobian(J: JacobianResult) -> Grid:
    """``J_vec`` with ``vec(dY) = J_vec @ vec(dW)``: the Jacobian's entries with the output's
    and the input's indices each flattened column-major (vec stacks columns)."""
    from .compact_jacobian import column_major  # noqa: PLC0415
    rows, cols = math.prod(J.out_shape), math.prod(J.in_shape)
    flat = [sp.Integer(0)] * (rows * cols)
    k = len(J.out_shape)
    for index, value in J.entries.items():
        r, c = column_major(index[:k], J.out_shape), column_major(index[k:], J.in_shape)
        flat[r * cols + c] = value
    return Grid((rows, cols), flat)


def _output_names(J: JacobianResult, tree: Node) -> list[str]:
    found = [J.out_name]
    if isinstance(tree, Call) and get(tree.op).output_name:  # Op.output_name
        name = get(tree.op).output_name
        found.append(name if len(J.out_shape) < 2 else name.upper())
    if J.compact is not None:
        found += [name for name, _, _ in J.compact.where]
    return list(dict.fromkeys(found))


def _hessian_context(H: HessianResult) -> _Context:
    shapes = {n: tuple(H.arrays.get(n, ())) for n in set(H.names) | set(H.arrays)}
    definitions: dict[str, Node] = {}
    if H.tree is not None and H.out_name not in shapes:
        definitions[H.out_name] = H.tree
        shapes[H.out_name] = tuple(H.out_shape)
    for name, tree, _ in H.compact.where:
        if name not in shapes:
            definitions[name] = tree
            shapes[name] = infer_shape(tree, {**shapes})
    inputs = {n: s for n, s in shapes.items() if n not in definitions}
    if "H" in inputs:
        raise JacobianError("H is an input here; claims about the Hessian call it H")
    if len(H.variables) != 1:
        raise JacobianError("claims about a Hessian of several variables are not supported: "
                            "ask for one variable")
    block = H.block(H.variables[0].name)
    shapes["H"] = tuple(block.shape)
    return _Context(shapes, inputs, definitions, {"H": block.as_grid()}, "H (the Hessian)")


# -- parsing ------------------------------------------------------------------------------------

def _parse(text: str, context: _Context) -> tuple[str, Node, str]:
    left, sep, right = text.partition("=")
    left = left.strip()
    if not sep or not right.strip():
        raise JacobianError(f"a claim is NAME = FORMULA, such as \"dW = X.T @ dY\"; got "
                            f"{text.strip()[:60]!r}")
    if not _NAME.fullmatch(left):
        raise JacobianError(f"the left side of the claim {text.strip()[:60]!r} must name what "
                            f"it is about: {context.kinds}")
    if left not in context.targets:
        known = sorted(context.targets)
        raise JacobianError(f"the claim {text.strip()[:60]!r} is about {left!r}, which names "
                            f"nothing computed here{suggest(left, set(known))}; a claim is about "
                            f"{context.kinds}")
    tree = parse_expression(right.strip())  # within the request's limits
    allowed = set(context.shapes) - {"J", "J_vec", "H", left}  # never the answer itself
    allowed |= {d for s in context.shapes.values() for d in s if isinstance(d, str)}  # sizes
    unknown = sorted(names(tree) - allowed)
    if unknown:
        raise JacobianError(f"unknown name {unknown[0]!r} in the claim {text.strip()[:60]!r}"
                            f"{suggest(unknown[0], allowed)}")
    return left, tree, f"{left} = {' '.join(right.split())}"


# -- deciding -----------------------------------------------------------------------------------

def _decide(target: str, tree: Node, claim: str, context: _Context) -> ClaimVerdict:
    verdict = _Verdict(claim, target, to_source(tree))
    if symbolic(context.shapes):
        return decide_claim(verdict, target, tree, context, context.onehot, _decide)
    try:
        infer_shape(tree, context.shapes)
    except JacobianError as exc:
        return verdict.refuted(exc.message, "shape")
    correct = _correct(target, context)
    yours = evaluate(substitute(tree, context.definitions), Env(context.inputs))
    if yours.shape != correct.shape:
        if yours.size == correct.size and 1 in (yours.ndim, correct.ndim) and \
                max(yours.ndim, correct.ndim) <= 2 and min(yours.ndim, correct.ndim) >= 1:
            yours = yours.reshape(correct.shape)  # a row or a column of the same entries
        else:
            return _wrong_shape(verdict, yours, correct)
    check = _compare(target, correct, yours)
    if check.verdict == PROVED:
        return verdict.with_(CLAIM_PROVED, f"equal to {target}, entry by entry")
    if check.verdict == AGREES:
        return verdict.with_(CLAIM_AGREES, f"equal to {target} at random points, not proved "
                                           f"({check.how})")
    return _why(verdict, correct, yours, check)


class _Verdict:
    def __init__(self, claim: str, target: str, formula: str) -> None:
        self.claim, self.target, self.formula = claim, target, formula

    def with_(self, verdict: str, reason: str, kind: str = "", **extra) -> ClaimVerdict:
        return ClaimVerdict(self.claim, self.target, self.formula, verdict, reason, kind,
                            **extra)

    def refuted(self, reason: str, kind: str, **extra) -> ClaimVerdict:
        return self.with_(CLAIM_REFUTED, reason, kind, **extra)


def _correct(target: str, context: _Context) -> Grid:
    grid = context.targets.get(target)
    if grid is None and context.jacobian is not None and target in ("J", "J_vec"):
        grid = _jacobian_at(target, context)
    if grid is None:
        grid = evaluate(substitute(Name(target), context.definitions), Env(context.inputs))
    return grid


def _jacobian_at(target: str, context: _Context) -> Grid:
    """``J`` or ``J_vec`` of a Jacobian stated at symbolic sizes, at one concrete size
    assignment (``context.jacobian`` with numbers for the sizes)."""
    from .jacobian import jacobian  # noqa: PLC0415
    tree, x, _, _, layout = context.jacobian
    shapes = {n: s for n, s in context.inputs.items() if n in names(tree) | {x}}
    J = jacobian(to_source(tree), wrt=x, shapes=shapes, layout=layout)
    return J.as_grid() if target == "J" else vec_jacobian(J.with_layout("numerator"))


def _shape_words(grid: Grid) -> str:
    return "a scalar" if grid.ndim == 0 else shape_text(grid.shape)


def _wrong_shape(verdict: _Verdict, yours: Grid, correct: Grid) -> ClaimVerdict:
    target = verdict.target
    reason = f"{_shape_words(yours)}, but {target} is {_shape_words(correct)}"
    if yours.ndim == 2 and yours.shape[::-1] == correct.shape and \
            _compare(target, correct, yours.T).verdict in (PROVED, AGREES):
        return verdict.refuted(reason + f"; your formula is the transpose of {target}",
                               "transpose")
    return verdict.refuted(reason, "shape")


def _compare(target: str, correct: Grid, yours: Grid):
    pairs, labels = [], []
    for index, value in correct.items():
        pairs.append((sp.sympify(value), sp.sympify(yours[index])))
        labels.append(_label(target, index))
    return decide(pairs, labels)


def _label(target: str, index: tuple[int, ...]) -> str:
    return target + ("[" + ",".join(str(i + 1) for i in index) + "]" if index else "")


def _why(verdict: _Verdict, correct: Grid, yours: Grid, check) -> ClaimVerdict:
    target = verdict.target
    if correct.ndim == 2 and correct.shape[0] == correct.shape[1] and \
            _compare(target, correct, yours.T).verdict in (PROVED, AGREES):
        return verdict.refuted(f"equals the transpose of {target}", "transpose")
    factor = _factor(correct, yours)
    if factor is not None and _compare(target, correct.map(lambda e: factor * e),
                                       yours).verdict in (PROVED, AGREES):
        return _factor_verdict(verdict, factor)
    return _first_entry(verdict, correct, yours, check)


def _factor(correct: Grid, yours: Grid) -> sp.Rational | None:
    """The number ``c`` with ``yours == c * correct``, read off the first non-zero entry."""
    for x, y in zip(correct.flat, yours.flat):
        x, y = sp.sympify(x), sp.sympify(y)
        if x != 0:
            c = sp.cancel(sp.together(y / x))
            if c.is_Rational and c != 1:
                return c
            return None
    return None


def _factor_verdict(verdict: _Verdict, c: sp.Rational) -> ClaimVerdict:
    target = verdict.target
    if c == -1:
        return verdict.refuted(f"opposite sign: equals -{target}", "sign", factor="-1")
    if c == 0:
        return verdict.refuted(f"is zero, but {target} is not", "factor", factor="0")
    sign = "-" if c < 0 else ""
    a = abs(c)
    if a.q == 1:
        missing = f"a 1/{a.p} is missing"
    elif a.p == 1:
        missing = f"a factor {a.q} is missing"
    else:
        missing = f"a factor {a.q}/{a.p} is missing"
    if c < 0:
        missing = "the sign is flipped and " + missing
    return verdict.refuted(f"equals {target} times {sign}{_number(a)}: {missing}", "factor",
                           factor=f"{sign}{_number(a)}")


def _number(c: sp.Rational) -> str:
    return str(c.p) if c.q == 1 else f"{c.p}/{c.q}"


def _first_entry(verdict: _Verdict, correct: Grid, yours: Grid, check) -> ClaimVerdict:
    """The first entry that differs, with both values at a random point."""
    import numpy as np  # noqa: PLC0415 - numbers only for a refuted claim

    from ..symbolic.numeric import float_eval, free_symbols  # noqa: PLC0415
    target = verdict.target
    pairs = [(sp.sympify(x), sp.sympify(y)) for x, y in zip(correct.flat, yours.flat)]
    from ..symbolic.sampling import draw_symbols  # noqa: PLC0415
    symbols = free_symbols([e for p in pairs for e in p])
    values = draw_symbols(np.random.default_rng(0), symbols, 1, kind=3)
    first = float_eval([x for x, _ in pairs], values)
    second = float_eval([y for _, y in pairs], values)
    indices = [index for index, _ in correct.items()]
    for k, (a, b) in enumerate(zip(first, second)):
        a, b = float(np.asarray(a).ravel()[0]), float(np.asarray(b).ravel()[0])
        if not np.isclose(a, b, rtol=1e-9, atol=1e-12):
            label = _label(target, indices[k])  # a: the correct entry, b: yours
            return verdict.refuted(f"differs at {label}: yours is {b:.6g}, {target}'s is "
                                   f"{a:.6g} at a random point", "entry",
                                   entry=(label, b, a))
    label, x, y = check.mismatch
    return verdict.refuted(f"differs at {label}: yours is {y}, {target}'s is {x}", "entry",
                           entry=(label, str(y), str(x)))


@printer("claims", Result)
def _claims_of(result, claims) -> list[ClaimVerdict]:
    """``result.check_claims(claims)``: results are data and import no derivation."""
    return check_claims(result, claims)


__all__ = ["check_claims", "ClaimVerdict", "CLAIM_PROVED",
           "CLAIM_REFUTED", "CLAIM_AGREES", "CLAIM_UNDECIDED"]
