"""Results keep the trees of what was differentiated; renderers print them, never parse.

The text ``of`` stays (JSON, the plain output); it reads back to the same trees.
No module of ``jacobian_calc/render`` imports the parser, and none evaluates an
expression to print it: that is read from their imports, as
``tests/test_cli_imports.py`` reads the CLI's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sympy as sp

from jacobian_calc import backprop, chain, hessian, jacobian, to_latex
from jacobian_calc.core.tree import Call, Name, Num, fold, size
from jacobian_calc.parsing import parse, parse_expression
from jacobian_calc.render.tex import MAX_OF_NODES, of_tex

RENDER = Path(__file__).resolve().parents[1] / "jacobian_calc" / "render"

#: Render modules that evaluate expressions, and why: not to print them.
EVALUATES = {"code_check": "runs the generated code against the symbolic result, numerically"}


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    """(module, names) of every import of a render module, package-relative."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0:
                if not module.startswith("jacobian_calc"):
                    continue
                module = module.removeprefix("jacobian_calc").lstrip(".")
            elif node.level == 1:
                module = "render." + module if module else "render"
            found.append((module, {a.name for a in node.names}))
        elif isinstance(node, ast.Import):
            found += [(a.name.removeprefix("jacobian_calc").lstrip("."), set())
                      for a in node.names if a.name.startswith("jacobian_calc")]
    return found


def test_no_render_module_imports_the_parser_or_evaluates_to_print():
    paths = sorted(RENDER.glob("*.py"))
    assert len(paths) > 10
    parsing, evaluating = [], []
    for path in paths:
        for module, names in _imports(path):
            if module == "parsing" or module.startswith("parsing."):
                parsing.append(path.stem)
            if module == "symbolic.evaluate" and names & {"evaluate", "Env"}:
                evaluating.append(path.stem)
            if module == "symbolic" and "evaluate" in names:
                evaluating.append(path.stem)
    assert parsing == []
    assert sorted(set(evaluating)) == sorted(EVALUATES)


def test_the_import_reader_sees_relative_and_absolute_imports(tmp_path):
    """The test above would pass on a reader that saw nothing: it does not."""
    path = tmp_path / "m.py"
    path.write_text("from ..parsing import parse\nfrom jacobian_calc.symbolic.evaluate "
                    "import Env, evaluate\nfrom .tex import of_tex\nimport jacobian_calc.parsing\n")
    assert _imports(path) == [("parsing", {"parse"}), ("symbolic.evaluate", {"Env", "evaluate"}),
                              ("render.tex", {"of_tex"}), ("parsing", set())]


# -- what the results carry --------------------------------------------------------------

def test_a_jacobian_carries_the_trees_its_text_reads_back_to():
    J = jacobian("cos(2*pi*t), t**2/3", wrt="t")
    assert J.of == ["cos(2 * pi * t)", "t**2 / 3"]
    assert J.of_trees == tuple(parse(", ".join(J.of)))
    assert J.of_trees[1] == Call("div", (Call("pow", (Name("t"), Num(2))), Num(3)))
    shapes = {"X": (2, 3), "W": (3, 2), "b": 2}
    J = jacobian("sigmoid(X@W + b)", wrt="W", shapes=shapes)
    assert J.of_trees == (parse_expression(J.of[0]),)
    assert J.of_shapes == {"X": (2, 3), "W": (3, 2), "b": (2,)}


def test_intermediates_stay_names_and_their_shapes_travel():
    J = jacobian("sum(Z*Z)", "W", lets={"Z": "X@W"}, shapes={"X": (2, 2), "W": (2, 2)})
    assert J.of_trees == (parse_expression("sum(Z * Z)"),)
    assert J.of_shapes["Z"] == (2, 2)
    assert r"\operatorname{sum}\left(Z \odot Z\right)" in to_latex(J, standalone=True)


