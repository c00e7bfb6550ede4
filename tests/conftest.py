"""Shared test set-up: the test tables in this folder are importable by the tests, and
the ``work`` fixture measures how much a request did (tests measure work, never time)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


class Work:
    """How many times the budget was checked: once per tree node evaluated, per output
    entry differentiated, per entry printed or simplified, per row of a product."""

    def __init__(self) -> None:
        self.checks = 0


@pytest.fixture
def work(monkeypatch) -> Work:
    """Count the work of what the test runs next (see :class:`Work`)."""
    from jacobian_calc.core import budget
    counter, real = Work(), budget.check

    def counting() -> None:
        counter.checks += 1
        real()
    monkeypatch.setattr(budget, "check", counting)
    return counter


#: Time allowances of symbolic proofs and simplifications are stretched this much in the
#: tests: a machine shared with other jobs gives the suite a fraction of a core, and a
#: verdict a test pins ("proved") must not turn into "agrees" for that.
STRETCH = 5


@pytest.fixture(autouse=True)
def proofs_do_not_depend_on_the_load(monkeypatch):
    """Allowances of a second or more (the defaults) are stretched by :data:`STRETCH`; the
    tiny ones a test sets on purpose (``--simplify-timeout 0.001``) are kept."""
    from jacobian_calc.derive import hessian_compact
    from jacobian_calc.symbolic import simplify, zero
    monkeypatch.setattr(hessian_compact, "PROOF_SECONDS",
                        STRETCH * hessian_compact.PROOF_SECONDS)
    monkeypatch.setattr(hessian_compact, "PAIR_SECONDS", STRETCH * hessian_compact.PAIR_SECONDS)
    real = simplify.time_budget

    def stretched(seconds: float):
        return real(seconds * STRETCH if seconds >= 1 else seconds)
    monkeypatch.setattr(simplify, "time_budget", stretched)
    monkeypatch.setattr(zero, "time_budget", stretched)
