"""The README cannot drift: every ``console`` block is run and its output compared.

A block is a sequence of ``$ jac ...`` commands (a line ending in ``\\`` goes on
on the next line), each followed by the exact text the command prints
(standard output, then standard error). A line holding only ``...`` stands
for any number of lines left out. A command is split as a shell splits it
(``shlex``) and run in-process; nothing goes through a shell.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from jacobian_calc.cli.main import main

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def examples(text: str | None = None) -> list[tuple[str, str]]:
    """(command line, expected output) for every command of every console block."""
    found = []
    for block in BLOCK.findall(text if text is not None else README.read_text("utf-8")):
        command, lines, lines_in = None, [], iter(block.splitlines())
        for line in lines_in:
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, "\n".join(lines)))
                command, lines = line[2:], []
                while command.endswith("\\"):
                    command = command[:-1] + " " + next(lines_in).strip()
            else:
                lines.append(line)
        if command is not None:
            found.append((command, "\n".join(lines)))
    return found


#: Rounding errors of the numeric checks differ in their last digits between machines.
ERROR = re.compile(r"max error [0-9.e+-]+")


def matches(expected: str, shown: str) -> bool:
    """Exact, except that a line ``...`` in ``expected`` stands for any lines, and the
    size of a rounding error (``max error 1.1e-16``) is not compared."""
    expected, shown = ERROR.sub("max error _", expected), ERROR.sub("max error _", shown)
    pattern = "".join(r"(?:.*\n)*?" if line == "..." else re.escape(line) + "\n"
                      for line in expected.rstrip("\n").split("\n"))
    return re.fullmatch(pattern, shown.rstrip("\n") + "\n") is not None


def run(command: str) -> str:
    argv = shlex.split(command)
    assert argv[0] == "jac", command
    result = CliRunner().invoke(main, argv[1:])
    return result.stdout + result.stderr


def test_the_readme_has_examples():
    assert len(examples()) >= 15


def test_the_elision_marker_matches_lines_and_nothing_else():
    assert matches("a\n...\nd", "a\nb\nc\nd") and matches("a\n...\nd", "a\nd")
    assert not matches("a\n...\nd", "a\nb\nc\ne") and not matches("a\nb", "a\nc")


@pytest.mark.parametrize("command, expected", examples(), ids=[c[:60] for c, _ in examples()])
def test_readme_example_prints_what_the_readme_shows(command, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = run(command)
    assert matches(expected, shown), f"{command}\n--- README\n{expected}\n--- actual\n{shown}"


def test_the_python_examples_run_as_shown():
    """The README's ``>>>`` examples are doctests."""
    import doctest
    text = README.read_text("utf-8")
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if ">>>" in b]
    assert blocks
    for i, block in enumerate(blocks):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"README {i}", "README", 0))
    assert runner.summarize(verbose=False).failed == 0
