"""The public API, gathered in one module (re-exported lazily by the package).

Importing it loads the derivations and registers the printers of the
result types; ``import jacobian_calc`` alone loads nothing heavy, so the
``jac`` command starts quickly.
"""

from __future__ import annotations

from .render import backprop_latex, backprop_text, json, latex, text  # noqa: F401 - printers
from .render import hessian_latex, hessian_text  # noqa: F401 - register the printers
from .render import chain_latex, jacobian_latex  # noqa: F401 - register the printers
from .render import compact_latex  # noqa: F401 - compact Jacobians in LaTeX
from .core.errors import JacobianError, JacobianTypeError, LimitError
from .core.limits import DEFAULT_LIMITS, Limits
from .derive.backprop import backprop
from .derive.chain import chain
from .derive.claims import check_claims  # noqa: F401 - also result.check_claims()
from .derive.hessian import hessian
from .derive.jacobian import jacobian, jacobians
from .notebook import entry_symbols, maths, same, show, spy_figure
from .parsing import parse, parse_expression
from .render.code import to_numpy_code, to_torch_code
from .render.latex import printoptions, to_latex
from .results.backprop import BackpropResult
from .results.chain import ChainResult
from .results.hessian import HessianResult
from .results.jacobian import JacobianResult
from .symbolic.functions import relu, sigmoid, softplus, step
from .symbolic.read_json import read_entry, read_json

__all__ = ["jacobian", "jacobians", "chain", "backprop", "hessian", "ChainResult",
           "JacobianResult", "BackpropResult", "HessianResult", "to_numpy_code", "to_torch_code",
           "JacobianError", "JacobianTypeError", "LimitError", "Limits", "DEFAULT_LIMITS",
           "parse", "parse_expression", "sigmoid", "relu", "softplus", "step",
           "read_json", "read_entry", "to_latex", "printoptions",
           "show", "maths", "entry_symbols", "same", "spy_figure"]
