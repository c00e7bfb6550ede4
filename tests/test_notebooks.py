"""Every lecture notebook builds with jupytext and runs cleanly in a Jupyter kernel.

The notebooks assert the lectures' results, so a regression in the calculator
fails here as a failing cell. Built notebooks go to a temporary folder. The
``jac`` commands the notebooks quote are run too, so they cannot go stale.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "lecture05_vector_functions",
    "lecture09_expansion_of_jacobians",
    "matrix_jacobian_tensors",
    "derivatives_to_jacobians",
    "matrix_calculus_walkthrough",
}
PER_NOTEBOOK_SECONDS = 30  # a budget, checked below, so the suite stays quick


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
    start = time.perf_counter()
    builder.execute(notebook, cwd=tmp_path, kernel_name=kernel_name)
    elapsed = time.perf_counter() - start
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert elapsed < PER_NOTEBOOK_SECONDS, f"{source.stem} took {elapsed:.1f} s"


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
def test_quoted_jac_command_runs(stem: str, command: str, tmp_path: Path):
    from click.testing import CliRunner

    from jacobian_calc.cli.main import main

    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):  # a command may write a file
        result = runner.invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, f"{stem}: {command}\n{result.output}"
