"""Index notation: generic Jacobians for every size, and steps proved for all sizes.

Oracles: the lectures' and the note's own results as exact text; the explicit
Jacobian at concrete sizes (the index form instantiated at random sizes and
indices must equal its entries); PyTorch's autograd; and rules that are known
to be wrong (transposed, mis-scaled, sign-flipped) which the prover must catch.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import sympy as sp

from jacobian_calc import JacobianError, jacobian
from jacobian_calc.core.tree import Call, Name, Num
from jacobian_calc.derive.vjp import local_vjps
from jacobian_calc.index import algebra as I
from jacobian_calc.index.forms import NoIndexFormError, entry_of, has_index_form
from jacobian_calc.index.jacobian import index_jacobian
from jacobian_calc.index.printing import text
from jacobian_calc.index.prove import prove_step
from jacobian_calc.ops import NoIndexForm, operations
from jacobian_calc.ops.text import to_source
from jacobian_calc.parsing import parse_expression as parse
from jacobian_calc.symbolic.evaluate import node_shapes

from op_cases import ALL_CASES, sample

i, j, k, l = (I.index(c) for c in "ijkl")  # noqa: E741 - the lectures' letters


# -- golden table: generic Jacobians as the lectures write them ------------------------------

GOLDEN_JACOBIANS = [
    # expression, lets, wrt, shapes, in terms of output, text
    ("y", {"y": "A@x"}, "A", {"A": (2, 3), "x": 3}, False, "(∂y/∂A)[i,j,k] = δ[i,j] x[k]"),
    ("Y", {"Y": "X@A"}, "A", {"X": (4, 2), "A": (2, 3)}, False,
     "(∂Y/∂A)[i,j,k,l] = X[i,k] δ[j,l]"),
    ("X@W + b", {}, "W", {"X": (4, 2), "W": (2, 3), "b": 3}, False,
     "(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]"),
    ("X@W + b", {}, "b", {"X": (4, 2), "W": (2, 3), "b": 3}, False, "(∂Y/∂b)[i,j,k] = δ[j,k]"),
    ("X@W + b", {}, "X", {"X": (4, 2), "W": (2, 3), "b": 3}, False,
     "(∂Y/∂X)[i,j,k,l] = δ[i,k] W[l,j]"),
    ("softmax(l)", {}, "l", {"l": 3}, True, "(∂p/∂l)[i,j] = p[i] (δ[i,j] − p[j])"),
    ("softmax(Z)", {}, "Z", {"Z": (4, 3)}, True,
     "(∂P/∂Z)[i,j,k,l] = P[i,j] (δ[j,l] − P[i,l]) δ[i,k]"),
    ("sigmoid(X)", {}, "X", {"X": (2, 3)}, True,
     "(∂Y/∂X)[i,j,k,l] = Y[i,j] (1 − Y[i,j]) δ[i,k] δ[j,l]"),
    ("tanh(X@W + b)", {}, "W", {"X": (4, 2), "W": (2, 3), "b": 3}, True,
     "(∂Y/∂W)[i,j,k,l] = (1 − Y[i,j]**2) X[i,k] δ[j,l]"),
    ("log_softmax(l)", {}, "l", {"l": 3}, True, "(∂Y/∂l)[i,j] = δ[i,j] − exp(Y[j])"),
    ("sum(X, axis=0)", {}, "X", {"X": (2, 3)}, False, "(∂y/∂X)[i,j,k] = δ[i,k]"),
    ("trace(A@X)", {}, "X", {"A": (3, 3), "X": (3, 3)}, False, "(∂f/∂X)[i,j] = A[j,i]"),
    ("norm(x)", {}, "x", {"x": 3}, False, "(∂f/∂x)[i] = x[i] / sqrt(Σ_m x[m]**2)"),
    ("diag(x)", {}, "x", {"x": 3}, False, "(∂Y/∂x)[i,j,k] = δ[i,j] δ[i,k]"),
    ("outer(a, b)", {}, "a", {"a": 3, "b": 2}, False, "(∂Y/∂a)[i,j,k] = δ[i,k] b[j]"),
    # The lectures' results at every size (named dimensions): the same text.
    ("y", {"y": "A@x"}, "A", {"A": ("m", "n"), "x": ("n",)}, False,
     "(∂y/∂A)[i,j,k] = δ[i,j] x[k]"),
    ("Y", {"Y": "X@A"}, "A", {"X": ("b", "m"), "A": ("m", "n")}, False,
     "(∂Y/∂A)[i,j,k,l] = X[i,k] δ[j,l]"),
    ("z", {"z": "x@W + b"}, "x", {"x": ("m",), "W": ("m", "n"), "b": ("n",)}, False,
     "(∂z/∂x)[i,j] = W[j,i]"),
    ("softmax(l)", {}, "l", {"l": ("K",)}, True, "(∂p/∂l)[i,j] = p[i] (δ[i,j] − p[j])"),
    ("tanh(X)", {}, "X", {"X": ("N", "d")}, True,
     "(∂Y/∂X)[i,j,k,l] = (1 − Y[i,j]**2) δ[i,k] δ[j,l]"),
]


@pytest.mark.parametrize("expr, lets, wrt, shapes, output, expected", GOLDEN_JACOBIANS,
                         ids=[f"{c[0]}-{c[2]}" for c in GOLDEN_JACOBIANS])
def test_generic_jacobian_golden(expr, lets, wrt, shapes, output, expected):
    J = jacobian(expr, wrt=wrt, shapes=shapes, lets=lets, in_terms_of_output=output,
                 index_form=True)
    assert J.index.text() == expected


def test_symbolic_sizes_state_their_ranges():
    J = index_jacobian(parse("X @ W + b"), "W", {"X": ("N", "d"), "W": ("d", "h"),
                                                  "b": ("h",)})
    assert J.text() == "(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]"
    assert J.ranges == "i = 1..N, j = 1..h, k = 1..d, l = 1..h"
    assert J.latex() == r"\frac{\partial Y_{ij}}{\partial W_{kl}} = X_{ik} \delta_{jl}"
    mean = index_jacobian(parse("mean(X)"), "X", {"X": ("N", "h")})
    assert mean.text() == "(∂f/∂X)[i,j] = 1 / (N h)"


def test_index_form_is_sympy_with_indexed_entries_and_deltas():
    J = jacobian("X@W + b", wrt="W", shapes={"X": (4, 2), "W": (2, 3), "b": 3},
                 index_form=True)
    X = sp.IndexedBase("X", real=True)
    assert J.indices == (i, j, k, l)
    assert all(s.is_integer for s in J.indices)
    assert J.index_form == X[i, k] * sp.KroneckerDelta(j, l)
    assert isinstance(J.index_form.atoms(sp.Indexed).pop(), sp.Indexed)


def test_denominator_layout_puts_the_input_indices_first():
    J = jacobian("X@A", wrt="A", shapes={"X": (4, 2), "A": (2, 3)}, index_form=True,
                 layout="denominator")
    assert J.indices == (k, l, i, j)
    assert J.index.text() == "(∂Y/∂A)[k,l,i,j] = X[i,k] δ[j,l]"
    assert J.index.ranges == "k = 1..2, l = 1..3, i = 1..4, j = 1..3"
    assert J.with_layout("numerator").indices == (i, j, k, l)


def test_without_asking_there_is_no_index_form():
    J = jacobian("A@x", wrt="x", shapes={"A": (2, 3), "x": 3})
    with pytest.raises(JacobianError, match="index_form=True"):
        J.index_form


def test_operations_without_index_form_are_refused_plainly():
    with pytest.raises(JacobianError, match=r"det\(\) has no index form"):
        jacobian("det(A)", wrt="A", shapes={"A": (2, 2)}, index_form=True)
    with pytest.raises(JacobianError, match="one expression and one variable"):
        jacobian("x*y", wrt="x,y", index_form=True)


#: The operations the index notation must cover (and every element-wise function).
REQUIRED_INDEX_FORMS = ["matmul", "transpose", "add", "neg", "mul", "div", "pow", "sum", "mean",
                        "trace", "outer", "diag", "hadamard", "norm", "softmax", "log_softmax",
                        "logsumexp", "eye", "eye_like", "ones_like", "expand_dims", "pi", "E"]


def test_the_operations_declare_their_index_form_or_say_why_not():
    forms = {op.name: op.index for op in operations()}
    required = REQUIRED_INDEX_FORMS + [op.name for op in operations() if op.entry is not None]
    assert all(callable(forms[name]) for name in required)
    assert {"det", "inv", "logdet"} <= {n for n, f in forms.items() if isinstance(f, NoIndexForm)}


def test_an_operation_without_a_declared_index_form_is_said_plainly():
    from jacobian_calc.ops import Op, register, unregister
    from jacobian_calc.ops.registry import same_shape
    op = register(Op(name="_twice", category="elementwise", doc="2x", rule="dX = 2 * dY",
                     arity=(1, 1), shape=same_shape,
                     evaluate=lambda S, args, kw: args[0].map(lambda e: 2 * e),
                     vjp=lambda v: (2 * v.g,), numpy=lambda np, x, **kw: 2 * x,
                     code={"numpy": "2 * {0}", "torch": "2 * {0}"}, latex="2"))
    try:
        assert op.index is None  # a declaration without the field still registers
        with pytest.raises(JacobianError, match=r"_twice\(\) has no index form \(none declared\)"):
            index_jacobian(Call("_twice", (Name("X"),)), "X", {"X": ("N",)})
    finally:
        unregister("_twice")


# -- the index form against the explicit Jacobian at random sizes and indices ----------------

SIZE_NAMES = {2: "N", 3: "d"}
FIXED_SIZE = ("eye(3)",)  # a literal size in the expression: the shapes stay concrete


def _symbolic(case):
    """The case's shapes in dimension names; concrete where a shape rule needs the
    lengths (a padding, a convolution, a partial slice: their lengths are not names)."""
    if any(s in case.expr for s in FIXED_SIZE):
        return dict(case.shapes)
    square = any(len(s) == 2 and s[0] == s[1] for s in case.shapes.values())
    try:
        named = {n: tuple("n" if square else SIZE_NAMES[d] for d in s)
                 for n, s in case.shapes.items()}
        node_shapes(parse(case.expr), named)
    except (KeyError, JacobianError):
        return dict(case.shapes)
    return named


def _concrete_variants(case, rng, count=2):
    """For a case whose shape rules need concrete lengths: its own shapes and others with
    every length grown by the same random amount (kept where the shape rules accept them)."""
    out = [dict(case.shapes)]
    for _ in range(8):
        grow = rng.randint(1, 3)
        shapes = {n: tuple(d + grow for d in s) for n, s in case.shapes.items()}
        try:
            node_shapes(parse(case.expr), shapes)
        except JacobianError:
            continue
        out.append(shapes)
        if len(out) >= count:
            break
    return out


def _entries_as_symbols(expr):
    """``X[1, 2]`` -> the explicit route's symbol ``X_1_2``."""
    return expr.xreplace({x: sp.Symbol("_".join([str(x.base), *map(str, x.indices)]),
                                       real=True) for x in expr.atoms(sp.Indexed)})


