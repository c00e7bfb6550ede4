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
  :class:`Limits`; :class:`Message` (a note or warning of a result);
- :mod:`budget <jacobian_calc.core.budget>` -- calls run as one request within
  limits (``with budget.request(Limits(timeout=5)):``), and
  :mod:`progress <jacobian_calc.core.progress>` -- the stages of a long request
  reported as they go;
- :mod:`jacobian_calc.render` -- the printers: text, LaTeX documents, JSON,
  code, the rule table, spy plots.

Names are loaded on first use, each from the module that defines it, so
``import jacobian_calc`` (and the ``jac`` command's ``--help``) stays fast; the
printers of results load when a result is first printed.
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(("jacobian", "jacobians"), "jacobian_calc.derive.jacobian"),
    "chain": "jacobian_calc.derive.chain",
    "backprop": "jacobian_calc.derive.backprop",
    "hessian": "jacobian_calc.derive.hessian",
    "check_claims": "jacobian_calc.derive.claims",
    "ChainResult": "jacobian_calc.results.chain",
    "JacobianResult": "jacobian_calc.results.jacobian",
    "BackpropResult": "jacobian_calc.results.backprop",
    "HessianResult": "jacobian_calc.results.hessian",
    **dict.fromkeys(("to_numpy_code", "to_torch_code"), "jacobian_calc.render.code"),
    "check_code": "jacobian_calc.render.code_check",  # loads NumPy: on first use only
    **dict.fromkeys(("to_latex", "printoptions"), "jacobian_calc.render"),
    **dict.fromkeys(("JacobianError", "JacobianTypeError", "LimitError", "Message"),
                    "jacobian_calc.core.errors"),
    **dict.fromkeys(("Limits", "DEFAULT_LIMITS"), "jacobian_calc.core.limits"),
    **dict.fromkeys(("budget", "progress"), "jacobian_calc.core"),
    **dict.fromkeys(("parse", "parse_expression", "parse_shape_option", "int_digits"),
                    "jacobian_calc.parsing"),
    **dict.fromkeys(("sigmoid", "relu", "softplus", "step"), "jacobian_calc.symbolic.functions"),
    **dict.fromkeys(("read_json", "read_entry"), "jacobian_calc.symbolic.read_json"),
    **dict.fromkeys(("show", "maths", "entry_symbols", "same", "spy_figure"),
                    "jacobian_calc.notebook"),
}

_MODULE = object()

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jacobian_calc' has no attribute {name!r}")
    defining = importlib.import_module(module)
    value = getattr(defining, name, _MODULE)
    if value is _MODULE:  # a module of the package (budget, progress)
        value = importlib.import_module(f"{module}.{name}")
    if "jacobian_calc.results.base" in sys.modules:  # results may be printed from now on
        _printers_on_first_use()
    globals()[name] = value
    return value


def _printers_on_first_use() -> None:
    """Load every printer when a result is first printed (the derivations load only theirs)."""
    base = importlib.import_module("jacobian_calc.results.base")
    base.on_missing_printer(_load_printers)


def _load_printers() -> None:
    importlib.import_module("jacobian_calc.api")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
