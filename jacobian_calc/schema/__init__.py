"""The JSON Schema of the calculator's documents (``jac --format json``).

>>> schema()["properties"]["version"]["const"]
2
"""

from __future__ import annotations

import json
from importlib import resources


def schema() -> dict:
    """The JSON Schema (draft 2020-12) every document satisfies."""
    return json.loads(resources.files(__package__).joinpath("document.schema.json").read_text())