def _has_index_form(case) -> bool:
    """Every operation declares an index form, and none refuses the case's options
    (a partial slice ``X[1:, :]`` is refused: it needs affine index arithmetic)."""
    if not has_index_form(parse(case.expr)):
        return False
    try:
        index_jacobian(parse(case.expr), case.wrt, dict(case.shapes))
    except NoIndexFormError:
        return False
    return True


INDEXED_CASES = [(name, case) for name, case in ALL_CASES if _has_index_form(case)]


@pytest.mark.filterwarnings("ignore:.*cancels out")  # size 1 along a softmax's axis
@pytest.mark.parametrize("name, case", INDEXED_CASES, ids=[c.id for _, c in INDEXED_CASES])
def test_index_form_equals_the_explicit_entries_at_random_sizes(name, case):
    rng = random.Random(sum(map(ord, case.expr)) % 1000)
    names = sorted({d for s in _symbolic(case).values() for d in s if isinstance(d, str)})
    variants = None if names or any(s in case.expr for s in FIXED_SIZE) else \
        _concrete_variants(case, rng)
    for attempt in range(2):
        sizes = {n: rng.randint(1, 4) for n in names}
        shapes = {n: tuple(sizes.get(d, d) for d in s) for n, s in _symbolic(case).items()}
        if variants:  # the index form at concrete sizes, as its shape rules need them
            shapes = variants[attempt % len(variants)]
            generic = index_jacobian(parse(case.expr), case.wrt, shapes)
        else:
            generic = index_jacobian(parse(case.expr), case.wrt, _symbolic(case))
        explicit = jacobian(case.expr, wrt=case.wrt, shapes=shapes)
        values = _point(explicit, case, shapes, np.random.default_rng(rng.randint(0, 99)))
        for index in _some_indices(explicit.shape, rng):
            at = {s: v + 1 for s, v in zip(generic.indices, index)}
            entry = _entries_as_symbols(generic.at(sizes, at))
            want = explicit.entries.get(index, sp.S.Zero)
            assert abs(float((entry - want).xreplace(values))) < 1e-9, (index, entry, want)


