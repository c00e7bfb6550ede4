"""LaTeX output: exact fragments, options, derivations, documents, and real pdflatex.

The golden tests pin the exact text of a few small fragments, of compact
formulas (expression trees) and of SymPy entries with our own functions. The
pdflatex tests render every worked example of ``shared/LECTURES.md`` with
``jac ... --standalone`` (plain and ``--derivation``) and compile each document
with pdflatex, in parallel. Without pdflatex they skip, unless
``JAC_REQUIRE_PDFLATEX`` is set (as ``.ci/run`` does): then they fail.

Backprop results print through their own block printer
(``render/backprop_latex.py``): the backward steps as one ``aligned`` block, or
with ``derivation`` every step with its contraction, entries and verdict.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, backprop, chain, jacobian, jacobians, to_latex
from jacobian_calc.cli.main import main
from jacobian_calc.cli.words import error_message
from jacobian_calc.core.tree import Call, Name, Num, fn
from jacobian_calc import ops
from jacobian_calc.ops import operations, register, unregister
from jacobian_calc.ops.elementwise import elementwise
from jacobian_calc.ops.registry import PREC_ATOM, PREC_POW
from jacobian_calc.parsing import parse_expression
from jacobian_calc.render import latex as latex_module
from jacobian_calc.render.formula_latex import formula_latex
from jacobian_calc.render.latex import (block_printer, max_matrix_columns, render_document,
                                        unregister_block_printer)
from jacobian_calc.render.tex import (Block, LatexOptions, Style, formula_tex, latex_expr,
                                      name_tex, registry_functions)
from jacobian_calc.results.backprop import DIFFERS, Check, EndToEnd
from jacobian_calc.results.base import Result
from jacobian_calc.symbolic.functions import relu, sigmoid, softplus, step
from jacobian_calc.symbolic.symbols import entry_symbol, scalar_symbol

MNIST = {"X": (4, 3), "W": (3, 2), "b": (2,)}
ROOT = Path(__file__).resolve().parent.parent


def jac(*args: str) -> str:
    """Run ``jac`` in-process; return its standard output (the exit status must be 0)."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


# -- golden fragments ---------------------------------------------------------------------

GOLDEN = [
    ("row gradient", lambda: to_latex(jacobian("x*y", wrt="x,y")),
     r"\begin{pmatrix} y & x \end{pmatrix}"),
    ("L5.3, 3 x 2", lambda: to_latex(jacobian("sin(x1-x2), cos(x1-x2)", wrt="x1,x2")),
     r"\begin{pmatrix} \cos{\left(x_{1} - x_{2} \right)} & - \cos{\left(x_{1} - x_{2} \right)}"
     r" \\ - \sin{\left(x_{1} - x_{2} \right)} & \sin{\left(x_{1} - x_{2} \right)}"
     r" \end{pmatrix}"),
    ("y = Ax w.r.t. A: blocks i of m x n", lambda: to_latex(
        jacobian("A@x", wrt="A", shapes={"A": (2, 2), "x": (2,)})),
     r"\begin{pmatrix} \begin{pmatrix} x_{1} & x_{2} \\ 0 & 0 \end{pmatrix}"
     r" \\ \begin{pmatrix} 0 & 0 \\ x_{1} & x_{2} \end{pmatrix} \end{pmatrix}"),
    ("bmatrix, lower-case entries, flattened", lambda: to_latex(
        jacobian("X@W", wrt="W", shapes={"X": (1, 2), "W": (2, 2)}), flatten=True,
        matrix_env="bmatrix", element_style="lower"),
     r"\begin{bmatrix} x_{11} & 0 & x_{12} & 0 \\ 0 & x_{11} & 0 & x_{12} \end{bmatrix}"),
    ("denominator layout is the transpose", lambda: to_latex(
        jacobian("3*x**2*y, 2*x + y**8", wrt="x,y", layout="denominator")),
     r"\begin{pmatrix} 6 x y & 2 \\ 3 x^{2} & 8 y^{7} \end{pmatrix}"),
    ("Greek names", lambda: to_latex(jacobian("alpha*beta", wrt="alpha,beta")),
     r"\begin{pmatrix} \beta & \alpha \end{pmatrix}"),
    ("ReLU's derivative is the lectures' [x >= 0]", lambda: to_latex(
        jacobian("relu(x)", wrt="x")),
     r"\begin{pmatrix} \left[x \geq 0\right] \end{pmatrix}"),
    ("chain: symbols = factors = direct", lambda: to_latex(
        chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})),
     r"\frac{\partial f}{\partial w_{1}} = \frac{\partial f}{\partial y_{2}} "
     r"\frac{\partial y_{2}}{\partial y_{1}} \frac{\partial y_{1}}{\partial w_{1}} = "
     r"\begin{pmatrix} 2 y_{2} \end{pmatrix} \begin{pmatrix} 1 \end{pmatrix} "
     r"\begin{pmatrix} a \end{pmatrix} = \begin{pmatrix} 2 a \left(a w_{1} + b_{1}\right) "
     r"\end{pmatrix}"),
    ("backprop: compact = explicit, ^T", lambda: to_latex(
        backprop("X@W", "W", shapes={"X": (1, 2), "W": (2, 1)}, expand=True), transpose="^T"),
     r"\begin{aligned} dW &= X^T dY = \begin{pmatrix} X_{11} dY_{11} \\ X_{12} dY_{11} "
     r"\end{pmatrix} \end{aligned}"),
    ("backprop: the backward steps, one display", lambda: to_latex(
        backprop("mean(sigmoid(X@W + b))", "W,b", shapes=MNIST)),
     r"\begin{aligned} dY &= \frac{\mathbf{1}}{8} \\ dZ &= dY \odot Y \odot \left(1 - Y\right)"
     r" \\ dW &= X^{\top} dZ \\ db &= \operatorname{sum}_{\text{rows}}\left(dZ\right)"
     r" \end{aligned}"),
    ("derivation of a gradient", lambda: to_latex(jacobian("x*y", wrt="x,y"),
                                                  derivation=True),
     "By definition, in numerator layout (rows are the gradients of the components),\n\n"
     "\\[\n\\frac{\\partial f}{\\partial \\left(x, y\\right)} = \\begin{pmatrix} "
     "\\frac{\\partial f}{\\partial x} & \\frac{\\partial f}{\\partial y} \\end{pmatrix}\n\\]"
     "\n\nEvaluating every entry:\n\n"
     "\\[\n\\frac{\\partial f}{\\partial \\left(x, y\\right)} = "
     "\\begin{pmatrix} y & x \\end{pmatrix}\n\\]"),
    ("the gradient of a determinant has the shape of X", lambda: to_latex(
        jacobian("det(X)", wrt="X", shapes={"X": (2, 2)})),
     r"\begin{pmatrix} X_{22} & - X_{21} \\ - X_{12} & X_{11} \end{pmatrix}"),
    ("... in both layouts", lambda: to_latex(
        jacobian("det(X)", wrt="X", shapes={"X": (2, 2)}, layout="denominator")),
     r"\begin{pmatrix} X_{22} & - X_{21} \\ - X_{12} & X_{11} \end{pmatrix}"),
    ("... and flat when flattened", lambda: to_latex(
        jacobian("det(X)", wrt="X", shapes={"X": (2, 2)}), flatten=True),
     r"\begin{pmatrix} X_{22} & - X_{21} & - X_{12} & X_{11} \end{pmatrix}"),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in GOLDEN], ids=[c[0] for c in GOLDEN])
