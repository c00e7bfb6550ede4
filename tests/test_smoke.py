"""The card example, end to end."""

from click.testing import CliRunner

from jacobian_calc.cli.main import main


def test_card_example():
    result = CliRunner().invoke(main, ["sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2"])
    assert result.exit_code == 0
    assert "-cos(x1 - x2)" in result.output and "sin(x1 - x2)" in result.output