def _some_indices(shape, rng, count=6):
    every = list(np.ndindex(*shape)) if shape else [()]
    return rng.sample(every, min(count, len(every)))


def _point(J, case, shapes, gen):
    """Random values for every entry symbol, inside the case's domains."""
    values = {}
    for name in set(shapes) | {case.wrt}:
        shape = shapes.get(name, ())
        array = sample(name, shape, case.domain.get(name, "any"), gen)
        for index in np.ndindex(*shape) if shape else [()]:
            symbol = sp.Symbol("_".join([name, *(str(v + 1) for v in index)]), real=True)
            values[symbol] = sp.Float(float(array[index]))
    return values


def test_pytorch_agrees_with_the_index_form_at_random_points():
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(3)
    for _, case in INDEXED_CASES:
        if case.wrt not in case.shapes:
            continue
        generic = index_jacobian(parse(case.expr), case.wrt, case.shapes)
        arrays = {n: sample(n, s, case.domain.get(n, "any"), gen) for n, s in case.shapes.items()}
        tensors = {n: torch.tensor(a, dtype=torch.float64) for n, a in arrays.items()}

        def f(x, tensors=tensors, case=case):
            return case.torch(torch, {**tensors, case.wrt: x})

        want = torch.autograd.functional.jacobian(f, tensors[case.wrt]).numpy()
        entries = {sp.IndexedBase(n, real=True)[tuple(sp.Integer(v + 1) for v in ix)]:
                   sp.Float(float(a[ix])) for n, a in arrays.items() for ix in np.ndindex(*a.shape)}
        sizes = {}
        for index in np.ndindex(*want.shape):
            at = {s: v + 1 for s, v in zip(generic.indices, index)}
            got = float(generic.at(sizes, at).xreplace(entries))
            assert abs(got - want[index]) < 1e-9, (case.expr, index, got, want[index])


# -- the step prover ----------------------------------------------------------------------------

LAYER = {"A": ("N", "d"), "W": ("d", "h"), "b": ("h",), "Z": ("N", "h"), "dZ": ("N", "h")}


def _rules(expr: str, out: str, shapes: dict, wanted: set[str]) -> dict[str, str]:
    node = parse(expr)
    parts = local_vjps(node, Name(out), Name(f"d{out}"), shapes, wanted)
    return {n: p[0] if len(p) == 1 else Call("add", p) for n, p in parts.items()}


