"""Which SymPy function class each element-wise operation builds, and tables derived from it.

An element-wise operation declares how to build the SymPy entry of one
argument (``sin`` -> ``sympy.sin``, ``sigmoid`` -> our class). Probing each
with a symbol gives the class; the float evaluator, the explicit route's
derivative conventions, the reader of SymPy input and the printers all look
operations up by class through :func:`function_ops`. Tables are rebuilt when
the registry changes.
"""

from __future__ import annotations

from functools import wraps
from typing import Callable

import sympy as sp

from ..ops import Op, operations
from ..ops.registry import version
from . import algebra

_PROBE = sp.Dummy("x", real=True)


def registry_cached(func: Callable[[], dict]) -> Callable[[], dict]:
    """Cache a table built from the registry until an operation is added or removed."""
    cache: dict[int, dict] = {}

    @wraps(func)
    def cached() -> dict:
        key = version()
        if key not in cache:
            cache.clear()
            cache[key] = func()
        return cache[key]
    return cached


@registry_cached
def function_ops() -> dict[type, Op]:
    """SymPy function class -> the element-wise operation whose entry it is.

    Examples
    --------
    >>> function_ops()[sp.tan].name
    'tan'
    """
    table = {}
    for op in operations():
        if op.entry is None:
            continue
        probe = op.entry(algebra, _PROBE)
        if isinstance(probe, sp.Function) and probe.args == (_PROBE,):
            table[probe.func] = op
    return table


def is_ours(cls: type) -> bool:
    """A function class SymPy does not define itself (``sigmoid``, ``step``, ...)."""
    return not cls.__module__.startswith("sympy.")
