"""The notebook helpers of the public API: show, maths, entry_symbols, same, spy_figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import jacobian_calc
from jacobian_calc import (backprop, entry_symbols, jacobian, maths, same, show, spy_figure,
                           step)
from jacobian_calc.core.grid import Grid

ROOT = Path(__file__).resolve().parent.parent


def test_helpers_are_public_and_lazy():
    for name in ("show", "maths", "entry_symbols", "same", "spy_figure"):
        assert name in jacobian_calc.__all__
    code = ("import sys, jacobian_calc; jacobian_calc.same; jacobian_calc.show; "
            "print(sorted({'IPython', 'matplotlib', 'numpy'} & set(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_entry_symbols_are_the_calculators():
    J = jacobian("sum(X*X)/2", wrt="X", shapes={"X": (2, 3)})
    X = entry_symbols("X", (2, 3))
    assert X.shape == (2, 3) and X[1, 2].name == "X_2_3" and X[1, 2].is_real
    assert same(J, X)
    assert entry_symbols("x", 3).shape == (3, 1)
    assert entry_symbols("x") == sp.Symbol("x", real=True)
    assert entry_symbols("T", (2, 2, 2)).shape == (2, 2, 2)


def test_same_compares_entries_exactly_and_shapes_strictly():
    x = entry_symbols("x")
    assert same([[sp.sin(x) ** 2 + sp.cos(x) ** 2]], [[1]])
    assert not same([[x]], [[x + sp.Rational(1, 10**12)]])
    assert same(Grid((2,), [x, 1]), sp.Matrix([x, 1]))
    assert not same(sp.Matrix([[x, 1]]), sp.Matrix([x, 1]))  # a row is not a column
    assert not same([x, 1], [x, 1, 0])
    assert same(jacobian("relu(x)", wrt="x"), [[step(x)]])


def test_maths_prints_results_sympy_objects_and_grids():
    r = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    assert maths("r", r) == r"r = \begin{aligned} dW &= X^{\top} dY \end{aligned}"
    assert maths("s", sp.Rational(1, 2)) == r"s = \frac{1}{2}"
    db = backprop("sum(X@W + b)", "b", shapes={"X": (2, 3), "W": (3, 2), "b": 2}).gradients["b"]
    assert maths("db", db.explicit) == r"db = \begin{pmatrix} 2 \\ 2 \end{pmatrix}"
    assert maths("A", entry_symbols("A", (1, 2)), element_style="lower") == \
        r"A = \begin{pmatrix} a_{11} & a_{12} \end{pmatrix}"


def test_show_displays_maths(monkeypatch):
    display = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(display, "display", shown.append)
    show("x", entry_symbols("x"))
    [math] = shown
    assert isinstance(math, display.Math) and math._repr_latex_() == "$\\displaystyle x = x$"


def test_results_render_in_jupyter():
    r = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    assert r._repr_latex_() == r"$\displaystyle \begin{aligned} dW &= X^{\top} dY \end{aligned}$"


def test_spy_figure_draws_one_panel_per_jacobian():
    pytest.importorskip("matplotlib")
    figure = spy_figure([jacobian("X@W", wrt=w, shapes={"X": (2, 2), "W": (2, 2)})
                         for w in ("X", "W")])
    assert len(figure.axes) == 2