@pytest.mark.parametrize("target, rule, lines", [
    ("W", "A.T @ dZ", ("dW[k,l] = Σ_i Σ_j dZ[i,j] A[i,k] δ[j,l]", "= Σ_i A[i,k] dZ[i,l]",
                       "= (A.T @ dZ)[k,l]")),
    ("b", "sum(dZ, axis=0)", ("db[k] = Σ_i Σ_j dZ[i,j] δ[j,k]", "= Σ_i dZ[i,k]",
                              "= sum(dZ, axis=0)[k]")),
    ("A", "dZ @ W.T", ("dA[k,l] = Σ_i Σ_j dZ[i,j] δ[i,k] W[l,j]", "= Σ_j dZ[k,j] W[l,j]",
                       "= (dZ @ W.T)[k,l]")),
])
def test_the_layer_steps_are_proved_for_all_sizes(target, rule, lines):
    rules = _rules("A @ W + b", "Z", LAYER, {"A", "W", "b"})
    assert to_source(rules[target]) == rule
    proof = prove_step(rules[target], target=target, steps=[("Z", parse("A @ W + b"))],
                       upstream="dZ", shapes=LAYER)
    assert proof.verdict == "proved"
    assert proof.lines == lines
    assert proof.ranges[0].startswith("k = 1..")


def test_dz_dx_is_w_transposed():
    J = index_jacobian(parse("x.T @ W + b"), "x", {"x": ("d",), "W": ("d", "h"), "b": ("h",)},
                       out_name="z")
    assert J.text() == "(∂z/∂x)[i,j] = W[j,i]"


#: dX = dY * f'(X) for each element-wise function, and the δ-eliminated contraction (the
#: step's own entries written as Y, as the rule writes them).
ELEMENTWISE_STEPS = {
    "exp": ("dY * Y", "= dY[k,l] Y[k,l]"),
    "log": ("dY * (1 / X)", "= dY[k,l] / X[k,l]"),
    "sqrt": ("dY * (1 / (2 * Y))", "= dY[k,l] / (2 sqrt(X[k,l]))"),
    "sigmoid": ("dY * (Y * (1 - Y))", "= dY[k,l] Y[k,l] (1 − Y[k,l])"),
    "tanh": ("dY * (1 - Y**2)", "= dY[k,l] (1 − Y[k,l]**2)"),
    "relu": ("dY * step(X)", "= dY[k,l] step(X[k,l])"),
    "step": None,
    "softplus": ("dY * sigmoid(X)", "= dY[k,l] sigmoid(X[k,l])"),
    "abs": ("dY * sign(X)", "= dY[k,l] sign(X[k,l])"),
    "sign": None,
    "sin": ("dY * cos(X)", "= dY[k,l] cos(X[k,l])"),
    "cos": ("dY * -sin(X)", "= −dY[k,l] sin(X[k,l])"),
    "tan": ("dY * sec(X)**2", "= dY[k,l] sec(X[k,l])**2"),
    "sec": ("dY * (Y * tan(X))", "= dY[k,l] Y[k,l] tan(X[k,l])"),
    "csc": ("dY * -(Y * cot(X))", "= −dY[k,l] Y[k,l] cot(X[k,l])"),
    "cot": ("dY * -csc(X)**2", "= −dY[k,l] (1 + Y[k,l]**2)"),
    "asin": ("dY * (1 / sqrt(1 - X**2))", "= dY[k,l] / sqrt(1 − X[k,l]**2)"),
    "acos": ("dY * -(1 / sqrt(1 - X**2))", "= −dY[k,l] / sqrt(1 − X[k,l]**2)"),
    "atan": ("dY * (1 / (1 + X**2))", "= dY[k,l] / (1 + X[k,l]**2)"),
    "sinh": ("dY * cosh(X)", "= dY[k,l] cosh(X[k,l])"),
    "cosh": ("dY * sinh(X)", "= dY[k,l] sinh(X[k,l])"),
    "asinh": ("dY * (1 / sqrt(X**2 + 1))", "= dY[k,l] / sqrt(1 + X[k,l]**2)"),
    "acosh": ("dY * (1 / (sqrt(X - 1) * sqrt(X + 1)))",
              "= dY[k,l] / (sqrt(1 + X[k,l]) sqrt(X[k,l] − 1))"),
    "atanh": ("dY * (1 / (1 - X**2))", "= dY[k,l] / (1 − X[k,l]**2)"),
}


def test_every_elementwise_function_has_a_row():
    assert set(ELEMENTWISE_STEPS) == {op.name for op in operations() if op.entry is not None}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_STEPS))
def test_elementwise_steps_dx_is_dy_times_the_derivative(name):
    shapes = {"X": ("N", "d"), "Y": ("N", "d"), "dY": ("N", "d")}
    step = Call(name, (Name("X"),))
    rules = _rules(to_source(step), "Y", shapes, {"X"})
    expected = ELEMENTWISE_STEPS[name]
    if expected is None:  # derivative 0: no step, and 0 is proved
        assert rules == {}
        rule = Num(0)
    else:
        rule = rules["X"]
        assert to_source(rule) == expected[0]
    proof = prove_step(rule, target="X", steps=[("Y", step)], upstream="dY", shapes=shapes)
    assert proof.verdict == "proved", proof.note
    if expected is not None:
        assert proof.lines[1] == expected[1]


