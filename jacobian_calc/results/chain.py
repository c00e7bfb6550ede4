"""The result of :func:`jacobian_calc.chain`: factor Jacobians and their product."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Result
from .jacobian import JacobianResult


@dataclass(frozen=True, repr=False)
class ChainResult(Result):
    """Factor Jacobians whose product is the direct Jacobian.

    Attributes
    ----------
    direct : JacobianResult
        The Jacobian of the fully substituted expression.
    factors : list of JacobianResult
        Left to right, outermost first (``∂φ/∂y2``, ``∂y2/∂y1``, ``∂y1/∂w1``),
        each in terms of the intermediate names.
    product : sympy.Matrix
        The product of the factors with the intermediates substituted.
    agree : bool
        Whether ``product`` equals ``direct`` entry by entry.
    """

    direct: JacobianResult
    factors: list[JacobianResult]
    product: sp.Matrix
    agree: bool

    def __repr__(self) -> str:
        names = " · ".join(f"∂{f.out_labels[0] if len(f.out_labels) == 1 else f.out_name}"
                           f"/∂{','.join(f.wrt)}" for f in self.factors)
        return f"<ChainResult {names}, agree={self.agree}>"
