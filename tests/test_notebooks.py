"""Every lecture notebook builds with jupytext and runs cleanly in a Jupyter kernel.

The notebooks assert the lectures' results, so a regression in the calculator
fails here as a failing cell. Built notebooks go to a temporary folder.
"""

from __future__ import annotations

import importlib.util
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


@pytest.fixture(scope="module")
def kernel_name() -> str:
    """The ``python3`` kernel, installed into this environment if it is missing."""
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager

    if builder.KERNEL_NAME not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
                        "--name", builder.KERNEL_NAME], check=True, capture_output=True)
    assert builder.KERNEL_NAME in KernelSpecManager().find_kernel_specs()
    return builder.KERNEL_NAME


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
