"""The one name space of a request: every name the calculator generates comes from here.

User names, forward steps' names, gradients (``d`` + name), Hessian directions and
the names generated code uses itself are allocated by one :class:`Namer`, so a
generated name can never equal, shadow or read as a user's.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from ..core.errors import JacobianError
from ..core.names import GENERATED_CODE_NAMES, PYTHON_BUILTINS, is_name
from ..ops import lookup


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
