"""The HTTP API of ``jac serve`` against the ``jac`` command, and the server's refusals."""

from __future__ import annotations

import json
import re

import pytest

from web_support import jac, running_server

form = pytest.importorskip("jacobian_calc.web.form")

MLP = {"expr": "-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))", "wrt": "W1,b1,W2,b2",
       "shapes": {"X": "4x3", "W1": "3x5", "b1": "5", "W2": "5x2", "b2": "2", "T": "4x2"},
       "mode": "backprop", "onehot": "T"}

#: (API body, the same request as ``jac`` arguments).
CASES = [
    ({"expr": "sin(x1-x2), cos(x1-x2)", "wrt": "x1,x2"},
     ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2"]),
    ({"expr": "3*x^2*y, 2*x + y^8", "layout": "denominator"},
     ["3*x^2*y, 2*x + y^8", "--layout", "denominator"]),
    ({"expr": "sin(x1-x2), cos(x1-x2)", "wrt": "x1,x2", "at": "x1=0.5,x2=0.1"},
     ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2", "--at", "x1=0.5,x2=0.1"]),
    ({"expr": "A@x", "wrt": "A", "shapes": {"A": [2, 3], "x": 3}},
     ["A@x", "--wrt", "A", "--shape", "A=2x3", "--shape", "x=3"]),
    ({"expr": "X@W", "wrt": "W", "shapes": {"X": "2x2", "W": "2x2"}, "flatten": True},
     ["X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--flatten"]),
    ({"expr": "y2**2", "wrt": "w1", "lets": {"y1": "a*w1", "y2": "y1+b1"}, "chain": True},
     ["y2**2", "--wrt", "w1", "--let", "y1=a*w1", "--let", "y2=y1+b1", "--chain"]),
    ({"expr": "f(g(x))", "functions": ["f", "g"]}, ["f(g(x))", "--function", "f,g"]),
    ({"expr": "mean(sigmoid(X@W + b))", "wrt": "W,b", "shapes": {"X": "4x3", "W": "3x2",
                                                                  "b": "2"}, "mode": "backprop"},
     ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--shape", "X=4x3", "--shape", "W=3x2",
      "--shape", "b=2", "--backprop"]),
    (MLP, [MLP["expr"], "--wrt", "W1,b1,W2,b2", *[a for n, d in MLP["shapes"].items()
                                                  for a in ("--shape", f"{n}={d}")],
           "--backprop", "--onehot", "T"]),
    ({"expr": "x.T@A@x", "wrt": "x", "shapes": {"x": "3", "A": "3x3"}, "mode": "hessian"},
     ["x.T@A@x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3", "--hessian"]),
]
if {"--compact", "--claim"} <= form.jac_options():  # once the command has them
    CASES += [
        ({"expr": "softmax(l)", "wrt": "l", "shapes": {"l": 3}, "compact": True},
         ["softmax(l)", "--wrt", "l", "--shape", "l=3", "--compact"]),
        ({"expr": "softmax(l)", "wrt": "l", "shapes": {"l": 3},
          "claims": ["J = diag(p) - outer(p, p)"]},
         ["softmax(l)", "--wrt", "l", "--shape", "l=3", "--claim", "J = diag(p) - outer(p, p)"]),
    ]

#: Bad requests the command refuses: (body, the command's arguments).
REFUSED = [
    ({"expr": "sigmoud(x)"}, ["sigmoud(x)"]),
    ({"expr": "<img src=x onerror=alert(1)>"}, ["<img src=x onerror=alert(1)>"]),
    ({"expr": "A@x", "shapes": {"A": "2x3", "x": "2"}}, ["A@x", "--shape", "A=2x3",
                                                         "--shape", "x=2"]),
    ({"expr": "x*y", "mode": "backprop", "layout": "denominator"},
     ["x*y", "--backprop", "--layout", "denominator"]),
    ({"expr": "X@X", "wrt": "X", "shapes": {"X": "300x300"}},
     ["X@X", "--wrt", "X", "--shape", "X=300x300"]),
]


@pytest.fixture(scope="module")
def server():
    with running_server("--workers", "2", "--max-body", "4096") as running:
        yield running


@pytest.mark.parametrize("body, args", CASES, ids=[c[0]["expr"][:20] for c in CASES])
def test_api_answers_the_commands_json_byte_for_byte(server, body, args):
    status, headers, answer = server.request("/api/run", body)
    expected = jac(*args, "--format", "json")
    assert expected.returncode == 0, expected.stderr
    assert status == 200 and headers["content-type"] == "application/json"
    assert answer == expected.stdout
    json.loads(answer)


@pytest.mark.parametrize("body, args", REFUSED, ids=[c[0]["expr"][:20] for c in REFUSED])
def test_api_refuses_with_the_commands_message(server, body, args):
    status, _, answer = server.request("/api/run", body)
    expected = jac(*args, "--format", "json")
    assert expected.returncode == 2 and expected.stdout == b""
    lines = expected.stderr.decode().splitlines()
    refusal = json.loads(answer)
    assert status == 400
    assert "Error: " + refusal["error"] == lines[0]
    assert refusal.get("caret", "").splitlines() == lines[1:]


@pytest.mark.parametrize("raw, words", [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"expr": "x", "colour": "red"}', "unknown option 'colour'"),
    (b'{"expr": "x", "mode": "hessain"}', "unknown mode 'hessain'"),
    (b'{"expr": "x", "shapes": {"X": "4;3"}}', "the shape of X"),
    (b'{"expr": "x", "shapes": {"a b": "3"}}', "is not a name"),
    (b'{"expr": 42}', "must be a string"),
    (b'{"expr": "   "}', "no expression"),
    (b'{"expr": "x", "timeout": 1e9}', "over this server's limit"),
    (b'{"expr": "x", "flatten": "yes"}', "true or false"),
    (b'\xff\xfe', "not JSON"),
])
def test_malformed_bodies_are_400(server, raw, words):
    status, _, answer = server.request("/api/run", raw)
    assert status == 400
    assert words in json.loads(answer)["error"]


