"""Generated NumPy and PyTorch code: imported, run, and compared with the explicit symbolic
result and with PyTorch autograd -- for every case of the backprop golden table, the two
MLPs, every operation's code templates and the compact Hessians; wrong rules and wrong
templates produce code that the check rejects."""

from __future__ import annotations

import ast
import dataclasses
import functools
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from jacobian_calc import JacobianError, backprop, check_code, hessian, to_numpy_code, \
    to_torch_code
from jacobian_calc.cli.main import main
from jacobian_calc.core.tree import Num
from jacobian_calc.ops import registry
from jacobian_calc.parsing import parse_expression
from jacobian_calc.render.code import CodePrinter, check_identifier
from jacobian_calc.render.code_check import load_module

from op_cases import ALL_CASES, sample
from test_backprop import GOLDEN, MLP, MLP_EXPR
from test_hessian import COMPACT

try:
    import torch
except ImportError:  # the oracle comparisons are skipped, the rest still runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
LANGUAGES = ("numpy", "torch") if torch is not None else ("numpy",)

RELU_EXPR = "mean((relu(relu(X@W1 + b1)@W2 + b2)@W3 + b3 - T)**2)"
RELU = {"X": (4, 3), "W1": (3, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 2),
        "b3": (2,), "T": (4, 2)}

# (name, expression, wrt, shapes, options): the golden table and the two MLPs
CASES = [(g[0], g[1], g[2], g[3], g[4]) for g in GOLDEN] + [
    ("MLP, tanh and softmax cross-entropy", MLP_EXPR, "W1,b1,W2,b2", MLP, {"onehot": "T"}),
    ("MLP, 3 relu layers and MSE", RELU_EXPR, "W1,b1,W2,b2,W3,b3", RELU, {}),
]


@functools.lru_cache(maxsize=None)
def derived(index: int):
    _, expr, wrt, shapes, options = CASES[index]
    return backprop(expr, wrt, shapes=shapes, **options)


