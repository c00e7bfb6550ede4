"""A Python user is never told a command-line option; the ``jac`` command always is.

Library messages name arguments with ``{{markers}}`` (``jacobian_calc.core.errors``):
``str()`` of a result, a note or an error writes the API's words, and the command
writes its options (``jacobian_calc.cli.words``). Each message below is checked in
both spellings, and no string in the library outside ``cli/`` (and the web server's
own command) spells an option.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import sympy as sp

from jacobian_calc import JacobianError, Message, backprop, jacobian, to_latex
from jacobian_calc.cli.words import OPTIONS, cli_words, error_message
from jacobian_calc.core.errors import WORDS, outside_markers, words

PACKAGE = Path(__file__).resolve().parents[1] / "jacobian_calc"
OPTION = re.compile(r"(?<![-\w])--[a-z]")


def _error(call, *args, **kwargs) -> JacobianError:
    with pytest.raises(JacobianError) as info:
        call(*args, **kwargs)
    return info.value


def test_an_error_names_the_api_argument_and_the_command_its_option():
    cases = [  # (error, the API's words, the command's words)
        (_error(backprop, "X@W", wrt="W", shapes={"X": ("N", 3), "W": (3, 2)}, expand=True),
         'expand writes out every entry, which needs concrete sizes (shapes={"X": (4, 3)})',
         "--expand writes out every entry, which needs concrete sizes (--shape X=4x3)"),
        (_error(lambda: jacobian("x*y", wrt="x,y").indices),
         "the index form was not asked for: jacobian(..., index_form=True)",
         "the index form was not asked for: --index-form"),
        (_error(jacobian, "X@W", wrt="W", shapes={"X": (300, 300), "W": (300, 300)}),
         "limits.max_entries", "--max-entries"),
    ]
    for error, api, cli in cases:
        assert api in str(error) and not OPTION.search(str(error)), str(error)
        assert cli in error_message(error), error_message(error)


def test_results_and_their_notes_use_the_api_words():
    J = jacobian("x*y", wrt="x,y", compact=True)  # several scalars: no compact form
    reason = J.compact.reason
    assert reason.endswith("declare them as one vector (shapes) for a compact Jacobian")
    assert cli_words(reason).endswith("one vector (--shape) for a compact Jacobian")
    assert "(shapes)" in to_latex(J, derivation=True)

    r = backprop("-sum(T*log(softmax(Z)))", wrt="Z", shapes={"Z": (2, 3), "T": (2, 3)},
                 onehot="T")
    [note] = r.onehot_breaks({"Z": [[1, 2, 3], [4, 5, 6]], "T": [[1, 0, 0], [0, 1, 1]]})
    assert ": onehot promised rows summing to 1" in note and not OPTION.search(note)
    assert ": --onehot promised rows summing to 1" in cli_words(note)

    big = jacobian("X@W", wrt="W", shapes={"X": (8, 8), "W": (8, 8)})  # a summary
    for text in (str(big), big.to_text(), to_latex(r), r.to_text()):
        assert not OPTION.search(text) and "{{" not in text


def test_latex_names_the_api_in_latex_and_the_command_its_option():
    """A LaTeX document says ``to\\_json()`` to a Python user, ``--format json`` to ``jac``."""
    from jacobian_calc.core.grid import Grid
    from jacobian_calc.render.backprop_latex import entry_blocks
    from jacobian_calc.render.latex import _TEX_WORDS, make_style, render_blocks, \
        resolve_settings

    settings = resolve_settings(derivation=True)
    blocks = entry_blocks("dW", Grid((30, 30), sp.symbols("a:900")), make_style(settings))
    text = Message(render_blocks(blocks, settings), _TEX_WORDS)
    assert r"\texttt{to\_json()} lists every entry" in text and not OPTION.search(text)
    assert r"\texttt{--format json} lists every entry" in cli_words(text)


def test_markers_outside_text_and_unknown_markers():
    assert outside_markers("a_b {{in_terms_of_output}} c_d", lambda s: s.replace("_", r"\_")) \
        == r"a\_b {{in_terms_of_output}} c\_d"
    assert words("{{nothing_of_ours}} and {{at}}") == "{{nothing_of_ours}} and at"
    assert set(OPTIONS) == set(WORDS)


def _strings(path: Path):
    """String constants of ``path`` that are not docstrings, with their lines."""
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_library_string_spells_a_command_line_option():
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text[:60]!r}"
             for path in PACKAGE.rglob("*.py")
             if path.relative_to(PACKAGE).parts[0] not in ("cli", "web")
             for line, text in _strings(path) if OPTION.search(text)]
    assert not found, found


def test_the_check_finds_an_option(tmp_path):
    """The check above can fail: it finds ``--full`` in a message."""
    module = tmp_path / "m.py"
    module.write_text('"""Docs may say --full."""\nraise ValueError("use --full")\n', "utf-8")
    assert [text for _, text in _strings(module) if OPTION.search(text)] == ["use --full"]
