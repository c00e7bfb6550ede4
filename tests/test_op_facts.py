"""Facts of an operation that steps and simplification read live in its declaration
(``step_role``, ``value_sign``), not in tables of names elsewhere."""

from __future__ import annotations

import dataclasses

import pytest

from jacobian_calc.core.tree import Call, Name
from jacobian_calc.derive import steps, tidy
from jacobian_calc.ops import get, lookup, register, unregister


@pytest.fixture
def declared():
    """Declare copies of operations under new names; remove them afterwards."""
    names = []

    def declare(like: str, name: str, **facts):
        assert lookup(name) is None
        names.append(name)
        return register(dataclasses.replace(get(like), name=name, aliases=(), **facts))
    yield declare
    for name in names:
        unregister(name)


def test_the_facts_of_the_builtin_operations():
    assert get("max").step_role == get("min").step_role == "own step"
    assert {get(n).step_role for n in ("less", "less_equal", "greater", "greater_equal")} == \
        {"condition"}
    assert {get(n).value_sign for n in ("exp", "softmax", "sigmoid", "softplus", "cosh")} == \
        {"positive"}
    assert {get(n).value_sign for n in ("abs", "sqrt", "relu", "norm")} == {"nonnegative"}
    assert get("log").value_sign is None and get("tanh").value_sign is None


def test_steps_read_the_step_role(declared):
    x, parent = Name("X"), Call("sum", (Name("X"),))
    declared("max", "largest_tmp")
    declared("max", "plain_tmp", step_role=None)
    assert steps._named_by_lecture(Call("largest_tmp", (x,)), parent)
    assert not steps._named_by_lecture(Call("plain_tmp", (x,)), parent)
    declared("less", "below_tmp")
    where = Call("where", (Call("below_tmp", (x, Name("b"))), x, Name("b")))
    assert not steps._named_by_lecture(where.args[0], where)


def test_simplification_reads_the_value_sign(declared):
    x = Name("x")
    declared("tanh", "always_up_tmp", value_sign="positive")
    declared("tanh", "never_down_tmp", value_sign="nonnegative")
    assert tidy.positive(Call("always_up_tmp", (x,)))
    assert not tidy.positive(Call("never_down_tmp", (x,)))
    assert tidy.nonnegative(Call("never_down_tmp", (x,)))
    assert not tidy.nonnegative(Call("tanh", (x,)))


@pytest.mark.parametrize("facts", [{"step_role": "layer"}, {"value_sign": "negative"}])
def test_an_unknown_fact_is_refused(facts):
    with pytest.raises(TypeError, match="unknown"):
        register(dataclasses.replace(get("tanh"), name="refused_tmp", aliases=(), **facts))
    assert lookup("refused_tmp") is None
