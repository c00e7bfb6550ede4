"""Which names a user may give to variables, intermediates and functions.

A name is a letter followed by letters, digits or ``_``. Python's built-in
names (``exec``, ``open``, ``getattr`` ...) and names starting with ``_`` are
never names of anything here: they are refused wherever they appear, so no
output of ours can ever mention one.
"""

from __future__ import annotations

import builtins
import keyword
import re

from .errors import JacobianError, JacobianTypeError

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

#: Python's built-in names; those that are also operations are allowed as calls.
PYTHON_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))


def is_name(text: object) -> bool:
    """Whether ``text`` is a syntactically valid name."""
    return isinstance(text, str) and bool(NAME_RE.match(text)) and not keyword.iskeyword(text)


def check_name(name: object, what: str = "name") -> str:
    """Validate a user-supplied name of a variable, intermediate or function.

    Examples
    --------
    >>> check_name("W1")
    'W1'
    >>> check_name("exec")
    Traceback (most recent call last):
    ...
    jacobian_calc.core.errors.JacobianError: 'exec' is a Python built-in and cannot be used as a name
    """
    if not isinstance(name, str):
        raise JacobianTypeError(f"{what} must be a string, not {type(name).__name__}")
    if not NAME_RE.match(name):
        raise JacobianError(f"invalid {what} {name[:40]!r}: names are a letter followed by "
                            "letters, digits or '_'")
    if keyword.iskeyword(name):
        raise JacobianError(f"{name!r} is a reserved word and cannot be used as a name")
    if name in PYTHON_BUILTINS:
        raise JacobianError(f"{name!r} is a Python built-in and cannot be used as a name")
    return name


def suggest(name: str, known) -> str:
    """``"; did you mean sigmoid?"`` for the closest known names, or ``""``."""
    import difflib  # only on the way to an error message: not loaded at start-up

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def natural_key(name: str) -> list:
    """Sort key putting ``x2`` before ``x10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def entry_label(name: str, index: tuple[int, ...]) -> str:
    """``Y12`` for entry (0, 1) of Y; ``Y[10,2]`` once an index has two digits."""
    if not index:
        return name
    if all(i < 9 for i in index):
        return name + "".join(str(i + 1) for i in index)
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


#: Names the generated NumPy/PyTorch modules define or import themselves (their other
#: locals start with ``_``, which no user name may): never a variable's name there, and
#: never chosen for a generated one.
GENERATED_CODE_NAMES = frozenset({"np", "torch", "math", "forward", "backward", "gradient",
                                  "hessian", "hvp"})
