"""Progress on a terminal: shown for long requests, cleared after, silent otherwise."""

from __future__ import annotations

import io

from click.testing import CliRunner

from jacobian_calc.cli.main import main
from jacobian_calc.core import progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_stage_is_shown_and_cleared():
    stream = FakeTerminal()
    reporter = progress.Terminal(stream, delay=0.0, interval=0.0)
    with progress.reporting(reporter):
        with progress.stage("rows", 3):
            progress.advance()
            progress.advance()
    text = stream.getvalue()
    assert "jac: rows 2/3" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end


def test_a_short_request_shows_nothing():
    stream = FakeTerminal()
    reporter = progress.Terminal(stream, delay=60.0)
    with progress.reporting(reporter):
        with progress.stage("rows", 3):
            progress.advance()
    assert stream.getvalue() == ""


def test_without_a_reporter_nothing_happens():
    with progress.stage("rows", 3):
        progress.advance()


def test_the_command_is_silent_when_stderr_is_not_a_terminal():
    result = CliRunner().invoke(main, ["x*y", "--wrt", "x,y"])
    assert result.exit_code == 0
    assert "jac:" not in result.output
    assert CliRunner().invoke(main, ["x*y", "--quiet"]).exit_code == 0
