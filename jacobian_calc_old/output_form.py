"""Jacobians written in terms of the output, the way the lectures write them.

For ``Y = f(X)`` element-wise the derivative is put in terms of ``Y`` with the
same table the compact rules use (``sigmoid' = Y * (1 - Y)``); for softmax,
``∂p_i/∂l_j = p_i (δ_ij - p_j)``. An inner expression (``sigmoid(X@W + b)``)
is handled by the chain rule: the outer derivative times the inner Jacobian.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy as sp

from . import ir
from .arrays import Env, evaluate
from .autodiff import gradient
from .errors import JacobianError
from .rules import ELEMENTWISE_DERIVATIVES
from .shapes import symbol_array
from .tensor import JacobianResult


def in_terms_of_output(J: JacobianResult, problem, group: list[str]) -> JacobianResult:
    """Rewrite ``J`` (numerator layout) in terms of the output's entry symbols."""
    node = problem.components[0] if len(problem.components) == 1 else None
    if not (isinstance(node, ir.Call) and (node.func == "softmax"
                                           or node.func in ELEMENTWISE_DERIVATIVES)):
        raise JacobianError("--in-terms-of-output needs an element-wise function or softmax "
                            "applied last, e.g. sigmoid(X@W + b) or softmax(l)")
    env = problem.env()
    inner = evaluate(node.args[0], env)
    if inner.shape != J.out_shape:
        raise JacobianError("--in-terms-of-output needs an array-valued output")
    name = ("p" if inner.ndim == 1 else "P") if node.func == "softmax" else "Y"
    Y = symbol_array(name, inner.shape)
    inputs = list(J.in_symbols)
    position = {s: tuple(int(k) for k in np.unravel_index(i, J.in_shape))
                for i, s in enumerate(inputs)}
    inner_jac = {idx: gradient(e, inputs) for idx, e in np.ndenumerate(inner)}
    if node.func == "softmax":
        entries = _softmax_entries(Y, inner_jac, position)
    else:
        entries = _elementwise_entries(node.func, inner, Y, inner_jac, position)
    return replace(J, entries={k: v for k, v in entries.items() if v != 0}, out_name=name,
                   of=[f"{name} = {J.of[0]}"])


def _elementwise_entries(func, inner, Y, inner_jac, position) -> dict:
    X_name, Y_name = ir.Name("X_"), ir.Name("Y_")
    derivative = ELEMENTWISE_DERIVATIVES[func](X_name, Y_name)
    if derivative is None:
        return {}
    fprime = evaluate(derivative, Env(values={"X_": inner, "Y_": Y}))
    fprime = np.broadcast_to(fprime, inner.shape)
    entries = {}
    for out_index, grads in inner_jac.items():
        for symbol, d in grads.items():
            entries[out_index + tuple(position[symbol])] = fprime[out_index] * d
    return entries


def _softmax_entries(P, inner_jac, position) -> dict:
    """Σ_j p_i (δ_ij - p_j) ∂l_j/∂x over each row (the last axis)."""
    entries: dict[tuple, list] = {}
    K = P.shape[-1]
    for out_index in np.ndindex(*P.shape):
        row, i = out_index[:-1], out_index[-1]
        for j in range(K):
            local = P[out_index] * ((1 if i == j else 0) - P[row + (j,)])
            for symbol, d in inner_jac[row + (j,)].items():
                key = out_index + tuple(position[symbol])
                entries.setdefault(key, []).append(local * d)
    return {k: sp.Add(*v) for k, v in entries.items()}
