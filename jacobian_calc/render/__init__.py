"""Rendering: results as text, JSON and LaTeX (and spy plots, on request).

Importing this package registers the printers of every result type, so
``str(result)``, ``result.to_latex()`` and ``result.to_json()`` work.
"""

from . import json, latex, text  # noqa: F401 - registers printers
