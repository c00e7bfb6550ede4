"""Limits hold in the API on every thread: one deadline, checked inside the long loops
(Hessian blocks, simplification, compact proofs, printing) as well as by the alarm.

Work is measured by counts (derivatives taken); the only clock bound is generous
(a 1 s limit must end the request long before the minute the work would take).
"""

from __future__ import annotations

import threading
import time

import pytest

from jacobian_calc import LimitError, Limits, hessian, jacobian
from jacobian_calc.derive import hessian as hessian_module

#: Far more than a 1 s limit needs, far less than the unlimited runs (about a minute).
GENEROUS = 15.0


def _on(thread: bool, func):
    """``func()``'s exception (or None) and its wall time, on this or another thread."""
    out = {}

    def run():
        started = time.monotonic()
        try:
            func()
            out["error"] = None
        except Exception as exc:  # noqa: BLE001 - returned to the test
            out["error"] = exc
        out["seconds"] = time.monotonic() - started

    if thread:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(120)
        assert not worker.is_alive()
    else:
        run()
    return out["error"], out["seconds"]


@pytest.mark.parametrize("thread", [False, True], ids=["main thread", "other thread"])
def test_a_large_hessian_stops_at_its_deadline(thread, monkeypatch):
    calls = []
    real = hessian_module.gradient
    monkeypatch.setattr(hessian_module, "gradient", lambda *a: calls.append(1) or real(*a))
    error, seconds = _on(thread, lambda: hessian("sum(log(softmax(x)))", wrt="x",
                                                 shapes={"x": 60}, limits=Limits(timeout=1)))
    assert isinstance(error, LimitError) and error.limit == "timeout", error
    assert len(calls) < 61  # the whole Hessian takes 1 + 60 sweeps
    assert seconds < GENEROUS


@pytest.mark.parametrize("thread", [False, True], ids=["main thread", "other thread"])
def test_a_simplified_hessian_stops_at_its_deadline(thread):
    error, seconds = _on(thread, lambda: hessian("det(A)", wrt="A", shapes={"A": (4, 4)},
                                                 simplify=True, limits=Limits(timeout=1)))
    assert isinstance(error, LimitError) and error.limit == "timeout", error
    assert seconds < GENEROUS


def test_hessian_is_an_entry_point():
    with pytest.raises(TypeError, match="hessian()"):
        hessian("x", wrt="x", colour="red")
    with pytest.raises(TypeError, match="Limits"):
        hessian("x", wrt="x", limits="fast")


def test_to_text_honours_max_output():
    J = jacobian("softmax(x)", wrt="x", shapes={"x": 12})
    assert len(J.to_text()) > 1000
    with pytest.raises(LimitError, match="over the limit of 1,000"):
        J.to_text(max_output=1000)
    with pytest.raises(LimitError, match="max_output"):
        J.to_latex(limits=Limits(max_output=200))
    with pytest.raises(TypeError):
        J.to_text(max_output=-1)
    assert J.to_text(max_output=100_000) == J.to_text()
