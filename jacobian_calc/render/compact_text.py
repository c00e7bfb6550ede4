"""Text and JSON of a compact Jacobian: the formula, its names, its vec form, its verdict."""

from __future__ import annotations

from ..core.errors import marked
from ..core.grid import shape_text
from ..results.compact import LINEAR_MAP, VEC_CONVENTION, CompactJacobian
from .entries import aligned_equations, check_text


def compact_jacobian_text(c: CompactJacobian, wrt: str = "x") -> str:
    """``Compact Jacobian`` and its formula, or why there is none.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> J = jacobian("x.T@W + b", "x", shapes={"x": 3, "W": (3, 2), "b": 2}, compact=True)
    >>> print(compact_jacobian_text(J.compact))
    Compact Jacobian (numerator layout)
      J = W.T   2x3
    Verified against the explicit Jacobian: proved (symbolically, entry by entry)
    """
    if not c.found:
        return f"Compact Jacobian: none ({marked(c.reason)})."
    if c.kind == LINEAR_MAP:
        head = f"Compact Jacobian, as a linear map of {c.direction}"
    else:
        head = f"Compact Jacobian ({c.layout} layout)"
    rows = [(c.label, c.text, _shape(c.shape))]
    rows += [(f"where {name}", text, "") for name, _, text in c.where]
    lines = [head] + aligned_equations(rows)
    if c.kind == LINEAR_MAP:
        if c.vec_text:
            lines.append(f"In vec form, vec({c.label}) = J_vec @ vec({c.direction}) "
                         f"({VEC_CONVENTION}):")
            lines += aligned_equations([("J_vec", c.vec_text, _shape(c.vec_shape))])
        elif c.reason:
            lines.append(f"({marked(c.reason)})")
    verified = "Not verified" if c.check is not None and c.check.verdict == "undecided" \
        else "Verified"
    lines.append(f"{verified} against {c.against}: {verdict_text(c)}")
    return "\n".join(lines)


def _shape(shape) -> str:
    return "scalar" if not shape else shape_text(shape)


def verdict_text(c: CompactJacobian) -> str:
    return check_text(c.check)


def compact_jacobian_dict(c: CompactJacobian) -> dict:
    """The compact Jacobian in a JSON document."""
    out = {"kind": c.kind, "reason": marked(c.reason)}
    if c.found:
        out.update(label=c.label, layout=c.layout, compact=c.text, inline=c.inline_text,
                   shape=list(c.shape),
                   where=[{"name": n, "expr": text} for n, _, text in c.where])
        if c.kind == LINEAR_MAP:
            out.update(direction=c.direction, vec=c.vec_text or None,
                       vec_shape=list(c.vec_shape) if c.vec_text else None,
                       vec_convention="column-major")
    if c.check is not None:
        out.update(verdict=c.check.verdict, how=c.check.how)
        if c.against != CompactJacobian.against:  # at symbolic sizes
            out["against"] = c.against
    return out


__all__ = ["compact_jacobian_text", "compact_jacobian_dict"]
