"""The ``jac`` command's first lines: Ctrl-C at any moment is one line and status 130.

While Python imports the command (SymPy takes a while) and while click reads the
arguments, nothing needs cleaning up, and a ``KeyboardInterrupt`` would print a
traceback (or click's "Aborted!" with status 1): there SIGINT ends the process at
once with ``Error: interrupted`` and 130. While a request runs, Ctrl-C raises
``KeyboardInterrupt`` as usual, so that an output file being written is removed
(the command's own handler then prints the same line).

Only the command installs this, never ``import jacobian_calc``.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

#: Exit status of a process ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def _stop(signum, frame) -> None:  # pragma: no cover - runs in a child process
    try:
        os.write(2, b"Error: interrupted\n")
    finally:
        os._exit(INTERRUPTED)


def guard() -> None:
    """Install the immediate Ctrl-C exit (main thread, default handler only)."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, Ctrl-C raises ``KeyboardInterrupt`` (cleanup runs); before and
    after it, the immediate exit holds."""
    if signal.getsignal(signal.SIGINT) is not _stop:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, _stop)
