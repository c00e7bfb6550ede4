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
