"""The same request prints the same answer in every process.

Python randomises string hashing per process (``PYTHONHASHSEED``), so anything
that iterates a set of names (which variable a random point draws first, the
order of steps or of dimensions) would print a different point, witness or
rounding error from one run to the next. Each command runs in processes with
different hash seeds and must print the same bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TANH_MLP = ["-sum(T*log(softmax(tanh(X@W1+b1)@W2+b2)))/N", "--onehot", "T",
            "--wrt", "W1,b1,W2,b2", "--shape", "X=Nxd", "--shape", "W1=dxh",
            "--shape", "b1=h", "--shape", "W2=hxK", "--shape", "b2=K", "--shape", "T=NxK",
            "--backprop"]
CONCRETE = ["mean((relu(X@W1 + b1)@W2 + b2 - T)**2)", "--wrt", "W1,b1,W2,b2",
            "--shape", "X=4x3", "--shape", "W1=3x5", "--shape", "b1=5", "--shape", "W2=5x2",
            "--shape", "b2=2", "--shape", "T=4x2", "--backprop", "--format", "json"]


@pytest.mark.parametrize("argv", [TANH_MLP, CONCRETE], ids=["symbolic sizes", "concrete json"])
def test_the_answer_does_not_depend_on_the_hash_seed(argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    outs = []
    for seed in ("1", "2", "3"):
        env["PYTHONHASHSEED"] = seed
        run = subprocess.run([sys.executable, "-m", "jacobian_calc", *argv], env=env,
                             capture_output=True, text=True, check=True)
        outs.append(run.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert "Verified" in outs[0] or '"verdict"' in outs[0] or '"agree' in outs[0]
