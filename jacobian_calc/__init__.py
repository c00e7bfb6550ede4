"""jacobian_calc: explicit symbolic Jacobians for teaching backpropagation.

The public API:

- :func:`jacobian`, :func:`jacobians` -- explicit (generalized) Jacobians;
- :func:`chain` -- the chain rule through named intermediates;
- :func:`backprop` -- gradients as named backward steps, each checked against
  its explicit contraction;
- :func:`hessian` -- explicit Hessians (symmetry checked) and compact ones;
- :func:`to_numpy_code`, :func:`to_torch_code` -- runnable code of a backward
  pass or a compact Hessian, and :func:`check_code` to run and compare it;
- :func:`to_latex` -- LaTeX for lecture notes;
- :func:`check_claims` -- check my answer: a formula proved or refuted;
- :func:`show`, :func:`maths`, :func:`entry_symbols`, :func:`same`,
  :func:`spy_figure` -- for notebooks: maths to display, the calculator's
  symbols of an array, exact comparison, sparsity plots;
- :class:`JacobianResult`, :class:`BackpropResult`, :class:`JacobianError`,
  :class:`Limits`.

Names are loaded on first use, so ``import jacobian_calc`` (and the ``jac``
command's ``--help``) stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS = {name: "jacobian_calc.api" for name in (
    "jacobian", "jacobians", "chain", "backprop", "hessian", "ChainResult", "JacobianResult",
    "BackpropResult", "HessianResult", "to_numpy_code", "to_torch_code",
    "JacobianError", "JacobianTypeError", "LimitError", "Limits", "DEFAULT_LIMITS",
    "parse", "parse_expression", "sigmoid", "relu", "softplus", "step",
    "read_json", "read_entry", "to_latex", "printoptions",
    "show", "maths", "entry_symbols", "same", "spy_figure",
)}
_EXPORTS["check_code"] = "jacobian_calc.render.code_check"  # loads NumPy: on first use only
_EXPORTS["check_claims"] = "jacobian_calc.derive.claims"

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jacobian_calc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