def test_the_upstream_gradient_leads_among_factors_with_the_same_indices():
    """dY[k,l] Y[k,l] as the lectures write it, for the upstream name given to the
    derivation (whatever its letters), in text and LaTeX."""
    shapes = {"X": ("N", "d"), "A": ("N", "d"), "G": ("N", "d")}
    proof = prove_step(parse("G * A"), target="X", steps=[("A", parse("exp(X)"))],
                       upstream="G", shapes=shapes)
    assert proof.verdict == "proved"
    assert proof.lines[1] == "= G[k,l] A[k,l]" and proof.latex[1] == "= G_{kl} A_{kl}"
    k, l = I.index("k"), I.index("l")
    Y, dn, G = (I.entry(n, (k, l)) for n in ("Y", "dn", "G"))
    assert text(Y * dn * G, (k, l), first=["G"]) == "G[k,l] Y[k,l] dn[k,l]"  # not by "d"
    assert text(Y * dn, (k, l)) == "Y[k,l] dn[k,l]"


@pytest.mark.parametrize("f, factor", [("exp", "dY[k,l] Y[k,l]"),
                                       ("sigmoid", "dY[k,l] Y[k,l] (1 − Y[k,l])")])
def test_a_backprop_at_symbolic_sizes_writes_the_upstream_gradient_first(f, factor):
    from jacobian_calc import backprop
    [step] = backprop(f"{f}(X)", "X", shapes={"X": "Nxd"}).backward
    assert step.contraction.split(" = ")[2] == factor
    assert step.derivation_tex[1].startswith("= dY_{kl} Y_{kl}")


def test_softmax_with_cross_entropy_is_proved_with_one_hot_rows():
    shapes = {"Z": ("N", "K"), "T": ("N", "K"), "P": ("N", "K"), "L": ()}
    steps = [("L", parse("-sum(T*log(P))/N")), ("P", parse("softmax(Z)"))]
    proof = prove_step(parse("(P - T) / N"), target="Z", steps=steps, upstream=None,
                       shapes=shapes, onehot={"T"})
    assert proof.verdict == "proved"
    assert proof.lines[0] == "dZ[k,l] = exp(Z[k,l]) / (N Σ_m exp(Z[k,m])) − T[k,l] / N"
    wrong = prove_step(parse("(P - T) / N"), target="Z", steps=steps, upstream=None,
                       shapes=shapes)  # rows not known to sum to 1: not this rule
    assert wrong.verdict == "differs"


@pytest.mark.parametrize("rule", ["dZ.T @ A", "(A.T @ dZ) / N", "2 * (A.T @ dZ)",
                                  "-(A.T @ dZ)", "(A.T @ dZ).T"])
def test_the_prover_catches_wrong_rules_at_symbolic_sizes(rule):
    shapes = {"A": ("N", "d"), "W": ("d", "d"), "b": ("d",), "Z": ("N", "d"),
              "dZ": ("N", "d")}  # W square: a transposed rule has the right shape
    proof = prove_step(parse(rule), target="W", steps=[("Z", parse("A @ W + b"))],
                       upstream="dZ", shapes=shapes)
    assert proof.verdict == "differs"
    assert len(set(proof.witness["sizes"].values())) == len(proof.witness["sizes"])
    assert proof.witness["left"] != proof.witness["right"]


def test_a_rule_of_the_wrong_shape_differs():
    proof = prove_step(parse("dZ.T @ A"), target="W", steps=[("Z", parse("A @ W + b"))],
                       upstream="dZ", shapes=LAYER)
    assert proof.verdict == "differs"
    assert proof.note == "the rule has shape hxd, the gradient of W dxh"


@pytest.mark.parametrize("rule", ["-(P - T) / N", "(P - T)", "(P - T).T / N"])
def test_the_prover_catches_a_wrong_fused_rule(rule):
    shapes = {"Z": ("N", "N"), "T": ("N", "N"), "P": ("N", "N"), "L": ()}
    steps = [("L", parse("-sum(T*log(P))/N")), ("P", parse("softmax(Z)"))]
    proof = prove_step(parse(rule), target="Z", steps=steps, upstream=None, shapes=shapes,
                       onehot={"T"})
    assert proof.verdict == "differs"


@pytest.mark.parametrize("name, case", INDEXED_CASES, ids=[c.id for _, c in INDEXED_CASES])
def test_every_operations_own_rule_is_proved_for_all_sizes(name, case):
    node = parse(case.expr)
    shapes = _symbolic(case)
    out = node_shapes(node, shapes)[node]
    shapes.update({"F": out, "dF": out})
    rules = _rules(case.expr, "F", shapes, {case.wrt})
    rule = rules.get(case.wrt, Num(0))
    proof = prove_step(rule, target=case.wrt, steps=[("F", node)], upstream="dF",
                       shapes=shapes)
    assert proof.verdict == "proved", (proof.text, proof.note)


def test_operations_without_index_form_are_unavailable_not_guessed():
    proof = prove_step(parse("dY * Y * inv(X).T"), target="X", steps=[("Y", parse("det(X)"))],
                       upstream="dY", shapes={"X": (3, 3), "Y": (), "dY": ()})
    assert proof.verdict == "unavailable"
    assert "det" in proof.note and "inv" in proof.note


