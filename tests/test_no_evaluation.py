"""Nothing that takes text evaluates it: every public function x every string argument
is given payloads that would run Python if anything passed them to ``sympify``/``eval``,
and the package's remaining ``sympify``/``eval``/``exec`` call sites are an explicit list.
"""

from __future__ import annotations

import ast
import builtins
import pathlib

import pytest
import sympy as sp

import jacobian_calc as jc
from jacobian_calc import JacobianError

PACKAGE = pathlib.Path(jc.__file__).parent

#: Each payload, if anything evaluated it, sets ``builtins.PWNED`` (and the first two
#: would also touch a file): nothing here may ever see it set.
PAYLOADS = [
    "__import__('builtins').__setattr__('PWNED', 1) or 1",
    "__import__('os').system('touch /tmp/jacobian_calc_PWNED') or 1",
    "x + __import__('builtins').__setattr__('PWNED', 2)",
    "eval(\"__import__('builtins').__setattr__('PWNED', 3)\")",
    "exec(\"import builtins; builtins.PWNED = 4\")",
    "(lambda: __import__('builtins').__setattr__('PWNED', 5))()",
    "sin(x).__class__.__init__.__globals__['__builtins__']['__import__']('builtins')"
    ".__setattr__('PWNED', 6)",
    "getattr(__builtins__, 'setattr')(__import__('builtins'), 'PWNED', 7)",
    "Symbol('x').func.__mro__[-1].__subclasses__() or __import__('builtins')"
    ".__setattr__('PWNED', 8)",
    "[c for c in ().__class__.__base__.__subclasses__()] and "
    "__import__('builtins').__setattr__('PWNED', 9)",
]


def _results():
    x = sp.Symbol("x", real=True)
    J = jc.jacobian("x*y", wrt="x,y")
    B = jc.backprop("mean(sigmoid(X@W))", "W", shapes={"X": (2, 2), "W": (2, 1)})
    H = jc.hessian("x**2*y", wrt="x,y")
    return x, J, B, H