def test_golden_fragment(make, expected):
    assert make() == expected


@pytest.mark.parametrize("name, style, expected", [
    ("A_1_2", "upper", "A_{12}"),
    ("A_1_12", "upper", "A_{1,12}"),
    ("A_10_2", "upper", "A_{10,2}"),
    ("A_1_2", "lower", "a_{12}"),
    ("x_3", "upper", "x_{3}"),
    ("dY_2_1", "upper", "dY_{21}"),
    ("dY_2_1", "lower", "dy_{21}"),
    ("W1_1_2", "upper", "{W_{1}}_{12}"),  # never a double subscript
    ("alpha", "upper", r"\alpha"),
    ("alpha_1_2", "upper", r"\alpha_{12}"),
    ("x1", "upper", "x_{1}"),
    ("b_out_1", "upper", "{b_{out}}_{1}"),
])
def test_entry_names(name, style, expected):
    assert name_tex(name, LatexOptions(element_style=style)) == expected


def test_entry_symbols_inside_expressions():
    expr = entry_symbol("A", (0, 11)) * scalar_symbol("lambda_")
    assert "A_{1,12}" in latex_expr(expr)


# -- compact formulas: expression trees printed from the registry -------------------------

X, Y, dY, a, b = Name("X"), Name("Y"), Name("dY"), Name("a"), Name("b")

FORMULAS = [
    ("trace", "trace(X)", r"\operatorname{tr}\left(X\right)"),
    ("det", "det(X)", r"\det\left(X\right)"),
    ("inv", "inv(X)", "X^{-1}"),
    ("logdet", "logdet(X)", r"\log\det\left(X\right)"),
    ("norm", "norm(x)", r"\left\|x\right\|"),
    ("1-norm", "norm(x, 1)", r"\left\|x\right\|_{1}"),
    ("logsumexp", "logsumexp(X)", r"\operatorname{logsumexp}\left(X\right)"),
    ("softmax", "softmax(x)", r"\operatorname{softmax}\left(x\right)"),
    ("log_softmax", "log_softmax(X)", r"\log\operatorname{softmax}\left(X\right)"),
    ("diag", "diag(x)", r"\operatorname{diag}\left(x\right)"),
    ("outer", "outer(a, b)", r"a b^{\top}"),
    ("eye", "eye(3)", "I_{3}"),
    ("sum over rows", "sum(X, axis=0)", r"\operatorname{sum}_{\text{rows}}\left(X\right)"),
    ("sum over columns", "sum(X, axis=1)", r"\operatorname{sum}_{\text{cols}}\left(X\right)"),
    ("mean", "mean(X)", r"\operatorname{mean}\left(X\right)"),
    ("sigmoid", "sigmoid(Z)", r"\sigma\left(Z\right)"),
    ("relu", "relu(Z)", r"\operatorname{ReLU}\left(Z\right)"),
    ("step", "step(Z)", r"\left[Z \geq 0\right]"),
    ("softplus", "softplus(Z)", r"\operatorname{softplus}\left(Z\right)"),
    ("sqrt", "sqrt(x + 1)", r"\sqrt{x + 1}"),
    ("abs", "abs(x)", r"\left|x\right|"),
    ("constants", "pi * E**x", r"\pi \odot e^{x}"),
    ("affine", "X@W + b", "X W + b"),
    ("sigmoid backward", "X.T @ (dY * Y * (1 - Y))",
     r"X^{\top} \left(dY \odot Y \odot \left(1 - Y\right)\right)"),
    ("coefficient first", "1/8 * Y * (1 - Y)", r"\frac{1}{8} Y \odot \left(1 - Y\right)"),
    ("subtraction", "a - b - 2*c + -3", "a - b - 2 c - 3"),
    ("negation", "-x**2", "-x^{2}"),
    ("double negation", "-(-x)", r"-\left(-x\right)"),
    ("subtracting a negation", "a - (-b)", r"a - \left(-b\right)"),
    ("product left of @ bracketed", "(A * B) @ C", r"\left(A \odot B\right) C"),
    ("@ chain", "(A @ B) @ C", "A B C"),
    ("@ on the right bracketed", "A @ (B @ C)", r"A \left(B C\right)"),
    ("quotient", "(a + b) / (c - d)", r"\frac{a + b}{c - d}"),
    ("power of a power", "(x**2)**3", r"\left(x^{2}\right)^{3}"),
    ("transpose of a product", "(X @ W).T", r"\left(X W\right)^{\top}"),
    ("no double superscript", "inv(X).T", r"\left(X^{-1}\right)^{\top}"),
    ("outer product in a product", "outer(a, b) * C", r"\left(a b^{\top}\right) \odot C"),
    ("power of a determinant", "det(X)**2", r"\det\left(X\right)^{2}"),
]


@pytest.mark.parametrize("source, expected", [c[1:] for c in FORMULAS],
                         ids=[c[0] for c in FORMULAS])
def test_golden_formula(source, expected):
    assert formula_latex(parse_expression(source)) == expected


def test_formula_transpose_mark_and_structure_ops():
    assert formula_latex(X.T @ dY, "^T") == "X^T dY"
    assert formula_tex(fn.outer(a, b), LatexOptions(transpose="^T")) == "a b^T"
    assert formula_latex(dY * fn.ones_like(X)) == r"dY \odot \mathbf{1}"
    assert formula_latex(dY * Y * fn.inv(X).T) == r"dY \odot Y \odot \left(X^{-1}\right)^{\top}"
    assert formula_latex(fn.eye_like(X) - X) == "I - X"
    assert formula_latex(fn.expand_dims(a + b, 1).T) == r"\left(a + b\right)^{\top}"
    assert formula_latex(Num(Fraction(-1, 8)) * Y + X) == r"-\frac{1}{8} Y + X"
    assert formula_latex(X + Num(-1) * Y) == "X - Y"
    with pytest.raises(ValueError, match="transpose"):
        formula_latex(X.T, "'")


def test_formula_printer_matches_no_operation_name():
    """Everything it knows about an operation comes from the registry's declarations."""
    source = Path(latex_module.__file__).with_name("formula_latex.py").read_text()
    code = re.sub(r'(?s)""".*?"""', "", source)  # docstrings may name operations
    named = [op.name for op in operations() if f'"{op.name}"' in code or f"'{op.name}'" in code]
    assert not named


# -- SymPy entries with our own functions ---------------------------------------------------

x = sp.Symbol("x", real=True)

