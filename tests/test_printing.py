"""The one tree printer: every operation's declared precedence is what its printers write.

The printers never read their output back; these tests do, as an independent
check of the declarations: the LaTeX of every operation, read at its top level
(:func:`latex_precedence_of`), binds at least as tightly as the operation declares
(else ``X^{-1}^{\\top}`` would be printed), and every code template declared atomic
parses as one Python call or name.
"""

from __future__ import annotations

import ast
import re

import pytest

from jacobian_calc.core.tree import Call, Name, Num
from jacobian_calc.ops import registry
from jacobian_calc.ops.printing import TreePrinter
from jacobian_calc.ops.registry import (AS_ARGUMENT, PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG,
                                        PREC_POW, Keyword, operations)
from jacobian_calc.ops.text import SourcePrinter, to_source
from jacobian_calc.render.code import CodePrinter
from jacobian_calc.render.formula_latex import formula_latex


def latex_precedence_of(tex: str) -> int:
    r"""How tightly some printed LaTeX binds, read from its top level (the oracle).

    >>> [latex_precedence_of(t) for t in ("a + b", r"a b^{\top}", "-x", "X^{-1}",
    ...                                   r"\sin\left(x y\right)", r"\left\{x + y\right\}")]
    [1, 2, 3, 4, 5, 5]
    """
    if re.fullmatch(r"\\begin\{(\w+)\}.*\\end\{\1\}", tex, re.S):  # an environment
        return PREC_ATOM
    depth, prec, superscript_end, n, i = 0, PREC_ATOM, -1, len(tex), 0
    while i < n:
        c = tex[i]
        if c == "\\":
            macro, i = _macro(tex, i)
            if macro in ("left", "right"):
                depth += 1 if macro == "left" else -1
                i = _macro(tex, i)[1] if tex[i:i + 1] == "\\" else i + 1
            continue
        if c in "{}":
            depth += 1 if c == "{" else -1
        elif depth == 0:
            if c in "+-" and i > 0 and tex[i - 1] == " ":
                return PREC_ADD
            if c == " ":
                prec = PREC_MUL
            elif c == "^":
                superscript_end = _group_end(tex, i + 1)
        i += 1
    if prec == PREC_ATOM and tex.startswith("-"):
        return PREC_NEG
    if prec == PREC_ATOM and superscript_end == n:
        return PREC_POW
    return prec


def _macro(tex: str, i: int) -> tuple[str, int]:
    j = i + 1
    while j < len(tex) and tex[j].isalpha():
        j += 1
    return (tex[i + 1:j], j) if j > i + 1 else (tex[i + 1:i + 2], i + 2)


def _group_end(tex: str, i: int) -> int:
    if i >= len(tex):
        return i
    if tex[i] == "\\":
        return _macro(tex, i)[1]
    if tex[i] != "{":
        return i + 1
    depth = 0
    for j in range(i, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        if depth == 0:
            return j + 1
    return len(tex)


def _option_sets(op) -> list[tuple]:
    values = {"axis": [0, 1, -1], "bool": [True], "ord": [1, 2], "size": [3]}
    sets = [()]
    for k in op.keywords:
        sets += [((k.name, v),) for v in values.get(k.kind, [])]
    return sets


def _calls(op) -> list[Call]:
    """``op`` applied to plain names, with each of its options."""
    if op.syntax.form == "atom":
        return [Call(op.name, ())]
    count = max(op.arity[0], 1) if op.arity[1] else 0
    args = tuple(Name(n) for n in "XYZW"[:count]) if count <= 4 else (Name("X"),) * count
    kws = [kw for kw in _option_sets(op) if op.name != "eye" or kw] or [()]
    return [Call(op.name, args, kw) for kw in kws]


@pytest.mark.parametrize("op", operations(), ids=lambda op: op.name)
def test_latex_binds_as_tightly_as_declared(op):
    declared = op.precedence("latex")
    printed = 0
    for node in _calls(op):
        try:
            tex = formula_latex(node)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # options this generic call cannot supply (conv1d's, an index)
        printed += 1
        if declared == AS_ARGUMENT:
            assert tex == formula_latex(node.args[0]), (op.name, tex)
        else:
            assert latex_precedence_of(tex) >= declared, \
                f"{op.name}: {tex!r} binds less tightly than declared ({declared}): " \
                "declare latex_precedence"
    if op.syntax.form in ("call", "infix", "prefix", "postfix", "atom") and not op.keywords:
        assert printed, op.name


@pytest.mark.parametrize("op", [op for op in operations() if op.syntax.form in ("call", "atom")],
                         ids=lambda op: op.name)
@pytest.mark.parametrize("language", ["numpy", "torch"])
def test_code_templates_declared_atomic_are_one_call(op, language):
    node = _calls(op)[0]
    shapes = {n: (3, 3) for n in "XYZW"}
    try:
        code = CodePrinter(language, shapes).code(node)
    except Exception:  # noqa: BLE001 - operations whose shape rule wants other shapes
        code = CodePrinter(language, {n: (3,) for n in "XYZW"}).code(node)
    body = ast.parse(code, mode="eval").body
    atomic = isinstance(body, (ast.Call, ast.Attribute, ast.Name, ast.Subscript))
    if op.precedence("code", language) == PREC_ATOM:
        assert atomic, f"{op.name}: {code!r} is not one call: declare code_precedence"


def test_the_oracle_catches_an_undeclared_power():
    assert latex_precedence_of("X^{3}") == PREC_POW < PREC_ATOM


def test_a_misdeclared_operation_would_print_a_double_superscript():
    """What the declarations are for: without ``latex_precedence`` a power is not bracketed."""
    op = registry.get("inv")
    tex = formula_latex(Call("transpose", (Call("inv", (Name("X"),)),)))
    assert tex == r"\left(X^{-1}\right)^{\top}"
    assert op.precedence("latex") == PREC_POW and op.precedence("text") == PREC_ATOM


def test_the_three_printers_are_one_printer():
    assert issubclass(SourcePrinter, TreePrinter) and issubclass(CodePrinter, TreePrinter)
    from jacobian_calc.render.formula_latex import _FormulaPrinter
    assert issubclass(_FormulaPrinter, TreePrinter)


@pytest.mark.parametrize("module", ["jacobian_calc/render/formula_latex.py",
                                    "jacobian_calc/render/code.py", "jacobian_calc/ops/text.py",
                                    "jacobian_calc/ops/printing.py"])
def test_no_printer_parses_what_it_printed(module):
    from pathlib import Path
    source = (Path(__file__).resolve().parents[1] / module).read_text()
    assert "ast.parse" not in source and "text_precedence" not in source


@pytest.mark.parametrize("text, expected", [
    ("-(a - b)", "-(a - b)"), ("a - (-b)", "a - -b"), ("(a * b) @ c", "(a * b) @ c"),
    ("a / (b * c)", "a / (b * c)"), ("x ** y ** z", "x**y**z"), ("(x ** y) ** z", "(x**y)**z"),
    ("(A @ B).T", "(A @ B).T"), ("-x ** 2", "-x**2"), ("(-x) ** 2", "(-x)**2"),
])
def test_text_round_trips(text, expected):
    from jacobian_calc.parsing import parse_expression
    assert to_source(parse_expression(text)) == expected