# -- the algebra on its own ------------------------------------------------------------------------

def test_delta_elimination_assumes_indices_in_range():
    n = I.size("n")
    a = I.fresh()
    ctx = I.Context({k: n})
    x = I.entry("x", (a,))
    assert I.canonical(I.summation(x * I.delta(a, k), (a, n)), ctx) == I.entry("x", (k,))
    assert I.canonical(I.summation(sp.Integer(1), (a, n)), ctx) == n  # Σ_a 1 = n
    assert not sp.Sum(x * I.delta(a, k), (a, 1, n)).doit().is_Indexed  # SymPy's Piecewise


def test_summation_indices_are_renamed_canonically():
    n = I.size("n")
    a, b = I.fresh(), I.fresh()
    first = I.summation(I.entry("x", (a,)) * I.entry("y", (a,)), (a, n))
    second = I.summation(I.entry("y", (b,)) * I.entry("x", (b,)), (b, n))
    assert I.decide(first, second, I.Context()).verdict == "proved"
    nested = I.summation(I.entry("M", (a, b)), (a, n), (b, n))
    swapped = I.summation(I.entry("M", (b, a)), (a, n), (b, n))
    assert I.decide(nested, swapped, I.Context()).verdict == "proved"


def test_derivative_of_an_entry_is_a_product_of_deltas():
    X = I.entry("X", (i, j))
    assert I.derivative(X, I.entry("X", (k, l))) == sp.KroneckerDelta(i, k) * \
        sp.KroneckerDelta(j, l)
    assert I.derivative(X, I.entry("Y", (k, l))) == 0


def test_undecided_is_said_plainly():
    n = I.size("n")
    a = I.fresh()
    s = I.summation(I.entry("x", (a,)), (a, n))
    decision = I.decide(sp.sin(s) ** 2 + sp.cos(s) ** 2, sp.Integer(1), I.Context())
    assert decision.verdict == "undecided"
    assert "not proved" in decision.note


# -- the command line ---------------------------------------------------------------------------------

def test_cli_index_form_text_and_json(tmp_path):
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main
    args = ["X@W + b", "--wrt", "W", "--shape", "X=4x2", "--shape", "W=2x3", "--shape", "b=3",
            "--index-form"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0
    assert out.output.rstrip().endswith(
        "Index form, the same at every size (i = 1..4, j = 1..3, k = 1..2, l = 1..3):\n"
        "  (∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]")
    doc = json.loads(CliRunner().invoke(main, args + ["--format", "json"]).output)
    item = doc["jacobians"][0]["index_form"]
    assert item["text"] == "(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]"
    assert item["indices"] == ["i", "j", "k", "l"]
    assert item["ranges"] == {"i": "4", "j": "3", "k": "2", "l": "3"}
    jsonschema = pytest.importorskip("jsonschema")
    from jacobian_calc.schema import schema  # noqa: PLC0415
    jsonschema.validate(doc, schema())
    tex = CliRunner().invoke(main, args + ["--format", "latex"]).output
    assert r"\frac{\partial Y_{ij}}{\partial W_{kl}} = X_{ik} \delta_{jl}" in tex
    bad = CliRunner().invoke(main, ["det(A)", "--wrt", "A", "--shape", "A=2x2", "--index-form"])
    assert bad.exit_code != 0 and bad.output.count("\n") == 1
    assert bad.output.startswith("Error: det() has no index form")


def test_index_forms_are_entries_of_the_expression():
    e = entry_of(parse("X.T @ W"), (i, j), {"X": ("N", "d"), "W": ("N", "h")})
    assert isinstance(e, sp.Sum)
    assert e.limits[0][2] == I.size("N")


# -- at symbolic sizes the index form is the result ----------------------------------------------

SYMBOLIC = ["X@W + b", "--wrt", "W,b", "--shape", "X=Nxd", "--shape", "W=dxh", "--shape", "b=h"]


def test_cli_jacobian_at_symbolic_sizes():
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main
    out = CliRunner().invoke(main, SYMBOLIC)
    assert out.exit_code == 0
    assert out.output == (
        "Jacobian ∂Y/∂W of X @ W + b\n"
        "numerator layout, shape N x h x d x h, for every size\n\n"
        "Index form, the same at every size (i = 1..N, j = 1..h, k = 1..d, l = 1..h):\n"
        "  (∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]\n\n"
        "Jacobian ∂Y/∂b of X @ W + b\n"
        "numerator layout, shape N x h x h, for every size\n\n"
        "Index form, the same at every size (i = 1..N, j = 1..h, k = 1..h):\n"
        "  (∂Y/∂b)[i,j,k] = δ[j,k]\n")
    doc = json.loads(CliRunner().invoke(main, SYMBOLIC + ["--format", "json"]).output)
    assert doc["jacobians"][0]["shape"] == ["N", "h", "d", "h"]
    assert doc["jacobians"][1]["index_form"]["ranges"] == {"i": "N", "j": "h", "k": "h"}
    jsonschema = pytest.importorskip("jsonschema")
    from jacobian_calc.schema import schema  # noqa: PLC0415
    jsonschema.validate(doc, schema())
    tex = CliRunner().invoke(main, SYMBOLIC + ["--format", "latex"]).output
    assert r"X_{ik} \delta_{jl} \qquad (i = 1, \dots, N" in tex
    bad = CliRunner().invoke(main, SYMBOLIC + ["--at", "X=1"])
    assert bad.exit_code != 0 and bad.output.startswith("Error: --at needs concrete sizes")


def test_api_jacobian_at_symbolic_sizes_in_terms_of_output():
    J = jacobian("softmax(l)", wrt="l", shapes={"l": ("n",)}, in_terms_of_output=True)
    p = sp.IndexedBase("p", real=True)
    assert J.symbolic and J.indices == (i, j)
    assert sp.expand(J.index_form - p[i] * (sp.KroneckerDelta(i, j) - p[j])) == 0
    with pytest.raises(JacobianError, match="concrete sizes"):
        J.evaluate({"l": [1, 2]})


# -- random compositions: index form against explicit entries -----------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

#: (template, shape of the result in terms of X: N x d) for a matrix argument {0} of shape N x d
MATRIX_STEPS = [("tanh({0})", "Nd"), ("{0} * {0}", "Nd"), ("softmax({0})", "Nd"),
                ("log_softmax({0}, axis=0)", "Nd"), ("{0} + b", "Nd"), ("{0} / (1 + {0}**2)", "Nd"),
                ("flip({0}) * {0}", "Nd")]
TO_SCALAR = ["sum({0})", "mean({0})", "logsumexp({0})", "norm({0})", "sum({0} @ V)",
             "trace({0}.T @ {0})", "sum(sum({0}, axis=1) * c)"]


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(MATRIX_STEPS), min_size=1, max_size=1),
       st.sampled_from(TO_SCALAR), st.integers(1, 3), st.integers(1, 3))