ENTRIES = [
    ("sigmoid", sigmoid(x), r"\sigma\left(x\right)"),
    ("relu", relu(x), r"\operatorname{ReLU}\left(x\right)"),
    ("step", step(x), r"\left[x \geq 0\right]"),
    ("softplus", softplus(x), r"\operatorname{softplus}\left(x\right)"),
    ("sigmoid derivative", sigmoid(x) * (1 - sigmoid(x)),
     r"\left(1 - \sigma\left(x\right)\right) \sigma\left(x\right)"),
    ("a power of ours", sigmoid(x) ** 2, r"\sigma\left(x\right)^{2}"),
    ("a sum inside the step", step(x + 1), r"\left[x + 1 \geq 0\right]"),
    ("entry symbols inside", relu(entry_symbol("W", (0, 1))),
     r"\operatorname{ReLU}\left(W_{12}\right)"),
    ("SymPy's own functions keep SymPy's LaTeX", sp.sin(x), r"\sin{\left(x \right)}"),
]


@pytest.mark.parametrize("expr, expected", [c[1:] for c in ENTRIES], ids=[c[0] for c in ENTRIES])
def test_golden_entry(expr, expected):
    assert latex_expr(expr) == expected


def test_our_functions_have_no_latex_methods():
    """Their LaTeX is declared once, with their operation."""
    for f in (sigmoid, relu, softplus, step):
        assert not hasattr(f, "_latex")
    assert {f.__name__ for f in registry_functions()} >= {"sigmoid", "relu", "softplus", "step"}


class cube(sp.Function):  # noqa: N801 - named as users would type it
    """A function SymPy does not know, for the registration test."""

    def fdiff(self, argindex=1):
        return 3 * self.args[0] ** 2


@pytest.fixture
def cube_op():
    op = elementwise("cube", "x**3", lambda S, x: cube(x), lambda X, Y: 3 * X ** 2,
                     lambda np, x: x ** 3, {"numpy": "({0})**3", "torch": "({0})**3"},
                     lambda p: f"{p.arg(0, PREC_ATOM)}^{{3}}", latex_precedence=PREC_POW)
    try:
        yield op
    finally:
        unregister("cube")


def test_a_registered_operation_prints_in_formulas_and_in_entries(cube_op):
    assert formula_latex(fn.cube(X)) == "X^{3}"
    assert formula_latex(fn.cube(X + Y)) == r"\left(X + Y\right)^{3}"
    assert formula_latex(fn.cube(X).T) == r"\left(X^{3}\right)^{\top}"
    assert latex_expr(cube(x)) == "x^{3}"
    assert latex_expr(cube(x + 1)) == r"\left(x + 1\right)^{3}"
    assert latex_expr(cube(x) ** 2) == r"\left(x^{3}\right)^{2}"
    J = jacobian("cube(x) * y", wrt="y")
    assert to_latex(J) == r"\begin{pmatrix} x^{3} \end{pmatrix}"


def test_an_unregistered_operation_is_forgotten(cube_op):
    assert cube in registry_functions()
    unregister("cube")
    try:
        assert cube not in registry_functions()
        assert latex_expr(cube(x)) == r"\operatorname{cube}{\left(x \right)}"
    finally:
        register(cube_op)


# -- options --------------------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [("matrix_env", "array"), ("transpose", "'"),
                                           ("element_style", "title")])
def test_bad_options_are_errors_naming_the_choices(option, value):
    with pytest.raises(JacobianError, match="use one of"):
        to_latex(jacobian("x*y"), **{option: value})


def test_transpose_option_reaches_compact_forms_and_headers():
    r = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    assert r"X^{\top} dY" in to_latex(r)
    assert "X^T dY" in to_latex(r, transpose="^T") and r"\top" not in to_latex(r, transpose="^T")
    doc = to_latex(backprop("X@W.T", "W", shapes={"X": (2, 3), "W": (2, 3)}), standalone=True,
                   derivation=True, transpose="^T")
    assert "$\\displaystyle Y = X W^T$" in doc and r"dW = dY^T X" in doc
    assert r"\top" not in doc


def test_printoptions_set_defaults_and_are_restored():
    # Both from the module itself: pytest's doctest collection may import a second copy.
    from jacobian_calc.render.latex import printoptions, to_latex
    J = jacobian("x*y", wrt="x,y")
    with printoptions(matrix_env="bmatrix"):
        assert to_latex(J).startswith(r"\begin{bmatrix}")
        assert to_latex(J, matrix_env="pmatrix").startswith(r"\begin{pmatrix}")
    assert to_latex(J).startswith(r"\begin{pmatrix}")
    with pytest.raises(TypeError, match="unknown"):
        with printoptions(colour="red"):
            pass


def test_result_method_and_lists():
    J = jacobian("x*y", wrt="x,y")
    assert J.to_latex(matrix_env="bmatrix") == to_latex(J, matrix_env="bmatrix")
    line = r"\frac{\partial f}{\partial \left(x, y\right)} = " + to_latex(J)
    assert to_latex([J, J]) == r"\begin{gathered} " + line + r" \\ " + line + r" \end{gathered}"
    with pytest.raises(JacobianError, match="cannot print"):
        to_latex(object())


def test_several_results_are_one_pasteable_display():
    """Several Jacobians, a chain, values at a point: one display, no blank lines."""
    runner = CliRunner()
    for args in (["X@W", "--wrt", "W,X", "--shape", "X=1x2", "--shape", "W=2x1"],
                 ["y2**2", "--wrt", "w1", "--let", "y1=a*w1", "--let", "y2=y1+b1", "--chain"],
                 ["x*y, x+y"],
                 ["X@W", "--wrt", "W,X", "--shape", "X=1x2", "--shape", "W=2x1",
                  "--at", "X=[[1,2]],W=[[3],[4]]"]):
        out = runner.invoke(main, [*args, "--format", "latex"]).output.strip()
        assert "\n\n" not in out, args


def test_jupyter_display():
    J = jacobian("x*y", wrt="x,y")
    assert J._repr_latex_() == r"$\displaystyle \begin{pmatrix} y & x \end{pmatrix}$"
    assert jacobian("sigmoid(x)", wrt="x", shapes={"x": 101})._repr_latex_() is None
    c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
    assert c._repr_latex_().startswith(r"$\displaystyle \frac{\partial f}{\partial w_{1}}")


