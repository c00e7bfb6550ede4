"""Resource limits: every request is checked against these before work starts.

Each limit has a default and an option that raises it (named in the error
message), so a refusal always says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import JacobianTypeError


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for.

    Attributes
    ----------
    max_length : int
        Characters in one expression string (``--max-length``).
    max_depth : int
        Nesting depth of one expression (``--max-depth``).
    max_digits : int
        Decimal digits of any exact number the input denotes (``--max-digits``);
        guards against ``2**10**10``.
    max_size : int
        Entries of one declared variable (``--max-size``).
    max_entries : int
        Entries (dense count) of one requested Jacobian or of any array
        evaluated on the way (``--max-entries``).
    max_nodes : int
        Estimated expression nodes built by one stage (``--max-nodes``).
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
    max_nodes: int = 20_000_000
    max_output: int = 20_000_000
    timeout: float = 60.0
    simplify_seconds: float = 2.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float":
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value) and value > 0
            else:
                ok = type(value) is int and value > 0
            if not ok:
                kind = "a positive finite number" if f.type == "float" else "a positive integer"
                raise JacobianTypeError(f"limits.{f.name} must be {kind}, got {value!r}")


DEFAULT_LIMITS = Limits()
