"""The package's layers import one way, with no cycles (function-level imports included)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jacobian_calc"

#: Layers, lowest first: a module may import only from its own layer or lower ones.
#: The package (``__init__``) re-exports the API lazily; the command sits on it.
LAYERS = ["core", "schema", "ops", "parsing", "symbolic", "index", "results", "derive", "render",
          "notebook", "api", "__init__", "cli", "web", "__main__"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS.index("__init__")
    return LAYERS.index(parts[1])


def imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, anywhere in the file."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("jacobian_calc"):
                for alias in node.names:  # from . import text -> jacobian_calc.ops.text
                    candidate = f"{target}.{alias.name}"
                    found.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("jacobian_calc")}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and str(arg.value).startswith("jacobian_calc"):
                found.add(arg.value)
    found.discard(here)
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or \
        (PACKAGE.parent / rel / "__init__.py").exists()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_is_in_a_layer():
    for module in graph():
        assert layer(module) >= 0, module


def test_imports_point_down_the_layers():
    wrong = [(a, b) for a, targets in graph().items() for b in targets
             if layer(b) > layer(a)]
    assert not wrong, f"upward imports: {wrong}"


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in edges:
        if module not in state:
            visit(module, [module])


def test_results_never_import_printers():
    for module, targets in graph().items():
        if module.startswith("jacobian_calc.results"):
            assert not [t for t in targets if ".render" in t], module


def _modules_after(*argv: str) -> set[str]:
    code = ("import sys\nfrom jacobian_calc.cli.main import main\nsys.argv = ['jac', *"
            + repr(list(argv)) + "]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split()[-1:] and out.strip().splitlines()[-1].split())


def test_help_version_and_rules_do_not_import_sympy_or_numpy():
    for argv in (["--help"], ["--version"], ["--rules"]):
        loaded = _modules_after(*argv)
        assert "sympy" not in loaded and "numpy" not in loaded, argv


def test_plain_jacobian_does_not_import_numpy():
    """The README's first example needs SymPy, not NumPy, matplotlib or the LaTeX layer."""
    loaded = _modules_after("sin(x1-x2), cos(x1-x2)", "--wrt", "x1,x2")
    assert "sympy" in loaded
    assert not {"numpy", "matplotlib", "torch"} & loaded


def test_every_kind_of_request_runs_in_a_fresh_process():
    """Each kind of request loads the printers it needs (nothing else loads them for it)."""
    requests = [
        ["x.T@A@x", "--wrt", "x", "--shape", "x=2", "--shape", "A=2x2", "--hessian"],
        ["x.T@A@x", "--wrt", "x", "--shape", "x=2", "--shape", "A=2x2", "--hessian",
         "--format", "latex"],
        ["X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop"],
        ["X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop",
         "--format", "latex"],
        ["X@W", "--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2", "--backprop",
         "--format", "torch"],
        ["y**2", "--wrt", "x", "--let", "y=x+1", "--chain", "--format", "json"],
        ["y**2", "--wrt", "x", "--let", "y=x+1", "--chain", "--format", "latex"],
        ["x*y", "--format", "latex"],
    ]
    for argv in requests:
        done = subprocess.run([sys.executable, "-m", "jacobian_calc", *argv],
                              capture_output=True, text=True)
        assert done.returncode == 0, (argv, done.stderr)


def test_results_print_with_only_their_derivation_loaded():
    """The package loads a derivation alone; a result's printers load when it is printed."""
    code = ("import sys\nfrom jacobian_calc import chain, hessian\n"
            "H = hessian('x.T@A@x', 'x', shapes={'x': 2, 'A': (2, 2)})\n"
            "c = chain('y**2', 'x', lets={'y': 'x+1'})\n"
            "print('jacobian_calc.api' in sys.modules)\n"
            "print(str(H).splitlines()[0])\nprint(c.to_latex()[:17])\n"
            "print('jacobian_calc.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["False", "Hessian of f = x.T @ A @ x with respect to x", r"\frac{\partial f}",
                   "True"]