def test_the_plain_path_imports_no_numpy():
    code = ("import sys; from jacobian_calc import jacobian, to_latex; "
            "to_latex(jacobian('sigmoid(X@W)', wrt='W', shapes={'X': (2, 2), 'W': (2, 2)}), "
            "standalone=True, derivation=True); print('numpy' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# -- the extension point for other result types -------------------------------------------------

class Remark(Result):
    """A result type of no interest, printed by its own block function."""

    def __init__(self, text: str, topic: str = "x") -> None:
        self.text, self.topic = text, topic


@pytest.fixture
def remark_printer():
    @block_printer(Remark)
    def remark_blocks(r: Remark, style: Style) -> list[Block]:
        blocks = []
        if r.topic not in style.shared.setdefault("topics", set()):  # once per topic per call
            style.shared["topics"].add(r.topic)
            blocks.append(Block("section" if style.headers else "text", f"About ${r.topic}$"))
        return blocks + [Block("math", r.text + style.options.transpose)]
    try:
        yield remark_blocks
    finally:
        unregister_block_printer(Remark)


def test_block_printers_extend_to_latex(remark_printer):
    one, two = Remark("A"), Remark("B")
    assert to_latex([one, two], derivation=True, transpose="^T") == \
        "About $x$\n\n\\[\nA^T\n\\]\n\n\\[\nB^T\n\\]"
    assert one.to_latex() == "About $x$\n\nA^{\\top}"  # the result's own method
    doc = to_latex([one, jacobian("x*y", wrt="x,y")], standalone=True)
    assert r"\section*{About $x$}" in doc and r"\section*{Jacobian of $f = x y$" in doc
    unregister_block_printer(Remark)
    with pytest.raises(JacobianError, match="cannot print a Remark"):
        to_latex(one)


def test_documents_of_blocks():
    doc = render_document([Block("section", "S"), Block("text", "T"), Block("math", "x")])
    assert doc.startswith(r"\documentclass") and "T\n\\nopagebreak" in doc


# -- tensors ---------------------------------------------------------------------------------

def test_4d_blocks_follow_the_layout():
    """Numerator: block (i, j) is dY_ij/dA; denominator: block (k, l) is dY/dA_kl."""
    shapes = {"X": (2, 3), "A": (3, 2)}
    num = to_latex(jacobian("X@A", wrt="A", shapes=shapes), derivation=True)
    den = to_latex(jacobian("X@A", wrt="A", shapes=shapes, layout="denominator"),
                   derivation=True)
    assert r"_{ijkl} = \frac{\partial Y_{ij}}{\partial A_{kl}}" in num
    assert r"block $(i, j)$ holds $\frac{\partial Y_{ij}}{\partial A}$" in num
    assert r"_{klij} = \frac{\partial Y_{ij}}{\partial A_{kl}}" in den
    assert r"block $(k, l)$ holds $\frac{\partial Y}{\partial A_{kl}}$" in den
    plain = to_latex(jacobian("X@A", wrt="A", shapes=shapes))
    # Block (1, 2) = dY_12/dA: X_1k in column 2 of every row k.
    first_row_of_blocks = plain.split(r"\end{pmatrix} \\")[0]
    assert r"\begin{pmatrix} 0 & X_{11} \\ 0 & X_{12} \\ 0 & X_{13}" in first_row_of_blocks


def test_3d_tensor_of_the_handwritten_notes():
    r"""(dy/dA)_ijk = dy_i/da_jk = δ_ij x_k."""
    text = to_latex(jacobian("A@x", wrt="A", shapes={"A": (2, 3), "x": (3,)}),
                    derivation=True, element_style="lower")
    assert r"_{ijk} = \frac{\partial y_{i}}{\partial a_{jk}}" in text
    assert r"block $i$ holds $\frac{\partial y_{i}}{\partial A}$" in text


def test_max_matrix_columns_counts_nested_matrices():
    wide = to_latex(jacobian("X@w", wrt="w", shapes={"X": (2, 13), "w": (13,)}))
    assert max_matrix_columns(wide) == 13
    nested = to_latex(jacobian("X@A", wrt="A", shapes={"X": (2, 3), "A": (3, 2)}))
    assert max_matrix_columns(nested) == 2


def test_standalone_sets_max_matrix_cols_for_wide_matrices():
    doc = to_latex(jacobian("X@w", wrt="w", shapes={"X": (2, 13), "w": (13,)}),
                   standalone=True)
    assert r"\setcounter{MaxMatrixCols}{13}" in doc
    assert doc.startswith(r"\documentclass") and doc.rstrip().endswith(r"\end{document}")
    small = to_latex(jacobian("x*y"), standalone=True)
    assert r"\setcounter{MaxMatrixCols}{10}" in small


def test_too_large_to_typeset_is_a_clear_error():
    """The notes' N = 1024 element-wise map: a 1024 x 1024 matrix is for --spy, not LaTeX."""
    J = jacobian("sigmoid(x)", wrt="x", shapes={"x": 101})
    with pytest.raises(JacobianError, match=r"101 x 101, too large for LaTeX.*spy_figure\(\)") \
            as info:
        to_latex(J)
    assert "--spy draws its pattern, --format json lists" in error_message(info.value)
    assert to_latex(jacobian("sigmoid(x)", wrt="x", shapes={"x": 100})).count(r"\\") == 99
    T = jacobian("X@A", wrt="A", shapes={"X": (11, 10), "A": (10, 10)})  # 110 x 100 blocks
    with pytest.raises(JacobianError, match="110 x 100"):
        to_latex(T)


def test_documents_put_one_matrix_row_per_line():
    """TeX reads at most 200,000 characters per line."""
    J = jacobian("sigmoid(x)", wrt="x", shapes={"x": 100})
    assert len(to_latex(J)) > 40_000  # a fragment is one line
    assert max(len(line) for line in to_latex(J, standalone=True).splitlines()) < 1_000


def test_long_entries_are_listed_and_broken_only_in_documents():
    J = jacobians("mean(sigmoid(X@W + b))", wrt="W", shapes=MNIST)[0]
    fragment = to_latex(J)
    assert r"\begin{aligned}" not in fragment and fragment.startswith(r"\begin{pmatrix}")
    doc = to_latex(J, standalone=True)
    assert doc.count(r"\begin{aligned}") == 6  # one entry each, its 4 terms on 4 lines
    assert r"\frac{\partial f}{\partial W_{11}} = {} &" in doc


# -- derivations ------------------------------------------------------------------------------

def test_jacobian_derivation_defines_then_evaluates():
    text = to_latex(jacobian("sin(x1-x2), cos(x1-x2), tan(x1-x2)", wrt="x1,x2"),
                    derivation=True)
    definition = text.index(r"_{ij} = \frac{\partial f_{i}}{\partial x_{j}}")
    symbols = text.index(r"\frac{\partial f_{3}}{\partial x_{2}}")
    evaluated = text.index(r"\sec^{2}")
    assert definition < symbols < evaluated


def test_chain_derivation_shows_each_factor_and_the_verdict():
    text = to_latex(chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"}),
                    derivation=True)
    for piece in (r"\frac{\partial f}{\partial y_{2}} = \begin{pmatrix} 2 y_{2} \end{pmatrix}",
                  r"\frac{\partial y_{1}}{\partial w_{1}} = \begin{pmatrix} a \end{pmatrix}",
                  "checked entry by entry"):
        assert piece in text


def test_chain_in_denominator_layout_reverses_the_factors():
    c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"}, layout="denominator")
    assert (r"= \frac{\partial y_{1}}{\partial w_{1}} \frac{\partial y_{2}}{\partial y_{1}} "
            r"\frac{\partial f}{\partial y_{2}} =") in to_latex(c)


def _positions(text: str, pieces: list[str]) -> list[int]:
    """Where each piece is found, in order: each is searched after the previous one."""
    found, start = [], 0
    for piece in pieces:
        start = text.index(piece, start)
        found.append(start)
    return found


def test_backprop_derivation_has_every_step():
    """Lecture 9's order: forward steps; per backward step its contraction, its entries in
    its own symbols, its compact rule and its verdict; the gradients; what was proved."""
    text = to_latex(backprop("sigmoid(X@W + b)", "W,b", shapes=MNIST), derivation=True)
    _positions(text, [
        r"Z &= X W + b && \in \mathbb{R}^{4 \times 2} \\ Y &= \sigma\left(Z\right)",
        r"The output $Y \in \mathbb{R}^{4 \times 2}$ is an array: its upstream gradient $dY$",
        r"\textbf{Backward step $dZ$}, back through $Y = \sigma\left(Z\right)$ to $Z$",
        r"dZ_{kl} = \sum_{ij} dY_{ij} \frac{\partial Y_{ij}}{\partial Z_{kl}}",
        r"in the step's own symbols ($Y_{ij}$, $dY_{ij}$)",
        r"dZ = \begin{pmatrix} Y_{11} dY_{11} \left(1 - Y_{11}\right) & ",
        "The compact rule:", r"dZ = dY \odot Y \odot \left(1 - Y\right)",
        "proved symbolically (in the step's own symbols)",
        r"\textbf{Backward step $dW$}",
        r"dW_{kl} = \sum_{ij} dZ_{ij} \frac{\partial Z_{ij}}{\partial W_{kl}}",
        r"dW = \begin{pmatrix} X_{11} dZ_{11} + X_{21} dZ_{21} + X_{31} dZ_{31} + X_{41} dZ_{41}",
        r"dW = X^{\top} dZ",
        r"\textbf{Backward step $db$}",
        r"db_{k} = \sum_{ij} dZ_{ij} \frac{\partial Z_{ij}}{\partial b_{k}}",
        r"db = \begin{pmatrix} dZ_{11} + dZ_{21} + dZ_{31} + dZ_{41} \\ dZ_{12}",  # a column
        r"dY \cdot \frac{\partial Y}{\partial W} = dW &= X^{\top} dZ",
        "Verified: 3 steps proved symbolically; end to end agrees at 3 points"])
    assert text.count("The forward pass") == 1 and text.count("Backward step") == 3


def test_backprop_of_a_scalar_loss():
    text = to_latex(backprop("mean(sigmoid(X@W + b))", "W", shapes=MNIST), derivation=True)
    assert r"L &= \operatorname{mean}\left(Y\right) && \in \mathbb{R}" in text
    assert r"The output $L$ is a scalar: its upstream gradient is $1$" in text
    assert r"dY_{kl} = \frac{\partial L}{\partial Y_{kl}}" in text
    assert r"\frac{\partial L}{\partial W} = dW &= X^{\top} dZ" in text


@pytest.fixture
def wrong_sigmoid_rule():
    """sigmoid's derivative written as Y * (1 + Y): the step-local check must catch it."""
    op = ops.get("sigmoid")
    wrong = lambda X, Y: Y * (1 + Y)  # noqa: E731
    unregister("sigmoid")
    register(dataclasses.replace(op, derivative=wrong, vjp=lambda v: (v.g * wrong(v.x, v.out),)))
    try:
        yield
    finally:
        unregister("sigmoid")
        register(op)


def test_backprop_end_to_end_disagreement_is_shown_in_bold():
    r = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    bad = dataclasses.replace(r, end_to_end=EndToEnd(
        Check(DIFFERS, "at a random point", 0.5, ("dW_1_2", 1.0, 1.5)), 3))
    text = to_latex(bad, derivation=True)
    assert (r"\textbf{Disagreement}: the composed gradients differ from the explicit "
            r"derivative of the whole expression (at a random point) at $dW_{12}$: "
            r"explicit $1$, compact $1.5$.") in text
    assert "end to end DIFFERS at a random point (at dW\\_1\\_2)" in text


def test_backprop_disagreement_is_shown_in_bold(wrong_sigmoid_rule):
    r = backprop("sigmoid(X@W)", "W", shapes={"X": (2, 3), "W": (3, 2)})
    assert not r.agree
    text = to_latex(r, derivation=True)
    assert (r"\textbf{The compact rule differs from the explicit contraction} at $dZ_{11}$: "
            r"explicit $- Y_{11}^{2} dY_{11} + Y_{11} dY_{11}$, compact "
            r"$Y_{11} dY_{11} \left(Y_{11} + 1\right)$.") in text
    assert r"dZ = dY \odot Y \odot \left(1 + Y\right)" in text
    assert (r"\textbf{Disagreement}: the backward step $dZ = dY \odot Y \odot \left(1 + Y\right)$"
            " differs from its explicit contraction (above).") in text
    assert "1 step DIFFERS" in text


def test_backprop_fragment_is_one_display_and_gradients_keep_their_shapes():
    """Pasteable inside \\[...\\]: no blank line; dM of a matrix M is a matrix, db a column."""
    r = backprop("sum(M*M)/2 + sum(b)", "M,b", shapes={"M": (2, 3), "b": 3}, expand=True)
    text = to_latex(r)
    assert "\n" not in text and text.startswith(r"\begin{aligned}")
    assert text.endswith(r"\end{aligned}") and text.count(r"\begin{aligned}") == 1
    assert (r"dM &= M = \begin{pmatrix} M_{11} & M_{12} & M_{13} \\ M_{21} & M_{22} & M_{23} "
            r"\end{pmatrix}") in text
    assert r"db &= \mathbf{1} = \begin{pmatrix} 1 \\ 1 \\ 1 \end{pmatrix}" in text
    derivation = to_latex(r, derivation=True)
    assert r"dM = \begin{pmatrix} M_{11} & M_{12} & M_{13} \\ M_{21}" in derivation


def test_backprop_accumulated_steps_and_inline_gradients():
    r = backprop("sum(tanh(X@W)@W)", "W", shapes={"X": (2, 2), "W": (2, 2)}, inline=True)
    text = to_latex(r, derivation=True)
    assert r"dW &\mathrel{+}= X^{\top} dZ" not in to_latex(r)  # inline: the gradient alone
    assert r"dW \mathrel{+}= X^{\top} dZ_{1}" in text
    assert r"dW_{kl} \mathrel{+}= \sum_{ij} {dZ_{1}}_{ij}" in text
    assert "this contribution to $dW$" in text and "Fully substituted:" in text
    steps = to_latex(backprop("sum(tanh(X@W)@W)", "W", shapes={"X": (2, 2), "W": (2, 2)}))
    # the loss's argument Z2 = Y1 @ W is a step of its own (dZ2 = ones_like(Z2))
    assert r"dW &= Y_{1}^{\top} dZ_{2} \\ " in steps
    assert r"dW &\mathrel{+}= X^{\top} dZ_{1}" in steps


def test_backprop_expanded_entries_too_long_to_typeset_are_not():
    """A two-layer network's expanded gradients run to tens of thousands of characters an
    entry: TeX would run out of memory. The derivation says where to find them."""
    r = backprop("-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))", "W1", onehot="T", expand=True,
                 shapes={"X": (4, 3), "W1": (3, 5), "b1": 5, "W2": (5, 3), "b2": 3,
                         "T": (4, 3)})
    text = to_latex(r, derivation=True, standalone=True)
    assert len(text) < 60_000
    assert r"The 15 entries of $dW_{1}$ ($3 \times 5$) are too long to typeset" in text


def test_headers_print_the_expression():
    doc = to_latex(jacobian("sigmoid(X@W + b)", wrt="W", shapes=MNIST), standalone=True)
    assert r"\section*{Jacobian of $Y = \sigma\left(X W + b\right)$ with respect to $W$}" in doc
    doc = to_latex(jacobian("f(x1, x2)", wrt="x1,x2", functions=["f"]), standalone=True)
    assert r"Jacobian of $f = f\left(x_{1}, x_{2}\right)$" in doc
    doc = to_latex(jacobian("cos(2*pi*t)", wrt="t"), standalone=True)
    assert r"Jacobian of $f = \cos\left(2 \pi t\right)$" in doc


# -- the CLI -------------------------------------------------------------------------------------

def test_cli_latex_options():
    out = jac("X@W", "--wrt", "W", "--shape", "X=1x2", "--shape", "W=2x2", "--flatten",
              "--format", "latex", "--matrix-env", "bmatrix", "--element-style", "lower")
    assert out.strip() == (r"\begin{bmatrix} x_{11} & 0 & x_{12} & 0 \\ "
                           r"0 & x_{11} & 0 & x_{12} \end{bmatrix}")


def test_cli_derivation_and_standalone_imply_latex():
    assert "By definition" in jac("x*y", "--derivation")
    assert jac("x*y", "--standalone").startswith(r"\documentclass")
    result = CliRunner().invoke(main, ["x*y", "--standalone", "--format", "json"])
    assert result.exit_code == 2 and "not JSON" in result.output


def test_cli_backprop_latex_uses_the_options():
    args = ["X@W", "--wrt", "W", "--shape", "X=2x3", "--shape", "W=3x2", "--backprop",
            "--transpose", "^T", "--matrix-env", "bmatrix", "--element-style", "lower"]
    out = jac(*args, "--expand", "--format", "latex")
    assert out.startswith(r"\begin{aligned} dW &= X^T dY = \begin{bmatrix} x_{11} dy_{11}")
    derivation = jac(*args, "--derivation")
    assert r"dw_{kl} = \sum_{ij} dy_{ij} \frac{\partial y_{ij}}{\partial w_{kl}}" in derivation
    assert r"dW = \begin{bmatrix} x_{11} dy_{11} + x_{21} dy_{21}" in derivation
    assert r"dW = X^T dY" in derivation and r"\top" not in derivation
    assert jac(*args, "--standalone").startswith(r"\documentclass")


def test_cli_numeric_latex():
    assert jac("x1*x2", "--at", "x1=0.5,x2=2", "--format", "latex").strip() == \
        r"\begin{pmatrix} 2 & 0.5 \end{pmatrix}"
    doc = jac("x1*x2", "--at", "x1=0.5,x2=2", "--standalone")
    assert r"\texttt{x1=0.5,x2=2}" in doc


def test_cli_output_file_is_written_whole(tmp_path):
    target = tmp_path / "notes.tex"
    jac("x*y", "--standalone", "-o", str(target))
    assert target.read_text().rstrip().endswith(r"\end{document}")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.tex"]


def test_cli_failure_leaves_no_half_written_file(tmp_path, monkeypatch):
    """A failed write (here: the final rename) leaves neither the target nor a temporary."""
    target = tmp_path / "notes.tex"

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    result = CliRunner().invoke(main, ["x*y", "--standalone", "-o", str(target)])
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_failure_keeps_the_previous_file(tmp_path):
    target = tmp_path / "notes.tex"
    target.write_text("previous notes\n")
    result = CliRunner().invoke(main, ["x*(", "--standalone", "-o", str(target)])
    assert result.exit_code == 2
    assert target.read_text() == "previous notes\n"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.tex"]


# -- pdflatex ----------------------------------------------------------------

def _shapes(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--shape", item)]


#: Every worked example of shared/LECTURES.md, as jac arguments (id, args).
LECTURE_EXAMPLES = [
    ("L5.1 circle", ["cos(2*pi*t), sin(2*pi*t)", "--wrt", "t"]),
    ("L5.2 R to R^n", ["x, x**2, x**3, exp(x)", "--wrt", "x"]),
    ("L5.3 sin cos tan", ["sin(x1-x2), cos(x1-x2), tan(x1-x2)", "--wrt", "x1,x2"]),
    ("L5.4 general f", ["f(x1, x2, x3), g(x1, x2, x3)", "--wrt", "x1,x2,x3",
                        "--function", "f,g"]),
    ("L5.5 affine dz/dx", ["x@W + b", "--wrt", "x", *_shapes("x=3", "W=3x2", "b=2")]),
    ("L5.5 affine dz/dW", ["x@W + b", "--wrt", "W", *_shapes("x=3", "W=3x2", "b=2")]),
    ("L5.5 affine dz/db", ["x@W + b", "--wrt", "b", *_shapes("x=3", "W=3x2", "b=2")]),
    ("L5.6 batch dz/dX", ["X@w + b", "--wrt", "X", *_shapes("X=4x3", "w=3")]),
    ("L5.6 batch dz/dw,b", ["X@w + b", "--wrt", "w,b", *_shapes("X=4x3", "w=3")]),
    ("L5.7 softmax", ["softmax(l)", "--wrt", "l", *_shapes("l=3")]),
    ("L5.7 softmax via p", ["softmax(l)", "--wrt", "l", "--in-terms-of-output",
                            *_shapes("l=3")]),
    ("L5.7 softmax backprop", ["softmax(l)", "--wrt", "l", "--backprop", "--upstream", "dp",
                               *_shapes("l=3")]),
    ("L5.8 scalar/scalar", ["x**3", "--wrt", "x"]),
    ("L5.8 scalar/vector", ["x1*x2 + x3", "--wrt", "x1,x2,x3"]),
    ("L5.8 vector/scalar", ["x**2, x**3", "--wrt", "x"]),
    ("L9.2 output layer", ["A@W + b", "--wrt", "W,b,A", "--backprop", "--upstream", "dZ",
                           *_shapes("A=4x3", "W=3x2", "b=2")]),
    ("L9.4 matrix-matrix", ["X@A", "--wrt", "A", "--backprop", *_shapes("X=2x3", "A=3x2")]),
    ("L9.5 total derivative", ["y1 + y2*y3 + y4", "--wrt", "x1,x2,x3", "--chain",
                               "--let", "y1=sin(x1)", "--let", "y2=x1*x2",
                               "--let", "y3=x1+x2", "--let", "y4=exp(x3)"]),
    ("L9.6 sum", ["sum(X)", "--wrt", "X", "--backprop", *_shapes("X=2x3")]),
    ("L9.7 mean", ["mean(X)", "--wrt", "X", "--backprop", *_shapes("X=2x3")]),
    *[(f"L9.8 {f}", [f"{f}(X)", "--wrt", "X", "--backprop", *_shapes("X=2x2")])
      for f in ("exp", "log", "sigmoid", "tanh", "relu")],
    ("L9.8 sigmoid Jacobian", ["sigmoid(X)", "--wrt", "X", *_shapes("X=2x2")]),
    *[(f"L9.9 {name}", [expr, "--wrt", "M,N", "--backprop", *_shapes("M=2x2", "N=2x2")])
      for name, expr in (("sum", "M + N"), ("difference", "M - N"), ("product", "M * N"))],
    ("MML y=Ax dy/dx", ["A@x", "--wrt", "x", *_shapes("A=2x3", "x=3")]),
    ("MML y=Ax dy/dA 3D", ["A@x", "--wrt", "A", *_shapes("A=2x3", "x=3")]),
    ("MML Y=XA 4D", ["X@A", "--wrt", "A", *_shapes("X=2x3", "A=3x2")]),
    ("MML Y=XA 4D denominator", ["X@A", "--wrt", "A", "--layout", "denominator",
                                 *_shapes("X=2x3", "A=3x2")]),
    ("MML Y=XA flattened", ["X@A", "--wrt", "A", "--flatten", *_shapes("X=2x3", "A=3x2")]),
    ("notes chain phi", ["y2**2", "--wrt", "w1", "--chain", "--let", "y1=a*w1",
                         "--let", "y2=y1+b1"]),
    ("notes gradient", ["x1**2*x2 + sin(x3)", "--wrt", "x1,x2,x3"]),
    ("notes N=1024, 16 shown", ["sigmoid(x)", "--wrt", "x", *_shapes("x=16")]),
    ("MC neuron", ["relu(w@x + b)", "--wrt", "w,b", *_shapes("w=3", "x=3")]),
    ("MC gradient 10x^2y^2", ["10*x**2*y**2", "--wrt", "x,y"]),
    ("MC f g numerator", ["3*x**2*y, 2*x + y**8", "--wrt", "x,y"]),
    ("MC f g denominator", ["3*x**2*y, 2*x + y**8", "--wrt", "x,y", "--layout", "denominator"]),
    ("MC at a point", ["3*x**2*y, 2*x + y**8", "--at", "x=0.5,y=2"]),
    # The same results at every size (named dimensions): index notation, steps proved for all.
    ("L5.5 affine, every size", ["z", "--let", "z=x@W + b", "--wrt", "x,b",
                                 *_shapes("x=m", "W=mxn", "b=n")]),
    ("L5.7 softmax, every size", ["softmax(l)", "--wrt", "l", "--in-terms-of-output",
                                  *_shapes("l=K")]),
    ("L5.7 softmax backprop, every size", ["softmax(l)", "--wrt", "l", "--backprop",
                                           "--upstream", "dp", *_shapes("l=K")]),
    ("L9.2 output layer, every size", ["A@W + b", "--wrt", "W,b,A", "--backprop", "--upstream",
                                       "dZ", *_shapes("A=NxL", "W=LxK", "b=K")]),
    ("L9.7 mean, every size", ["mean(X)", "--wrt", "X", "--backprop", *_shapes("X=alphaxbeta")]),
    *[(f"L9.8 {f}, every size", [f"{f}(X)", "--wrt", "X", "--backprop", *_shapes("X=Nxd")])
      for f in ("exp", "log", "sigmoid", "tanh", "relu")],
    ("MML y=Ax dy/dA, every size", ["y", "--let", "y=A@x", "--wrt", "A",
                                    *_shapes("A=mxn", "x=n")]),
    ("MML Y=XA 4D, every size", ["Y", "--let", "Y=X@A", "--wrt", "A", *_shapes("X=bxm", "A=mxn")]),
    ("MML dE/dA, every size", ["X@A", "--wrt", "A", "--backprop", *_shapes("X=bxm", "A=mxn")]),
    # Beyond the slides: what a document must survive.
    ("wide: 24 columns", ["X@w", "--wrt", "w", *_shapes("X=2x24", "w=24")]),
    ("long entries", ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--backprop", "--expand",
                      *_shapes("X=4x3", "W=3x2", "b=2")]),
    ("long entries, Jacobian", ["mean(sigmoid(X@W + b))", "--wrt", "W,b",
                                *_shapes("X=4x3", "W=3x2", "b=2")]),
    ("4D with long entries", ["sigmoid(X@W + b)", "--wrt", "W", *_shapes("X=3x3", "W=3x2",
                                                                         "b=2")]),
    ("Greek and 2-digit indices", ["alpha*X@w", "--wrt", "w", *_shapes("X=2x12", "w=12")]),
    ("bmatrix, ^T, lower", ["X@W", "--wrt", "W", "--backprop", "--matrix-env", "bmatrix",
                            "--transpose", "^T", "--element-style", "lower",
                            *_shapes("X=2x3", "W=3x2")]),
    # The operations of the new registry.
    ("linear algebra", ["trace(A@X) + logdet(X) + det(X)", "--wrt", "X",
                        *_shapes("A=2x2", "X=2x2")]),
    ("inverse", ["inv(X)", "--wrt", "X", *_shapes("X=2x2")]),
    ("norm, logsumexp", ["norm(x) + logsumexp(x)", "--wrt", "x", *_shapes("x=3")]),
    ("softplus, step", ["softplus(x) * step(x) + relu(x)", "--wrt", "x"]),
    # Backprop beyond the slides: a fused softmax step, an accumulated gradient.
    ("backprop: two-layer network", ["-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))",
                                     "--wrt", "W1,b1,W2,b2", "--backprop", "--onehot", "T",
                                     "--inline", *_shapes("X=4x3", "W1=3x5", "b1=5", "W2=5x3",
                                                          "b2=3", "T=4x3")]),
    ("backprop: a variable used twice", ["sum(tanh(X@W)@W)", "--wrt", "W", "--backprop",
                                         "--expand", *_shapes("X=2x2", "W=2x2")]),
]


def _pdflatex() -> str:
    found = shutil.which("pdflatex")
    if found:
        return found
    if os.environ.get("JAC_REQUIRE_PDFLATEX"):
        pytest.fail("pdflatex is required (JAC_REQUIRE_PDFLATEX is set) but not installed")
    pytest.skip("pdflatex not installed (apt-get install texlive-latex-base "
                "texlive-latex-recommended texlive-latex-extra); set JAC_REQUIRE_PDFLATEX=1 "
                "to make this a failure")


def _compile(pdflatex: str, path) -> tuple[int, str]:
    """Run pdflatex on ``path``; return its exit status and log."""
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error",
                          "-no-shell-escape", path.name], cwd=path.parent,
                         capture_output=True, text=True, timeout=300)
    log = path.with_suffix(".log")
    return run.returncode, log.read_text(errors="replace") if log.exists() else run.stdout


