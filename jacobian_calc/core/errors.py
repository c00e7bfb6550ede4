"""The project's exception types.

Every problem with a request becomes a :class:`JacobianError`: the CLI prints
it as one ``Error:`` line (plus a caret line for parse errors) and exits with
status 2; the API raises it. Anything else escaping the library is a bug.

Messages name arguments with markers such as ``{{at}}`` or ``{{max_entries}}``:
``str(error)`` writes them as the API calls them (``at``,
``limits.max_entries``), :meth:`JacobianError.cli_message` as the CLI does
(``--at``, ``--max-entries``), so one message serves both.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

#: Argument markers -> (API words, CLI words).
WORDS: dict[str, tuple[str, str]] = {
    "at": ("at", "--at"),
    "wrt": ("wrt", "--wrt"),
    "shapes": ("shapes", "--shape"),
    "lets": ("lets", "--let"),
    "functions": ("functions", "--function"),
    "symmetric": ("symmetric", "--symmetric"),
    "upstream": ("upstream", "--upstream"),
    "layout": ("layout", "--layout"),
    "onehot": ("onehot", "--onehot"),
    "simplify": ("simplify", "--simplify"),
    "chain": ("chain()", "--chain"),
    "backprop": ("backprop()", "--backprop"),
    "hessian": ("hessian()", "--hessian"),
    "in_terms_of_output": ("in_terms_of_output", "--in-terms-of-output"),
    "index_form": ("index_form", "--index-form"),
    "max_length": ("limits.max_length", "--max-length"),
    "max_depth": ("limits.max_depth", "--max-depth"),
    "max_digits": ("limits.max_digits", "--max-digits"),
    "max_size": ("limits.max_size", "--max-size"),
    "max_entries": ("limits.max_entries", "--max-entries"),
    "max_nodes": ("limits.max_nodes", "--max-nodes"),
    "max_output": ("limits.max_output", "--max-output"),
    "timeout": ("limits.timeout", "--timeout"),
    "simplify_timeout": ("limits.simplify_seconds", "--simplify-timeout"),
    "full": ("to_text(full=True)", "--full"),
    "format_json": ("to_json()", "--format json"),
    "spy": ("spy_figure()", "--spy"),
}

_MARKER = re.compile(r"\{\{(\w+)\}\}")


def words(text: str, cli: bool = False) -> str:
    """Replace ``{{name}}`` markers by the API's (or the CLI's) name for the argument.

    Examples
    --------
    >>> words("raise it with {{max_entries}}"), words("raise it with {{max_entries}}", cli=True)
    ('raise it with limits.max_entries', 'raise it with --max-entries')
    """
    index = 1 if cli else 0
    return _MARKER.sub(lambda m: WORDS[m.group(1)][index] if m.group(1) in WORDS
                       else m.group(0), text)


class Message(str):
    """A note or warning (a ``str`` in the API's words) that also knows the CLI's words.

    Examples
    --------
    >>> note = Message("kept unsimplified (raise it with {{simplify_timeout}})")
    >>> note, note.cli_message()
    ('kept unsimplified (raise it with limits.simplify_seconds)', 'kept unsimplified (raise it with --simplify-timeout)')
    """

    marked: str

    def __new__(cls, marked: str) -> "Message":
        message = super().__new__(cls, words(marked))
        message.marked = marked
        return message

    def cli_message(self) -> str:
        """The text with arguments named as the ``jac`` command names them."""
        return words(self.marked, cli=True)


def cli_words(text: str) -> str:
    """A message in the CLI's words: a :class:`Message`'s, any other text unchanged."""
    return text.cli_message() if isinstance(text, Message) else words(text, cli=True)


class JacobianError(ValueError):
    """Bad input, a refused request or an impossible derivation.

    Parameters
    ----------
    message : str
        What was wrong, in one line (``{{arg}}`` markers name arguments).
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

    def _text(self, cli: bool) -> str:
        text = words(self.message, cli)
        if self.col is not None:
            text += f" (column {self.col + 1})"
        if self.hint:
            text += f"; {words(self.hint, cli)}"
        return text

    def __str__(self) -> str:
        return self._text(cli=False)

    def cli_message(self) -> str:
        """The message with arguments named as the ``jac`` command names them."""
        return self._text(cli=True)

    def caret(self) -> str | None:
        """The source line with a caret under the offending column, if known."""
        if self.source is None or self.col is None or len(self.source) > 200:
            return None
        line = self.source.replace("\t", " ").replace("\n", " ").replace("\r", " ")
        return f"  {line}\n  {' ' * self.col}^"


class JacobianTypeError(JacobianError, TypeError):
    """An API argument of the wrong type (``jacobian(None)``, ``shapes="X=2"``)."""


class LimitError(JacobianError):
    """A request refused because it would exceed a limit; ``limit`` names it."""

    def __init__(self, message: str, *, limit: str, **kwargs) -> None:
        self.limit = limit
        kwargs.setdefault("hint", f"raise it with {{{{{limit}}}}}")
        super().__init__(message, **kwargs)


class DisagreementError(JacobianError):
    """Raised by ``--check`` when two routes to the same derivative differ."""


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn(message: str) -> None:
    """A ``UserWarning`` attributed to the caller's line, outside the package."""
    level, frame = 2, sys._getframe(1)  # level 1 is this function
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)
