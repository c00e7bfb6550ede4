"""read_json is bounded like every request: the size of what shared names expand to is
estimated on their DAG before anything is substituted, and depth, digits and time are
limited by the same Limits."""

from __future__ import annotations

import json

import pytest

from jacobian_calc import JacobianError, LimitError, Limits, read_entry, read_json
from jacobian_calc.symbolic import read_json as module


def _laughs(levels: int) -> str:
    """``S_k = S_{k-1}*S_{k-1} + S_{k-1}``: a 1.5 KB document of 2**levels nodes."""
    shared = {"S1": "x + y"}
    for i in range(2, levels + 1):
        shared[f"S{i}"] = f"S{i - 1}*S{i - 1} + S{i - 1}"
    return json.dumps({"shared": shared, "entries": [f"S{levels}"]})


def test_billion_laughs_is_refused_before_it_is_built(monkeypatch):
    calls = []
    real = module.evaluate
    monkeypatch.setattr(module, "evaluate", lambda *a: calls.append(1) or real(*a))
    text = _laughs(60)
    assert len(text) < 2000
    with pytest.raises(LimitError, match=r"expands to about .* nodes") as info:
        read_json(text)
    assert "\n" not in str(info.value)
    assert len(calls) < 20  # refused on the way, not after building 2**60 nodes


def test_the_same_document_reads_within_a_raised_limit():
    doc = read_json(_laughs(8), limits=Limits(max_nodes=10_000))
    assert doc["entries"].free_symbols == {s for s in doc["entries"].free_symbols
                                           if s.name in ("x", "y")}


def test_an_entry_that_expands_too_far_is_refused():
    shared = {"S1": "x + y"}
    for i in range(2, 12):
        shared[f"S{i}"] = f"S{i - 1} + S{i - 1}*x"
    text = json.dumps({"shared": shared, "entries": ["S11*S11*S11*S11"]})
    with pytest.raises(LimitError, match="an entry expands"):
        read_json(text, limits=Limits(max_nodes=20_000))


@pytest.mark.parametrize("text, message", [
    ("[" * 500 + "]" * 500, "nested deeper than 100 levels"),
    ('{"entries": ' + "[" * 500 + "1" + "]" * 500 + "}", "nested deeper than 100 levels"),
    ('{"entries": [' + "9" * 5001 + "]}", "integer of 5,001 digits"),
    ('{"entries": [NaN]}', "NaN, which is not a JSON number"),
])
def test_depth_and_digits_give_one_line_errors(text, message):
    with pytest.raises(JacobianError, match=message) as info:
        read_json(text)
    assert "\n" not in str(info.value)


def test_digits_within_the_limit_are_read():
    assert read_json('{"entries": [' + "9" * 5000 + "]}")["entries"] == [10**5000 - 1]
    with pytest.raises(LimitError, match="max_digits"):
        read_json('{"n": ' + "9" * 200 + "}", limits=Limits(max_digits=100))


def test_many_shared_names_are_read_in_order_of_use():
    n = 2000
    shared = {f"S{i}": (f"S{i - 1} + 1" if i > 1 else "x") for i in range(n, 0, -1)}
    doc = read_json(json.dumps({"shared": shared, "entries": [f"S{n}"]}))
    assert str(doc["entries"]) == f"[x + {n - 1}]"


def test_read_json_keeps_the_request_deadline(monkeypatch):
    """The deadline is checked between shared definitions: with a deadline already
    passed, the reading stops at the first check."""
    from jacobian_calc.core import budget

    checks = []
    real = budget.check
    monkeypatch.setattr(budget, "check", lambda: checks.append(1) or real())
    shared = {f"S{i}": f"x*{i}" for i in range(1, 50)}
    read_json(json.dumps({"shared": shared, "entries": ["S1"]}))
    assert len(checks) >= 49


def test_read_entry_shares_the_reader():
    assert read_entry("S2 + 1", shared={"S2": "2*S1", "S1": "x*y"}) == read_entry("2*x*y + 1")
    with pytest.raises(LimitError):
        read_entry("S40", shared=json.loads(_laughs(40))["shared"])