def test_hessian_backprop_and_chain_carry_trees():
    H = hessian("x**2*y + sin(x)", "x,y")
    assert H.of_trees == (parse_expression(H.of[0]),)
    assert all(b.of_trees == H.of_trees for b in H.jacobians())
    r = backprop("-mean(T*log(softmax(X@W)))", "W", onehot="T",
                 shapes={"X": (2, 3), "W": (3, 2), "T": (2, 2)})
    assert r.of_tree == parse_expression(r.of)
    fused = [b for b in r.backward if b.fused]
    assert fused, "softmax with cross-entropy is one step"
    for b in fused:
        assert [n for n, _ in b.fused_trees] == [n for n, _ in b.fused]
        assert [t for _, t in b.fused_trees] == [parse_expression(t) for _, t in b.fused]
    c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
    assert [f.of for f in c.factors] == [["y2**2"], ["b1 + y1"], ["a*w1"]]  # SymPy's text
    assert [f.of_trees for f in c.factors] == [tuple(parse(f.of[0])) for f in c.factors]


def test_sympy_input_keeps_the_trees_the_reader_makes():
    t = sp.Symbol("t")
    J = jacobian(sp.cos(2 * sp.pi * t) * sp.exp(-t), [t])
    (tree,) = J.of_trees
    assert tree == Call("mul", (Call("cos", (Call("mul", (Num(2), Call("pi"), Name("t"))),)),
                                Call("exp", (Call("mul", (Num(-1), Name("t"))),))))
    assert r"Jacobian of $f = \cos\left(2 \pi t\right) \exp\left(-t\right)$" in to_latex(
        J, standalone=True)


def test_a_huge_expression_is_kept_whole_and_named_by_its_size_when_printed():
    x1, x2, x3 = xs = sp.symbols("x1:4")
    e = x1
    for k in range(12):
        e = sp.sin(e + xs[k % 3]) * sp.cos(e * xs[(k + 1) % 3])
    J = jacobian(e, list(xs))
    (tree,) = J.of_trees
    nodes = fold(tree, lambda n, kids: 1 + sum(kids))  # as a tree: shared parts each time
    assert nodes > MAX_OF_NODES
    assert size(tree) == nodes
    assert of_tex(J.of_trees, shapes=J.of_shapes) == (
        rf"\text{{an expression of about {nodes:,} nodes}}")


# -- how the trees print ------------------------------------------------------------------

def test_scalar_expressions_print_as_a_mathematician_writes_them():
    def tex(source: str) -> str:
        return of_tex(parse(source, functions=frozenset({"f"})), shapes={})
    assert tex("cos(2*pi*t)") == r"\cos\left(2 \pi t\right)"
    assert tex("x1**2*x2/3") == r"\frac{x_{1}^{2} x_{2}}{3}"
    assert tex("x1*x2 + sin(x3)") == r"x_{1} x_{2} + \sin\left(x_{3}\right)"
    assert tex("x*(y + 1) - 2*x*y") == r"x \left(y + 1\right) - 2 x y"
    assert tex("x*2") == r"x \cdot 2"
    assert tex("x*(-y)") == r"x \left(-y\right)"
    assert tex("f(x, y)*exp(-x)") == r"f\left(x, y\right) \exp\left(-x\right)"
    assert tex("x, x**2") == r"\left(x, x^{2}\right)"


def test_products_of_arrays_stay_hadamard_products():
    shapes = {"A": (2, 2), "B": (2, 2)}
    assert of_tex([parse_expression("a*A*B")], shapes=shapes) == r"a \odot A \odot B"
    assert of_tex([parse_expression("2*A*B")]) == r"2 A \odot B"


def test_headers_print_from_the_trees():
    J = jacobian("softmax(z)", "z", shapes={"z": 3}, in_terms_of_output=True)
    assert J.of == ["p = softmax(z)"]  # the text says what p is; the tree is the expression
    doc = to_latex(J, standalone=True)
    assert r"Jacobian of $p = \operatorname{softmax}\left(z\right)$" in doc
    assert r"\texttt" not in doc
    H = hessian("x**2*y", "x,y")
    assert r"Hessian of $f = x^{2} y$" in to_latex(H, standalone=True)
    r = backprop("x*y + sin(x)", "x,y")
    assert r"L = x y + \sin\left(x\right)" in to_latex(r, standalone=True)
    c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
    assert r"Chain rule for $f = y_{2}^{2}$" in to_latex(c, standalone=True)


def test_a_result_made_by_hand_without_trees_shows_its_text_verbatim():
    from dataclasses import replace
    J = replace(jacobian("x*y", "x,y"), of=["x_1 * y"], of_trees=())
    assert r"Jacobian of $f = \texttt{x\_1 * y}$" in to_latex(J, standalone=True)