def test_random_compositions_agree_with_explicit_entries(steps, top, n, d):
    expr = "X @ W"
    for template, _ in steps:
        expr = template.format(f"({expr})")
    expr = top.format(f"({expr})")
    names = {"X": ("N", "e"), "W": ("e", "d"), "b": ("d",), "V": ("d", "N"), "c": ("N",)}
    sizes = {"N": n, "d": d, "e": 2}
    generic = index_jacobian(parse(expr), "W", names)
    shapes = {k: tuple(sizes[s] for s in v) for k, v in names.items()}
    explicit = jacobian(expr, wrt="W", shapes=shapes)
    gen = np.random.default_rng(n * 10 + d)
    values = {}
    for name, shape in shapes.items():
        array = sample(name, shape, "pos", gen)
        for index in np.ndindex(*shape):
            symbol = sp.Symbol("_".join([name, *(str(v + 1) for v in index)]), real=True)
            values[symbol] = sp.Float(float(array[index]))
    for index in np.ndindex(*explicit.shape):
        at = {s: v + 1 for s, v in zip(generic.indices, index)}
        entry = _entries_as_symbols(generic.at(sizes, at))
        want = explicit.entries.get(index, sp.S.Zero)
        assert abs(float((entry - want).xreplace(values))) < 1e-9, (expr, index)


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("mean(sigmoid(X@W + b))", "W,b", {"X": (2, 2), "W": (2, 1), "b": 1}),  # axes of length 1
    ("logsumexp(x) + sum(softmax(x))", "x", {"x": (3,)}),  # dx += ...
    ("sum(tanh(X@W)@W)", "W", {"X": (2, 2), "W": (2, 2)}),
    ("-sum(T*log(softmax(tanh(X@W1 + b1)@W2 + b2)))/N", "W1,b1,W2,b2",
     {"X": ("N", "d"), "W1": ("d", "h"), "b1": ("h",), "W2": ("h", "K"), "b2": ("K",),
      "T": ("N", "K")}),
])
def test_every_step_of_a_backprop_is_proved(expr, wrt, shapes):
    from jacobian_calc import backprop
    from jacobian_calc.index.prove import prove_backward
    r = backprop(expr, wrt, shapes=shapes, onehot="T" if "T" in shapes else None)
    proofs = [prove_backward(s, r.steps, r.shapes, r.onehot) for s in r.backward]
    assert [p.verdict for p in proofs] == ["proved"] * len(proofs), [p.text for p in proofs]


def test_a_symbolic_array_elsewhere_makes_the_jacobian_index_only():
    J = jacobian("sum(A) * x", wrt="x", shapes={"A": ("N", "d")})
    assert J.symbolic and not J.entries
    assert J.index.text() == "∂f/∂x = Σ_n Σ_m A[m,n]"


# -- selections, indexing: conventions at ties and the operations that say why not ----------

def _at_point(expr, wrt, shapes, at, values):
    generic = index_jacobian(parse(expr), wrt, shapes)
    entries = {sp.IndexedBase(n, real=True)[tuple(sp.Integer(v + 1) for v in ix)]:
               sp.nsimplify(a[ix]) for n, a in values.items() for ix in np.ndindex(*a.shape)}
    return generic.at({}, dict(zip(generic.indices, at))).xreplace(entries)


