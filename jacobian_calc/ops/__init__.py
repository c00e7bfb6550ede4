"""Operations: every operation of the expression language, declared once.

Importing this package declares them all; :func:`get` and :func:`lookup`
find one by name or alias. See :mod:`jacobian_calc.ops.registry` for what a
declaration holds, and the README's "Adding an operation".
"""

from . import arithmetic, constants, elementwise, linalg, reductions  # noqa: F401 - declares
from . import convolution, indexing, selection  # noqa: F401 - declares
from . import vectorize  # noqa: F401 - declares kron, vec, reshape
from . import text  # noqa: F401 - str(node) prints the calculator's syntax
from .registry import (Cost, NoIndexForm, NotDifferentiable, Op, ShapeContext, Vjp, default_cost, get,
                       known_names, lookup, operations, register, unregister)

__all__ = ["Op", "NotDifferentiable", "NoIndexForm", "ShapeContext", "Vjp", "Cost", "default_cost", "get",
           "lookup", "operations", "known_names", "register", "unregister"]
