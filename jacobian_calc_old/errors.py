"""The project's one exception type.

Every problem with user input becomes a :class:`JacobianError`: the CLI prints
it as a single ``Error:`` line (plus a caret line for parse errors) and exits
with status 2. Anything else escaping the library is a bug.
"""

from __future__ import annotations


class JacobianError(ValueError):
    """Bad input, a refused request or an impossible derivation.

    Parameters
    ----------
    message : str
        What was wrong, in one line.
    source : str, optional
        The text that was being parsed, for the caret display.
    col : int, optional
        0-based column of the offending part of ``source``.
    hint : str, optional
        What to do about it.
    """

    def __init__(self, message: str, *, source: str | None = None,
                 col: int | None = None, hint: str | None = None) -> None:
        self.message = message
        self.source = source
        self.col = col
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message
        if self.col is not None:
            text += f" (column {self.col + 1})"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def caret(self) -> str | None:
        """The source line with a caret under the offending column, if known."""
        if self.source is None or self.col is None or len(self.source) > 200:
            return None
        line = self.source.replace("\t", " ").replace("\n", " ")
        return f"  {line}\n  {' ' * self.col}^"


class DisagreementError(JacobianError):
    """Raised by ``--check`` when explicit and compact gradients differ."""
