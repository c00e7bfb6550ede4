"""Limits travel one way: the public API's ``limits`` argument enters the request
(:mod:`jacobian_calc.core.budget`), and everything below reads ``active_limits()``.

The source is read with :mod:`ast`, so a second route (a ``limits`` parameter passed
down, a ``Limits`` stored in an internal object) fails here when it comes back.
"""

from __future__ import annotations

import ast
import inspect
import threading
from pathlib import Path

import pytest

import jacobian_calc
from jacobian_calc import DEFAULT_LIMITS, JacobianError, LimitError, Limits, parse
from jacobian_calc.core import budget

PACKAGE = Path(jacobian_calc.__file__).resolve().parent

#: Where a ``limits`` parameter or a ``Limits`` value belongs besides the API entry points:
#: the context itself, and the CLI's options (``--max-nodes``...) before it calls the API.
CONTEXT = {"core/budget.py", "cli/options.py"}

#: Parameters named ``limits`` that are not limits.
NOT_LIMITS = {("web/form.py", "Form.options")}  # a flag: add the limit options or not


def _functions():
    """(file, qualified name, node) of every function and method of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stack = [(tree, "")]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    name = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        yield rel, name, child
                    stack.append((child, f"{name}."))
                else:
                    stack.append((child, prefix))


def _mentions_limits(annotation: ast.AST | None) -> bool:
    return annotation is not None and "Limits" in ast.unparse(annotation)


def _takes_limits(func: ast.FunctionDef) -> bool:
    a = func.args
    params = a.posonlyargs + a.args + a.kwonlyargs
    return any(p.arg == "limits" or _mentions_limits(p.annotation) for p in params)


def _entry_points() -> dict[str, object]:
    """The public functions (re-exported by ``jacobian_calc``) that take ``limits``."""
    out = {}
    for name in jacobian_calc.__all__:
        value = getattr(jacobian_calc, name)
        if inspect.isfunction(value) and "limits" in inspect.signature(value).parameters:
            out[name] = value
    return out


def _source_of(func) -> tuple[str, str]:
    func = inspect.unwrap(func)
    return Path(inspect.getfile(func)).resolve().relative_to(PACKAGE).as_posix(), \
        func.__qualname__


def test_the_entry_points_are_the_public_functions_that_take_limits():
    assert set(_entry_points()) == {"jacobian", "jacobians", "chain", "backprop", "hessian",
                                    "parse", "parse_expression", "read_json", "read_entry"}


def test_no_internal_function_takes_limits():
    allowed = {_source_of(f) for f in _entry_points().values()} | NOT_LIMITS
    found = {(rel, name) for rel, name, func in _functions()
             if _takes_limits(func) and rel not in CONTEXT}
    assert found - allowed == set(), "limits are read with budget.active_limits()"
    assert allowed - NOT_LIMITS <= found  # the scan sees the entry points themselves


def test_every_entry_point_enters_the_request_and_never_reads_its_argument():
    nodes = {(rel, name): func for rel, name, func in _functions()}
    for name, value in _entry_points().items():
        func = nodes[_source_of(value)]
        decorators = {ast.unparse(d) for d in func.decorator_list}
        assert decorators & {"entry_point", "budget.entry_point"}, name
        read = [n for n in ast.walk(func) if isinstance(n, ast.Name) and n.id == "limits"]
        assert not read, f"{name} reads its limits argument; use budget.active_limits()"


def test_no_internal_object_stores_limits():
    stored = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in CONTEXT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.AnnAssign) and _mentions_limits(node.annotation):
                stored.append(f"{rel}:{node.lineno}")
            elif isinstance(node, ast.Attribute) and node.attr == "limits" \
                    and isinstance(node.ctx, ast.Store):
                stored.append(f"{rel}:{node.lineno}")
    assert stored == []


# -- the behaviour of the one way --------------------------------------------------------

def test_an_entry_point_inside_a_request_uses_its_limits_without_its_own():
    with budget.request(Limits(max_length=5)):
        with pytest.raises(LimitError, match="over the limit of 5"):
            parse("x + y + z")
        assert len(parse("x + y + z", Limits(max_length=50))) == 1  # given: those
        assert budget.active_limits().max_length == 5  # and the request's again after
    assert budget.active_limits() is DEFAULT_LIMITS


def test_a_nested_entry_point_keeps_the_request_clock(monkeypatch):
    """``chain`` calls ``jacobian``: one budget (one deadline), the limits given once."""
    from jacobian_calc.derive import chain as chain_module, jacobian as jacobian_module

    seen = []

    def watching(module):
        real = module.prepare

        def prepare(*args, **kwargs):
            seen.append((budget.current(), budget.active_limits()))
            return real(*args, **kwargs)
        monkeypatch.setattr(module, "prepare", prepare)

    watching(chain_module)
    watching(jacobian_module)
    limits = Limits(max_nodes=123_456)
    result = jacobian_calc.chain("y**2", "x", lets={"y": "3*x"}, limits=limits)
    assert result.agree
    assert len(seen) == 2 and seen[0][0] is seen[1][0] is not None
    assert seen[0][1] is limits and seen[1][1] is limits
    seen.clear()
    with budget.request(Limits(timeout=30)) as outer:
        deadline = outer.deadline
        jacobian_calc.jacobian("x**2", limits=Limits(timeout=1000, max_nodes=99_999))
        assert outer.deadline == deadline  # the inner call did not restart the clock
    assert seen[0][0] is outer and seen[0][1].max_nodes == 99_999


def test_limits_are_per_thread():
    """A thread does not inherit the request of the thread that started it."""
    seen = {}
    with budget.request(Limits(max_length=5)):
        thread = threading.Thread(target=lambda: seen.update(limits=budget.active_limits()))
        thread.start()
        thread.join()
    assert seen["limits"] is DEFAULT_LIMITS


#: Arguments that each entry point accepts.
CALLS = {"jacobian": (("x",), {}), "jacobians": (("x",), {}), "hessian": (("x",), {}),
         "chain": (("y", "x"), {"lets": {"y": "x"}}), "backprop": (("x", "x"), {}),
         "parse": (("x",), {}), "parse_expression": (("x",), {}),
         "read_json": (("{}",), {}), "read_entry": (("x",), {})}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_limits_of_the_wrong_type_are_refused_at_every_entry_point(name):
    args, kwargs = CALLS[name]
    func = getattr(jacobian_calc, name)
    func(*args, **kwargs, limits=Limits())  # the call itself is fine
    with pytest.raises(JacobianError, match="limits must be a Limits object, not str"):
        func(*args, **kwargs, limits="fast")