def _calls():
    """``(label, thunk(payload))`` for every public function and every text argument."""
    x, J, B, H = _results()
    shapes = {"X": (2, 2), "W": (2, 1)}
    calls = []

    def add(label, func):
        calls.append((label, func))

    for name in ("jacobian", "jacobians", "hessian"):
        f = getattr(jc, name)
        add(f"{name}(of)", lambda p, f=f: f(p, wrt="x"))
        add(f"{name}(of=[...])", lambda p, f=f: f(["x", p], wrt="x"))
        add(f"{name}(wrt)", lambda p, f=f: f("x*y", wrt=p))
        add(f"{name}(wrt=[...])", lambda p, f=f: f("x*y", wrt=["x", p]))
        add(f"{name}(layout)", lambda p, f=f: f("x*y", wrt="x", layout=p))
        add(f"{name}(shapes value)", lambda p, f=f: f("x*y", wrt="x", shapes={"x": p}))
        add(f"{name}(shapes key)", lambda p, f=f: f("x*y", wrt="x", shapes={p: 2}))
        add(f"{name}(lets value)", lambda p, f=f: f("z*y", wrt="x", lets={"z": p}))
        add(f"{name}(lets key)", lambda p, f=f: f("z*y", wrt="x", lets={p: "x"}))
        add(f"{name}(functions)", lambda p, f=f: f("x*y", wrt="x", functions=[p]))
        add(f"{name}(SymPy of)", lambda p, f=f: f(sp.sin(x) * sp.Symbol(p), wrt=[x]))
    add("hessian(signs)", lambda p: jc.hessian("x*y", wrt="x", signs=p))
    add("hessian(onehot)", lambda p: jc.hessian("x*y", wrt="x", onehot=p))
    add("chain(of)", lambda p: jc.chain(p, wrt="x", lets={"y": "x**2"}))
    add("chain(wrt)", lambda p: jc.chain("y", wrt=p, lets={"y": "x**2"}))
    add("chain(lets value)", lambda p: jc.chain("y", wrt="x", lets={"y": p}))
    add("chain(layout)", lambda p: jc.chain("y", wrt="x", lets={"y": "x**2"}, layout=p))
    backprop = jc.backprop
    add("backprop(of)", lambda p: backprop(p, "W", shapes=shapes))
    add("backprop(wrt)", lambda p: backprop("mean(X@W)", p, shapes=shapes))
    add("backprop(upstream)", lambda p: backprop("X@W", "W", shapes=shapes, upstream=p))
    add("backprop(onehot)", lambda p: backprop("mean(X@W)", "W", shapes=shapes, onehot=p))
    add("backprop(lets)", lambda p: backprop("mean(Z)", "W", shapes=shapes, lets={"Z": p}))
    add("backprop(functions)", lambda p: backprop("mean(X@W)", "W", shapes=shapes,
                                                  functions=[p]))
    add("parse", lambda p: jc.parse(p))
    add("parse_expression", lambda p: jc.parse_expression(p))
    add("parse_expression(functions)", lambda p: jc.parse_expression("x", functions=[p]))
    add("read_entry", lambda p: jc.read_entry(p))
    add("read_entry(functions)", lambda p: jc.read_entry("x", functions=[p]))
    add("read_entry(shared value)", lambda p: jc.read_entry("sin(S1)", shared={"S1": p}))
    add("read_entry(exp shared)", lambda p: jc.read_entry("exp(S1)", shared={"S1": p}))
    add("read_entry(sigmoid shared)", lambda p: jc.read_entry("sigmoid(S1)",
                                                              shared={"S1": p}))
    add("read_entry(shared key)", lambda p: jc.read_entry("x", shared={p: "1"}))
    add("read_json(entries)", lambda p: jc.read_json(
        '{"entries": [%s]}' % __import__("json").dumps(p)))
    add("read_json(shared)", lambda p: jc.read_json(
        '{"shared": {"S1": %s}, "entries": ["S1"]}' % __import__("json").dumps(p)))
    add("read_json(text)", lambda p: jc.read_json(p))
    add("to_latex", lambda p: jc.to_latex(p))
    for option in ("matrix_env", "transpose", "element_style"):
        add(f"to_latex({option})", lambda p, o=option: jc.to_latex(J, **{o: p}))
    add("maths(value)", lambda p: jc.maths("x", p))
    add("maths([value])", lambda p: jc.maths("x", [p]))
    add("entry_symbols", lambda p: jc.entry_symbols(p, 2))
    add("same(a)", lambda p: jc.same(p, 1))
    add("same([a])", lambda p: jc.same([p], [1]))
    add("same(b)", lambda p: jc.same(x, [[p]]))
    for f in ("sigmoid", "relu", "softplus", "step"):
        add(f, lambda p, f=f: getattr(jc, f)(p))
    add("sympy sin of sigmoid", lambda p: sp.sin(jc.sigmoid(p)))
    add("to_numpy_code", lambda p: jc.to_numpy_code(p))
    add("to_torch_code", lambda p: jc.to_torch_code(p))
    add("Limits", lambda p: jc.Limits(timeout=p))
    add("JacobianResult.evaluate", lambda p: J.evaluate({"x": p, "y": 1}))
    add("JacobianResult.evaluate(text)", lambda p: J.evaluate(f"x={p},y=1"))
    add("HessianResult.evaluate", lambda p: H.evaluate({"x": p, "y": 1}))
    add("BackpropResult.evaluate", lambda p: B.evaluate({"X": [[p, 1], [1, 1]],
                                                         "W": [[1], [1]]}))
    add("result.to_text", lambda p: J.to_text(shared=p))
    add("Differentiator.gradient", lambda p: _differentiator().gradient(p))
    add("latex_expr", lambda p: _latex_expr()(p))
    add("evaluate", lambda p: _evaluate()(p))
    add("Env values", lambda p: _evaluate_env(p))
    for field in ("expr", "wrt", "at", "onehot", "functions"):
        add(f"web API body {field}", lambda p, f=field: _web({"expr": "x*y", f: p}))
    add("web API body shapes", lambda p: _web({"expr": "x*y", "shapes": {"x": p}}))
    add("web API body lets", lambda p: _web({"expr": "z", "lets": {"z": p}}))
    add("web API page query", lambda p: _web_query([("expr", p), ("wrt", p)]))
    return calls


def _web(body):
    """A body of ``POST /api/run``, read and run as the worker runs it (the command)."""
    from jacobian_calc.web.form import FormError, from_json
    try:
        form = from_json(body)
    except FormError:
        return None  # answered with status 400
    return _command(form.arguments("json"))


def _web_query(items):
    from jacobian_calc.web.form import FormError, from_query
    try:
        form = from_query(items)
    except FormError:
        return None
    return _command(form.arguments())


def _command(args):
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main
    result = CliRunner().invoke(main, args)
    if result.exit_code not in (0, 1, 2) or "internal error" in result.stderr:
        raise RuntimeError(f"jac {args}: {result.exit_code} {result.stderr[-200:]}")
    return result


def _differentiator():
    from jacobian_calc.symbolic.autodiff import Differentiator
    return Differentiator([sp.Symbol("x", real=True)])


def _latex_expr():
    from jacobian_calc.render.tex import latex_expr
    return latex_expr


def _evaluate():
    from jacobian_calc.symbolic.evaluate import evaluate
    return evaluate


def _evaluate_env(p):
    from jacobian_calc.core.grid import Grid
    from jacobian_calc.symbolic.evaluate import Env, evaluate
    return evaluate(jc.parse_expression("sin(S1)"), Env({}, {"S1": Grid.scalar(p)}))