def _split(document: str) -> tuple[str, str]:
    """(preamble with MaxMatrixCols blanked, body) of a standalone document."""
    preamble, body = document.split("\\begin{document}\n", 1)
    body, end = body.rsplit("\\end{document}", 1)
    assert not end.strip()
    return re.sub(r"(MaxMatrixCols\}\{)\d+", r"\g<1>N", preamble), body


def _counter(document: str) -> int:
    return int(re.search(r"MaxMatrixCols\}\{(\d+)\}", document).group(1))


def _examples_as_documents() -> dict[str, str]:
    """Every lecture example through ``jac ... --standalone``, plain and as a derivation."""
    documents = {}
    for name, args in LECTURE_EXAMPLES:
        documents[name] = jac(*args, "--standalone")
        documents[name + " (derivation)"] = jac(*args, "--derivation", "--standalone")
    return documents


def _merged(documents: dict[str, str]) -> tuple[str, list[tuple[int, str]]]:
    """One document holding every body (pdflatex starts once, not 90 times), and the
    first line of each body, to name the example an error is in."""
    preambles = {_split(d)[0] for d in documents.values()}
    assert len(preambles) == 1, "every standalone document has the same preamble"
    counter = max(_counter(d) for d in documents.values())
    text = _split(next(iter(documents.values())))[0].replace("}{N}", f"}}{{{counter}}}")
    text += "\\begin{document}\n"
    starts = []
    for name, document in documents.items():
        starts.append((text.count("\n") + 1, name))
        text += _split(document)[1] + "\n\\clearpage\n"
    return text + "\\end{document}\n", starts


