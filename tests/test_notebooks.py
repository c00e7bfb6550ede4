"""Every lecture notebook builds with jupytext and runs cleanly in a Jupyter kernel.

The notebooks assert the lectures' results, so a regression in the calculator
fails here as a failing cell. Built notebooks go to a temporary folder. The
``jac`` commands the notebooks quote are run too, so they cannot go stale, and
the sources are read for what they import: the public API only, with no
pasted helper cells redefining what it provides.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import jacobian_calc

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "lecture05_vector_functions",
    "lecture09_expansion_of_jacobians",
    "matrix_jacobian_tensors",
    "derivatives_to_jacobians",
    "matrix_calculus_walkthrough",
}
#: Helpers the old notebooks pasted into their first cell, now in the public API
#: (``entries`` and ``real`` are ``entry_symbols``, ``spy`` is ``spy_figure``).
PASTED_HELPERS = {"show", "same", "entries", "real", "report", "spy", "maths",
                  "entry_symbols", "spy_figure"}


def _load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()
SOURCES = builder.sources()


def _runs_this_interpreter(argv0: str) -> bool:
    """jupyter_client swaps a bare ``python``/``python3``/``python3.X`` for sys.executable."""
    major, minor = sys.version_info[:2]
    if argv0 in {"python", f"python{major}", f"python{major}.{minor}"}:
        return True
    return Path(argv0).resolve() == Path(sys.executable).resolve()


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory) -> str:
    """A ``python3`` kernel that runs this interpreter (where jacobian_calc is installed).

    Missing: install ipykernel's spec into this environment (``--sys-prefix``). Present
    but pointing at another Python (a user-level spec): shadow it with a spec for this
    interpreter, found first through ``JUPYTER_PATH``.
    """
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = builder.KERNEL_NAME
    if name not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
                        "--name", name], check=True, capture_output=True)
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        spec = None
    with pytest.MonkeyPatch.context() as patch:
        if spec is None or not _runs_this_interpreter(spec.argv[0]):
            data = tmp_path_factory.mktemp("jupyter")
            (data / "kernels" / name).mkdir(parents=True)
            (data / "kernels" / name / "kernel.json").write_text(json.dumps({
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3", "language": "python"}))
            patch.setenv("JUPYTER_PATH", os.pathsep.join(
                [str(data), *filter(None, [os.environ.get("JUPYTER_PATH")])]))
        assert _runs_this_interpreter(KernelSpecManager().get_kernel_spec(name).argv[0])
        yield name


def test_every_lecture_has_a_notebook():
    assert {p.stem for p in SOURCES} >= EXPECTED


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs(source: Path, tmp_path: Path, kernel_name: str):
    notebook, target = builder.build(source, tmp_path)
    assert target.is_file()
    assert any(cell.cell_type == "markdown" for cell in notebook.cells)
    builder.execute(notebook, cwd=tmp_path, kernel_name=kernel_name)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # A result alone at the end of a cell renders as maths (its _repr_latex_), as does show().
    assert [o for o in outputs if o.get("output_type") == "execute_result"
            and "text/latex" in o.get("data", {})], f"{source.stem}: no result shown as maths"
    assert [o for o in outputs if "text/latex" in o.get("data", {})
            and o["data"]["text/latex"].startswith("$\\displaystyle")]


def _code(source: Path) -> ast.Module:
    """The notebook's code: percent-format sources are Python (markdown and magics are
    comments)."""
    return ast.parse(source.read_text(encoding="utf-8"), filename=str(source))


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebooks_use_the_public_api_only(source: Path):
    """No ``jacobian_calc.<module>`` imports or attributes outside the public names."""
    private = []
    for node in ast.walk(_code(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jacobian_calc."):
            private.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            private += [f"line {node.lineno}: import {a.name}" for a in node.names
                        if a.name.startswith("jacobian_calc.")]
        elif isinstance(node, ast.ImportFrom) and node.module == "jacobian_calc":
            private += [f"line {node.lineno}: {a.name}" for a in node.names
                        if a.name not in jacobian_calc.__all__]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "jacobian_calc" and node.attr not in jacobian_calc.__all__):
            private.append(f"line {node.lineno}: jacobian_calc.{node.attr}")
    assert not private, f"{source.stem} uses private modules: {private}"


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebooks_paste_no_helpers_the_api_provides(source: Path):
    defined = {node.name for node in ast.walk(_code(source))
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    pasted = defined & (PASTED_HELPERS | set(jacobian_calc.__all__))
    assert not pasted, f"{source.stem} defines {sorted(pasted)}: use jacobian_calc's own"


def test_the_public_api_check_catches_a_private_import(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("from jacobian_calc.render.latex import latex_expr\n"
                   "import jacobian_calc\nx = jacobian_calc.spy\n\ndef same(a, b):\n"
                   "    return a == b\n")
    with pytest.raises(AssertionError, match=r"render\.latex.*jacobian_calc\.spy"):
        test_notebooks_use_the_public_api_only(bad)
    with pytest.raises(AssertionError, match="same"):
        test_notebooks_paste_no_helpers_the_api_provides(bad)


def test_build_names_the_extra_when_jupytext_or_nbformat_is_missing(tmp_path: Path):
    code = ("import runpy, sys; sys.modules['nbformat'] = None; sys.modules['jupytext'] = None; "
            f"sys.argv = ['build_notebooks.py', '--out', {str(tmp_path)!r}]; "
            f"runpy.run_path({str(ROOT / 'tools' / 'build_notebooks.py')!r}, "
            "run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == ("building the notebooks needs jupytext, nbformat: install "
                                     'the notebooks extra with pip install ".[notebooks]"')
    assert not list(tmp_path.iterdir())


def test_build_command_writes_ipynb(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--out", str(tmp_path),
         SOURCES[0].stem], capture_output=True, text=True, check=True)
    assert (tmp_path / f"{SOURCES[0].stem}.ipynb").is_file(), result.stdout


def _jac_commands() -> list[tuple[str, str]]:
    """The ``jac ...`` commands quoted in the notebooks' markdown cells."""
    found = []
    for source in SOURCES:
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.startswith("# jac "):
                found.append((source.stem, line[2:]))
    return found


JAC_COMMANDS = _jac_commands()


def test_every_notebook_quotes_jac_commands():
    assert {stem for stem, _ in JAC_COMMANDS} == {p.stem for p in SOURCES}


@pytest.mark.parametrize("stem, command", JAC_COMMANDS,
                         ids=[f"{stem}:{i}" for i, (stem, _) in enumerate(JAC_COMMANDS)])
def test_quoted_jac_command_runs(stem: str, command: str, tmp_path: Path, monkeypatch):
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main

    monkeypatch.chdir(tmp_path)  # a command may write a file
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, f"{stem}: {command}\n{result.output}"
