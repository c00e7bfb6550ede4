"""The result of :func:`jacobian_calc.backprop`: named forward and backward steps,
each backward step with its explicit contraction and its verdict.

Everything a printer needs to show a step the way Lecture 9 does is here: the
backward step (``dW2 = Y1.T @ dZ2``), the contraction it stands for
(``dW2[k,l] = Σ_ij dZ2[i,j] ∂Z2[i,j]/∂W2[k,l]``), its entries in the step's own
symbols, and whether the two were proved equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import JacobianError, Message
from ..core.grid import Grid, Shape
from ..core.tree import Node
from .base import Result

#: Verdicts of a check.
PROVED, AGREES, DIFFERS, UNDECIDED = "proved", "agrees", "differs", "undecided"
#: Proved at each of several instantiated sizes (a result stated at symbolic sizes).
CHECKED = "checked"
#: How a step proved for every size says so (its verdict is PROVED).
ALL_SIZES = "for all sizes"
#: How a step of a concrete request that was not proved for all sizes, and was checked
#: against its explicit contraction at the requested sizes, says so.
AT_REQUESTED = "at the requested sizes"


@dataclass(frozen=True)
class ForwardStep:
    """One named step of the forward pass, ``Z1 = X @ W1 + b1``.

    Attributes
    ----------
    name : str
        The step's output (``Z1``); a name the user gave with ``lets`` is kept.
    expr : Node
        Its formula, in the names of variables and earlier steps.
    text : str
        The formula in the calculator's syntax.
    shape : tuple of int
        The output's shape.
    inputs : tuple of str
        The names the formula reads.
    """

    name: str
    expr: Node
    text: str
    shape: Shape
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    """Whether a compact formula equals its explicit counterpart.

    Attributes
    ----------
    verdict : str
        ``"proved"`` (symbolically), ``"checked"`` (proved at each of several
        instantiated sizes), ``"agrees"`` (numerically, not proved),
        ``"differs"`` or ``"undecided"``.
    how : str
        How it was decided, in words.
    max_abs_error : float
        Largest difference seen at the sample points.
    mismatch : tuple or None
        ``(label, explicit, compact)`` of the first differing entry.
    """

    verdict: str
    how: str = ""
    max_abs_error: float = 0.0
    mismatch: tuple | None = None

    @property
    def ok(self) -> bool:
        """No entry was shown to differ."""
        return self.verdict != DIFFERS


@dataclass(frozen=True)
class BackwardStep:
    """One backward step: the gradient of one input of one forward step.

    Attributes
    ----------
    name : str
        The gradient it defines, ``dW2``.
    target : str
        The input it is the gradient of, ``W2``.
    through : tuple of str
        The forward steps it goes back through, last first: ``("Z2",)``, or
        ``("L", "P")`` for a fused softmax and cross-entropy step.
    upstream : str
        The gradient it starts from (``dZ2``; ``1`` for the scalar output).
    tree, text
        The compact rule, in the steps' own names, as a tree and as text.
    accumulate : bool
        A further contribution to a gradient already started (``dW += ...``),
        when the input is used by several steps.
    fused : tuple of (str, str)
        Backward steps eliminated into this one: ``(("dP", "-T / (12 * P)"),)``.
    fused_trees : tuple of (str, Node)
        The same with the formulas as trees (what the renderers print).
    contraction : str
        What the explicit route computes: ``dW2[k,l] = Σ_ij dZ2[i,j] ∂Z2[i,j]/∂W2[k,l]``.
    explicit : Grid
        That contraction's entries (SymPy), in the symbols of the step's inputs,
        outputs and upstream gradient (``Y1_1_1*dZ2_1_1 + ...``). Written out only
        where the step was checked by them: with ``explicit=True`` (or ``expand``),
        for a step without an index form, or at small sizes (``at``); an empty grid
        (shape ``(0,)``) for a step proved for all sizes in index notation.
    symbols : tuple of str
        Which entry symbols those are, ``("Y1_i_j", "dZ2_i_j")``.
    check : Check
        The compact rule against the explicit contraction.
    at : str
        At symbolic sizes, the sizes of ``explicit`` (``N=2, d=3``); else ``""``.
    sizes : tuple of dict
        The instantiated sizes the step was checked at by its explicit contraction,
        by dimension name (``({"N": 2, "d": 3}, {"N": 3, "d": 4}, ...)``; ``at`` says
        which one a difference was found at); empty for a step proved for all sizes
        or checked at the requested sizes.
    """

    name: str
    target: str
    through: tuple[str, ...]
    upstream: str
    tree: Node
    text: str
    accumulate: bool
    fused: tuple[tuple[str, str], ...]
    contraction: str
    explicit: Grid
    symbols: tuple[str, ...]
    check: Check
    at: str = ""
    derivation_tex: tuple[str, ...] = ()
    fused_trees: tuple[tuple[str, Node], ...] = ()
    sizes: tuple[dict, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Gradient:
    """The gradient of the output with respect to one variable.

    Attributes
    ----------
    wrt, name, label : str
        The variable (``W1``), its gradient's name (``dW1``) and label (``∂L/∂W1``;
        ``dY·∂Y/∂W`` for an array output ``Y``).
    shape : tuple of int
        The variable's shape.
    tree, text
        The compact formula in the step names (``X.T @ dZ1``).
    inline_tree, inline_text
        The same with every step substituted, in the variables alone.
    expanded : Grid or None
        The explicit gradient entry by entry, in the variables' entries (when
        asked for with ``expand``).
    explicit : Grid or None
        The same entries, always kept (for values at a point).
    """

    wrt: str
    name: str
    label: str
    shape: Shape
    tree: Node
    text: str
    inline_tree: Node
    inline_text: str
    expanded: Grid | None = None
    explicit: Grid | None = None


@dataclass(frozen=True)
class GradientValues:
    """One gradient at a point, by both routes.

    Attributes
    ----------
    explicit, compact : numpy.ndarray
        The explicit gradient's entries and the compact formula, evaluated.
    max_abs_error : float
        Their largest difference.
    """

    explicit: object
    compact: object
    max_abs_error: float

    @property
    def agree(self) -> bool:
        import numpy as np  # numbers need NumPy; symbolic results do not
        return bool(np.allclose(self.explicit, self.compact, rtol=1e-9, atol=1e-12))


@dataclass(frozen=True)
class EndToEnd:
    """The composed compact gradients against the explicit derivative of the whole.

    Attributes
    ----------
    check : Check
        The verdict over every gradient.
    points : int
        Random points where both sides were finite and compared.
    exact_points : int
        Rational points compared exactly (rational expressions only).
    chosen : str
        How the points were chosen when not simply drawn at random (shifted into
        the domain of a ``log``; fewer than asked, and why); ``""`` otherwise.
    at : str
        The small sizes compared at, for a request at concrete sizes too large to
        write out (``X_rows=2, X_cols=3``); ``""`` at the requested sizes.
    sizes : dict of str to int
        The instantiated sizes compared at, by dimension name (``{"N": 2, "d": 3}``),
        at symbolic sizes or for a request too large to write out; empty at the
        requested sizes.
    """

    check: Check
    points: int = 0
    exact_points: int = 0
    chosen: str = ""  # how the points were chosen, when not simply drawn at random
    at: str = ""
    sizes: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, repr=False)
class BackpropResult(Result):
    """Gradients as a lecture derives them, each step checked.

    Attributes
    ----------
    of : str
        The expression, in the calculator's syntax.
    of_tree : Node or None
        The same as a tree (what the renderers print).
    output : str
        The output's name in every label (``L`` for a scalar loss).
    out_shape : tuple of int
        The output's shape.
    upstream : str
        The output's upstream gradient: ``"1"`` for a scalar, else its name.
    steps : list of ForwardStep
        The forward pass, in order; the last step is the output.
    backward : list of BackwardStep
        The backward pass, in order.
    gradients : dict of str to Gradient
        Per variable, in the order asked for.
    end_to_end : EndToEnd
        The composed gradients against the explicit derivative of the whole.
    warnings : list of str
        What the user should know (a variable that does not appear).
    shapes : dict
        Shapes of every name: variables, steps, gradients.
    inline : bool
        Show the gradients fully substituted.
    onehot : tuple of str
        Targets declared one-hot.
    sizes : str
        At symbolic sizes, the sizes the steps were checked at
        (``(N, d) = (2, 3), (3, 4), (4, 2)``); else ``""``.
    """

    of: str
    output: str
    out_shape: Shape
    upstream: str
    steps: list[ForwardStep]
    backward: list[BackwardStep]
    gradients: dict[str, Gradient]
    end_to_end: EndToEnd
    warnings: list[str] = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    inline: bool = False
    onehot: tuple[str, ...] = ()
    sizes: str = ""
    of_tree: Node | None = None

    def __repr__(self) -> str:
        names = ", ".join(g.name for g in self.gradients.values())
        return f"<BackpropResult of {self.output}: {names}, agree={self.agree}>"

    @property
    def agree(self) -> bool:
        """No step and no end-to-end comparison found a difference."""
        return all(b.check.ok for b in self.backward) and self.end_to_end.check.ok

    @property
    def proved(self) -> bool:
        """Every backward step was proved equal to its explicit contraction."""
        return all(b.check.verdict == PROVED for b in self.backward)

    def evaluate(self, at) -> dict[str, GradientValues]:
        """Every gradient at a point, explicit and compact, with their difference.

        Parameters
        ----------
        at : dict or str
            Values of every variable (``{"X": [[...]], "W": [[...]]}`` or
            ``"X=[[1,2]],W=[[3],[4]]"``); for an array output, also of its
            upstream gradient (``dY``).
        """
        from ..symbolic.points import gradient_values  # numbers need NumPy; see JacobianResult
        if any(g.explicit is None for g in self.gradients.values()):
            raise JacobianError("the explicit gradients were not written out (the steps were "
                                f"checked at sizes {self.sizes}); ask backprop(..., "
                                "explicit=True) at concrete sizes")
        return {name: GradientValues(*gradient_values(g.explicit, g.inline_tree, at,
                                                      self.user_shapes(), self.upstream))
                for name, g in self.gradients.items()}

    def user_shapes(self) -> dict[str, Shape]:
        """Shapes of the caller's names only (variables, inputs, the upstream gradient),
        not of the steps' names or their gradients."""
        steps = {s.name for s in self.steps}
        # the names the formulas read, and the variables asked for (a user's dZ beside Z
        # is one of them: names are never derived from each other's spelling)
        users = set().union(*(s.inputs for s in self.steps), self.gradients) - steps
        users.add(self.upstream)
        return {n: s for n, s in self.shapes.items() if n in users}

    def onehot_breaks(self, at) -> list[str]:
        """What the point breaks of the ``onehot`` promise (rows summing to 1), said first:
        the compact gradients rely on it, the explicit ones do not."""
        from ..symbolic.points import (known_names, resolve_point,  # noqa: PLC0415
                                       rows_not_summing_to_one)
        shapes = self.user_shapes()
        arrays = {n: s for n, s in shapes.items() if s}
        values = resolve_point(at, known_names(set(shapes), arrays), arrays)
        out = []
        for name in self.onehot:
            row = rows_not_summing_to_one(values, name, shapes[name])
            if row is not None:
                index, total = row
                where = f"row {index}" if len(shapes[name]) > 1 else "its entries"
                out.append(Message(f"{name} is not one-hot at this point ({where} sums to "
                                   f"{total:.6g}, not 1): {{{{onehot}}}} promised rows summing "
                                   "to 1, which the compact gradients use and the explicit "
                                   "ones do not, so the two routes differ"))
        return out

    def disagreement(self) -> str:
        """One line describing the first failure ("" when everything agrees)."""
        for b in self.backward:
            if not b.check.ok:
                return _step_failure(b)
        check = self.end_to_end.check
        if not check.ok:
            label, first, second = check.mismatch
            return (f"end to end, {label} {check.how}: explicit {_number(first)}, compact "
                    f"{_number(second)}")
        return ""

    def summary(self) -> str:
        """What was proved and how: ``7 steps proved symbolically; end to end agrees
        at 3 points (max error 2e-16)``."""
        return "; ".join(part for part in (self._steps_summary(), self._end_summary())
                         if part)

    def _steps_summary(self) -> str:
        counts: dict[str, int] = {}
        for b in self.backward:
            key = b.check.verdict
            if key == PROVED and b.check.how.startswith((ALL_SIZES, AT_REQUESTED)):
                key = b.check.how.split(",")[0]
            counts[key] = counts.get(key, 0) + 1
        words = {PROVED: ("proved symbolically",) * 2,
                 AGREES: ("agrees numerically (not proved)", "agree numerically (not proved)"),
                 DIFFERS: ("DIFFERS", "DIFFER"), UNDECIDED: ("undecided",) * 2,
                 CHECKED: (f"checked at sizes {self.sizes}",) * 2,
                 ALL_SIZES: ("proved for all sizes",) * 2,
                 AT_REQUESTED: ("checked at the requested sizes",) * 2}
        parts = [f"{n} {'step' if n == 1 else 'steps'} {words[v][n != 1]}"
                 for v, n in sorted(counts.items(), key=lambda vn: vn[0] != ALL_SIZES)]
        return ", ".join(parts) if parts else "no backward steps"

    def _end_summary(self) -> str:
        e = self.end_to_end
        if e.check.verdict == UNDECIDED:
            return f"end to end undecided ({e.check.how})"
        if not e.check.ok:
            return f"end to end DIFFERS {e.check.how} (at {e.check.mismatch[0]})"
        chosen = f"; {e.chosen}" if e.chosen else ""
        at = f" at sizes {e.at}" if e.at else ""
        text = (f"end to end agrees at {e.points} {'point' if e.points == 1 else 'points'}{at} "
                f"(max error {e.check.max_abs_error:.2g}{chosen})")
        if e.exact_points:
            text += f", exactly at {e.exact_points} rational " + (
                "point" if e.exact_points == 1 else "points")
        return text


def _number(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _step_failure(b: BackwardStep) -> str:
    where = " and ".join(b.through)
    if b.check.mismatch is None:
        return f"{b.name} = {b.text} (step {where}): {b.check.how}"
    label, first, second = b.check.mismatch
    return (f"{b.name} = {b.text} (step {where}) differs from its explicit contraction "
            f"at {label}: explicit {first}, compact {second}")


__all__ = ["BackpropResult", "ForwardStep", "BackwardStep", "Gradient", "EndToEnd", "Check",
           "PROVED", "AGREES", "DIFFERS", "UNDECIDED", "CHECKED", "ALL_SIZES", "AT_REQUESTED"]