def _culprit(log: str, starts: list[tuple[int, str]]) -> str:
    match = re.search(r"^l\.(\d+)", log, re.M)
    if not match:
        return "unknown example"
    line = int(match.group(1))
    return [name for first, name in starts if first <= line][-1]


@pytest.mark.slow
def test_every_lecture_example_compiles_with_pdflatex(tmp_path):
    """Each example, plain and as a derivation, compiles cleanly and fits the page.

    The documents differ only in their bodies and ``MaxMatrixCols`` (checked
    here), so their bodies are compiled together in one run.
    """
    pdflatex = _pdflatex()
    started = time.perf_counter()
    documents = _examples_as_documents()
    for name, document in documents.items():
        assert _counter(document) >= max(10, max_matrix_columns(_split(document)[1])), name
    text, starts = _merged(documents)
    path = tmp_path / "lectures.tex"
    path.write_text(text)
    rendered = time.perf_counter()
    status, log = _compile(pdflatex, path)
    errors = re.findall(r"^!.*$", log, re.M)
    assert status == 0, f"{_culprit(log, starts)}: {errors[:3]}"
    overfull = re.findall(r"^Overfull \\hbox.*lines? (\d+)", log, re.M)
    assert not overfull, [_culprit(f"l.{line}", starts) for line in overfull]
    pages = int(re.search(r"\((\d+) pages?", log).group(1))
    assert pages >= len(documents)
    print(f"\n{len(documents)} documents rendered in {rendered - started:.1f} s, "
          f"compiled ({pages} pages) in {time.perf_counter() - rendered:.1f} s")