CALLS = _calls()


def test_the_payload_table_runs_nothing(tmp_path):
    """Every public function x every text argument x every payload: a JacobianError or
    an answer, and nothing ran."""
    marker = pathlib.Path("/tmp/jacobian_calc_PWNED")
    marker.unlink(missing_ok=True)
    tried, internal = 0, []
    for label, call in CALLS:
        for payload in PAYLOADS:
            tried += 1
            try:
                call(payload)
            except JacobianError:
                pass
            except Exception as exc:  # noqa: BLE001 - counted as internal errors below
                internal.append(f"{label}: {type(exc).__name__}: {str(exc)[:80]}")
            assert not hasattr(builtins, "PWNED"), f"{label} ran {payload!r}"
            assert not marker.exists(), f"{label} ran {payload!r}"
    assert tried == len(CALLS) * len(PAYLOADS) >= 600
    assert not internal, internal


#: Call sites of sympify/parse_expr/eval/exec/S left in the package, each on values
#: the calculator built itself or on strictly converted ones: "path:function" -> why.
ALLOWED = {
    "symbolic/trusted.py:as_sympy": "sympify(strict=True) after refusing text: numbers only",
    "render/code_check.py:load_module": "exec of a module the calculator generated itself",
    "derive/step_check.py:decide": "entries of grids the calculator built (no text)",
    "derive/step_check.py:legend": "entries of grids the calculator built (no text)",
    "derive/step_check.py:build": "entries of grids the calculator built (no text)",
    "derive/step_check.py:explicit": "derivatives the calculator computed (no text)",
    "symbolic/sampling.py:__init__": "entries the calculator built, to sample (no text)",
    "derive/claims.py:_compare": "entries evaluated from claims the parser read (no text)",
    "derive/claims.py:_factor": "entries evaluated from claims the parser read (no text)",
    "derive/claims.py:_first_entry": "entries evaluated from claims the parser read",
    "derive/compact_jacobian.py:_check_map": "entries of grids the calculator built",
    "derive/compact_jacobian.py:_check_vec": "entries of grids the calculator built",
    "derive/compact_jacobian.py:_matrix_form": "entries of grids the calculator built",
    "index/algebra.py:size": "a dimension: text is made a Symbol before, numbers only here",
    "index/algebra.py:_instantiate": "sizes built by size() (no text)",
    "index/algebra.py:_search": "index expressions the calculator built",
    "index/algebra.py:written_out": "index expressions the calculator built",
    "index/forms.py:at": "an operation's index form, built by the calculator",
    "index/printing.py:doprint": "index expressions the calculator built",
}

#: Calls that read text as Python (``sympify``, ``S``, ``parse_expr``) or run it.
DANGEROUS = {"sympify", "parse_expr", "eval", "exec", "S"}


class _Sites(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path, self.scope, self.found = path, [""], set()

    def visit_FunctionDef(self, node):  # noqa: N802 - ast's naming
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):  # noqa: N802
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
        if name in DANGEROUS:
            self.found.add(f"{self.path}:{self.scope[-1]}")
        self.generic_visit(node)


def _call_sites(paths=None):
    """``path:function`` of every call of a dangerous name in the package."""
    found = set()
    for path in paths or sorted(PACKAGE.rglob("*.py")):
        sites = _Sites(path.relative_to(PACKAGE).as_posix() if paths is None else path.name)
        sites.visit(ast.parse(path.read_text(encoding="utf-8")))
        found |= sites.found
    return sorted(found)


def test_no_new_evaluation_call_sites():
    """A new sympify/parse_expr/eval/exec call fails here until it is justified in ALLOWED
    (the reader of the calculator's text is the allow-list parser, nothing else)."""
    sites = _call_sites()
    unexpected = [s for s in sites if s not in ALLOWED]
    assert not unexpected, f"new evaluation call sites: {unexpected}"
    stale = [s for s in ALLOWED if s not in sites]
    assert not stale, f"ALLOWED lists call sites that are gone: {stale}"


def test_the_scan_finds_a_new_call(tmp_path):
    """The scan itself sees calls (so the test above can fail)."""
    module = tmp_path / "bad.py"
    module.write_text("import sympy\nfrom sympy import S\n\ndef f(t):\n"
                      "    return sympy.sympify(t)\n\nclass C:\n    def g(self, t):\n"
                      "        return S(t) + eval(t)\n")
    assert _call_sites([module]) == ["bad.py:f", "bad.py:g"]


@pytest.mark.parametrize("value", ["x + 1", b"x", "1"])
def test_sympy_functions_of_ours_refuse_text(value):
    with pytest.raises(jc.JacobianTypeError, match="text"):
        jc.sigmoid(value)
