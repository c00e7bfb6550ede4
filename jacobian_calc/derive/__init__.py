"""Derivations: Jacobians, the chain rule, backpropagation, Hessians.

Each takes checked input (:mod:`.problem`) and returns a result object of
:mod:`jacobian_calc.results`.
"""
