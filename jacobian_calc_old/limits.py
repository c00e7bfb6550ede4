"""Resource limits: every request is checked against these before work starts.

Each limit has a default and a CLI option that raises it (named in the
error message), so a refusal always says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        Entries (dense count) of one requested Jacobian (``--max-entries``).
    simplify_seconds : float
        Time budget for simplifying one entry (``--simplify-timeout``).
    """

    max_length: int = 100_000
    max_depth: int = 100
    max_digits: int = 5_000
    max_size: int = 100_000
    max_entries: int = 50_000_000
    simplify_seconds: float = 2.0


DEFAULT_LIMITS = Limits()
