"""Resource limits: every request is checked against these before work starts.

Each limit has a default and an option that raises it (named in the error
message), so a refusal always says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import JacobianTypeError
from .names import suggest


#: The ``{{marker}}`` naming each limit in messages (API and CLI words, see core.errors).
MARKERS = {"simplify_seconds": "simplify_timeout"}


@dataclass(frozen=True, init=False)
class Limits:
    """Bounds on what one request may ask for.

    Every limit is checked before the work it bounds starts (from shapes and
    size estimates), except ``timeout``, which is enforced while working.

    Attributes
    ----------
    max_length : int
        Characters in one expression string (``--max-length``).
    max_depth : int
        Nesting depth of one expression (``--max-depth``).
    max_digits : int
        Decimal digits of any exact number the input denotes or the
        computation would create (``--max-digits``); guards against
        ``2**10**10`` and ``(3*x)**10**12``.
    max_size : int
        Entries of one declared variable (``--max-size``).
    max_entries : int
        Entries (dense count) of one requested Jacobian or of any array
        evaluated on the way (``--max-entries``).
    max_nodes : int
        Estimated expression nodes built or visited by one stage: evaluating
        the expression, differentiating it, checking a chain product
        (``--max-nodes``).
    max_output : int
        Characters of printed output (``--max-output``).
    timeout : float
        Wall-clock seconds for the whole request (``--timeout``).
    simplify_seconds : float
        Time budget for simplifying one entry (``--simplify-timeout``).
    """

    max_length: int = 100_000
    max_depth: int = 100
    max_digits: int = 5_000
    max_size: int = 100_000
    max_entries: int = 50_000_000
    max_nodes: int = 1_000_000
    max_output: int = 10_000_000
    timeout: float = 60.0
    simplify_seconds: float = 2.0

    def __init__(self, *args, **kwargs) -> None:
        names = [f.name for f in fields(self)]
        if len(args) > len(names):
            raise JacobianTypeError(f"Limits() takes at most {len(names)} values, "
                                    f"got {len(args)}")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise JacobianTypeError(f"Limits() has no limit {name!r}{suggest(name, names)}")
            if name in values:
                raise JacobianTypeError(f"Limits() got {name} twice")
            values[name] = value
        for f in fields(self):
            value = values.get(f.name, f.default)
            _check(f.name, f.type, value)
            object.__setattr__(self, f.name, value)


def _check(name: str, kind: str, value: object) -> None:
    if kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and value > 0
    else:
        ok = type(value) is int and value > 0
    if not ok:
        what = "a positive finite number" if kind == "float" else "a positive integer"
        raise JacobianTypeError(f"{{{{{MARKERS.get(name, name)}}}}} must be {what}, "
                                f"got {value!r}"[:160])


DEFAULT_LIMITS = Limits()
