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


@pytest.fixture(autouse=True)
def proofs_do_not_depend_on_the_clock(monkeypatch):
    """Symbolic proofs of compact Hessians get all the time they need: a verdict a test
    pins ("proved") must not turn into "agrees" on a busy machine."""
    from jacobian_calc.derive import hessian_compact
    monkeypatch.setattr(hessian_compact, "PROOF_SECONDS", 3600.0)
    monkeypatch.setattr(hessian_compact, "PAIR_SECONDS", 600.0)
