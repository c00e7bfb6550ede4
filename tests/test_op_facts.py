"""Facts of an operation that steps, simplification, backprop's checks, the compact
forms and the parser read live in its declaration (``step_role``, ``value_sign``,
``rational``, ``shape_only``, ``step_letters``, ``step_in_arithmetic``, ``output_name``,
``hessian_letters``, ``pairwise``), not in tables of names elsewhere: a copy of an
operation with one fact changed behaves as that fact says."""

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


@pytest.mark.parametrize("facts", [{"step_role": "layer"}, {"value_sign": "negative"},
                                   {"step_letters": "P1"}, {"output_name": "p q"},
                                   {"hessian_letters": "s_"}])
def test_an_unknown_fact_is_refused(facts):
    with pytest.raises(TypeError, match="unknown|not letters"):
        register(dataclasses.replace(get("tanh"), name="refused_tmp", aliases=(), **facts))
    assert lookup("refused_tmp") is None


# -- facts read by backprop, the compact Jacobian, compact Hessians and the parser --------

SIZES = {"X": ("N", 3), "W": (3, "K")}


def test_the_builtin_operations_keep_their_naming_and_checking_facts():
    from jacobian_calc.ops import operations
    assert {op.name for op in operations() if op.rational} == {
        "add", "neg", "mul", "div", "pow", "matmul", "transpose", "hadamard", "sum", "mean",
        "trace", "det", "inv", "diag", "outer", "eye", "eye_like", "ones_like",
        "expand_dims", "relu", "step", "abs", "sign"}
    assert {op.name for op in operations() if op.shape_only} == {"ones_like", "eye_like"}
    assert {op.name: op.step_letters for op in operations() if op.step_letters} == {
        "softmax": "PQ", "log_softmax": "SR"}
    assert [op.name for op in operations() if op.step_in_arithmetic] == ["softmax"]
    assert {op.name: op.output_name for op in operations() if op.output_name} == {"softmax": "p"}
    assert {op.name: op.hessian_letters for op in operations() if op.hessian_letters} == {
        "softmax": "pq", "log_softmax": "rq", "sigmoid": "sg", "tanh": "yh", "exp": "eg",
        "relu": "ha", "step": "dg"}
    assert {op.name for op in operations() if op.step_role == "statistic"} == {"sum", "mean"}
    assert {op.name: op.pairwise for op in operations() if op.pairwise} == {
        "max": "maximum", "min": "minimum"}


def test_the_exact_check_reads_rational(declared):
    from jacobian_calc import backprop
    declared("relu", "kink_tmp")
    declared("relu", "opaque_tmp", rational=False)
    declared("tanh", "claimed_tmp", rational=True)
    exact = {name: backprop(f"sum({name}(X @ W))", wrt="W", shapes=SIZES).end_to_end
             .exact_points for name in ("kink_tmp", "opaque_tmp")}
    assert exact["kink_tmp"] > 0 and exact["opaque_tmp"] == 0
    from jacobian_calc.derive.backprop_sizes import _maybe_rational
    assert _maybe_rational(Call("claimed_tmp", (Name("x"),)))
    assert not _maybe_rational(Call("tanh", (Name("x"),)))


def test_a_constant_gradient_reads_shape_only(declared):
    from jacobian_calc.derive.backprop import _constant
    declared("ones_like", "filled_tmp")
    declared("ones_like", "unknown_tmp", shape_only=False)
    declared("exp", "shapes_tmp", shape_only=True)
    x = Name("X")
    assert _constant(Call("div", (Call("filled_tmp", (x,)), Name("N"))), frozenset({"N"}))
    assert not _constant(Call("unknown_tmp", (x,)))
    assert _constant(Call("shapes_tmp", (x,)))


def test_step_names_read_step_letters(declared):
    from jacobian_calc import backprop
    declared("softmax", "soft_tmp")
    declared("softmax", "lettered_tmp", step_letters="QR")
    declared("softmax", "generic_tmp", step_letters="")
    names = {name: [s.name for s in backprop(f"sum(T * log({name}(X @ W)))", wrt="W",
                                             shapes={**SIZES, "T": ("N", "K")}).steps]
             for name in ("soft_tmp", "lettered_tmp", "generic_tmp")}
    assert names == {"soft_tmp": ["Z", "P", "L"], "lettered_tmp": ["Z", "Q", "L"],
                     "generic_tmp": ["Z", "Y", "L"]}


