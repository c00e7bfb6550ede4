"""One ``jac`` invocation carried out: the output text, the warnings, the exit status.

Each kind of request lives in its own module (:mod:`.jacobians`, :mod:`.backprops`,
:mod:`.hessians`), imported only when asked for: the plain Jacobian path loads
neither the backprop engine nor the LaTeX printer, so ``jac`` starts quickly.
"""

from __future__ import annotations

from .. import budget, int_digits
from ..render import check_size
from .options import Request, check_request


def produce(req: Request) -> tuple[str, list[str], int]:
    """Compute what ``req`` asks for: the output text, warnings, and the exit status."""
    if req.hessian:
        from . import hessians as kind  # noqa: PLC0415 - loaded only for its kind of request
    elif req.backprop:
        from . import backprops as kind  # noqa: PLC0415
    else:
        from . import jacobians as kind  # noqa: PLC0415
    check_request(req)
    with int_digits(10 * req.limits.max_digits), budget.request(req.limits):
        text, notes, code = kind.produce(req)
        check_size(len(text))  # whatever printed it
        return text, notes, code
