"""LaTeX output: exact fragments, options, derivations, documents, and real pdflatex.

The golden tests pin the exact text of a few small fragments. The pdflatex
tests render every worked example of ``shared/LECTURES.md`` with
``jac ... --standalone`` (plain and ``--derivation``) and compile each document
with pdflatex, in parallel. Without pdflatex they skip, unless
``JAC_REQUIRE_PDFLATEX`` is set (as ``.ci/run`` does): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import JacobianError, backprop, chain, jacobian, jacobians, to_latex
from jacobian_calc.cli import main
from jacobian_calc.latex import LatexOptions, latex_expr, max_matrix_columns, name_tex
from jacobian_calc.shapes import entry_symbol, scalar_symbol

MNIST = {"X": (4, 3), "W": (3, 2), "b": (2,)}


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
        backprop("X@W", "W", shapes={"X": (1, 2), "W": (2, 1)}), transpose="^T"),
     r"dW = X^T dY = \begin{pmatrix} X_{11} dY_{11} \\ X_{12} dY_{11} \end{pmatrix}"),
    ("derivation of a gradient", lambda: to_latex(jacobian("x*y", wrt="x,y"),
                                                  derivation=True),
     "By definition, in numerator layout (rows are the gradients of the components),\n\n"
     "\\[\n\\frac{\\partial f}{\\partial \\left(x, y\\right)} = \\begin{pmatrix} "
     "\\frac{\\partial f}{\\partial x} & \\frac{\\partial f}{\\partial y} \\end{pmatrix}\n\\]"
     "\n\nEvaluating every entry:\n\n"
     "\\[\n\\frac{\\partial f}{\\partial \\left(x, y\\right)} = "
     "\\begin{pmatrix} y & x \\end{pmatrix}\n\\]"),
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


# -- options --------------------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [("matrix_env", "array"), ("transpose", "'"),
                                           ("element_style", "title")])
def test_bad_options_are_errors_naming_the_choices(option, value):
    with pytest.raises(JacobianError, match="use one of"):
        to_latex(jacobian("x*y"), **{option: value})


def test_transpose_option_reaches_compact_forms_and_headers():
    [g] = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    assert r"X^{\top} dY" in to_latex(g)
    assert "X^T dY" in to_latex(g, transpose="^T") and r"\top" not in to_latex(g, transpose="^T")


def test_printoptions_set_defaults_and_are_restored():
    # Both from the module itself: pytest's doctest collection may import a second copy.
    from jacobian_calc.latex import printoptions, to_latex
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
    assert to_latex([J, J]) == to_latex(J) + "\n\n" + to_latex(J)
    with pytest.raises(JacobianError, match="cannot print"):
        to_latex(object())


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
    with pytest.raises(JacobianError, match=r"101 x 101, too large for LaTeX.*--spy"):
        to_latex(J)
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


def test_backprop_derivation_has_every_step():
    results = backprop("sigmoid(X@W + b)", "W,b", shapes=MNIST)
    text = to_latex(results, derivation=True)
    steps = [r"Z &= X W + b \\ Y &= \sigma\left(Z\right)",
             r"dW_{kl} = \sum_{i,j} dY_{ij} \frac{\partial Y_{ij}}{\partial W_{kl}}",
             r"db_{k} = \sum_{i,j} dY_{ij} \frac{\partial Y_{ij}}{\partial b_{k}}",
             r"dW = \begin{pmatrix}",
             r"dZ &= dY \odot Y \odot \left(1 - Y\right)",
             r"dW = X^{\top} \left(dY \odot Y \odot \left(1 - Y\right)\right)",
             "agree: the difference of every entry simplifies to $0$"]
    positions = [text.index(s) for s in steps]
    assert positions[:2] == sorted(positions[:2])
    assert text.count("Forward pass") == 1  # shared by W and b


def test_backprop_of_a_scalar_loss():
    text = to_latex(backprop("mean(sigmoid(X@W + b))", "W", shapes=MNIST), derivation=True)
    assert r"dW_{ij} = \frac{\partial J}{\partial W_{ij}}" in text
    assert r"J &= \operatorname{mean}\left(Y\right)" in text


def test_backprop_disagreement_is_shown_in_bold():
    [g] = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    bad = replace(g, agree=False, symbolic=False, max_abs_error=0.5,
                  mismatch=((1, 2), sp.Integer(1), sp.Rational(3, 2)))
    text = to_latex(bad, derivation=True)
    assert r"\textbf{The explicit and the compact gradient disagree} at entry $(1, 2)$" in text
    assert r"$1$ against $\frac{3}{2}$" in text


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
    out = jac("X@W", "--wrt", "W", "--shape", "X=2x3", "--shape", "W=3x2", "--backprop",
              "--format", "latex", "--transpose", "^T", "--matrix-env", "bmatrix")
    assert out.startswith(r"dW = X^T dY = \begin{bmatrix}")


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


# -- pdflatex --------------------------------------------------------------------------------------

def _shapes(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--shape", item)]


#: Every worked example of shared/LECTURES.md, as jac arguments (id, args).
LECTURE_EXAMPLES = [
    ("L5.1 circle", ["cos(2*pi*t), sin(2*pi*t)", "--wrt", "t"]),
    ("L5.2 R to R^n", ["x, x**2, x**3, exp(x)", "--wrt", "x"]),
    ("L5.3 sin cos tan", ["sin(x1-x2), cos(x1-x2), tan(x1-x2)", "--wrt", "x1,x2"]),
    ("L5.4 general f", ["f(x1, x2, x3), g(x1, x2, x3)", "--wrt", "x1,x2,x3"]),
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
    # Beyond the slides: what a document must survive.
    ("wide: 24 columns", ["X@w", "--wrt", "w", *_shapes("X=2x24", "w=24")]),
    ("long entries", ["mean(sigmoid(X@W + b))", "--wrt", "W,b", "--backprop",
                      *_shapes("X=4x3", "W=3x2", "b=2")]),
    ("4D with long entries", ["sigmoid(X@W + b)", "--wrt", "W", *_shapes("X=3x3", "W=3x2",
                                                                         "b=2")]),
    ("Greek and 2-digit indices", ["alpha*X@w", "--wrt", "w", *_shapes("X=2x12", "w=12")]),
    ("bmatrix, ^T, lower", ["X@W", "--wrt", "W", "--backprop", "--matrix-env", "bmatrix",
                            "--transpose", "^T", "--element-style", "lower",
                            *_shapes("X=2x3", "W=3x2")]),
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
