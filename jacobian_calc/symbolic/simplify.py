"""Simplification within a time budget.

``sympy.simplify`` can run for minutes on an innocent-looking entry. Each
entry gets ``seconds`` of wall time (enforced with ``SIGALRM`` where the
platform and thread allow it); on overrun the unsimplified entry is kept and
a note recorded in :data:`NOTES`.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

import sympy as sp

#: Messages about entries whose simplification ran out of time (cleared by callers).
NOTES: list[str] = []


class _Timeout(Exception):
    pass


@contextmanager
def time_budget(seconds: float):
    """Raise ``_Timeout`` inside the block after ``seconds`` (main thread, POSIX only)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def simplify_entry(expr: sp.Expr, seconds: float = 2.0) -> sp.Expr:
    """``sympy.simplify(expr)``, or ``expr`` itself if that takes over ``seconds``."""
    if expr.is_Atom:
        return expr
    try:
        with time_budget(seconds):
            return sp.simplify(expr)
    except _Timeout:
        NOTES.append(f"simplification of an entry took over {seconds:g} s; "
                     "kept unsimplified (raise with --simplify-timeout)")
        return expr
    except RecursionError:
        NOTES.append("simplification of an entry recursed too deeply; kept unsimplified")
        return expr


def is_zero(expr: sp.Expr, seconds: float = 2.0) -> bool | None:
    """Decide ``expr == 0`` cheaply first, then by expansion, by cancelling common
    factors of a rational function, and by simplification.

    Returns None when no step showed it to be 0 within the budget.
    """
    if expr == 0:
        return True
    try:
        with time_budget(seconds):
            if sp.expand(expr) == 0 or sp.cancel(expr) == 0:
                return True
            return sp.simplify(expr) == 0 or None
    except (_Timeout, RecursionError):
        return None
