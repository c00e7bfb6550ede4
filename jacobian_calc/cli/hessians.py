"""``jac --hessian`` and ``jac --format numpy|torch``: Hessians and runnable code.

Called by :mod:`.request` (which reads the options); returns the output text,
the warnings and the exit status as the other requests do.
"""

from __future__ import annotations

import json

from .. import hessian
from ..render import (hessian_blocks, make_style, printoptions, render_blocks,
                      resolve_settings, to_numpy_code, to_torch_code)
from .options import CODE_FORMATS
from .words import cli_words


def produce(req) -> tuple[str, list[str], int]:
    """The Hessian ``req`` asks for, in its format (code where a compact form exists)."""
    H = hessian(req.exprs, req.wrt, layout=req.layout, shapes=req.shapes, lets=req.lets,
                    functions=req.functions, simplify=req.simplify, onehot=req.onehot,
                    signs=req.signs, limits=req.limits)
    notes = list(H.warnings)
    failed = not H.symmetry.ok and H.symmetry.verdict != "undecided" or (
        H.compact.found and not H.compact.ok)
    if failed:
        notes.append("DISAGREE: " + _disagreement(H))
    if req.fmt in CODE_FORMATS:
        text, status = code_text(H, req.fmt, req.check)
        return text, notes + _code_notes(status), max(status, int(req.check and failed))
    values = H.evaluate(req.at) if req.at is not None else None
    if req.fmt == "json":
        text = json.dumps(H.to_dict(flatten=req.flatten, values=values, at=req.at), indent=2,
                          ensure_ascii=False)
    elif req.fmt == "latex":
        text = _latex(H, req, values)
    else:
        text = cli_words(H.to_text(full=req.full, flatten=req.flatten, values=values,
                                   at=req.at))
    if req.spy:
        from ..render import save_spy  # noqa: PLC0415 - matplotlib only when asked for
        save_spy(H.jacobians(), req.spy)
    code = 1 if req.check and failed else 0
    if req.claims:
        from .claims import attach  # noqa: PLC0415 - claims asked for
        text, code = attach(req, H, text, code)
    return text, notes, code


def _disagreement(H) -> str:
    if H.compact.found and not H.compact.ok:
        check = H.compact.check
        if check.mismatch:
            label, first, second = check.mismatch
            return f"the compact Hessian differs at {label}: explicit {first}, compact {second}"
        return f"the compact Hessian: {check.verdict} ({check.how})"
    return f"the Hessian is {H.symmetry.verdict} ({H.symmetry.how})"


def _latex(H, req, values) -> str:
    with printoptions(**req.latex):
        settings = resolve_settings(flatten=req.flatten)
        return render_blocks(hessian_blocks(H, make_style(settings), values), settings)


def code_text(result, language: str, check: bool) -> tuple[str, int]:
    """The module, and (with ``check``) the comparison appended as comments; the exit
    status is 1 when the generated code disagrees."""
    code = to_numpy_code(result) if language == "numpy" else to_torch_code(result)
    if not check:
        return code.rstrip("\n"), 0
    from ..render import check_code  # noqa: PLC0415 - NumPy (and PyTorch) now
    report = check_code(result, language)
    lines = [f"# jac --check: {part.strip()}" for part in report.summary().split(";")]
    return code + "\n" + "\n".join(lines), 0 if report.ok else 1


def _code_notes(status: int) -> list[str]:
    return ["DISAGREE: the generated code does not reproduce the explicit result (see the "
            "comments at its end)"] if status else []


def backprop_code(req, result) -> tuple[str, list[str], int]:
    """``--backprop --format numpy|torch``: the module of the backward pass."""
    text, status = code_text(result, req.fmt, req.check)
    return text, _code_notes(status), status


__all__ = ["produce", "backprop_code", "code_text"]
