"""Forward steps in evaluation order: a step comes after every step it uses, wherever
a shared subexpression was first named, at every argument position."""

import pytest
from click.testing import CliRunner

from jacobian_calc import backprop
from jacobian_calc.cli.main import main

VEC = {"x": (2,), "mu": (2,), "A": (2, 2), "S": (2, 2)}
SHARED = ["x - mu", "A@mu", "tanh(mu)", "mu*mu - x"]
# templates over a shared subexpression {h}, at every argument position
TEMPLATES = [
    "exp({h})@{h}", "{h}@exp({h})", "2*{h}.T@{h}", "c*{h}.T@A@{h}", "{h}.T@inv(S)@{h}",
    "{h}.T@A@exp({h})", "sum(tanh({h}) * {h})", "sum({h} * tanh({h}))",
    "sum(softmax({h}) * {h})", "logsumexp({h}) * sum({h})",
    "sum({h} / (1 + exp({h})))", "norm({h})**2 + sum(sigmoid({h}))",
    "0.5*logdet(S) + 0.5*{h}.T@inv(S)@{h}",
]
CASES = [(t.format(h=f"({h})"), h) for t in TEMPLATES for h in SHARED]


def _check_order(r) -> None:
    known = set(r.shapes) - {s.name for s in r.steps}
    for s in r.steps:
        assert set(s.inputs) <= known, (s.name, s.text, known)
        known.add(s.name)


@pytest.mark.parametrize("expr", [c[0] for c in CASES])
def test_steps_come_after_what_they_use(expr):
    r = backprop(expr, "mu", shapes=VEC, points=2)
    _check_order(r)
    assert r.end_to_end.check.ok, r.summary()
    assert all(b.check.ok for b in r.backward), r.summary()


def test_table_size():
    assert len(CASES) == len(TEMPLATES) * len(SHARED) >= 50


@pytest.mark.parametrize("expr,wrt,shapes", [
    ("exp(x-mu)@(x-mu)", "mu", ["x=2", "mu=2"]),
    ("2*(x-mu).T@(x-mu)", "mu", ["x=2", "mu=2"]),
    ("0.5*logdet(S) + 0.5*(x-mu).T@inv(S)@(x-mu)", "mu,S", ["x=2", "mu=2", "S=2x2"]),
])
def test_the_reported_cases_give_a_gradient(expr, wrt, shapes):
    args = [expr, "--wrt", wrt, "--backprop"] + [a for s in shapes for a in ("--shape", s)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "Verified:" in out.output and "DIFFERS" not in out.output
    assert "no value given" not in out.output
