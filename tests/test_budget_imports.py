"""The alarm never interrupts an import: an ``import numpy`` cut in half leaves its
submodules bound to a half-made ``numpy`` (``module 'numpy' has no attribute
'multiply'`` on every later request). The interruption waits for the import to end."""

from __future__ import annotations

import sys
import time

import pytest

from jacobian_calc import LimitError, Limits
from jacobian_calc.core import budget


def test_an_import_is_finished_before_the_request_is_interrupted(tmp_path, monkeypatch):
    if not budget._can_use_alarm():
        pytest.skip("no alarm here (not the main thread, or SIGALRM taken)")
    name = "jacobian_calc_slow_import_probe"
    (tmp_path / f"{name}.py").write_text(
        "import time\nfor _ in range(30):\n    time.sleep(0.01)\nDONE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(LimitError):
        with budget.request(Limits(timeout=0.05)):
            __import__(name)
            while True:  # the deadline has passed: the next alarm interrupts here
                time.sleep(0.01)
    assert sys.modules[name].DONE
