"""Rendering: results as text, JSON and LaTeX (and spy plots, on request).

Each printer module registers the printers of the result types it prints
when imported (:mod:`jacobian_calc.api` imports them all); this package
itself imports nothing, so ``jac --help`` can read :mod:`.rules` without
loading SymPy.
"""
