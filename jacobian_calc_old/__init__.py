"""jacobian_calc: explicit symbolic Jacobians for teaching backpropagation.

The public API:

- :func:`jacobian`, :func:`jacobians` -- explicit (generalized) Jacobians;
- :func:`chain` -- the chain rule through named intermediates;
- :func:`backprop` -- gradients by explicit contraction and by compact rules, checked;
- :func:`to_latex` -- LaTeX for lecture notes;
- :class:`JacobianResult`, :class:`JacobianError`, :class:`Limits`.
"""

from .backprop import GradientResult, backprop
from .chain import ChainResult, chain
from .errors import JacobianError
from .functions import relu, sigmoid, softplus, sympy_namespace
from .jacobian import jacobian, jacobians
from .latex import to_latex
from .limits import DEFAULT_LIMITS, Limits
from .parser import parse, parse_expression
from .tensor import JacobianResult

__version__ = "0.1.0"

__all__ = [
    "jacobian", "jacobians", "chain", "ChainResult", "backprop", "GradientResult", "to_latex", "JacobianResult",
    "JacobianError", "Limits", "DEFAULT_LIMITS", "parse", "parse_expression",
    "sigmoid", "relu", "softplus", "sympy_namespace", "__version__",
]
