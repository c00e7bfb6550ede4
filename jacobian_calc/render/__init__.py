"""Rendering: results as text, JSON and LaTeX (and spy plots, on request).

Importing this package registers the printers of every result type, so
``str(result)``, ``result.to_latex()`` and ``result.to_json()`` work. A
result type's LaTeX may live in a module of its own that registers its block
function with :func:`jacobian_calc.render.latex.block_printer` (as
``backprop_latex`` will); import it here.
"""

from . import json, latex, text  # noqa: F401 - registers printers
