"""What every result type shares: printing is looked up, never imported.

Result types are data. The rendering layer, which imports them, registers
its printers here (:func:`printer`), the way SymPy's printers dispatch on the
class; so ``str(result)``, ``result.to_latex()`` and Jupyter's
``_repr_latex_`` work without a result module importing a printer.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..core import budget

_PRINTERS: dict[tuple[str, type], Callable[..., Any]] = {}


def printer(kind: str, cls: type):
    """Register the function that prints ``cls`` as ``kind`` ("text", "latex", "dict")."""
    def register(func):
        _PRINTERS[(kind, cls)] = func
        return func
    return register


def render(kind: str, result: Any, **options) -> Any:
    """Print ``result`` with the printer registered for its class (or a base class).

    Printing is a request of its own (within the default limits' time and
    output size) unless it is part of one already.
    """
    for cls in type(result).__mro__:
        func = _PRINTERS.get((kind, cls))
        if func is not None:
            with budget.request(budget.active_limits()), budget.stage("printing"):
                return func(result, **options)
    raise LookupError(f"no {kind} printer for {type(result).__name__} is loaded; "
                      "import jacobian_calc to load them")


class Result:
    """Base class of the calculator's results."""

    def __str__(self) -> str:
        try:
            return render("text", self)
        except LookupError:
            return repr(self)

    def to_text(self, **options) -> str:
        """Plain-text display, as ``jac`` prints it."""
        return render("text", self, **options)

    def to_latex(self, **options) -> str:
        """LaTeX; see :func:`jacobian_calc.to_latex` for the options."""
        return render("latex", self, **options)

    def to_dict(self, **options) -> dict:
        """The JSON document of this result, as a Python structure."""
        return render("dict", self, **options)

    def to_json(self, **options) -> str:
        """The JSON document of this result, as ``jac --format json`` prints it."""
        return json.dumps(self.to_dict(**options), indent=2, ensure_ascii=False)

    def _repr_latex_(self) -> str:
        try:
            return "$\\displaystyle " + render("latex", self) + "$"
        except (LookupError, ValueError):  # too large to typeset: Jupyter shows the text
            return None
