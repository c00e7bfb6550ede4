"""The LaTeX of a chain: the product of factor Jacobians equals the direct Jacobian."""

from __future__ import annotations

from ..results.chain import ChainResult
from .jacobian_latex import _jacobian_of_tex, jacobian_latex, jacobian_name
from .latex import block_printer
from .tex import Block, Style, name_tex


@block_printer(ChainResult)
def chain_blocks(c: ChainResult, style: Style) -> list[Block]:
    """A chain: the product of factor Jacobians equals the direct Jacobian."""
    o = style.options
    factors = list(c.factors)
    if c.direct.layout == "denominator":  # (ABC)^T = C^T B^T A^T
        factors.reverse()
    names = " ".join(jacobian_name(f, o) for f in factors)
    products = " ".join(jacobian_latex(f, o) for f in factors)
    direct = jacobian_latex(c.direct, o)
    lhs = jacobian_name(c.direct, o)
    blocks = _chain_header(c, style) if style.headers else []
    if not style.derivation:
        return blocks + [Block("math", f"{lhs} = {names} = {products} = {direct}")]
    blocks += [Block("text", "The chain rule through the intermediates:"),
               Block("math", f"{lhs} = {names}"),
               Block("text", "The factors, each in terms of its own inputs:")]
    blocks += [Block("math", f"{jacobian_name(f, o)} = {jacobian_latex(f, o)}") for f in factors]
    blocks += [Block("text", "Their product, with the intermediates substituted:"),
               Block("math", f"{lhs} = {products} = {direct}"),
               Block("text", "The product equals the Jacobian of the substituted expression "
                             "(checked entry by entry)." if c.agree else
                     r"\textbf{The product differs from the direct Jacobian}.")]
    return blocks


def _chain_header(c: ChainResult, style: Style) -> list[Block]:
    return [Block("section", "Chain rule for $" + name_tex(c.direct.out_name, style.options)
                  + " = " + _jacobian_of_tex(c.direct, style.options) + "$")]


__all__ = ["chain_blocks"]