def test_steps_read_step_in_arithmetic(declared):
    x = Name("z")
    declared("softmax", "kept_tmp")
    declared("softmax", "inlined_tmp", step_in_arithmetic=False)
    for name, named in (("kept_tmp", True), ("inlined_tmp", False)):
        node = Call(name, (x,))
        assert steps._named_by_lecture(node, Call("mul", (node, Name("q")))) is named


def test_steps_read_the_statistic_role(declared):
    from jacobian_calc.core.tree import Num
    declared("mean", "average_tmp")
    declared("mean", "plain_mean_tmp", step_role=None)
    declared("sum", "total_tmp")
    x = Name("x")
    for name, statistic in (("average_tmp", True), ("plain_mean_tmp", False),
                            ("total_tmp", True)):
        reduced = Call(name, (x,))
        root = Call("sum", (Call("add", (x, Call("neg", (reduced,)))),))
        found = {root: (), root.args[0]: (5,), x: (5,), reduced: (), root.args[0].args[1]: ()}
        assert (reduced in steps._statistics(root, found)) is statistic
        assert steps._kind(reduced, False, ()) == ("statistic" if statistic else "other")
    assert Num(0) not in steps._statistics(Num(0), {Num(0): ()})


def test_the_output_name_is_read_from_the_declaration(declared):
    from jacobian_calc import jacobian
    declared("softmax", "probs_tmp")
    declared("softmax", "renamed_tmp", output_name="q")
    declared("softmax", "unnamed_tmp", output_name="")
    names = ("probs_tmp", "renamed_tmp", "unnamed_tmp")
    compact = {name: jacobian(f"{name}(l)", wrt="l", shapes={"l": 3}, compact=True).compact
               for name in names}
    assert {name: c.text for name, c in compact.items()} == {
        "probs_tmp": "diag(p) - outer(p, p)", "renamed_tmp": "diag(q) - outer(q, q)",
        "unnamed_tmp": "diag(unnamed_tmp(l)) - outer(unnamed_tmp(l), unnamed_tmp(l))"}
    heads = {name: jacobian(f"{name}(l)", wrt="l", shapes={"l": 3},
                            in_terms_of_output=True).to_text().splitlines()[0]
             for name in names}
    assert heads == {"probs_tmp": "Jacobian ∂p/∂l of p = probs_tmp(l)",
                     "renamed_tmp": "Jacobian ∂q/∂l of q = renamed_tmp(l)",
                     "unnamed_tmp": "Jacobian ∂Y/∂l of Y = unnamed_tmp(l)"}
    index = {name: jacobian(f"{name}(l)", wrt="l", shapes={"l": "K"}, index_form=True,
                            in_terms_of_output=True).to_text().splitlines()[-1].strip()
             for name in names}
    assert index == {"probs_tmp": "(∂p/∂l)[i,j] = p[i] (δ[i,j] − p[j])",
                     "renamed_tmp": "(∂q/∂l)[i,j] = q[i] (δ[i,j] − q[j])",
                     "unnamed_tmp": "(∂Y/∂l)[i,j] = Y[i] (δ[i,j] − Y[j])"}


def test_compact_hessian_names_read_hessian_letters(declared):
    from jacobian_calc.derive.hessian_compact import name_subexpressions
    declared("sigmoid", "squash_tmp")
    declared("sigmoid", "lettered_squash_tmp", hessian_letters="ab")
    declared("sigmoid", "plain_squash_tmp", hessian_letters="")
    inner = Call("matmul", (Name("X"), Name("w")))
    shapes = {"X": (3, 2), "w": (2,)}
    first = {name: name_subexpressions([Call(name, (inner,))], shapes, set())[1][0][0]
             for name in ("squash_tmp", "lettered_squash_tmp", "plain_squash_tmp")}
    assert first == {"squash_tmp": "s", "lettered_squash_tmp": "a", "plain_squash_tmp": "h"}


def test_the_parser_reads_pairwise(declared):
    from jacobian_calc.core.errors import JacobianError
    from jacobian_calc.parsing import parse_expression
    declared("max", "most_tmp")
    declared("max", "only_axis_tmp", pairwise="")
    assert parse_expression("most_tmp(0, x)").op == "maximum"
    with pytest.raises(JacobianError, match="ambiguous"):
        parse_expression("most_tmp(X, 1)")
    with pytest.raises(JacobianError, match="only_axis_tmp"):
        parse_expression("only_axis_tmp(0, x)")
