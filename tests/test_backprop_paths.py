"""A variable on several paths: each backward step is checked against the paths it
stands for (its own local function, the other occurrences held fixed), so a right
rule is never reported as differing, and a wrong one still is."""

import dataclasses

import pytest

from jacobian_calc import backprop
from jacobian_calc.core.tree import Num
from jacobian_calc.ops import registry

RNN_LETS = {"h1": "tanh(x1@Wx + h0@Wh)", "h2": "tanh(x2@Wx + h1@Wh)"}
RNN = {"x1": (1, 2), "x2": (1, 2), "h0": (1, 3), "Wx": (2, 3), "Wh": (3, 3)}

# (name, expression, wrt, shapes, lets)
SEVERAL_PATHS = [
    ("X@X against X.T", "sum((X@X) * X.T)", "X", {"X": (3, 3)}, {}),
    ("X against X@X", "sum(X * (X@X))", "X", {"X": (2, 2)}, {}),
    ("x.T A x with A = x x.T", "x.T@A@x", "x", {"x": (3, 1)}, {"A": "x@x.T"}),
    ("x.T A x with A = outer(x, x)", "x.T@A@x", "x", {"x": (3,)}, {"A": "outer(x, x)"}),
    ("a weight in two layers", "sum(tanh(tanh(X@W)@W))", "W", {"X": (2, 3), "W": (3, 3)}, {}),
    ("a weight in two layers, with biases", "mean(sigmoid(tanh(X@W + b)@W + b))", "W,b",
     {"X": (2, 3), "W": (3, 3), "b": (3,)}, {}),
    ("an RNN's shared Wh", "sum(h2)", "Wh,Wx,h0", RNN, RNN_LETS),
    ("an RNN's shared Wh, a loss", "mean((h2@Wy - T)**2)", "Wh,Wx",
     {**RNN, "Wy": (3, 2), "T": (1, 2)}, RNN_LETS),
    ("a step used twice", "sum(exp(X) * exp(X)@X)", "X", {"X": (2, 2)}, {}),
    ("a softmax reused", "sum(softmax(z) * log(softmax(z)) * z)", "z", {"z": (3,)}, {}),
    ("(X@X).T against X", "sum((X@X).T * X)", "X", {"X": (2, 2)}, {}),
    ("log-softmax against its input", "sum(log(softmax(z)) * z)", "z", {"z": (3,)}, {}),
    ("cross-entropy plus a penalty on the logits", "-mean(T*log(softmax(Z))) + sum(Z*Z)", "Z",
     {"Z": (2, 3), "T": (2, 3)}, {}),
]


@pytest.mark.parametrize("expr,wrt,shapes,lets", [c[1:] for c in SEVERAL_PATHS],
                         ids=[c[0] for c in SEVERAL_PATHS])
def test_every_step_on_several_paths_is_proved(expr, wrt, shapes, lets):
    r = backprop(expr, wrt, shapes=shapes, lets=lets)
    verdicts = [(b.name, b.through, b.check.verdict) for b in r.backward]
    assert all(v == "proved" for *_, v in verdicts), verdicts
    assert r.end_to_end.check.ok and r.agree, r.summary()
    assert "DIFFERS" not in r.summary()


def test_the_table_has_several_paths_through_a_fused_step():
    """The table would not test the fix if no step held an occurrence fixed."""
    r = backprop("sum((X@X) * X.T)", "X", shapes={"X": (3, 3)})
    fused = [b for b in r.backward if len(b.through) > 1]
    assert fused and "X elsewhere held fixed" in fused[0].contraction
    assert [b.accumulate for b in r.backward] == [False, True]
    assert len(SEVERAL_PATHS) >= 13


def test_a_wrong_rule_on_a_held_path_is_still_caught(monkeypatch):
    op = registry._OPS["matmul"]
    wrong = lambda v: tuple(None if g is None else g * Num(2) for g in op.vjp(v))  # noqa: E731
    monkeypatch.setitem(registry._OPS, "matmul", dataclasses.replace(op, vjp=wrong))
    r = backprop("sum((X@X) * X.T)", "X", shapes={"X": (3, 3)})
    verdicts = [b.check.verdict for b in r.backward]
    assert verdicts == ["proved", "differs"], verdicts
    assert not r.agree and not r.end_to_end.check.ok


CLI_CASES = [
    ["sum((X@X) * X.T)", "--wrt", "X", "--shape", "X=3x3"],
    ["x.T@A@x", "--wrt", "x", "--shape", "x=3x1", "--let", "A=x@x.T"],
    ["sum(h2)", "--wrt", "Wh,Wx", "--shape", "x1=1x2", "--shape", "x2=1x2", "--shape", "h0=1x3",
     "--shape", "Wx=2x3", "--shape", "Wh=3x3", "--let", "h1=tanh(x1@Wx + h0@Wh)",
     "--let", "h2=tanh(x2@Wx + h1@Wh)"],
]


@pytest.mark.parametrize("args", CLI_CASES, ids=[a[0] for a in CLI_CASES])
def test_the_command_line_proves_every_step(args):
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main
    out = CliRunner().invoke(main, [*args, "--backprop", "--check"])
    assert out.exit_code == 0, out.output
    assert "DIFFERS" not in out.output and "DISAGREE" not in out.output
    verified = next(line for line in out.output.splitlines() if line.startswith("Verified"))
    assert "proved for all sizes" in verified and "; end to end agrees" in verified
    full = CliRunner().invoke(main, [*args, "--backprop", "--full"]).output
    assert "steps proved symbolically; end to end agrees" in full
