"""Every kind of JSON document validates against the shipped schema, with the envelope
(``format``, ``version``, ``kind``, ``of``) and, for symbolic entries, ``sympy`` forms."""

from __future__ import annotations

import importlib.util
import json

import jsonschema
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import backprop, hessian, read_json
from jacobian_calc.cli.main import main
from jacobian_calc.render.code_check import check_code
from jacobian_calc.schema import schema

MLP = ["--shape", "X=2x3", "--shape", "W=3x2", "--shape", "b=2"]
# (kind, arguments)
DOCUMENTS = [
    ("jacobian", ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2"]),
    ("jacobian at a point", ["x1*x2", "--at", "x1=0.5,x2=2"]),
    ("jacobian of arrays", ["A@x", "--wrt", "A", "--shape", "A=2x3", "--shape", "x=3"]),
    ("chain", ["y2**2", "--wrt", "w1", "--let", "y1=a*w1", "--let", "y2=y1+b1", "--chain"]),
    ("chain at a point", ["y2**2", "--wrt", "w1", "--let", "y1=a*w1", "--let", "y2=y1+b1",
                          "--chain", "--at", "a=1,w1=2,b1=3"]),
    ("shared subexpressions", ["softmax(l)", "--wrt", "l", "--shape", "l=4", "--shared"]),
    ("backprop", ["mean(sigmoid(X@W + b))", "--wrt", "W,b", *MLP, "--backprop"]),
    ("backprop at a point", ["sum(X@W)", "--wrt", "W", "--shape", "X=1x2", "--shape", "W=2x1",
                             "--backprop", "--at", "X=[[1,2]],W=[[3],[4]]"]),
    ("hessian", ["x.T@A@x", "--wrt", "x", "--shape", "x=2", "--shape", "A=2x2", "--hessian"]),
    ("hessian of scalars", ["x1**2*x2", "--hessian"]),
    ("hessian at a point", ["x.T@A@x", "--wrt", "x", "--shape", "x=2", "--shape", "A=2x2",
                            "--hessian", "--at", "x=[1,2],A=[[1,2],[3,4]]"]),
    ("hessian, no compact form", ["sum(x)*x_1", "--wrt", "x", "--shape", "x=3", "--hessian"]),
    ("backprop at symbolic sizes", ["X@W + b", "--wrt", "W,b", "--shape", "X=Nxd",
                                    "--shape", "W=dxh", "--shape", "b=h", "--backprop"]),
    ("backprop checked by instantiation", ["det(X)", "--wrt", "X", "--shape", "X=dxd",
                                           "--backprop"]),
    ("compact map at symbolic sizes", ["X@W", "--wrt", "W", "--shape", "X=Nxd", "--shape",
                                       "W=dxh", "--compact"]),
    ("compact matrix at symbolic sizes", ["softmax(l)", "--wrt", "l", "--shape", "l=K",
                                          "--compact"]),
]


def document(args) -> dict:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("args", [d[1] for d in DOCUMENTS], ids=[d[0] for d in DOCUMENTS])
def test_every_document_kind_validates(args):
    doc = document(args)
    jsonschema.validate(doc, schema())
    assert doc["format"] == "jacobian_calc" and doc["version"] == 2
    assert doc["kind"] in {"jacobian", "backprop", "hessian"} and isinstance(doc["of"], list)


def test_the_shared_document_has_shared_names():
    doc = document(DOCUMENTS[5][1])
    assert doc.get("shared") and doc.get("shared_sympy")


def test_the_hessian_document_has_sympy_entries_that_read_back():
    doc = document(DOCUMENTS[8][1])
    block = doc["blocks"][0]
    assert block["entries"][0][0] == "2*A_1_1"
    assert sp.sympify(block["sympy"][0][0]) == 2 * sp.Symbol("A_1_1", real=True)
    assert read_json(json.dumps(doc))["kind"] == "hessian"


def test_the_api_documents_validate():
    jsonschema.validate(hessian("x1**2*x2").to_dict(), schema())
    r = backprop("mean(sigmoid(X@W))", "W", shapes={"X": (2, 3), "W": (3, 2)})
    languages = ("numpy", "torch") if importlib.util.find_spec("torch") else ("numpy",)
    for language in languages:  # the PyTorch code runs only where PyTorch is installed
        doc = check_code(r, language).to_dict()
        jsonschema.validate(doc, schema())
        assert doc["kind"] == "code_check" and doc["agree"] is True


def test_a_differing_code_check_validates(monkeypatch):
    from jacobian_calc.render import code_check
    r = backprop("sum(X*X)", "X", shapes={"X": (2, 2)})
    real = code_check.load_module

    def broken(code, name="generated"):
        module = real(code, name)
        if name == "generated_numpy":
            for attr in dir(module):
                f = getattr(module, attr)
                if callable(f) and attr.startswith("backward"):
                    setattr(module, attr, lambda *a, f=f, **k: {
                        n: v * 1.01 for n, v in f(*a, **k).items()})
        return module

    monkeypatch.setattr(code_check, "load_module", broken)
    doc = check_code(r, "numpy", autograd=False).to_dict()
    jsonschema.validate(doc, schema())
    assert doc["explicit"]["verdict"] == "differs" and doc["explicit"]["mismatch"]
    assert doc["agree"] is False and doc["autograd"] is None


def test_a_backprop_document_says_at_which_sizes_it_was_checked():
    """At symbolic sizes the end-to-end comparison runs at small instantiated sizes, and
    a step without an index form is checked at several: the document names them."""
    doc = document(["X@W + b", "--wrt", "W,b", "--shape", "X=Nxd", "--shape", "W=dxh",
                    "--shape", "b=h", "--backprop"])
    assert doc["end_to_end"]["sizes"] == {"N": 2, "d": 3, "h": 4}
    assert [b["sizes"] for b in doc["backward"]] == [None, None]  # proved for all sizes
    doc = document(["det(X)", "--wrt", "X", "--shape", "X=dxd", "--backprop"])
    assert doc["end_to_end"]["sizes"] == {"d": 2}
    [step] = doc["backward"]
    assert step["verdict"] == "checked" and step["sizes"] == [{"d": 2}, {"d": 3}, {"d": 4}]


def test_a_backprop_at_the_requested_sizes_has_no_instantiated_sizes():
    doc = document(DOCUMENTS[6][1])
    assert doc["end_to_end"]["sizes"] is None
    assert all(b["sizes"] is None for b in doc["backward"])


def test_a_large_concrete_backprop_says_at_which_small_sizes_it_ran():
    doc = document(["sum(tanh(X@W))", "--wrt", "W", "--shape", "X=40x30", "--shape",
                    "W=30x20", "--backprop"])
    assert doc["end_to_end"]["sizes"] == {"X_rows": 2, "X_cols": 3, "W_cols": 4}
    jsonschema.validate(doc, schema())


def test_the_schema_rejects_sizes_that_are_not_dimension_names_and_sizes():
    doc = document(DOCUMENTS[7][1])
    jsonschema.validate(doc, schema())
    for bad in ({"N": 0}, {"N": "2"}, {"2N": 2}):
        doc["end_to_end"]["sizes"] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, schema())
