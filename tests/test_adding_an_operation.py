"""The README's "Adding an operation", followed: its example row, declared in a module of
its own, is an operation everywhere (``jac --rules``, the parser, backprop, LaTeX, code)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from jacobian_calc import backprop, jacobian, to_latex, to_numpy_code
from jacobian_calc.cli.main import main
from jacobian_calc.ops import lookup, unregister
from jacobian_calc.parsing import parse_expression
from jacobian_calc.render.code_check import load_module
from jacobian_calc.render.formula_latex import formula_latex
from jacobian_calc.render.rules import operations_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def _section() -> str:
    text = README.read_text("utf-8")
    start = text.index("## Adding an operation")
    return text[start:text.index("\n## ", start + 1)]


@pytest.fixture
def softsign(tmp_path, monkeypatch):
    """The README's row, as the only content of a throwaway module of its own."""
    (row,) = re.findall(r"```python\n(.*?)```", _section(), re.S)
    (tmp_path / "softsign_op.py").write_text(
        "from jacobian_calc.core.tree import fn\n"
        "from jacobian_calc.ops.elementwise import elementwise\n\n"
        f"ROWS = [\n{row}]\n"
        "for row in ROWS:\n    elementwise(*row)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert lookup("softsign") is None
    importlib.import_module("softsign_op")
    try:
        yield lookup("softsign")
    finally:
        unregister("softsign")
        sys.modules.pop("softsign_op", None)


def test_the_readme_row_declares_an_operation_everywhere(softsign):
    assert softsign is not None and softsign.category == "elementwise"
    rules = CliRunner().invoke(main, ["--rules"]).output
    assert re.search(r"softsign\(X\) +dX = dY \* \(1 / \(1 \+ abs\(X\)\)\*\*2\)", rules)
    assert "`softsign(X)`" in operations_markdown()
    assert str(parse_expression("softsign(x) + 1")) == "softsign(x) + 1"
    r = backprop("sum(softsign(x))", "x", shapes={"x": 3})
    assert r.gradients["x"].text == "dy / (1 + abs(x))**2"
    assert all(b.check.verdict == "proved" for b in r.backward), r.summary()
    assert formula_latex(parse_expression("softsign(x).T")) == \
        r"\operatorname{softsign}\left(x\right)^{\top}"
    assert r"\operatorname{softsign}" in to_latex(r, derivation=True)
    J = jacobian("softsign(x)", wrt="x")
    assert J.evaluate({"x": 3}).tolist() == [[1 / 16]]
    module = load_module(to_numpy_code(r))
    grads = module.backward(np.array([1.0, -2.0, 0.5]))
    assert np.allclose(grads["x"], 1 / (1 + np.abs([1.0, -2.0, 0.5])) ** 2)


def test_the_operation_is_gone_once_unregistered(softsign):
    unregister("softsign")
    try:
        assert lookup("softsign") is None
        assert "softsign" not in CliRunner().invoke(main, ["--rules"]).output
    finally:
        from jacobian_calc.ops import register
        register(softsign)


def test_the_readme_table_is_the_registrys():
    assert operations_markdown() in README.read_text("utf-8")


def test_the_ops_package_points_to_the_readme_section():
    import jacobian_calc.ops as ops
    assert '"Adding an operation"' in ops.__doc__ and "## Adding an operation" in \
        README.read_text("utf-8")
