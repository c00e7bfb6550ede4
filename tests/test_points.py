"""``--at`` everywhere: array values, files, Symbol keys; Jacobians, chains, backprop."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, backprop, chain, jacobian
from jacobian_calc.cli.main import main
from jacobian_calc.schema import schema


def jac(*args):
    return CliRunner().invoke(main, list(args))


def test_arrays_as_nested_lists():
    J = jacobian("A@x", wrt="A", shapes={"A": (2, 2), "x": 2})
    values = J.evaluate("A=[[1,2],[3,4]],x=[1,5]")
    assert values.tolist() == [[[1.0, 5.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 5.0]]]
    assert J.evaluate({"A": np.eye(2), "x": np.array([1.0, 5.0])}).tolist() == values.tolist()


def test_symbol_keys_and_string_keys_mix():
    x1, x2 = sp.symbols("x1 x2")
    J = jacobian(sp.sin(x1 - x2), wrt=[x1, x2])
    assert J.evaluate({x1: 0.5, "x2": 0.1}).tolist() == J.evaluate("x1=0.5,x2=0.1").tolist()
    assert J.evaluate({x1: 0.5, x2: 0.1}).shape == (1, 2)


@pytest.mark.parametrize("at, message", [
    ("A=[[1,2],[3]],x=[1,1]", "ragged"),
    ("A=[[1,2],[3,4],[5,6]],x=[1,1]", "declared 2x2"),
    ("A=[[1,2],[3,4]],x=[1,y]", "must be a number"),
    ("A=[[1,2],[3,4]],x=[1,1", "does not end"),
    ("A=[[1,2],[3,4]],x=[1,(-1)**(1/2)]", "complex"),
    ("A=[[1,2],[3,4]],x=[1,sqrt(2)]", "sqrt\\(\\) is not allowed"),
    ("A=[[1,2],[3,4]]", "no value for x"),
    ("A=[[1,2],[3,4]],x=[1,1],z=3", "which the result does not contain"),
])
def test_bad_points_are_refused_plainly(at, message):
    J = jacobian("A@x", wrt="A", shapes={"A": (2, 2), "x": 2})
    with pytest.raises(JacobianError, match=message):
        J.evaluate(at)


@pytest.mark.parametrize("bad", [None, 3, ["x", 1], {"x": 1j}, {"x": "__import__('os')"},
                                 {"x": None}, {"x": [1, 2]}, {3: 1.0}])
def test_evaluate_refuses_what_is_not_a_point(bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JacobianError):
        jacobian("x**2").evaluate(bad)
    assert not list(tmp_path.iterdir())


def test_a_point_from_a_json_file(tmp_path):
    path = tmp_path / "point.json"
    path.write_text(json.dumps({"A": [[1, 2], [3, 4]], "x": [1, 5]}))
    result = jac("A@x", "--wrt", "x", "--shape", "A=2x2", "--shape", "x=2", "--at", f"@{path}",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["jacobians"][0]["values"] == [[1.0, 2.0], [3.0, 4.0]]
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert jac("x", "--at", f"@{tmp_path / 'bad.json'}").exit_code == 2
    assert "no such file" in jac("x", "--at", "@/nonexistent.json").output


def test_backprop_at_a_point_gives_both_routes():
    r = backprop("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (2, 2), "W": (2, 1), "b": 1})
    values = r.evaluate({"X": [[1, 2], [3, 4]], "W": [[0.1], [0.2]], "b": [0.3]})
    assert all(v.agree and v.max_abs_error < 1e-12 for v in values.values())
    X, W, b = np.array([[1, 2], [3, 4.0]]), np.array([[0.1], [0.2]]), 0.3
    s = 1 / (1 + np.exp(-(X @ W + b)))
    np.testing.assert_allclose(values["W"].compact, X.T @ (s * (1 - s)) / 2, rtol=1e-12)


def test_backprop_at_needs_the_upstream_of_an_array_output():
    r = backprop("X@W", "W", shapes={"X": (2, 2), "W": (2, 2)})
    with pytest.raises(JacobianError, match="upstream gradient dY"):
        r.evaluate("X=[[1,2],[3,4]],W=[[1,0],[0,1]]")
    values = r.evaluate("X=[[1,2],[3,4]],W=[[1,0],[0,1]],dY=[[1,1],[1,1]]")
    assert values["W"].compact.tolist() == [[4.0, 4.0], [6.0, 6.0]]


def test_cli_backprop_at_in_text_json_and_latex():
    args = ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=2x2", "--shape", "W=2x1",
            "--shape", "b=1", "--backprop", "--at", "X=[[1,2],[3,4]],W=[[0.1],[0.2]],b=[0.3]"]
    text = jac(*args)
    assert text.exit_code == 0 and "explicit and compact agree" in text.output
    doc = json.loads(jac(*args, "--format", "json").output)
    jsonschema.validate(doc, schema())
    assert doc["gradients"][0]["values"]["agree"] is True
    latex = jac(*args, "--format", "latex").output
    assert r"dW &= \begin{pmatrix}" in latex


def test_chain_at_evaluates_every_factor():
    c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
    values = [f.evaluate({"w1": 0.5, "a": 2, "b1": 1}) for f in c.factors]
    assert [v.item() for v in values] == [4.0, 1.0, 2.0]
    out = jac("y2**2", "--wrt", "w1", "--let", "y1=a*w1", "--let", "y2=y1+b1", "--chain",
              "--at", "w1=0.5,a=2,b1=1").output
    assert "product of the factors equals the direct Jacobian's values" in out


def test_in_terms_of_output_at_computes_the_outputs_from_the_inputs():
    J = jacobian("softmax(l)", "l", shapes={"l": 3}, in_terms_of_output=True)
    plain = jacobian("softmax(l)", "l", shapes={"l": 3})
    point = {"l": [0.1, -0.4, 0.3]}
    np.testing.assert_allclose(J.evaluate(point), plain.evaluate(point), rtol=1e-13)


def test_entries_sympy_writes_with_re_and_im_evaluate_as_real_values():
    # tan has poles, so SymPy cannot tell sigmoid(tan(x1)) is real and differentiates
    # abs() of it through re() and im()
    import numpy as np
    import sympy as sp

    from jacobian_calc import jacobian
    from jacobian_calc.symbolic.numeric import float_eval
    from jacobian_calc.symbolic.symbols import scalar_symbol

    entry = jacobian("abs(sigmoid(tan(x1)))", wrt="x1").tensor[0, 0]
    assert entry.has(sp.im)
    x = np.array([0.3, -1.0])
    g = lambda t: abs(1 / (1 + np.exp(-np.tan(t))))  # noqa: E731
    expected = (g(x + 1e-6) - g(x - 1e-6)) / 2e-6
    got = float_eval([entry], {scalar_symbol("x1"): x})[0]
    assert np.allclose(got, expected, rtol=1e-6)
