"""Where the command's words go: stdout, a file, or one ``Error:`` line on stderr."""

from __future__ import annotations

import sys

import click

from ..core.errors import JacobianError
from ..core.files import atomic_write


def write_output(text: str, path: str | None) -> None:
    """Print, or write atomically to ``path``."""
    if path is None:
        click.echo(text)
        return
    atomic_write(path, text if text.endswith("\n") else text + "\n")


def fail(exc: JacobianError) -> None:
    """One ``Error:`` line (and a caret line under a parse error), exit status 2."""
    click.echo(f"Error: {exc.cli_message()}", err=True)
    caret = exc.caret()
    if caret:
        click.echo(caret, err=True)
    sys.exit(2)
