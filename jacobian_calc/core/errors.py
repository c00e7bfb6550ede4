"""The project's exception types.

Every problem with a request becomes a :class:`JacobianError`: the CLI prints
it as one ``Error:`` line (plus a caret line for parse errors) and exits with
status 2; the API raises it. Anything else escaping the library is a bug.

Messages name arguments with markers such as ``{{at}}`` or ``{{max_entries}}``:
``str(error)`` writes them as the API calls them (``at``,
``limits.max_entries``); :meth:`JacobianError.in_words` and
:meth:`Message.in_words` write them in another spelling, such as the ``jac``
command's options (``--at``, ``--max-entries``, kept in ``jacobian_calc.cli``),
so one message serves both.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Callable, Mapping

#: Argument markers -> how the API names the argument.
WORDS: dict[str, str] = {
    "at": "at",
    "wrt": "wrt",
    "shapes": "shapes",
    "lets": "lets",
    "functions": "functions",
    "symmetric": "symmetric",
    "upstream": "upstream",
    "layout": "layout",
    "onehot": "onehot",
    "simplify": "simplify",
    "chain": "chain()",
    "backprop": "backprop()",
    "hessian": "hessian()",
    "in_terms_of_output": "in_terms_of_output",
    "index_form": "index_form",
    "max_length": "limits.max_length",
    "max_depth": "limits.max_depth",
    "max_digits": "limits.max_digits",
    "max_size": "limits.max_size",
    "max_entries": "limits.max_entries",
    "max_nodes": "limits.max_nodes",
    "max_output": "limits.max_output",
    "timeout": "limits.timeout",
    "simplify_timeout": "limits.simplify_seconds",
    "full": "to_text(full=True)",
    "format_json": "to_json()",
    "spy": "spy_figure()",
    "expand": "expand",
    "shape_example": 'shapes={"X": (4, 3)}',
    "ask_index_form": "jacobian(..., index_form=True)",
}

_MARKER = re.compile(r"\{\{(\w+)\}\}")


def words(text: str, spellings: Mapping[str, str] | None = None) -> str:
    """Replace ``{{name}}`` markers by the API's name for the argument (or by ``spellings``).

    Examples
    --------
    >>> words("raise it with {{max_entries}}")
    'raise it with limits.max_entries'
    >>> words("raise it with {{max_entries}}", {"max_entries": "--max-entries"})
    'raise it with --max-entries'
    """
    table = WORDS if spellings is None else spellings
    return _MARKER.sub(lambda m: table.get(m.group(1), m.group(0)), text)


class Message(str):
    """A note or warning: a ``str`` in the API's words that keeps its ``{{markers}}``.

    Examples
    --------
    >>> note = Message("kept unsimplified (raise it with {{simplify_timeout}})")
    >>> note
    'kept unsimplified (raise it with limits.simplify_seconds)'
    >>> note.in_words({"simplify_timeout": "--simplify-timeout"})
    'kept unsimplified (raise it with --simplify-timeout)'
    """

    marked: str

    def __new__(cls, marked: str, spellings: Mapping[str, str] | None = None) -> "Message":
        message = super().__new__(cls, words(marked, spellings))
        message.marked = marked
        return message

    def in_words(self, spellings: Mapping[str, str]) -> str:
        """The text with arguments named as ``spellings`` (marker -> words) names them."""
        return words(self.marked, spellings)


def marked(text: str) -> str:
    """The text of a :class:`Message` with its markers (any other text as it is), for
    text that is printed into more text."""
    return text.marked if isinstance(text, Message) else text


def outside_markers(text: str, func: Callable[[str], str]) -> str:
    """``func`` applied to the text between the markers, the markers kept (escaping a
    message for LaTeX).

    Examples
    --------
    >>> outside_markers("use {{full}} now", str.upper)
    'USE {{full}} NOW'
    """
    parts = _MARKER.split(text)  # text, marker name, text, ...
    return "".join(func(part) if i % 2 == 0 else "{{" + part + "}}"
                   for i, part in enumerate(parts))


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

    def in_words(self, spellings: Mapping[str, str] | None = None) -> str:
        """The message with arguments named as ``spellings`` (marker -> words) names them
        (the API's names by default, as ``str(error)``)."""
        text = words(self.message, spellings)
        if self.col is not None:
            text += f" (column {self.col + 1})"
        if self.hint:
            text += f"; {words(self.hint, spellings)}"
        return text

    def __str__(self) -> str:
        return self.in_words()

    @property
    def marked(self) -> str:
        """The message with its ``{{markers}}`` kept (to keep it in a result as a
        :class:`Message`)."""
        return self.in_words({})

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
