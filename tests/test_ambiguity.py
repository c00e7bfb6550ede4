"""Ambiguity is an error: a value given twice (an entry alone and inside its array, a
duplicate JSON key, a shared name defined twice or in terms of itself) is refused with
one line, whatever the order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jacobian_calc import JacobianError, jacobian, read_json


def _jac(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "jacobian_calc", *args], capture_output=True,
                          text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("at", ["x=0.5,A=[[1,2],[3,4]],A_1_1=9",
                                "A_1_1=9,x=0.5,A=[[1,2],[3,4]]"])
def test_an_entry_alone_and_inside_its_array_cli(at):
    out = _jac("x*A", "--shape", "A=2x2", "--at", at)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == "Error: A_1_1 is given twice in --at: alone and inside A"


@pytest.mark.parametrize("at", [{"x": 0.5, "A": [[1, 2], [3, 4]], "A_1_1": 9},
                                {"A_1_1": 9, "A": [[1, 2], [3, 4]], "x": 0.5}])
def test_an_entry_alone_and_inside_its_array_api(at):
    J = jacobian("x*A", wrt="x", shapes={"A": (2, 2)})
    with pytest.raises(JacobianError, match="A_1_1 is given twice in at: alone and inside A"):
        J.evaluate(at)


def test_a_symbol_and_its_name_given_both():
    import sympy as sp
    J = jacobian("x*y", wrt="x,y")
    with pytest.raises(JacobianError, match="x is given twice"):
        J.evaluate({"x": 1, sp.Symbol("x", real=True): 2, "y": 1})


def test_duplicate_keys_in_a_point_file(tmp_path):
    path = tmp_path / "point.json"
    path.write_text('{"x": 1, "y": 2, "x": 3}')
    out = _jac("x*y", "--at", f"@{path}")
    assert out.returncode == 2
    assert out.stderr.strip() == f'Error: {path} gives the key "x" twice'


def test_duplicate_keys_in_a_document_read_back():
    with pytest.raises(JacobianError, match='gives the key "entries" twice'):
        read_json('{"entries": ["x"], "entries": ["y"]}')
    with pytest.raises(JacobianError, match='gives the key "S1" twice'):
        read_json('{"shared": {"S1": "x", "S1": "y"}, "entries": ["S1"]}')


def test_a_shared_name_defined_twice_or_by_itself():
    nested = {"shared": {"S1": "x"}, "inner": {"shared": {"S1": "y"}, "entries": ["S1"]}}
    with pytest.raises(JacobianError, match="S1 is defined twice"):
        read_json(json.dumps(nested))
    with pytest.raises(JacobianError, match="in terms of itself"):
        read_json(json.dumps({"shared": {"S1": "S2 + 1", "S2": "2*S1"}, "entries": ["S1"]}))
    with pytest.raises(JacobianError, match="in terms of itself"):
        read_json(json.dumps({"shared": {"S1": "S1 + 1"}, "entries": ["S1"]}))


def test_shared_definitions_in_any_order():
    """The tool's own document re-serialised with sorted keys (S1, S10, S11, S2, ...)
    reads back to the same entries."""
    shared = {"S1": "x + y"}
    for i in range(2, 13):
        shared[f"S{i}"] = f"S{i - 1}*x + {i}"
    doc = {"shared": shared, "entries": [["S12", "S3"]]}
    first = read_json(json.dumps(doc))["entries"]
    second = read_json(json.dumps(doc, sort_keys=True))["entries"]
    assert first == second
    assert not {s.name for s in first.free_symbols} - {"x", "y"}  # every S resolved