def test_body_over_the_limit_is_413(server):
    status, _, answer = server.request("/api/run", {"expr": "x+" * 3000 + "x"})
    assert status == 413 and "4,096 bytes" in json.loads(answer)["error"]


def test_headers_forbid_inline_scripts_and_other_origins(server):
    status, headers, page = server.request("/")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert b"<script>" not in page and b"<style" not in page  # scripts and styles are files
    assert not re.search(rb"<[^>]*\s(on\w+|style)=", page, re.I)  # no inline handlers
    assert not re.search(rb"(src|href)=\"(?!/|#|data:)", page)  # nothing from another origin
    for asset in ("/static/app.js", "/static/katex/katex.min.js", "/static/katex/LICENSE"):
        assert server.request(asset)[0] == 200


def test_page_view_has_everything_the_page_shows(server):
    status, _, answer = server.request("/api/page", MLP)
    view = json.loads(answer)
    assert status == 200
    assert view["document"] == json.loads(jac(*CASES[8][1], "--format", "json").stdout)
    assert view["latex"] == jac(*CASES[8][1], "--format", "latex").stdout.decode()
    assert view["derivation"] == jac(*CASES[8][1], "--derivation").stdout.decode()
    assert view["command"].startswith("jac '-mean(T*log(")
    assert ("mode", "backprop") in map(tuple, view["query"])


def test_the_shown_command_line_gives_the_same_json(server):
    import shlex
    body = CASES[3][0]
    view = json.loads(server.request("/api/page", body)[2])
    args = shlex.split(view["command"])[1:]
    assert json.loads(jac(*args, "--format", "json").stdout) == view["document"]


@pytest.mark.parametrize("kind, start", [
    ("latex", b"\\begin{aligned}"), ("standalone", b"\\documentclass"), ("json", b"{"),
    ("numpy", b'"""'), ("torch", b'"""')])
def test_downloads(server, kind, start):
    query = ("expr=mean(sigmoid(X%40W%2Bb))&wrt=W%2Cb&shape=X%3D4x3&shape=W%3D3x2&shape=b%3D2"
             "&mode=backprop")
    status, headers, body = server.request(f"/api/download?{query}&as={kind}")
    assert status == 200, body
    assert "attachment" in headers["content-disposition"]
    expected = jac("mean(sigmoid(X@W+b))", "--wrt", "W,b", "--shape", "X=4x3", "--shape",
                   "W=3x2", "--shape", "b=2", "--backprop",
                   *({"latex": ["--format", "latex"], "standalone": ["--standalone"],
                      "json": ["--format", "json"], "numpy": ["--format", "numpy"],
                      "torch": ["--format", "torch"]}[kind])).stdout
    assert body == expected and body.startswith(start)


def test_download_of_a_bad_request_is_the_error(server):
    status, _, body = server.request("/api/download?expr=sin(x&as=json")
    assert status == 400 and "column" in json.loads(body)["error"]
    status, _, body = server.request("/api/download?expr=x&as=pdf")
    assert status == 400 and "unknown download" in json.loads(body)["error"]


def test_features_follow_the_command(server):
    features = json.loads(server.request("/api/features")[2])
    helped = jac("--help").stdout.decode()
    assert features == {"modes": ["jacobian", "backprop", "hessian"],
                        "compact": "--compact" in helped, "claims": "--claim" in helped}
    if not features["compact"]:
        status, _, body = server.request("/api/run", {"expr": "x", "compact": True})
        assert status == 400 and "--compact" in json.loads(body)["error"]


def test_a_server_on_localhost_answers_only_to_local_names(server):
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/", headers={"Host": "attacker.example:8000"})
    answer = connection.getresponse()
    assert answer.status == 400
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/", headers={"Host": f"localhost:{server.port}"})
    assert connection.getresponse().status == 200
    connection.close()


def test_ctrl_c_stops_the_server_and_its_workers():
    import os
    import signal
    with running_server("--workers", "2") as server:
        pids = [w["pid"] for w in server.status()["workers"]]
        assert len(pids) == 2
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(60) == 0
        banner = server.process.stdout.read()
    assert banner.startswith(f"jac serve: http://127.0.0.1:{server.port}/\n"
                             "only this machine can reach it")
    for pid in pids:  # each worker ended with the server (not left running)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            import time
            time.sleep(0.1)
        else:
            raise AssertionError(f"worker {pid} still runs")


@pytest.mark.skipif("--claim" not in form.jac_options(), reason="jac has no --claim")
def test_a_refuted_claim_is_a_document_not_an_error(server):
    body = {"expr": "softmax(l)", "wrt": "l", "shapes": {"l": 3}, "claims": ["J = diag(p)"]}
    status, _, answer = server.request("/api/run", body)
    expected = jac("softmax(l)", "--wrt", "l", "--shape", "l=3", "--claim", "J = diag(p)",
                   "--format", "json")
    assert expected.returncode == 1  # the command's exit status says: refuted
    assert status == 200 and answer == expected.stdout
    assert json.loads(answer)["claims"][0]["verdict"] == "refuted"
