"""What the ``jac`` command imports from the package, read from its source.

The CLI should sit on the public API (``jacobian_calc`` and what it
re-exports). The internal modules it still reaches into are listed here, so
that a new one is a decision (this test fails) and the list only shrinks:
``symbolic.simplify`` (its process-wide notes) is gone; results carry
their notes and warnings.
"""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "jacobian_calc" / "cli"

#: Internal modules the CLI imports besides its own, by module: the debt to pay back.
INTERNAL = {
    "core", "core.errors", "core.files", "core.limits",
    "derive.backprop", "derive.chain", "derive.claims", "derive.hessian", "derive.jacobian",
    "parsing",
    "render", "render.backprop_latex", "render.backprop_text", "render.code",
    "render.code_check", "render.compact_text", "render.hessian_latex", "render.json", "render.latex", "render.rules",
    "render.shared", "render.spy", "render.text",
    "render.jacobian_latex",
    "symbolic.measure",
}


def _imports() -> set[str]:
    found = set()
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..x import y
                found.add(node.module or "")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                    node.module.startswith("jacobian_calc."):
                found.add(node.module.removeprefix("jacobian_calc."))
    return found


def test_the_cli_imports_only_the_listed_internal_modules():
    assert _imports() == INTERNAL


def test_no_process_wide_notes_are_read():
    for path in CLI.glob("*.py"):
        assert "NOTES" not in path.read_text("utf-8"), path.name