@pytest.mark.parametrize("expr, wrt, want", [
    ("maximum(x, y)", "x", sp.Rational(1, 2)), ("maximum(x, y)", "y", sp.Rational(1, 2)),
    ("minimum(x, y)", "x", sp.Rational(1, 2)),
    ("clip(x, y, z)", "x", 1),  # the lower boundary is inside, as torch.clamp
    ("where(x >= y, 3 * x, y)", "x", 3), ("where(x > y, 3 * x, y)", "x", 0),
])
def test_index_forms_keep_the_explicit_conventions_at_ties(expr, wrt, want):
    values = {"x": np.array([0.5]), "y": np.array([0.5]), "z": np.array([2.0])}
    shapes = {"x": (1,), "y": (1,), "z": (1,)}
    explicit = jacobian(expr, wrt=wrt, shapes=shapes)
    subs = {sp.Symbol(f"{n}_1", real=True): sp.nsimplify(a[0]) for n, a in values.items()}
    assert explicit.entries.get((0, 0), sp.S.Zero).xreplace(subs) == want
    assert _at_point(expr, wrt, shapes, (1, 1), values) == want


def test_the_selection_index_forms_have_no_max_min_or_piecewise():
    e = entry_of(parse("where(X > 0, maximum(X, Y), clip(X, Y, 1))"), (i, j),
                 {"X": ("N", "d"), "Y": ("N", "d")})
    assert not e.atoms(sp.Max, sp.Min, sp.Piecewise)
    assert "step" in str(e) and "sign" in str(e)


def test_indexing_with_integers_and_full_slices_at_symbolic_sizes():
    J = index_jacobian(parse("X[-1, :]"), "X", {"X": ("N", "d")})
    assert J.text() == "(∂Y/∂X)[i,j,k] = δ[i,k] δ[N,j]"
    with pytest.raises(JacobianError, match="the slice 1: of axis 0 needs its concrete length"):
        index_jacobian(parse("X[1:, :]"), "X", {"X": ("N", "d")})
    assert index_jacobian(parse("x[::2]"), "x", {"x": (5,)}).text() == \
        "(∂Y/∂x)[i,j] = δ[j,2 i − 1]"
    assert index_jacobian(parse("X[1:, :]"), "X", {"X": (4, "d")}).text() == \
        "(∂Y/∂X)[i,j,k,l] = δ[k,i + 1] δ[j,l]"


WITH_A_REASON = ["max", "min", "maxpool2d", "kron", "vec", "reshape"]
AFFINE_OPS = ["flip", "pad", "conv1d", "conv2d", "dilate", "upsample", "avgpool2d", "concat",
              "stack"]


def test_every_operation_has_an_index_form_or_a_reason():
    forms = {op.name: op.index for op in operations()}
    assert [n for n, f in forms.items() if f is None] == []
    assert all(isinstance(forms[n], NoIndexForm) for n in WITH_A_REASON)
    for name in ("maximum", "minimum", "clip", "where", "less", "less_equal", "greater",
                 "greater_equal", "getitem", "scatter", *AFFINE_OPS):
        assert callable(forms[name])
    with pytest.raises(JacobianError, match=r"maxpool2d\(\) has no index form \(the largest "
                                            r"entry of each k x k window is not a sum"):
        index_jacobian(parse("maxpool2d(X, 2)"), "X", {"X": (4, 4)})


def test_backprop_through_selections_and_conv_is_proved_and_through_maxpool_unavailable():
    from jacobian_calc import backprop
    from jacobian_calc.index.prove import prove_backward
    r = backprop("sum(maximum(0, 1 - y * (X @ w)) + clip(X @ w, -1, 1))", "w",
                 shapes={"X": (3, 2), "w": 2, "y": 3})
    proofs = [prove_backward(s, r.steps, r.shapes, r.onehot) for s in r.backward]
    assert proofs and [p.verdict for p in proofs] == ["proved"] * len(proofs)
    r = backprop("sum(conv1d(x, w))", "w", shapes={"x": 5, "w": 3})
    proofs = {s.target: prove_backward(s, r.steps, r.shapes, r.onehot) for s in r.backward}
    assert proofs["y"].verdict == "proved"  # through sum
    assert proofs["w"].verdict == "proved"  # through conv1d, at these sizes
    r = backprop("sum(maxpool2d(X, 2))", "X", shapes={"X": (4, 4)})
    proofs = {s.target: prove_backward(s, r.steps, r.shapes, r.onehot) for s in r.backward}
    assert proofs["X"].verdict == "unavailable"  # through maxpool2d: said, not guessed
    assert proofs["X"].note.startswith("no index form for maxpool2d")


def test_index_text_reads_as_written():
    """A fractional power keeps its parentheses (x**3/2 would read (x**3)/2), a negative
    number has the typographic minus, and a divided upstream factor reads dmu / n."""
    from jacobian_calc import backprop
    from jacobian_calc.index.printing import text as index_text
    x = sp.Symbol("x")
    assert index_text(x ** sp.Rational(3, 2)) == "x**(3/2)"
    assert index_text(1 / x ** sp.Rational(3, 2)) == "1 / x**(3/2)"
    assert index_text(sp.Integer(-1)) == "−1"
    r = backprop("(x - mean(x)) / sqrt(mean((x - mean(x))**2) + 1e-5)", "x",
                 shapes={"x": ("n",)})
    lines = {b.name: b.contraction for b in r.backward}
    assert "dmu / n" in " ".join(lines.values())
    assert "(-1)" not in " ".join(lines.values())
