r"""The rendering API: results as text, JSON, LaTeX, code, rule tables and spy plots.

A result's own methods (``str(result)``, ``result.to_latex()``,
``result.to_json()``) print it whole; these functions print its parts, the
way the ``jac`` command composes its output.

Text and JSON
    :func:`render_jacobian` (a Jacobian as a labelled matrix or blocks),
    :func:`chain_text`, :func:`numeric_text` and :func:`numeric_chain_text`
    (values at a point), :func:`compact_jacobian_text`,
    :func:`gradient_values_text`; :func:`jacobians_document`,
    :func:`compact_jacobian_dict`, :func:`backprop_dict` (JSON documents as
    Python structures).
LaTeX
    :func:`to_latex` (any result; a fragment or a ``standalone`` document) and
    :func:`printoptions` (its defaults in a ``with`` block);
    :func:`numeric_to_latex`, :func:`gradient_values_latex` (values at a
    point); documents built from blocks: :func:`resolve_settings` (the
    settings), :func:`make_style` (their style), :func:`hessian_blocks`,
    :func:`render_blocks` (blocks as a fragment or document).
Code
    :func:`to_numpy_code`, :func:`to_torch_code`, and :func:`check_code` to
    run the module and compare it with the explicit result.
Rules
    :func:`rules_text` (``jac --rules``), :func:`functions_text`,
    :func:`operations_markdown` (the README's table of operations).
Spy plots
    :func:`spy_figure` (a matplotlib figure), :func:`save_spy` (a PNG, SVG or
    PDF file, written atomically).
Sizes and files
    :func:`text_length` (about how long printing expressions is),
    :func:`check_size` (refuse an estimate over ``limits.max_output`` before
    printing), :func:`atomic_write` and :func:`check_target` (write a file
    whole or not at all; refuse a directory or device first).

Every name loads its module on first use, so importing this package (as
``jac --help`` does) loads no SymPy; a name that prints part of a result type
loads that type's other printers too (after ``hessian_blocks``, ``str(H)``
needs nothing more), and a result from :mod:`jacobian_calc` loads any printer
it lacks when it is first printed.

Examples
--------
>>> from jacobian_calc import jacobian
>>> from jacobian_calc.render import render_jacobian, to_latex
>>> J = jacobian("x*y", wrt="x,y")
>>> print(render_jacobian(J))
Jacobian ∂f/∂(x, y) of x * y
numerator layout, shape 1 x 2, 2 non-zero of 2
<BLANKLINE>
      ∂/∂x  ∂/∂y
∂f1 │    y     x
>>> print(to_latex(J))
\begin{pmatrix} y & x \end{pmatrix}
"""

from __future__ import annotations

import importlib

#: Public name -> its module (``module:attribute`` where the names differ).
_EXPORTS = {
    **dict.fromkeys(("render_jacobian", "chain_text", "numeric_text", "numeric_chain_text"),
                    ".text"),
    **dict.fromkeys(("compact_jacobian_text", "compact_jacobian_dict"), ".compact_text"),
    **dict.fromkeys(("backprop_dict", "gradient_values_text"), ".backprop_text"),
    "jacobians_document": ".json",
    **dict.fromkeys(("to_latex", "printoptions", "make_style", "resolve_settings",
                     "render_blocks"), ".latex"),
    "numeric_to_latex": ".jacobian_latex",
    "gradient_values_latex": ".backprop_latex",
    "hessian_blocks": ".hessian_latex",
    **dict.fromkeys(("to_numpy_code", "to_torch_code"), ".code"),
    "check_code": ".code_check",  # loads NumPy: on first use only
    **dict.fromkeys(("rules_text", "functions_text", "operations_markdown"), ".rules"),
    "spy_figure": ".spy",  # NumPy and matplotlib: on first use only
    "save_spy": ".spy:spy",
    "check_size": ".shared",
    "text_length": "jacobian_calc.symbolic.measure",
    **dict.fromkeys(("atomic_write", "check_target"), "jacobian_calc.core.files"),
}

#: LaTeX prints any result by its type's block printer: these modules register them all.
_LATEX_PRINTERS = (".jacobian_latex", ".compact_latex", ".chain_latex", ".hessian_latex",
                   ".backprop_latex")

#: Names and the printers they load first: any result's for ``to_latex``; for a name that
#: prints part of a result type, that type's other printers.
_LOADS = {"to_latex": _LATEX_PRINTERS, "hessian_blocks": (".hessian_text",)}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    where = _EXPORTS.get(name)
    if where is None:  # a submodule (``from jacobian_calc.render import json``) or nothing
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module in _LOADS.get(name, ()):
        importlib.import_module(module, __name__)
    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module, __name__), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
