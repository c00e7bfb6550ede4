"""Nothing unknown is accepted silently; nothing we print turns into code when read back."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from jacobian_calc import JacobianError, jacobian, read_json
from jacobian_calc.cli.main import main


def jac(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def sentinel(tmp_path, monkeypatch):
    """A file that code smuggled into an expression would create."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "something was executed"


@pytest.mark.parametrize("text, suggestion", [
    ("sigmoud(x)", "did you mean sigmoid?"),
    ("sine(x)", "did you mean sin"),
    ("trase(A)", "did you mean trace?"),
    ("logsumexpp(x)", "did you mean logsumexp?"),
    ("softmx(x)", "did you mean softmax"),
])
def test_a_typo_is_refused_with_the_closest_operations(text, suggestion):
    result = jac(text)
    assert result.exit_code == 2
    assert "unknown function" in result.output and suggestion in result.output


@pytest.mark.parametrize("name", ["exec", "eval", "chr", "getattr", "open", "compile",
                                  "__import__", "globals", "print", "input"])
def test_python_builtins_are_never_functions(name, sentinel):
    result = jac(f"{name}(x)")
    assert result.exit_code == 2
    assert "Error:" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("name", ["exec", "open", "sum", "sin", "pi", "E", "__class__"])
def test_builtins_and_operations_are_never_variables(name):
    for args in ([name], ["x", "--shape", f"{name}=2"], ["x", "--wrt", name],
                 ["x", "--let", f"{name}=x"], ["x", "--function", name]):
        result = jac(*args)
        assert result.exit_code == 2, args
        assert "Error:" in result.output


def test_pow_is_written_as_an_operator():
    result = jac("pow(x, 2)")
    assert result.exit_code == 2 and "'**'" in result.output


def test_the_code_execution_payload_is_refused(sentinel):
    payload = ("x*exec(chr(pow(351,1,256)) + chr(105) + chr(109) + chr(112) + chr(111) + "
               "chr(114) + chr(116))")
    result = jac(payload, "--format", "json")
    assert result.exit_code == 2
    assert "unknown function 'exec'" in result.output


def test_undefined_functions_must_be_declared():
    assert jac("f(g(x))").exit_code == 2
    result = jac("f(g(x))", "--function", "f,g")
    assert result.exit_code == 0 and "Derivative" in result.output
    with pytest.raises(JacobianError, match="unknown function 'f'"):
        jacobian("f(x)")
    assert jacobian("f(x)", functions=["f"]).nnz == 1


def test_undefined_functions_take_only_scalars():
    with pytest.raises(JacobianError, match="undefined function of scalars"):
        jacobian("f(X)", wrt="X", shapes={"X": (2, 2)}, functions=["f"])


def test_a_variable_called_like_a_function_is_named_as_such():
    with pytest.raises(JacobianError, match="'W' is a variable, not a function"):
        jacobian("W(x)", shapes={"W": (2, 2), "x": 2})


@pytest.mark.parametrize("args", [
    ["-sum(T*log(P))", "--wrt", "P", "--shape", "T=2x2", "--shape", "P=2x2"],
    ["--wrt", "P", "--shape", "T=2x2", "--shape", "P=2x2", "-sum(T*log(P))"],
    ["--wrt", "P", "-sum(T*log(P))", "--shape", "T=2x2", "--shape", "P=2x2"],
    ["-x^2", "--wrt", "x"],
])
def test_an_expression_may_start_with_a_minus(args):
    result = jac(*args)
    assert result.exit_code == 0, result.output
    assert "Jacobian" in result.output


def test_options_that_look_like_expressions_are_still_options():
    assert "Usage" in jac("-h").output
    assert jac("x", "-o").exit_code == 2  # -o needs a file name


# -- reading output back -------------------------------------------------------------------

def test_read_json_reproduces_every_entry():
    result = jac("sigmoid(a*b), relu(a - b)*abs(b), softplus(a)*step(b), sign(a)*exp(b)/8",
                 "--format", "json")
    doc = read_json(result.output)
    J = jacobian("sigmoid(a*b), relu(a - b)*abs(b), softplus(a)*step(b), sign(a)*exp(b)/8")
    assert doc["jacobians"][0]["entries"] == J.tensor


@pytest.mark.parametrize("entry", [
    "__import__('os').system('touch pwned')",
    "exec(chr(1))",
    "x.__class__",
    "lambda: 0",
    "open('pwned', 'w')",
    "[c for c in ().__class__.__bases__]",
])
def test_read_json_executes_nothing(entry, sentinel):
    doc = json.dumps({"layout": "numerator", "of": ["x"],
                      "jacobians": [{"wrt": ["x"], "shape": [1, 1], "entries": [[entry]]}]})
    with pytest.raises(JacobianError):
        read_json(doc)


def test_read_json_refuses_what_is_not_json():
    with pytest.raises(JacobianError, match="not valid JSON"):
        read_json("{")
    with pytest.raises(TypeError):
        read_json(None)
