"""Build the lecture notebooks: notebooks_src/*.py (jupytext percent format) -> .ipynb.

Usage::

    python tools/build_notebooks.py                 # write notebooks/*.ipynb
    python tools/build_notebooks.py --execute       # ... and run them, keeping outputs
    python tools/build_notebooks.py --out DIR NAME  # only notebooks_src/NAME.py, into DIR

The output folder ``notebooks/`` is ignored by git: the ``.py`` sources are the
only copy under version control, so diffs stay readable. Building needs the
``notebooks`` extra (``pip install ".[notebooks]"``: jupytext, nbformat, and to
run them nbclient and ipykernel).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "notebooks_src"
OUTPUT_DIR = ROOT / "notebooks"
KERNEL_NAME = "python3"
#: What building needs, and where it comes from.
NEEDED = ("jupytext", "nbformat")
INSTALL_HINT = 'pip install ".[notebooks]"'


def require(*modules: str) -> None:
    """Stop with one line naming the extra if a module the build needs is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"building the notebooks needs {', '.join(missing)}: "
                         f"install the notebooks extra with {INSTALL_HINT}")


def sources(names: list[str] | None = None) -> list[Path]:
    """The notebook sources, all of them or the named ones (with or without ``.py``)."""
    if not names:
        return sorted(SOURCE_DIR.glob("*.py"))
    paths = [SOURCE_DIR / (n if n.endswith(".py") else f"{n}.py") for n in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"no such notebook source: {', '.join(missing)}")
    return paths


def build(source: Path, out_dir: Path = OUTPUT_DIR):
    """Convert one percent-format source to a notebook; return (notebook, path written)."""
    import jupytext

    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata.setdefault("kernelspec", {
        "name": KERNEL_NAME, "display_name": "Python 3", "language": "python"})
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.ipynb"
    jupytext.write(notebook, target, fmt="ipynb")
    return notebook, target


def execute(notebook, cwd: Path, timeout: int = 120, kernel_name: str = KERNEL_NAME):
    """Run every cell in a fresh Jupyter kernel; raises on the first failing cell."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR,
                        help=f"output folder (default: {OUTPUT_DIR.relative_to(ROOT)}/)")
    parser.add_argument("--execute", action="store_true",
                        help="run each notebook and save it with its outputs")
    args = parser.parse_args(argv)
    require(*NEEDED, *(("nbclient", "ipykernel") if args.execute else ()))
    import nbformat

    for source in sources(args.names):
        notebook, target = build(source, args.out)
        if args.execute:
            start = time.perf_counter()
            execute(notebook, cwd=args.out)
            nbformat.write(notebook, target)
            print(f"{target}  (executed in {time.perf_counter() - start:.1f} s)")
        else:
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
