"""The command's spellings of the arguments that library messages name by marker.

The library writes ``{{full}}`` or ``{{max_entries}}`` where a message names an
argument; a Python user reads ``to_text(full=True)`` and ``limits.max_entries``
(``str()`` of the message or error), the ``jac`` command's user ``--full`` and
``--max-entries``: the options are spelt here, and only here.
"""

from __future__ import annotations

from .. import JacobianError, Message

#: Argument markers -> the command's option.
OPTIONS: dict[str, str] = {
    "at": "--at",
    "wrt": "--wrt",
    "shapes": "--shape",
    "lets": "--let",
    "functions": "--function",
    "symmetric": "--symmetric",
    "upstream": "--upstream",
    "layout": "--layout",
    "onehot": "--onehot",
    "simplify": "--simplify",
    "chain": "--chain",
    "backprop": "--backprop",
    "hessian": "--hessian",
    "in_terms_of_output": "--in-terms-of-output",
    "index_form": "--index-form",
    "max_length": "--max-length",
    "max_depth": "--max-depth",
    "max_digits": "--max-digits",
    "max_size": "--max-size",
    "max_entries": "--max-entries",
    "max_nodes": "--max-nodes",
    "max_output": "--max-output",
    "timeout": "--timeout",
    "simplify_timeout": "--simplify-timeout",
    "full": "--full",
    "format_json": "--format json",
    "spy": "--spy",
    "expand": "--expand",
    "shape_example": "--shape X=4x3",
    "ask_index_form": "--index-form",
}


def cli_words(text: str) -> str:
    """``text`` (a :class:`~jacobian_calc.Message`, or any text with markers) in the
    command's words.

    Examples
    --------
    >>> cli_words("raise it with {{max_entries}}")
    'raise it with --max-entries'
    """
    return (text if isinstance(text, Message) else Message(text)).in_words(OPTIONS)


def error_message(exc: JacobianError) -> str:
    """The error's one line in the command's words."""
    return exc.in_words(OPTIONS)


__all__ = ["OPTIONS", "cli_words", "error_message"]
