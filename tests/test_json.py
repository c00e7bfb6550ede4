"""JSON documents: one documented, versioned shape; entries read back exactly."""

from __future__ import annotations

import json

import jsonschema
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import backprop, chain, jacobian, read_json
from jacobian_calc.cli.main import main
from jacobian_calc.render.sympy_form import plain
from jacobian_calc.schema import schema

COMMANDS = [
    ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2"],
    ["x1*x2", "--at", "x1=0.5,x2=2"],
    ["A@x", "--wrt", "A", "--shape", "A=2x3", "--shape", "x=3"],
    ["X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--flatten"],
    ["y2**2", "--wrt", "w1", "--let", "y1=a*w1", "--let", "y2=y1+b1", "--chain"],
    ["f(g(x))", "--function", "f,g"],
    ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=4x3", "--shape", "W=3x2",
     "--shape", "b=2", "--backprop"],
    ["X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop", "--expand"],
    ["-mean(T*log(softmax(Z)))", "--wrt", "Z", "--shape", "Z=2x3", "--shape", "T=2x3",
     "--backprop", "--onehot", "T"],
]


def document(args) -> dict:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("args", COMMANDS, ids=[a[0] for a in COMMANDS])
def test_every_document_satisfies_the_schema(args):
    jsonschema.validate(document(args), schema())


def test_the_schema_is_itself_valid():
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("args", COMMANDS, ids=[a[0] for a in COMMANDS])
def test_of_is_always_a_list_and_the_version_is_stated(args):
    doc = document(args)
    assert isinstance(doc["of"], list) and doc["format"] == "jacobian_calc"
    assert doc["version"] == 2


def test_the_api_gives_the_same_documents():
    J = jacobian("x*y", wrt="x,y")
    assert isinstance(J.to_json(), str)
    assert json.loads(J.to_json()) == J.to_dict()
    jsonschema.validate(J.to_dict(), schema())
    jsonschema.validate(backprop("x*y", "x").to_dict(), schema())
    jsonschema.validate(chain("y**2", "x", lets={"y": "x + 1"}).to_dict(), schema())


NAMES = "I*x + S*gamma + N*beta + Q*E + sigmoid(x*I) + relu(S - x)*abs(N) + softplus(Q)*step(x)"


def test_plain_sympy_reads_every_entry_back_exactly():
    """No I, S, N, Q, gamma or beta surprises: every symbol reads back as itself."""
    J = jacobian(NAMES)
    doc = J.to_dict()
    for got, want in zip(doc["jacobians"][0]["sympy"][0], J.tensor):
        assert sp.sympify(got) == plain(want)


def test_read_json_reads_every_entry_back_exactly():
    J = jacobian(NAMES)
    assert read_json(J.to_json())["jacobians"][0]["entries"] == J.tensor


def test_backprop_entries_read_back():
    r = backprop("X@W", "W", shapes={"X": (2, 2), "W": (2, 2)}, expand=True)
    doc = read_json(r.to_json())
    assert doc["backward"][0]["explicit"] == sp.Matrix(r.backward[0].explicit.tolist())
    expanded = r.gradients["W"].expanded
    assert doc["gradients"][0]["expanded"] == sp.Matrix(expanded.tolist())
