"""Saying what a long request is doing, on a terminal.

Derivations announce their stages (``with stage("entries", total=3600):``)
and their progress (``advance()``); by default nobody listens and that costs
a context-variable lookup. The ``jac`` command installs a :class:`Terminal`
reporter when standard error is a terminal (and ``--quiet`` is not given):
after about a second it shows one line, ``jac: entries 1,200/3,600``,
rewritten at most ten times a second and cleared when the request ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from typing import Iterator, TextIO

_REPORTER: contextvars.ContextVar["Terminal | None"] = contextvars.ContextVar(
    "jacobian_calc_progress", default=None)


@contextlib.contextmanager
def stage(name: str, total: int | None = None) -> Iterator[None]:
    """Announce a stage of the work (``total`` steps, if known)."""
    reporter = _REPORTER.get()
    if reporter is None:
        yield
        return
    previous = reporter.enter(name, total)
    try:
        yield
    finally:
        reporter.leave(previous)


def advance(count: int = 1) -> None:
    """Count ``count`` steps of the current stage as done."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter.advance(count)


class Terminal:
    """Progress on one line of a terminal, shown only for requests longer than ``delay``."""

    def __init__(self, stream: TextIO, delay: float = 1.0, interval: float = 0.1) -> None:
        self.stream, self.delay, self.interval = stream, delay, interval
        self.start = time.monotonic()
        self.shown_at = 0.0
        self.state: tuple[str, int | None, int] = ("", None, 0)
        self.dirty = False

    def enter(self, name: str, total: int | None):
        previous = self.state
        self.state = (name, total, 0)
        self._show()
        return previous

    def leave(self, previous) -> None:
        self.state = previous
        self._show()

    def advance(self, count: int) -> None:
        name, total, done = self.state
        self.state = (name, total, done + count)
        self._show()

    def _show(self) -> None:
        now = time.monotonic()
        if now - self.start < self.delay or now - self.shown_at < self.interval:
            return
        name, total, done = self.state
        if not name:
            return
        text = f"jac: {name} {done:,}/{total:,}" if total else f"jac: {name}"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.shown_at, self.dirty = now, True

    def clear(self) -> None:
        if self.dirty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.dirty = False


@contextlib.contextmanager
def reporting(reporter: Terminal | None) -> Iterator[None]:
    """Send progress to ``reporter`` within the block (and clear its line at the end)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)
        if reporter is not None:
            reporter.clear()
