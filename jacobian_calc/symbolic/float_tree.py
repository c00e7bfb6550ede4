"""Floating-point evaluation of expression trees on NumPy arrays.

The compact side of a check does not need SymPy entries at all: each
operation declares its NumPy form (``Op.numpy``), so a formula such as
``X.T @ (dZ * (1 - Y**2))`` is evaluated as NumPy evaluates it, one array
operation per node. This is how the composed compact gradient is compared end
to end with the explicit one at random points.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..core.errors import JacobianError
from ..core.tree import Call, Name, Node, Num, fold
from ..ops import get


def float_evaluate(node: Node, values: Mapping[str, np.ndarray | float],
                   memo: dict | None = None) -> np.ndarray:
    """The value of ``node`` with NumPy, names given by ``values``.

    Parameters
    ----------
    node : Node
        An expression tree.
    values : mapping
        Name -> float array (or number).
    memo : dict, optional
        Values of subtrees already computed (shared between calls that use
        the same ``values``).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> float_evaluate(parse_expression("X.T @ (1 - Y**2)"),
    ...                {"X": np.eye(2), "Y": np.array([[0.5, 0.0], [1.0, 2.0]])})
    array([[ 0.75,  1.  ],
           [ 0.  , -3.  ]])
    """
    memo = {} if memo is None else memo
    with np.errstate(all="ignore"):
        return _evaluate(node, values, memo)


def _evaluate(node: Node, values: Mapping, memo: dict) -> np.ndarray:
    return fold(node, lambda n, args: _value(n, args, values), memo)


def _value(node: Node, args: list, values: Mapping):
    if isinstance(node, Num):
        return float(node.value)
    if isinstance(node, Name):
        if node.id not in values:
            raise JacobianError(f"no value given for {node.id}")
        return np.asarray(values[node.id], dtype=float)
    if not isinstance(node, Call):
        raise JacobianError(f"cannot evaluate {node!r} numerically (an undefined function)")
    op = get(node.op)
    try:
        return np.asarray(op.numpy(np, *args, **op.options(node.kwargs)), dtype=float)
    except np.linalg.LinAlgError as exc:
        raise JacobianError(f"{node.op}() is not defined at this point ({str(exc).lower()})") \
            from None
    except (ArithmeticError, ValueError) as exc:
        raise JacobianError(f"{node.op}() cannot be evaluated at this point ({exc})") from None


__all__ = ["float_evaluate"]
