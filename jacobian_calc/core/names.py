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
from typing import Iterable, Iterator

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


class Namer:
    """The one name space of a request: the user's names, the names generated for steps,
    gradients (``d`` + name), Hessian directions and the generated code's own names.

    A name is free when it is a valid name, not a Python built-in, not an operation,
    not taken (nor one differing from a taken name only in case, so files on a
    case-insensitive disk and readers never confuse two). With ``gradients``, taking
    ``Z`` also takes ``dZ``, and ``Z`` is free only if ``dZ`` is: a step's gradient can
    never be another name.

    Examples
    --------
    >>> namer = Namer({"X", "W", "dZ"}, gradients=True)
    >>> namer.free("Z"), namer.free("Y"), namer.first_free(["Z", "U", "V"])
    (False, True, 'U')
    >>> namer.free("dU"), namer.free("u")
    (False, False)
    """

    def __init__(self, taken: Iterable[str] = (), gradients: bool = False,
                 reserved: Iterable[str] = GENERATED_CODE_NAMES) -> None:
        from ..ops import lookup  # noqa: PLC0415 - core does not load the operations early

        self._operation = lookup
        self.gradients = gradients
        self.taken: set[str] = set()
        for name in (*taken, *reserved):
            self._reserve(name)

    def _reserve(self, name: str) -> None:
        self.taken.add(name.lower())
        if self.gradients:
            self.taken.add(f"d{name}".lower())
            if name.startswith("d") and len(name) > 1:
                self.taken.add(name[1:].lower())

    def free(self, name: str) -> bool:
        """Whether ``name`` (and, with ``gradients``, ``d`` + name) may still be given."""
        return (is_name(name) and name not in PYTHON_BUILTINS
                and self._operation(name) is None and name.lower() not in self.taken
                and not (self.gradients and f"d{name}".lower() in self.taken))

    def take(self, name: str) -> str:
        """Mark ``name`` as given (whether or not it was free) and return it."""
        self._reserve(name)
        return name

    def first_free(self, candidates: Iterable[str]) -> str:
        """The first free candidate, taken."""
        for name in candidates:
            if self.free(name):
                return self.take(name)
        raise JacobianError("could not find a free name for a generated step")


def repeated(letters: str, suffix: str = "", lower: bool = False) -> Iterator[str]:
    """``Z``, ``U``, ``ZZ``, ``UU``, ... (+ suffix): candidates for a step's name."""
    for repeat in range(1, 4):
        for letter in letters:
            yield (letter.lower() if lower else letter) * repeat + suffix


def numbered(letters: str, lower: bool) -> Iterator[str]:
    """``v``, ``u``, ``v1``, ``u1``, ... ``u99``: candidates for a direction or a subexpression."""
    for suffix in ("", *map(str, range(1, 100))):
        for letter in letters:
            yield (letter.lower() if lower else letter.upper()) + suffix
