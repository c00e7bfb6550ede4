"""Simplification within a time budget.

``sympy.simplify`` can run for minutes on an innocent-looking entry. Each
entry gets ``seconds`` of wall time, and all of them together the request's
``timeout`` (see :mod:`jacobian_calc.core.budget`: the alarm that enforces
both works on the main thread only; elsewhere only entries of at most
``OFF_THREAD_SIMPLIFY_NODES`` nodes are simplified). On overrun the
unsimplified entry is kept and a note recorded for the result being built
(:func:`notes`), which lists it among its ``warnings``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import sympy as sp

from ..core import budget
from ..core.errors import LimitError, Message
from .measure import expanded_terms, tree_size

#: The notes of the block of :func:`notes` being run (None outside one).
_NOTES: ContextVar[list[str] | None] = ContextVar("jacobian_calc_simplify_notes", default=None)


@contextmanager
def notes() -> Iterator[list[str]]:
    """Collect what simplifications inside the block kept unsimplified, and why (each note
    once, in order), for the ``warnings`` of the result the block builds.

    Examples
    --------
    >>> import sympy as sp
    >>> with notes() as kept:
    ...     _ = simplify_entry(sp.sin(sp.Symbol("x"))**2 + sp.cos(sp.Symbol("x"))**2)
    >>> kept
    []
    """
    collected: list[str] = []
    token = _NOTES.set(collected)
    try:
        yield collected
    finally:
        _NOTES.reset(token)


def _note(text: str) -> None:
    collected = _NOTES.get()
    note = Message(text)
    if collected is not None and note not in collected:
        collected.append(note)

#: :func:`is_zero` expands only what expands to at most this many terms.
EXPAND_TERMS = 10_000


_Timeout = budget.OutOfTime


@contextmanager
def time_budget(seconds: float):
    """Raise ``OutOfTime`` inside the block after ``seconds`` (main thread, POSIX only)."""
    with budget.request(), budget.limited(seconds):
        yield


def _too_big_to_try(expr: sp.Expr) -> bool:
    """Off the main thread nothing can interrupt SymPy: only small entries are tried."""
    return not budget.interruptible() and \
        tree_size(expr) > budget.OFF_THREAD_SIMPLIFY_NODES


def check_simplify_time(exprs, seconds: float, timeout: float) -> None:
    """Refuse, before starting, to simplify more entries than the request's time allows.

    Each entry may take ``seconds`` (``--simplify-timeout``); if all of them
    together could take longer than ``timeout`` (``--timeout``), the request
    is refused at once rather than after the timeout has run out.
    """
    count = sum(1 for e in exprs if not e.is_Atom)
    if count * seconds > timeout:
        raise LimitError(f"simplifying {count:,} entries could take up to "
                         f"{count * seconds:,.0f} s ({seconds:g} s each), over the request's "
                         f"{timeout:g} s", limit="timeout",
                         hint="raise {{timeout}}, lower {{simplify_timeout}}, or simplify a "
                              "smaller result")


def simplify_entry(expr: sp.Expr, seconds: float = 2.0) -> sp.Expr:
    """``sympy.simplify(expr)``, or ``expr`` itself if that takes over ``seconds``."""
    if expr.is_Atom:
        return expr
    budget.check()
    if _too_big_to_try(expr):
        _note(f"an entry of over {budget.OFF_THREAD_SIMPLIFY_NODES} nodes was kept "
              "unsimplified (no time limit can stop SymPy off the main thread)")
        return expr
    try:
        with time_budget(seconds):
            return sp.simplify(expr)
    except _Timeout:
        _note(f"simplification of an entry took over {seconds:g} s; "
              "kept unsimplified (raise it with {{simplify_timeout}})")
        return expr
    except RecursionError:
        _note("simplification of an entry recursed too deeply; kept unsimplified")
        return expr


def is_zero(expr: sp.Expr, seconds: float = 2.0) -> bool | None:
    """Decide ``expr == 0`` cheaply first, then by expansion, by cancelling common
    factors of a rational function, and by simplification.

    Returns None when no step showed it to be 0 within the budget (or, off the
    main thread, when ``expr`` is too large to try).
    """
    if expr == 0:
        return True
    if _too_big_to_try(expr) or expanded_terms(expr) > EXPAND_TERMS:
        return None
    try:
        with time_budget(seconds):
            if sp.expand(expr) == 0 or sp.cancel(expr) == 0:
                return True
            return sp.simplify(expr) == 0 or None
    except (_Timeout, RecursionError):
        return None
