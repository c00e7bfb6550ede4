r"""LaTeX of a compact Jacobian, shown next to the explicit one.

``J = \operatorname{diag}(p) - p p^{\top}`` with ``p = \operatorname{softmax}(l)``; for a
matrix input or output the linear map ``dY = X \, dW`` and its vec form
``\operatorname{vec}(dY) = (I_{2} \otimes X) \operatorname{vec}(dW)``. With a
derivation, the words: how it was found and that it was proved entry by entry.
"""

from __future__ import annotations

from ..core.errors import marked, outside_markers
from ..core.tree import Name
from ..results.compact import LINEAR_MAP, CompactJacobian
from .jacobian_latex import JACOBIAN_EXTRAS, jacobian_name
from .tex import Block, Style, escape, formula_tex, name_tex


def compact_blocks(J, style: Style) -> list[Block]:
    """The blocks of ``J.compact`` (none when no compact form was asked for)."""
    c: CompactJacobian | None = J.compact
    if c is None:
        return []
    o = style.options
    if not c.found:
        reason = outside_markers(marked(c.reason), escape)  # its markers name arguments
        return [Block("text", f"No compact form: {reason}.")] if style.derivation else []
    if c.kind == LINEAR_MAP:
        lhs = name_tex(c.label, o)
        maths = [f"{lhs} = {formula_tex(c.tree, o)}"]
        if c.vec_tree is not None:
            d = formula_tex(Name(c.direction), o)
            maths.append(rf"\operatorname{{vec}}\left({lhs}\right) = "
                         rf"{formula_tex(c.vec_tree, o)} \operatorname{{vec}}\left({d}\right)")
    else:
        maths = [f"{jacobian_name(J, o)} = {formula_tex(c.tree, o)}"]
    maths += [f"{name_tex(name, o)} = {formula_tex(tree, o)}" for name, tree, _ in c.where]
    math = r" \\ ".join(maths)
    if len(maths) > 1:
        math = r"\begin{gathered} " + math + r" \end{gathered}"
    if not style.derivation:
        return [Block("math", math)]
    verdict = c.check.verdict if c.check is not None else "not checked"
    how = "as a linear map of the input's differential" + (
        ", and in vec form (vec stacks columns, column-major)" if c.vec_tree is not None
        else "") if c.kind == LINEAR_MAP else f"in {c.layout} layout"
    words = (f"The compact form, {how}, from the operations' rules (forward mode over the "
             f"formula); against {_against(c)}: {escape(verdict)} "
             f"({escape(c.check.how if c.check is not None else '')}).")
    return [Block("text", words), Block("math", math)]


def _against(c: CompactJacobian) -> str:
    """The entries above, or at symbolic sizes the index form above."""
    return "the entries above" if c.against == CompactJacobian.against else \
        "the index form above"


JACOBIAN_EXTRAS.append(compact_blocks)  # shown after every Jacobian that has one

__all__ = ["compact_blocks"]
