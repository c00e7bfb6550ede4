"""``jac --rules`` and the README say only what the program does: every rule line names
its own operands and defines every symbol it uses; option combinations the README names
behave as it says."""

import re

import pytest
from click.testing import CliRunner

from jacobian_calc.cli.main import main
from jacobian_calc.core.tree import names
from jacobian_calc.ops import operations
from jacobian_calc.parsing import parse_expression
from jacobian_calc.render.rules import _signature, rules_text

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPS = [op for op in operations() if op.category != "constant"]


def _split(text: str, sep: str = ",") -> list[str]:
    """``text`` split at top-level separators (not inside brackets)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "([" and 1 or (c in ")]" and -1 or 0)
        if c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [p.strip() for p in parts + [text[start:]] if p.strip()]


def _assignments(text: str, allowed: set[str]) -> int:
    """Check each ``dN = expr`` of ``text``; return how many there were."""
    count, parts = 0, _split(text)
    for part in parts:
        if "=" not in part.split("(")[0]:  # "n the number of entries averaged", "each ..."
            defined = IDENT.match(part)
            assert defined and " the " in part, part
            if defined.group() != "each":
                allowed.add(defined.group())
    for part in parts:
        if "=" not in part.split("(")[0]:
            continue
        lhs, expr = (s.strip() for s in part.split("=", 1))
        assert lhs.startswith("d") and lhs[1:] in allowed, (lhs, allowed)
        used = names(parse_expression(expr.replace("axis=axis", "axis=0")))
        assert used <= allowed, (part, used - allowed)
        count += 1
    return count


def _operands(op) -> set[str]:
    signature = _signature(op)
    inside = signature[signature.find("(") + 1:-1] if "(" in signature else signature
    return {w for w in IDENT.findall(inside)} - {k.name for k in op.keywords}


#: Operations whose whole rule line is written in the calculator's syntax (checked name by
#: name); the others' lines mix in prose, and their gradients' names are checked below.
SYNTAX_RULES = {
    "add", "neg", "mul", "div", "pow", "matmul", "transpose", "hadamard", "exp", "log", "sqrt",
    "sigmoid", "tanh", "relu", "step", "softplus", "abs", "sign", "sin", "cos", "tan", "sec",
    "csc", "cot", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "trace",
    "det", "inv", "logdet", "diag", "outer", "eye", "eye_like", "ones_like", "expand_dims",
    "sum", "mean", "logsumexp", "norm", "softmax", "log_softmax"}
GRADIENT = re.compile(r"\bd([A-Za-z]\w*)(?:\[[^\]]*\])?\s*\+?=")


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_every_gradient_a_rule_line_defines_is_of_its_own_operand(op):
    from jacobian_calc.ops.text import rule_line
    line = rule_line(op)
    signature = _signature(op)
    operands = set(IDENT.findall(signature)) - {op.name}
    for remark in re.findall(r"\(([^()]*(?:\([^()]*\)[^()]*)*):", line):  # "(A @ x, ...:"
        operands |= set(IDENT.findall(remark))
    for name in GRADIENT.findall(line):
        assert name in operands | {"Y", "y"}, (signature, line, name)


@pytest.mark.parametrize("op", [op for op in OPS if op.name in SYNTAX_RULES],
                         ids=[op.name for op in OPS if op.name in SYNTAX_RULES])
def test_every_rule_line_names_its_own_operands(op):
    from jacobian_calc.ops.text import rule_line
    line = rule_line(op)
    if line == "constant: no gradient":
        return
    operands = _operands(op)
    allowed = operands | {f"d{n}" for n in operands} | {"Y", "dY"} | \
        {k.name for k in op.keywords}
    main, *remarks = line.split("  (")
    assert _assignments(main.replace(";", ","), set(allowed)) >= 1, line
    for remark in remarks:
        assert remark.endswith(")"), line
        remark = remark[:-1]
        if ":" in remark:  # "A @ x, x a vector: dA = outer(dY, x), ..." names its operands
            head, body = remark.rsplit(":", 1)
            own = set(IDENT.findall(head))
            _assignments(body, allowed | own | {f"d{n}" for n in own})


def test_the_rules_header_defines_y_and_dy():
    assert rules_text().splitlines()[0].startswith(
        "Compact backprop rules (Y = the operation's output, dY its upstream gradient)")


def test_the_reported_rule_lines_are_fixed():
    text = rules_text()
    assert "hadamard(A, B)" in text and "outer(A, B)" in text and "dv =" not in text
    assert "* k *" not in text and "axis=-1" not in text
    assert SYNTAX_RULES <= {op.name for op in OPS}  # none renamed out of the strict test


def test_options_without_effect_are_errors_as_the_readme_says():
    readme = open("README.md", encoding="utf-8").read()
    assert "(`--layout` with `--backprop`, `--check` without it" in readme
    assert "`--at` with `--backprop`" not in readme.split("## Notebooks")[0].split(
        "Options never go silently unused")[1]
    runner = CliRunner()
    base = ["sum(X)", "--wrt", "X", "--shape", "X=2"]
    for extra in (["--backprop", "--layout", "denominator"], ["--check"],
                  ["--full", "--format", "json"]):
        out = runner.invoke(main, base + extra)
        assert out.exit_code != 0 and "has no effect" in out.output, (extra, out.output)
    out = runner.invoke(main, base + ["--backprop", "--at", "X=[1,2]"])
    assert out.exit_code == 0, out.output