def test_the_table_is_large_enough():
    assert len(CASES) * len(LANGUAGES) >= 40 and len(CASES) >= 20


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_generated_backward_agrees_with_explicit_result_and_autograd(index, language):
    r = derived(index)
    report = check_code(r, language)
    assert report.ok, report.summary()
    assert report.points >= 1
    if torch is not None:
        assert report.autograd is not None and report.autograd.verdict == "agrees"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_generated_module_is_plain_python_with_forward_and_backward(index, language):
    r = derived(index)
    code = to_numpy_code(r) if language == "numpy" else to_torch_code(r)
    tree = ast.parse(code)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions[-2:] == ["forward", "backward"]
    assert ast.get_docstring(tree).startswith(f"Forward and backward pass of {r.output} =")
    for b in r.backward:  # every named backward step is a line of backward()
        assert f"    {b.name} = " in code
    imported = {a.name for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    assert imported <= {"numpy", "torch", "math"}


# -- the two MLPs, against PyTorch written by hand ---------------------------------------------

def _sample(shapes, onehot=(), seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        if name in onehot:
            out[name] = np.eye(shape[-1])[rng.integers(shape[-1], size=shape[:-1])]
        else:
            out[name] = rng.uniform(-1.0, 1.0, shape)
    return out


HAND_WRITTEN = {
    MLP_EXPR: lambda t, v: -t.mean(v["T"] * t.log(t.softmax(
        t.tanh(v["X"] @ v["W1"] + v["b1"]) @ v["W2"] + v["b2"], dim=-1))),
    RELU_EXPR: lambda t, v: t.mean((t.relu(t.relu(v["X"] @ v["W1"] + v["b1"]) @ v["W2"]
                                           + v["b2"]) @ v["W3"] + v["b3"] - v["T"]) ** 2),
}


@needs_torch
@pytest.mark.parametrize("language", ("numpy", "torch"))
@pytest.mark.parametrize("index", [len(CASES) - 2, len(CASES) - 1], ids=["tanh MLP", "relu MLP"])
def test_mlp_gradients_match_pytorch_autograd_of_a_hand_written_loss(index, language):
    name, expr, wrt, shapes, options = CASES[index]
    r = derived(index)
    module = load_module(to_numpy_code(r) if language == "numpy" else to_torch_code(r))
    values = _sample(shapes, options.get("onehot", ()), seed=7)
    tensors = {n: torch.tensor(a, dtype=torch.float64, requires_grad=True)
               for n, a in values.items()}
    loss = HAND_WRITTEN[expr](torch, tensors)
    names = wrt.split(",")
    expected = torch.autograd.grad(loss, [tensors[n] for n in names])
    args = values if language == "numpy" else {n: torch.tensor(a) for n, a in values.items()}
    got = module.backward(**args)
    value = module.forward(**args)[r.output]
    assert float(value) == pytest.approx(float(loss.detach()), rel=1e-12)
    for n, e in zip(names, expected):
        g = got[n] if language == "numpy" else got[n].numpy()
        assert np.allclose(g, e.numpy(), rtol=1e-10, atol=1e-13), n


# -- every operation's code templates ---------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("language", ("numpy", "torch"))
@pytest.mark.parametrize("name,case", ALL_CASES, ids=[f"{n}: {c.id}" for n, c in ALL_CASES])
def test_every_operations_code_computes_what_pytorch_computes(name, case, language):
    shapes = dict(case.shapes)
    shapes.setdefault(case.wrt, ())
    code = CodePrinter(language, shapes).code(parse_expression(case.expr))
    rng = np.random.default_rng(3)
    values = {n: sample(n, s, case.domain.get(n, "any"), rng) for n, s in shapes.items()}
    source = ("import math\nimport numpy as np\nimport torch\n"
              "from jacobian_calc.render.code import HELPERS\n"
              f"for h in HELPERS[{language!r}].values():\n    exec(h)\n"
              f"def f({', '.join(shapes)}):\n    return {code}\n")
    module = load_module(source, "one_operation")
    tensors = {n: torch.tensor(a, dtype=torch.float64) for n, a in values.items()}
    args = values if language == "numpy" else tensors
    got = module.f(**args)
    got = got.numpy() if hasattr(got, "numpy") else np.asarray(got, dtype=float)
    want = case.torch(torch, tensors)
    want = want.numpy() if hasattr(want, "numpy") else np.asarray(want, dtype=float)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12), code


# -- compact Hessians ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def second(index: int):
    expr, wrt, shapes, options = COMPACT[index][:4]
    return hessian(expr, wrt, shapes=shapes, **options)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("index", range(len(COMPACT)), ids=[f"{c[0]} {c[3]}" for c in COMPACT])
def test_generated_hessian_agrees_with_explicit_hessian_and_autograd(index, language):
    H = second(index)
    report = check_code(H, language)
    assert report.ok, report.summary()
    code = to_numpy_code(H) if language == "numpy" else to_torch_code(H)
    functions = [n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]
    assert functions[-3:] == ["forward", "gradient",
                              "hessian" if H.compact.kind == "matrix" else "hvp"]


def test_hessian_module_of_the_quadratic_form():
    H = hessian("x.T@A@x", "x", shapes={"x": (3,), "A": (3, 3)})
    module = load_module(to_numpy_code(H))
    A = np.arange(9.0).reshape(3, 3)
    assert np.array_equal(module.hessian(np.ones(3), A), A + A.T)
    assert np.allclose(module.gradient(np.ones(3), A)["x"], (A + A.T) @ np.ones(3))


def test_no_compact_hessian_no_code():
    H = hessian("sin(x1*x2)", "x1,x2")
    with pytest.raises(JacobianError, match="no compact Hessian to export"):
        to_numpy_code(H)


# -- the check rejects wrong code ---------------------------------------------------------------

def patch(monkeypatch, name, **parts):
    monkeypatch.setitem(registry._OPS, name, dataclasses.replace(registry._OPS[name], **parts))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_rule_produces_code_that_the_check_rejects(monkeypatch, language):
    off = Num(Fraction(1001, 1000))
    patch(monkeypatch, "tanh", vjp=lambda v: (v.g * (1 - v.out ** 2) * off,))
    r = backprop(MLP_EXPR, "W1,b1,W2,b2", shapes=MLP, onehot="T")
    assert not r.agree  # the derivation says so ...
    report = check_code(r, language)  # ... and so does running its code
    assert not report.ok and report.explicit.verdict == "differs"
    assert report.explicit.mismatch[0].startswith(("dW1", "db1"))
    assert "DIFFERS from the explicit result" in report.summary()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_code_template_is_rejected(monkeypatch, language):
    r = backprop("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (4, 3), "W": (3, 2), "b": (2,)})
    code = dict(registry._OPS["sigmoid"].code)
    code[language] = "np.tanh({0})" if language == "numpy" else "torch.tanh({0})"
    patch(monkeypatch, "sigmoid", code=code)
    report = check_code(r, language)
    assert not report.ok and report.explicit.verdict == "differs"


def test_a_wrong_hessian_rule_produces_code_that_is_rejected(monkeypatch):
    off = Num(Fraction(1001, 1000))
    patch(monkeypatch, "sigmoid", vjp=lambda v: (v.g * v.out * (1 - v.out) * off,))
    H = hessian("mean(sigmoid(X@w))", "w", shapes={"X": (3, 2), "w": (2,)})
    assert H.compact.check.verdict == "differs"
    assert not check_code(H, "numpy").ok


# -- names, numbers, no user text ---------------------------------------------------------------

def test_names_are_checked_identifiers():
    assert check_identifier("W1") == "W1"
    for bad in ("np", "torch", "forward", "lambda", "print", "_x", "a-b", "x y"):
        with pytest.raises(JacobianError):
            check_identifier(bad)
    r = backprop("sum(np * x)", "x", shapes={"x": (2,), "np": (2,)})
    with pytest.raises(JacobianError, match="uses the name 'np' itself"):
        to_numpy_code(r)


def test_numbers_are_exact_literals_and_vector_transposes_vanish():
    printer = CodePrinter("torch", {"x": (3,), "A": (3, 3)})
    assert printer.code(parse_expression("x.T @ A.T @ x / 8 - 2/3")) == \
        "(x @ A.T @ x) / 8 - (2 / 3)"


def test_code_is_printed_from_trees_not_from_the_users_text():
    a = to_numpy_code(backprop("mean(   sigmoid( X@W+b ) )", "W,b",
                               shapes={"X": (4, 3), "W": (3, 2), "b": (2,)}))
    b = to_numpy_code(backprop("mean(sigmoid(((X @ W) + b)))", "W,b",
                               shapes={"X": (4, 3), "W": (3, 2), "b": (2,)}))
    assert a == b and "X @ W + b" in a


def test_helpers_are_defined_only_when_used():
    r = backprop("logsumexp(x) + sum(softmax(x))", "x", shapes={"x": (3,)})
    code = to_numpy_code(r)
    assert "def _logsumexp(" in code and "def _softmax(" in code and "def _logdet(" not in code
    assert check_code(r, "numpy").ok


def test_absent_variable_gets_zeros_of_its_shape():
    with pytest.warns(UserWarning):
        r = backprop("sum(X)", "X,W", shapes={"X": (2, 2), "W": (2, 3)})
    module = load_module(to_numpy_code(r))
    assert module.backward(np.ones((2, 2)), np.ones((2, 3)))["W"].shape == (2, 3)


def test_array_output_takes_its_upstream_gradient():
    r = backprop("X@W + b", "W,b", shapes={"X": (4, 3), "W": (3, 2), "b": (2,)},
                 upstream="dZ")
    module = load_module(to_numpy_code(r))
    X, W, b, dZ = np.ones((4, 3)), np.ones((3, 2)), np.ones(2), np.arange(8.0).reshape(4, 2)
    assert np.allclose(module.backward(X, W, b, dZ)["W"], X.T @ dZ)


# -- the command line ---------------------------------------------------------------------------

def jac(*args):
    return CliRunner().invoke(main, list(args))


MLP_ARGS = ["--wrt", "W1,b1,W2,b2", "--shape", "X=4x3", "--shape", "W1=3x5", "--shape",
            "b1=5", "--shape", "W2=5x3", "--shape", "b2=3", "--shape", "T=4x3", "--backprop",
            "--onehot", "T"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_cli_exports_and_checks_the_mlp(language):
    result = jac(*MLP_ARGS, "--format", language, "--check", "--", MLP_EXPR)
    assert result.exit_code == 0, result.output
    module = load_module(result.stdout)
    assert callable(module.forward) and callable(module.backward)
    assert "# jac --check: generated" in result.stdout and "agrees" in result.stdout


def test_cli_check_exit_status_on_a_wrong_rule(monkeypatch):
    off = Num(Fraction(1001, 1000))
    patch(monkeypatch, "tanh", vjp=lambda v: (v.g * (1 - v.out ** 2) * off,))
    result = jac(*MLP_ARGS, "--format", "numpy", "--check", "--", MLP_EXPR)
    assert result.exit_code == 1
    assert "DIFFERS" in result.stdout and "DISAGREE" in result.output


def test_cli_code_needs_backprop_or_hessian():
    result = jac("sum(x**2)", "--wrt", "x", "--shape", "x=2", "--format", "numpy")
    assert result.exit_code == 2 and "add --backprop or --hessian" in result.output


def test_cli_hessian_code():
    result = jac("x.T@A@x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3", "--hessian",
                 "--format", "numpy", "--check")
    assert result.exit_code == 0, result.output
    module = load_module(result.stdout)
    A = np.eye(3)
    assert np.array_equal(module.hessian(np.ones(3), A), 2 * A)


def _docs_blocks(with_torch: bool) -> list[str]:
    """The ``python`` blocks of ``docs/hessian-and-code.md`` that do (or do not) use PyTorch."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" /
            "hessian-and-code.md").read_text()
    return [block for block in re.findall(r"```python\n(.*?)```", text, re.S)
            if ("torch" in block) == with_torch]


def _run_doctests(blocks: list[str]) -> None:
    import doctest
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for i, block in enumerate(blocks):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"docs {i}", "docs", 0))
    assert runner.summarize(verbose=False).failed == 0


def test_the_python_examples_of_the_docs_run_as_shown():
    blocks = _docs_blocks(with_torch=False)
    assert blocks
    _run_doctests(blocks)


@needs_torch
def test_the_pytorch_examples_of_the_docs_run_as_shown():
    blocks = _docs_blocks(with_torch=True)
    assert blocks
    _run_doctests(blocks)


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("mean(sigmoid(X@W + b))", "W,b", {"X": ("N", "d"), "W": ("d", "h"), "b": ("h",)}),
    ("sum(conv1d(x, w)**2)", "w,x", {"x": ("n",), "w": ("k",)}),
    ("sum(X @ W)", "W", {"X": ("N", "d"), "W": ("d", "h")}),
])
def test_code_at_symbolic_sizes_reads_the_sizes_from_its_arguments(expr, wrt, shapes):
    """At symbolic sizes the module binds each size it uses (``N = X.shape[0]``) and
    runs at any sizes: its gradients equal central differences of its own forward."""
    module = load_module(to_numpy_code(backprop(expr, wrt, shapes=shapes)))
    sizes = {"N": 4, "d": 3, "h": 2, "n": 6, "k": 3}
    rng = np.random.default_rng(0)
    args = {n: rng.normal(size=tuple(sizes[d] for d in s)) for n, s in shapes.items()}
    got = module.backward(**args)
    loss = next(iter(reversed(list(module.forward(**args)))))
    for name in wrt.split(","):
        want = np.zeros_like(args[name])
        for index in np.ndindex(args[name].shape):
            up, down = ({**args, name: args[name].copy()} for _ in range(2))
            up[name][index] += 1e-6
            down[name][index] -= 1e-6
            want[index] = (module.forward(**up)[loss] - module.forward(**down)[loss]) / 2e-6
        assert np.allclose(got[name], want, atol=1e-6), name
