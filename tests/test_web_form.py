"""The web layer's reading of a request into ``jac`` arguments, and ``jac serve`` beside
``jac EXPR`` (no server started here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from web_support import ROOT, jac

form = pytest.importorskip("jacobian_calc.web.form")


def test_body_and_query_read_to_the_same_arguments():
    body = form.from_json({"expr": "-mean(T*log(P))", "wrt": "P", "shapes": {"P": [2, 3],
                           "T": "2x3"}, "mode": "backprop", "onehot": "T", "timeout": 5})
    query = form.from_query([("expr", "-mean(T*log(P))"), ("wrt", "P"), ("shape", "P=2x3"),
                             ("shape", "T=2x3"), ("mode", "backprop"), ("onehot", "T"),
                             ("timeout", "5")])
    assert body == query
    assert body.arguments("json") == [
        "--backprop", "--wrt", "P", "--shape", "P=2x3", "--shape", "T=2x3", "--onehot", "T",
        "--format", "json", "--", "-mean(T*log(P))"]
    assert form.from_query(body.query()) == body  # the page's URL gives the request back


def test_the_command_line_quotes_what_a_shell_would_read():
    hostile = form.from_json({"expr": "x; rm -rf ~ $(reboot) `id`", "wrt": "x"})
    line = hostile.command_line()
    assert line == "jac 'x; rm -rf ~ $(reboot) `id`' --wrt x"
    result = subprocess.run(["sh", "-c", f"printf '%s\\n' {line[4:]}"], capture_output=True,
                            text=True, check=True)  # the shell reads it back as the words
    assert result.stdout.splitlines() == ["x; rm -rf ~ $(reboot) `id`", "--wrt", "x"]
    assert form.Form("-sum(x)", timeout=5.0).command_line() == "jac '-sum(x)' --timeout 5"


@pytest.mark.parametrize("body, words", [
    ({"expr": "x", "shapes": {"x": "3x$"}}, "the shape of x"),
    ({"expr": "x", "shapes": {"x": [3, True]}}, "the shape of x"),
    ({"expr": "x", "lets": {"1y": "x"}}, "is not a name"),
    ({"expr": "x", "max_nodes": True}, "must be an integer"),
    ({"expr": "x", "max_entries": 0}, "positive integer"),
    ({"expr": "x", "timeout": -1}, "positive number"),
    ({"expr": "x", "layout": "diagonal"}, "unknown layout"),
    ({"expr": "x\x00"}, "NUL"),
    ({"expr": "x" * 20_001}, "longer than"),
])
def test_malformed_options_are_refused(body, words):
    with pytest.raises(form.FormError, match=words):
        form.from_json(body)


@pytest.mark.parametrize("items, words", [
    ([("expr", "x"), ("shape", "X")], "expected NAME=DIMS"),
    ([("expr", "x"), ("shape", "X=2"), ("shape", "X=3")], "given twice"),
    ([("expr", "x"), ("colour", "red")], "unknown parameter"),
    ([("expr", "x"), ("timeout", "soon")], "must be a number"),
])
def test_malformed_urls_are_refused(items, words):
    with pytest.raises(form.FormError, match=words):
        form.from_query(items)


def test_serve_is_a_subcommand_and_an_expression_after_two_dashes():
    served = subprocess.run([sys.executable, "-m", "jacobian_calc", "serve", "--help"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert served.returncode == 0 and "Usage: jac serve [OPTIONS]" in served.stdout
    assert "--workers" in served.stdout and "127.0.0.1" in served.stdout
    as_expression = jac("--", "serve")  # the Jacobian of the scalar named serve
    assert as_expression.returncode == 0
    text = as_expression.stdout.decode()
    assert text.startswith("Jacobian ∂serve/∂serve of serve\n") and text.endswith("│        1\n")
    assert jac("--wrt", "serve", "serve").stdout == as_expression.stdout
    assert jac("2*serve", "--wrt", "serve").returncode == 0


def test_serve_refuses_bad_options_with_one_line():
    result = subprocess.run([sys.executable, "-m", "jacobian_calc", "serve", "--port", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_serve_without_the_web_extra_says_what_to_install():
    code = ("import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
            "from jacobian_calc.__main__ import main; main(['serve'])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: jac serve needs the web extra (starlette is missing)")
    assert 'pip install "jacobian_calc[web]"' in result.stderr
