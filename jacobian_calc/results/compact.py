"""The compact form of a Jacobian: one matrix formula, or a linear map and its vec form."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.grid import Shape
from ..core.tree import Node
from .backprop import Check

#: Kinds of compact Jacobian: a matrix formula (vector and scalar inputs and outputs),
#: or the linear map ``dY = X @ dW`` with its vec form (matrix input or output).
MATRIX, LINEAR_MAP = "matrix", "linear map"

#: The vec convention, said wherever a vec form is shown.
VEC_CONVENTION = "vec stacks columns, column-major, as Magnus-Neudecker and matrixcalculus.org"


@dataclass(frozen=True)
class CompactJacobian:
    """A compact Jacobian, proved against the explicit one, or why there is none.

    Attributes
    ----------
    kind : str or None
        ``"matrix"`` (``J = diag(p) - outer(p, p)``), ``"linear map"``
        (``dY = X @ dW``, with ``vec_text`` ``kron(eye(2), X)``) or ``None``.
    label : str
        The left-hand side: ``J`` for a matrix, ``dY`` for a map.
    layout : str
        The layout the matrix formula is written in (a map has none).
    tree, text : Node, str
        The formula, in the output's name where it is named (``p``).
    inline_tree, inline_text : Node, str
        The same in the inputs alone.
    shape : tuple of int
        Its shape.
    where : tuple of (str, Node, str)
        The names used (``("p", softmax(l), "softmax(l)")``).
    direction : str
        A map's input differential (``dW``).
    vec_tree, vec_text
        The vec form ``J_vec`` with ``vec(dY) = J_vec @ vec(dW)`` (None when none
        was read off the map).
    check : Check or None
        The matrix (or the map, and the vec form) against the explicit Jacobian,
        entry by entry.
    reason : str
        Why no compact form (or no vec form) was found.
    against : str
        What ``check`` compared it with: the explicit Jacobian, or at symbolic
        sizes the Jacobian's index form.
    """

    kind: str | None
    label: str = "J"
    layout: str = "numerator"
    tree: Node | None = None
    text: str = ""
    inline_tree: Node | None = None
    inline_text: str = ""
    shape: Shape = ()
    where: tuple = ()
    direction: str = ""
    vec_tree: Node | None = None
    vec_text: str = ""
    vec_shape: Shape = ()
    check: Check | None = None
    reason: str = ""
    against: str = "the explicit Jacobian"

    @property
    def found(self) -> bool:
        return self.kind is not None

    @property
    def ok(self) -> bool:
        """Found, and not shown to differ from the explicit Jacobian."""
        return self.found and self.check is not None and self.check.ok

    @property
    def equation(self) -> str:
        """``J = diag(p) - outer(p, p)``, ``dY = X @ dW``."""
        return f"{self.label} = {self.text}" if self.found else ""


__all__ = ["CompactJacobian", "MATRIX", "LINEAR_MAP", "VEC_CONVENTION"]
