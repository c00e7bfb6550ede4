"""Where the command's words go: stdout, a file, or one ``Error:`` line on stderr.

Writing never ends in a traceback: a terminal whose encoding lacks ``∂`` gets
ASCII stand-ins, a full device (``ENOSPC``) or a closed pipe gets one
``Error:`` line, and what could not be written is discarded so that Python's
exit does not report it again.
"""

from __future__ import annotations

import errno
import os
import sys

import click

from .. import JacobianError
from ..render import atomic_write
from .words import cli_words, error_message

#: ASCII stand-ins for the symbols the text output uses.
ASCII = {"∂": "d", "│": "|", "·": "*", "×": "x", "δ": "delta", "…": "...", "≥": ">=",
         "≤": "<=", "—": "-", "–": "-", "→": "->", "−": "-"}


def write_output(text: str, path: str | None) -> None:
    """Print, or write atomically to ``path`` (what it says to do in the CLI's words)."""
    text = cli_words(text)
    if path is None:
        echo(text)
        return
    atomic_write(path, text if text.endswith("\n") else text + "\n")


def echo(text: str, err: bool = False) -> None:
    """``click.echo``, in the stream's own encoding, with a write failure as an error."""
    try:
        try:
            click.echo(text, err=err)
        except UnicodeEncodeError as exc:
            click.echo(encodable(text, exc.encoding), err=err)
    except OSError as exc:
        _discard(err)
        if exc.errno == errno.EPIPE:  # the reader went away (jac ... | head): nothing to say
            sys.exit(1)
        where = "standard error" if err else "standard output"
        raise JacobianError(f"cannot write to {where}: {exc.strerror or exc}") from None


def encodable(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot write replaced (``∂`` by ``d``, others by ?)."""
    for symbol, plain in ASCII.items():
        text = text.replace(symbol, plain)
    return text.encode(encoding, errors="replace").decode(encoding)


def _discard(err: bool) -> None:
    """Point the failed stream at the null device, so the exit's flush cannot fail again."""
    stream = sys.stderr if err else sys.stdout
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # not a real file (tests' streams)
        pass


def fail(exc: JacobianError) -> None:
    """One ``Error:`` line (and a caret line under a parse error), exit status 2."""
    try:
        echo(f"Error: {error_message(exc)}", err=True)
        caret = exc.caret()
        if caret:
            echo(caret, err=True)
    except JacobianError:
        pass  # stderr itself cannot be written: the exit status still says it
    sys.exit(2)


def interrupted() -> None:
    """Ctrl-C: one line, and the conventional exit status 130."""
    try:
        echo("Error: interrupted", err=True)
    except JacobianError:
        pass
    sys.exit(130)
