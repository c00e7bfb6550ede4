"""Hardening: resource limits, time budgets, numeric edge cases, odd characters
and the quality of error messages (what was wrong, and where)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from jacobian_calc import JacobianError, Limits, jacobian, parse
from jacobian_calc.cli.main import main


def jac(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    return result


def refused(*args, contains=()):
    result = jac(*args)
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output
    for text in contains:
        assert text in result.output, result.output
    return result.output


def parse_error(text, limits=Limits()):
    with pytest.raises(JacobianError) as info:
        parse(text, limits)
    return info.value


# -- limits: each is refused by default, names its option, and the option raises it ----

def test_expression_length_limit():
    text = "+".join(["x"] * 60_000)
    refused(text, contains=["characters long", "--max-length"])
    refused("x+y", "--max-length", "2", contains=["3 characters", "limit of 2"])
    assert jac("x+y", "--max-length", "3").exit_code == 0


def test_nesting_depth_limit():
    text = "(" * 150 + "x" + ")" * 150
    refused(text, contains=["nested deeper than 100", "--max-depth"])
    refused("((x))", "--max-depth", "1", contains=["nested deeper than 1", "--max-depth"])
    assert jac("((x))", "--max-depth", "2").exit_code == 0
    deep = "sin(" * 120 + "x" + ")" * 120
    refused(deep, contains=["--max-depth"])
    assert jac(deep, "--max-depth", "150").exit_code == 0


def test_flat_chains_are_not_refused_as_nesting():
    assert jac("+".join(["x"] * 800)).exit_code == 0
    out = refused("+".join(["x"] * 20_000))
    assert "too complex" in out or "nested" in out


@pytest.mark.parametrize("text", ["2**10**10", "9^9^9", "x*10**10**10", "(9^9)^(9^9)"])
def test_huge_powers_are_refused_without_computing(text, work):
    out = refused(text, contains=["number too large", "--max-digits"])
    assert work.checks == 0  # refused while parsing, before any node was evaluated
    assert "^" in out.splitlines()[-1]


def test_checks_see_subtrees_shared_with_earlier_components():
    # each distinct subtree is checked once per text: what an earlier component
    # made of 9^9 must still count in a later, larger one
    refused("x + 9^9, x*(9^9)^(9^9)", contains=["number too large", "--max-digits"])
    deep = "x"
    for _ in range(60):
        deep = f"sin({deep})"
    assert jac(f"{deep}, cos({deep})", "--max-depth", "61").exit_code == 2
    assert jac(f"{deep}, {deep}", "--max-depth", "61").exit_code == 0


def test_long_number_literal_is_refused():
    refused("x*" + "9" * 6000, contains=["more than 5000 digits"])
    assert jac("x*" + "9" * 6000, "--max-digits", "7000").exit_code == 0


def test_max_digits_option_raises_the_limit():
    refused("x*2**10**5", contains=["number too large", "--max-digits"])
    assert jac("x*2**10**5", "--max-digits", "40000").exit_code == 0
    refused("x*2^100", "--max-digits", "10", contains=["number too large"])


def test_declared_shape_limit():
    refused("sum(x)", "--shape", "x=200000", contains=["200,000 entries", "--max-size"])
    refused("sum(x)", "--shape", "x=4", "--max-size", "3", contains=["limit of 3"])
    assert jac("sum(x)", "--shape", "x=4", "--max-size", "4").exit_code == 0


def test_huge_jacobian_is_refused_quickly_with_its_size(work):
    refused("X@W", "--wrt", "W", "--shape", "X=300x300", "--shape", "W=300x300",
            contains=["8,100,000,000 entries", "300x300x300x300", "--max-entries"])
    assert work.checks < 1000  # refused by its size, before the 90,000 entries of X @ W


def test_max_entries_option_raises_the_limit():
    args = ("X@W", "--wrt", "W", "--shape", "X=2x3", "--shape", "W=3x2")
    refused(*args, "--max-entries", "23", contains=["24 entries", "--max-entries"])
    assert jac(*args, "--max-entries", "24").exit_code == 0


def test_limits_apply_to_the_library_api():
    with pytest.raises(JacobianError, match="limits.max_entries"):
        jacobian("X@W", wrt="W", shapes={"X": (300, 300), "W": (300, 300)})
    with pytest.raises(JacobianError, match="limits.max_digits"):
        jacobian("x*9^9^9", wrt="x")
    assert jacobian("x*2^100", wrt="x", limits=Limits(max_digits=40)).nnz == 1


# -- simplify time budget ------------------------------------------------------------

SLOW = ("exp(l1)/(exp(l1)+exp(l2)+exp(l3)), "
        "log(sin(l1)^2+cos(l1)^2)*tanh(l2+l3)^3*sigmoid(l1*l2)")


def test_simplify_timeout_keeps_the_unsimplified_entry_with_a_warning():
    result = CliRunner().invoke(main, [SLOW, "--simplify", "--simplify-timeout", "0.001"])
    assert result.exit_code == 0, result.output
    assert "Warning: simplification of an entry took over 0.001 s" in result.output
    assert "--simplify-timeout" in result.output
    assert "exp(l1)" in result.output


def test_simplify_timeout_is_validated():
    refused("x", "--simplify", "--simplify-timeout", "0")
    refused("x", "--simplify", "--simplify-timeout", "abc")


def test_simplify_within_budget_has_no_warning():
    result = CliRunner().invoke(main, ["sin(x)^2 + cos(x)^2 + x", "--simplify"])
    assert result.exit_code == 0 and "Warning" not in result.output


# -- numeric edge cases with --at ------------------------------------------------------

def json_entries(*args):
    result = jac(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["jacobians"][0]["values"]


def test_log_at_zero_is_a_pole():
    refused("log(x)", "--at", "x=0", contains=["infinite (a pole", "x=0"])


def test_zero_over_zero_is_nan():
    refused("sin(x)/x", "--at", "x=0", contains=["undefined (NaN)"])


def test_sqrt_of_negative_is_refused():
    out = refused("sqrt(x)", "--at", "x=-1")
    assert "NaN" in out or "not real" in out


def test_relu_derivative_at_zero_is_one():
    assert json_entries("relu(x)", "--at", "x=0") == [[1.0]]
    assert json_entries("relu(x)", "--at", "x=-2") == [[0.0]]


def test_abs_derivative_at_zero_is_sign_zero():
    assert json_entries("abs(x)", "--at", "x=0") == [[0.0]]
    assert json_entries("abs(x)", "--at", "x=-3") == [[-1.0]]
    assert jacobian("relu(x)+abs(y)", wrt="x,y").evaluate({"x": 0, "y": 0}).tolist() \
        == [[1.0, 0.0]]


@pytest.mark.parametrize("value, message", [
    ("foo", "must be a number"), ("nan", "must be a number"), ("inf", "must be a number"),
    ("1/0", "division by zero"), ("1e999", "too large for floating point"),
    ("", "malformed --at"), ("'1'", "strings are not allowed"),
])
def test_non_numeric_at_values(value, message):
    refused("x^2", "--at", f"x={value}", contains=[message])


def test_exact_at_values():
    assert json_entries("x^2", "--at", "x=pi/4")[0][0] == pytest.approx(3.14159265 / 2)


# -- Unicode and bytes -------------------------------------------------------------------

@pytest.mark.parametrize("text, col", [
    ("x + \u0443", 4),          # Cyrillic u
    ("\u0445*2", 0),            # Cyrillic x
    ("\u03b1 * x", 0),          # Greek alpha as a character
    ("x\u00a0+ y", 1),          # no-break space
    ("x +\u2003y", 3),          # em space
    ("x\u200b", 1),             # zero-width space
    ("x + y\x00", 5),           # NUL
    ("x \u2212 y", 2),          # minus sign
    ("x\udcff", 1),             # undecodable byte (surrogateescape)
])
def test_odd_characters_are_refused_with_their_column(text, col):
    error = parse_error(text)
    assert error.col == col
    assert f"U+{ord(text[col]):04X}" in error.message
    out = refused(text)
    assert f"(column {col + 1})" in out


def test_tabs_and_newlines_are_whitespace():
    assert [str(c) for c in parse("x\t+\ny,\r\n  2*x")] == ["x + y", "2 * x"]
    assert jac("x\t*\ny", "--wrt", "x,y").exit_code == 0


def test_bytes_are_refused():
    with pytest.raises(JacobianError, match="must be a string"):
        parse(b"x+y")


def test_greek_names_typed_as_words():
    result = jacobian("alpha*x + beta*x^2 + gamma", wrt="x")
    assert str(result[0, 0]) == "alpha + 2*beta*x"
    from jacobian_calc import to_latex
    latex = to_latex(jacobian("sin(alpha*x) + beta*gamma*x", wrt="x"))
    assert r"\alpha" in latex and r"\beta" in latex and r"\gamma" in latex
    assert jacobian("beta*gamma", wrt="beta,gamma").nnz == 2


def test_lambda_gets_a_clear_error_with_a_suggestion():
    error = parse_error("lambda*x")
    assert "reserved word" in error.message and error.col == 0
    assert "'lam'" in str(error)
    error = parse_error("x + lambda^2")
    assert error.col == 4
    refused("2*lambda", contains=["reserved word", "lam", "column 3"])


# -- error messages: what and where ------------------------------------------------------

@pytest.mark.parametrize("text, col, words", [
    ("x+", 2, "ends too early"),
    ("x^2 +", 5, "ends too early"),
    ("sin(x) *", 8, "ends too early"),
    ("a, b +", 6, "ends too early"),
    ("x^2 y", 4, "'y'"),
    ("x^^2", 2, "'^'"),
    ("x^2^^3", 4, "'^'"),
    ("x^2 + )", 6, "unmatched ')'"),
    ("(x^2", 0, "never closed"),
    ("y = x^2", 2, "statements"),
    ("x^2 = 1", 4, "'='"),
    ("x^2 // y", 4, "'//'"),
    ("x^2 % y", 4, "'%'"),
    ("x^2 + 'a'", 6, "strings"),
    ("x^2 + y[a]", 8, "indices are integer literals"),
    ("x^2 + x.real", 6, "attribute"),
    ("x^2 + 0x1F", 6, "decimal"),
    ("x^2 + 1j", 6, "complex"),
    ("x^2 + sin(x, y)", 6, "sin() takes 1 argument"),
    ("x^2 + __import__(y)", 6, "_"),
    ("x, , y", 2, "empty component"),
    ("x^2/0", 3, "division by zero"),
    ("(x) //y", 4, "'//'"),
])
def test_parse_errors_say_what_and_where(text, col, words):
    error = parse_error(text)
    assert words in error.message, error.message
    assert error.col == col, (error.col, str(error))
    caret = error.caret().splitlines()
    assert caret[0] == "  " + text
    assert caret[1] == "  " + " " * col + "^"


def test_cli_prints_the_caret_under_the_column():
    result = jac("x^2 +  y y")
    lines = result.output.splitlines()
    assert lines[0].startswith("Error: invalid syntax at 'y' (column 10)")
    assert lines[1] == "  x^2 +  y y"
    assert lines[2] == "  " + " " * 9 + "^"


def test_every_refusal_is_one_error_line():
    for text in ["x+", "", "   ", ",", "f(", "sin", "x.T.T.y", "sum(x, axis=5)"]:
        out = refused(text)
        assert out.startswith("Error: "), out
        assert "internal error" not in out
