"""The README cannot drift: every ``console`` block is run and its output compared.

A block is a sequence of ``$ jac ...`` lines, each followed by the exact text
the command prints (standard output, then standard error). A command is split
like a shell splits it (``shlex``) and run in-process; nothing goes through a
shell.
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


def examples() -> list[tuple[str, str]]:
    """(command line, expected output) for every command of every console block."""
    found = []
    for block in BLOCK.findall(README.read_text(encoding="utf-8")):
        command, lines = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, "\n".join(lines)))
                command, lines = line[2:], []
            else:
                lines.append(line)
        if command is not None:
            found.append((command, "\n".join(lines)))
    return found


def test_the_readme_has_examples():
    assert len(examples()) >= 10


@pytest.mark.parametrize("command, expected", examples(), ids=[c for c, _ in examples()])
def test_readme_example_prints_what_the_readme_shows(command, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)
    assert argv[0] == "jac", command
    result = CliRunner().invoke(main, argv[1:])
    shown = (result.stdout + result.stderr).rstrip("\n")
    assert shown == expected.rstrip("\n"), f"{command}\n--- README\n{expected}\n--- actual\n{shown}"
