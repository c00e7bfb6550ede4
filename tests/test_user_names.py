"""Messages name only the user's names: never a step's generated name or its gradient;
a broken one-hot promise is said first, and each number says which route it comes from."""

import re

import pytest
from click.testing import CliRunner

from jacobian_calc.cli.main import main

MLP = ["--shape", "X=2x2", "--shape", "W=2x2"]
POINT = "X=[[1,2],[3,4]],W=[[1,0],[0,1]]"
# (arguments, the names the message may list)
UNKNOWN = [
    (["sum(tanh(X@W))", "--wrt", "W", *MLP, "--backprop"], {"W", "X"}),
    (["tanh(X@W)", "--wrt", "W", *MLP, "--backprop"], {"W", "X", "dY"}),
    (["mean(sigmoid(tanh(X@W)@W))", "--wrt", "W", *MLP, "--backprop"], {"W", "X"}),
    (["x1*x2", "--wrt", "x1,x2"], {"x1", "x2"}),
    (["x.T@A@x", "--shape", "x=2", "--shape", "A=2x2", "--hessian"], {"A", "x"}),
]


def run(args):
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("args,user", UNKNOWN, ids=[a[0][0] for a in UNKNOWN])
@pytest.mark.parametrize("extra", ["Q=3", "Y=[[1,1],[1,1]]", "dZ=1", "H1=2"])
def test_an_unknown_name_at_a_point_lists_only_user_names(args, user, extra):
    point = {"X": POINT, "x": "x=[1,2],A=[[1,2],[3,4]]", "x1": "x1=1,x2=2"}
    given = point["X" if "X" in " ".join(args) else "x" if "x.T" in args[0] else "x1"]
    out = run([*args, "--at", f"{given},{extra}"])
    name = extra.split("=")[0]
    if name in user:  # dY is the user's upstream gradient: not unknown
        return
    assert out.exit_code != 0
    message = out.output.strip().splitlines()[-1]
    assert f"names {name}, which the result does not contain" in message, message
    listed = set(re.search(r"it has: ([^)]*)", message).group(1).split(", "))
    assert listed == user, message


def test_a_broken_onehot_promise_is_said_first_and_each_route_is_named():
    out = run(["-mean(T*log(softmax(Z)))", "--wrt", "Z", "--shape", "Z=2x2", "--shape", "T=2x2",
               "--backprop", "--onehot", "T", "--at", "Z=[[1,2],[3,4]],T=[[1,1],[0,1]]"])
    text = out.stdout
    at = text.index("At Z=")
    after = text[at:].splitlines()
    assert after[1].strip().startswith("T is not one-hot at this point (row 1 sums to 2")
    assert "explicit (the derivative of the whole expression):" in text[at:]
    assert "compact (the backward steps):" in text[at:]
    warnings = [line for line in out.stderr.splitlines() if line.startswith("Warning")]
    assert "T is not one-hot" in warnings[0] and "DISAGREE" in warnings[1]


def test_a_kept_onehot_promise_says_nothing_and_shows_one_set_of_numbers():
    out = run(["-mean(T*log(softmax(Z)))", "--wrt", "Z", "--shape", "Z=2x2", "--shape", "T=2x2",
               "--backprop", "--onehot", "T", "--at", "Z=[[1,2],[3,4]],T=[[1,0],[0,1]]"])
    assert out.exit_code == 0 and "not one-hot" not in out.output
    assert "explicit and compact agree" in out.output and "compact (the" not in out.output