@pytest.mark.slow
def test_standalone_documents_compile_on_their_own(tmp_path):
    """A few documents exactly as written by ``-o``: wide, 4-D, long entries."""
    pdflatex = _pdflatex()
    chosen = {"wide: 24 columns", "MML Y=XA 4D", "long entries"}
    paths = []
    for i, (name, args) in enumerate(LECTURE_EXAMPLES):
        if name in chosen:
            paths.append(tmp_path / f"example{i}.tex")
            jac(*args, "--derivation", "--standalone", "-o", str(paths[-1]))
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        outcomes = list(pool.map(lambda p: _compile(pdflatex, p), paths))
    for path, (status, log) in zip(paths, outcomes):
        assert status == 0, (path.name, re.findall(r"^!.*$", log, re.M)[:3])
        assert path.with_suffix(".pdf").stat().st_size > 1000


def _matrix_shape(tex: str, env: str = "pmatrix") -> tuple[int, int]:
    """Rows and columns of the first ``env`` matrix in ``tex`` (not nested)."""
    body = tex.split(rf"\begin{{{env}}}", 1)[1].split(rf"\end{{{env}}}", 1)[0]
    rows = body.split(r"\\")
    assert len({row.count("&") for row in rows}) == 1, body
    return len(rows), rows[0].count("&") + 1


