"""``jac --claim "dW = X.T @ dY"``: the verdict on each claim, after the result.

Text output gets a ``Claims`` section, one verdict line per claim; JSON output a
``"claims"`` list. The exit status is 1 when any claim is refuted; a claim that
does not parse or names nothing is an error (status 2) before any verdict.
"""

from __future__ import annotations

import json

from .. import check_claims


def attach(req, result, text: str, code: int) -> tuple[str, int]:
    """``text`` with the verdicts on ``req.claims`` added, and the exit status."""
    if not req.claims:
        return text, code
    verdicts = check_claims(result, req.claims)
    if req.fmt == "json":
        doc = json.loads(text)
        doc["claims"] = [v.to_dict() for v in verdicts]
        text = json.dumps(doc, indent=2, ensure_ascii=False)
    else:
        text = text + "\n\n" + claims_text(verdicts)
    return text, max(code, exit_status(verdicts))


def exit_status(verdicts) -> int:
    """1 when any claim was refuted, else 0 (so a course can grade with it)."""
    return int(any(v.refuted for v in verdicts))


def claims_text(verdicts) -> str:
    """``Claims`` and one verdict line per claim."""
    return "\n".join(["Claims"] + ["  " + v.line for v in verdicts])


__all__ = ["attach"]
