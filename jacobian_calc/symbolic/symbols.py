"""The symbols that stand for variables and for entries of arrays.

Entry (i, j) of a matrix ``A`` is the real symbol ``A_i_j`` (1-based), entry
i of a vector ``x`` is ``x_i``; an undeclared name is a real scalar symbol.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..core.grid import Grid, Shape


@lru_cache(maxsize=None)
def scalar_symbol(name: str) -> sp.Symbol:
    """The real scalar symbol for ``name``."""
    return sp.Symbol(name, real=True)


@lru_cache(maxsize=None)
def undefined_function(name: str):
    """The real-valued undefined SymPy function ``name`` (always the same class object)."""
    return sp.Function(name, real=True)


def entry_name(name: str, index: tuple[int, ...]) -> str:
    """``entry_name("A", (0, 1))`` is ``"A_1_2"`` (0-based index in, 1-based name out)."""
    return "_".join([name, *(str(i + 1) for i in index)])


def entry_symbol(name: str, index: tuple[int, ...]) -> sp.Symbol:
    """Symbol for one entry: ``entry_symbol("A", (0, 1))`` is ``A_1_2``."""
    return scalar_symbol(entry_name(name, index))


def symbol_grid(name: str, shape: Shape) -> Grid:
    """Grid of entry symbols; a scalar grid holding the symbol itself for shape ``()``."""
    if shape == ():
        return Grid.scalar(scalar_symbol(name))
    return Grid.from_function(shape, lambda index: entry_symbol(name, index))


def symmetric_grid(name: str, n: int) -> Grid:
    """An ``n x n`` symmetric matrix: entries (i, j) and (j, i) are one symbol, ``S_i_j``
    with ``i <= j`` (1-based)."""
    return Grid.from_function((n, n), lambda ij: entry_symbol(name, tuple(sorted(ij))))