@pytest.mark.slow
def test_a_scalar_gradient_by_a_matrix_has_the_matrix_shape_and_compiles(tmp_path):
    """Lecture 9's dM has the shape of M: 2 x 3 here, never a flat 1 x 6 row; a vector's
    gradient is a column."""
    shapes = {"M": (2, 3), "b": 3}
    J = jacobian("sum(M*M)/2", wrt="M", shapes=shapes)
    r = backprop("sum(M*M)/2 + sum(b)", "M,b", shapes=shapes, expand=True)
    derivation = to_latex(r, derivation=True)
    shown = {"Jacobian": to_latex(J), "denominator": to_latex(J.with_layout("denominator")),
             "Jacobian derivation": to_latex(J, derivation=True).split("Evaluating")[1],
             "backprop": to_latex(r),
             "backprop step": derivation.split("Backward step $dM$")[1],
             "backprop gradient": derivation.split("The gradient $dM$ entry by entry")[1]}
    for name, tex in shown.items():
        assert _matrix_shape(tex) == (2, 3), name
    assert _matrix_shape(derivation.split("Backward step $db$")[1]) == (3, 1)
    assert _matrix_shape(to_latex(r).split("db &=")[1]) == (3, 1)
    path = tmp_path / "gradient.tex"
    path.write_text(to_latex([J, r], derivation=True, standalone=True))
    status, log = _compile(_pdflatex(), path)
    assert status == 0, re.findall(r"^!.*$", log, re.M)[:3]
    assert "Overfull" not in log


def _every_operation() -> list[Call]:
    """One call of each registered operation, on names, with its options' defaults."""
    calls = []
    for op in operations():
        args = [Name(n) for n in "ABC"[:op.arity[0]]]
        kwargs = {k.name: 3 for k in op.keywords if k.kind == "size"}
        calls.append(Call(op.name, args, kwargs))
    return calls


@pytest.mark.slow
def test_every_operation_typesets(tmp_path):
    """Each declaration's LaTeX, also transposed, squared, in products and sums, and the
    SymPy entries of our functions, compile without an error (no double superscript)."""
    pdflatex = _pdflatex()
    blocks = []
    for node in _every_operation():
        forms = [node, node.T, node ** 2, node * Name("Z"), node @ Name("Z"),
                 Name("Z") - node, -node]
        blocks.append(Block("math", r" \quad ".join(formula_latex(f) for f in forms)))
    x = sp.Symbol("x", real=True)
    for function in registry_functions():
        entry = function(x + 1)
        blocks.append(Block("math", latex_expr(entry ** 2 * function(x) - entry / 2)))
    path = tmp_path / "operations.tex"
    path.write_text(render_document(blocks))
    status, log = _compile(pdflatex, path)
    assert status == 0, re.findall(r"^!.*$", log, re.M)[:3]
