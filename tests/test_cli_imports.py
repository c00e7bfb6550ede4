"""What the ``jac`` command imports from the package, read from its source.

The CLI sits on the public API: ``jacobian_calc`` (the names in its
``__all__``) and the rendering API ``jacobian_calc.render`` (the names in its
``__all__``), besides its own modules. A new internal module, or a name that is
not public, is a decision: this test fails. Results carry their notes and
warnings (no process-wide list is read), and the options' spellings live in
``cli/words.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jacobian_calc
import jacobian_calc.render
from jacobian_calc.cli.words import OPTIONS
from jacobian_calc.core.errors import WORDS

CLI = Path(__file__).resolve().parents[1] / "jacobian_calc" / "cli"

#: Modules of the package the CLI imports besides the package itself and its own: the
#: rendering API only.
INTERNAL = {"render"}


def _imports() -> dict[str, set[str]]:
    """Module of the package (relative to it; "" for the package) -> the names imported."""
    found: dict[str, set[str]] = {}
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..x import y
                module = node.module or ""
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                    node.module.split(".")[0] == "jacobian_calc":
                module = node.module.removeprefix("jacobian_calc").removeprefix(".")
            elif isinstance(node, ast.Import):
                assert not [a.name for a in node.names if a.name.startswith("jacobian_calc")], \
                    path.name
                continue
            else:
                continue
            found.setdefault(module, set()).update(alias.name for alias in node.names)
    return found


def test_the_cli_imports_only_the_public_api():
    imported = _imports()
    assert set(imported) - {""} == INTERNAL
    assert imported[""] <= set(jacobian_calc.__all__), imported[""] - set(jacobian_calc.__all__)
    render = imported["render"]
    assert render <= set(jacobian_calc.render.__all__), render - set(jacobian_calc.render.__all__)


def test_no_process_wide_notes_are_read():
    for path in CLI.glob("*.py"):
        assert "NOTES" not in path.read_text("utf-8"), path.name


def test_every_marker_has_an_option_spelling():
    assert set(OPTIONS) == set(WORDS)
    assert all(option.startswith("--") for option in OPTIONS.values())


def test_the_rendering_api_is_documented_and_loads_what_it_names():
    for name in jacobian_calc.render.__all__:
        value = getattr(jacobian_calc.render, name)
        assert callable(value) and value.__doc__, name
        # no public name is also a submodule's, which importing the submodule would replace
        assert not (CLI.parent / "render" / f"{name}.py").exists(), name
