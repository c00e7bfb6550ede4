"""Reading JSON the calculator is given (``@point.json``, documents read back), strictly.

Python's ``json`` module takes the last of two equal keys, integers of any length
(then fails in ``int`` with a raw ``ValueError`` past 4,300 digits) and nesting as
deep as its recursion allows. Here a duplicate key is an error (one of the two
values would be ignored without a word), integers longer than ``limits.max_digits``
and nesting deeper than ``limits.max_depth`` are refused, and files that are not
regular files (a FIFO, a device such as ``/dev/urandom``) are refused before they
are opened, as they are for writing.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import Any

from .budget import active_limits
from .errors import JacobianError, LimitError


def loads(text: str | bytes, what: str = "the document") -> Any:
    """``json.loads`` with duplicate keys, over-long integers and deep nesting refused
    (within the active limits).

    Examples
    --------
    >>> loads('{"x": [1, 2.5]}')
    {'x': [1, 2.5]}
    >>> loads('{"x": 1, "x": 2}')
    Traceback (most recent call last):
    ...
    jacobian_calc.core.errors.JacobianError: the document gives the key "x" twice
    """
    limits = active_limits()

    def pairs(items: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for key, value in items:
            if key in out:
                raise JacobianError(f"{what} gives the key {json.dumps(key)[:60]} twice")
            out[key] = value
        return out

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_digits:
            raise LimitError(f"{what} has an integer of {len(digits.lstrip('-')):,} digits "
                             f"(limit {limits.max_digits:,})", limit="max_digits")
        current = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        if current == 0 or current > len(digits):
            return int(digits)
        sys.set_int_max_str_digits(len(digits) + 1)  # max_digits is the limit that counts
        try:
            return int(digits)
        finally:
            sys.set_int_max_str_digits(current)

    def constant(name: str):
        raise JacobianError(f"{what} holds {name}, which is not a JSON number")

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_int=integer,
                           parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise JacobianError(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno})") \
            from None
    except UnicodeDecodeError:
        raise JacobianError(f"{what} is not valid JSON: the bytes are not UTF-8 text") \
            from None
    except RecursionError:
        raise LimitError(f"{what} is nested deeper than {limits.max_depth} levels",
                         limit="max_depth") from None
    check_depth(value, what)
    return value


def check_depth(value: Any, what: str) -> None:
    """Refuse lists and objects nested deeper than ``limits.max_depth`` (without recursion)."""
    limits = active_limits()
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limits.max_depth:
            raise LimitError(f"{what} is nested deeper than {limits.max_depth} levels",
                             limit="max_depth")
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)


def read_text_file(path: str) -> str:
    """The text of a regular file of at most ``limits.max_length`` bytes; anything else
    (a FIFO, a device, a directory, a missing file) a one-line error, checked before
    opening so that nothing blocks or reads forever."""
    limits = active_limits()
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise JacobianError(f"cannot read {path}: no such file") from None
    except OSError as exc:
        raise JacobianError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise JacobianError(f"cannot read {path}: it is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise JacobianError(f"cannot read {path}: not a regular file (a FIFO, device or "
                            "socket is never read)")
    if info.st_size > limits.max_length:
        raise LimitError(f"{path} is larger than {limits.max_length:,} bytes",
                         limit="max_length")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped meanwhile
                raise JacobianError(f"cannot read {path}: not a regular file")
            data = handle.read(limits.max_length + 1)
    except OSError as exc:
        raise JacobianError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limits.max_length:
        raise LimitError(f"{path} is larger than {limits.max_length:,} bytes",
                         limit="max_length")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise JacobianError(f"cannot read {path}: not UTF-8 text") from None
