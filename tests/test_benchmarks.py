"""benchmarks/run.py runs against the current package and prints its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_quick_run_prints_a_table():
    done = subprocess.run([sys.executable, str(RUN), "--quick", "--markdown",
                           "--cases", "softmax K=10,X@W backprop n=4"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| case |"))
    assert "SymPy / ours" in header and "ours / SymEngine" in header
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines
            if line.startswith("| ") and not line.startswith("| case |")}
    assert set(rows) == {"softmax K=10", "softmax K=10, bare differentiation",
                         "X@W backprop n=4"}
    # both routes ran and the results were found equal entry by entry
    assert "identical 100" in rows["softmax K=10"]
    assert "identical 16" in rows["X@W backprop n=4"]
    assert any(line.startswith("Machine: ") and "SymPy" in line for line in lines)


def test_unknown_case_is_refused():
    done = subprocess.run([sys.executable, str(RUN), "--quick", "--cases", "softmax K=11"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "unknown case" in done.stderr


def test_fresh_process_memory_report():
    done = subprocess.run([sys.executable, str(RUN), "--quick", "--rss-of", "X@W n=4"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert 0 < report["before"] <= report["max"] < 2 ** 30


def test_each_goal_line_names_its_goal(monkeypatch):
    """The goals printed at the end come from several issues: each line says which goal."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "benchmarks_run", run)  # its dataclasses look it up
    spec.loader.exec_module(run)

    def row(name, ours, full=None):
        return run.Row(name=name, sympy_time=full, our_time=ours, symengine_time=None,
                       peak=None, rss=None, check="", notes=[])

    lines = run.goals([
        row("jac --version, whole process", 0.1),
        row("jac --backprop tanh MLP, softmax cross-entropy, symbolic sizes", 1.5),
        row("jac --backprop ReLU MLP + MSE X 16x8, hidden 16, K 4", 4.0, 40.0)])
    assert lines == [
        "* met: [interactive speed] jac --version: 0.1 s (goal ≤ 0.15 s)",
        "* met: [every size at once] jac --backprop tanh MLP, softmax cross-entropy, symbolic "
        "sizes: 1.5 s (goal < 2 s)",
        "* NOT met: [every size at once] jac --backprop ReLU MLP + MSE X 16x8, hidden 16, K 4: "
        "4 s (goal < 3 s); the full-size route 40 s, 10x"]
    assert 'print("\\nGoals:")' in RUN.read_text()
