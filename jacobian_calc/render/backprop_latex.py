r"""LaTeX of backprop results: the compact gradients, or the derivation as Lecture 9 writes it.

Without ``derivation`` a result prints as one ``aligned`` block, the backward
steps in the result's own names (``dW = X^{\top} dZ``), pasteable inside
``\[...\]`` as it is. With ``derivation``:

1. the forward steps (``Z = X W + b``, ``Y = \sigma(Z)``, ``L = \operatorname{mean}(Y)``);
2. for each backward step, its contraction
   (``dZ_{kl} = \sum_{ij} dY_{ij} \frac{\partial Y_{ij}}{\partial Z_{kl}}``), its entries
   in the step's own symbols (``Y_{11}``, ``dY_{11}``), its compact rule, and the
   verdict of the check (a difference in bold, with the entry);
3. the gradients, and what was proved end to end (``result.summary()``).

A gradient prints in the shape of its variable: a matrix for a matrix, a
column for a vector.
"""

from __future__ import annotations

import re

from ..core.grid import Grid
from ..core.tree import Node
from ..results.backprop import (AGREES, CHECKED, DIFFERS, PROVED, BackpropResult, BackwardStep,
                                Gradient)
from .latex import block_printer, make_style, render_blocks, resolve_settings
from .tex import (MAX_DEFINITION_ENTRIES, Block, LatexOptions, Style, broken_equation,
                  check_typesettable, entry_tex, escape, formula_tex, frac, generic_tex,
                  grid_latex, latex_expr, name_tex, number_tex, of_tex, print_cells, shape_tex,
                  value_blocks)

#: Index letters of the step's output and of the target, as the text printer writes them.
OUT_LETTERS, TARGET_LETTERS = "ijmn", "klpq"
#: Entries shown of a grid too large to read whole (a derivation stays readable) ...
SHOWN_ENTRIES = 4
#: ... each at most this many characters of LaTeX (an expanded gradient of a deep
#: network has entries of tens of thousands: TeX runs out of memory, nobody reads them).
MAX_ENTRY_TEX = 4000
#: A grid is shown whole up to this many characters of LaTeX.
MAX_GRID_TEX = 20000


@block_printer(BackpropResult)
def backprop_blocks(r: BackpropResult, style: Style) -> list[Block]:
    """The compact gradients (one ``aligned`` display), or with ``derivation`` every step."""
    blocks = _header(r, style.options) if style.headers else []
    if not style.derivation:
        return blocks + [Block("math", compact_tex(r, style.options))]
    blocks += _forward(r, style.options) + _backward(r, style)
    return blocks + _gradients(r, style) + _verdict(r, style.options)


# -- the compact form ---------------------------------------------------------------------

def compact_tex(r: BackpropResult, options: LatexOptions = LatexOptions()) -> str:
    r"""The backward steps (or, for ``inline`` results, the substituted gradients) as one
    ``aligned`` block; an expanded gradient follows as a matrix of its variable's shape.

    Examples
    --------
    >>> from jacobian_calc import backprop
    >>> compact_tex(backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)}))
    '\\begin{aligned} dW &= X^{\\top} dY \\end{aligned}'
    """
    lines = _gradient_lines(r, options) if r.inline else _step_lines(r, options)
    for g in r.gradients.values():
        if g.expanded is None:
            continue
        matrix = gradient_matrix(g, options)
        key = name_tex(g.name, options)
        if key in lines and not any(b.accumulate for b in r.backward if b.name == g.name):
            lines[key] += f" = {matrix}"
        else:
            lines[key + " "] = f"{key} &= {matrix}"
    return r"\begin{aligned} " + r" \\ ".join(lines.values()) + r" \end{aligned}"


def _step_lines(r: BackpropResult, options: LatexOptions) -> dict[str, str]:
    """``{name: "dW &= X^{\\top} dZ"}`` in backward order; a gradient no step defines is 0."""
    lines: dict[str, str] = {}
    for n, b in enumerate(r.backward):
        name = name_tex(b.name, options)
        key = name if name not in lines else f"{name} {n}"
        lines[key] = f"{name} &{_sign(b)} {formula_tex(b.tree, options)}"
    for g in r.gradients.values():
        name = name_tex(g.name, options)
        if name not in lines:
            lines[name] = f"{name} &= {formula_tex(g.tree, options)}"
    return lines


def _gradient_lines(r: BackpropResult, options: LatexOptions) -> dict[str, str]:
    lines = {}
    for g in r.gradients.values():
        name = name_tex(g.name, options)
        lines[name] = f"{name} &= {formula_tex(g.inline_tree, options)}"
    return lines


def _sign(b: BackwardStep) -> str:
    return r"\mathrel{+}=" if b.accumulate else "="


def gradient_matrix(g: Gradient, options: LatexOptions = LatexOptions()) -> str:
    """The expanded gradient in its variable's shape (a vector as a column)."""
    check_typesettable(_display_shape(g.expanded.shape), f"the gradient {g.name}")
    return grid_latex(print_cells(as_displayed(g.expanded), options), options.matrix_env)


def as_displayed(grid: Grid) -> Grid:
    """A gradient as it is shown: a vector as a column, anything else in its own shape.

    Examples
    --------
    >>> as_displayed(Grid((3,), [1, 2, 3])).shape, as_displayed(Grid((2, 3), [0] * 6)).shape
    ((3, 1), (2, 3))
    """
    return grid.reshape((grid.size, 1)) if grid.ndim == 1 else grid


def _display_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], 1) if len(shape) == 1 else shape


# -- the derivation -----------------------------------------------------------------------

def _header(r: BackpropResult, options: LatexOptions) -> list[Block]:
    """A section naming the output and the variables, then the expression (a display: it
    may be too long for a title)."""
    out = name_tex(r.output, options)
    wrt = ", ".join(f"${name_tex(v, options)}$" for v in r.gradients)
    trees = [r.of_tree] if r.of_tree is not None else []
    return [Block("section", f"Backpropagation of ${out}$ with respect to {wrt}"),
            Block("math", f"{out} = {of_tex(trees, options, _arrays(r), [r.of])}")]


def _forward(r: BackpropResult, options: LatexOptions) -> list[Block]:
    lines = [f"{name_tex(s.name, options)} &= {formula_tex(s.expr, options)} "
             f"&& {_space(s.shape)}" for s in r.steps]
    return [Block("text", _inputs_sentence(r, options)),
            Block("text", "The forward pass, in named steps:"),
            Block("math", r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"),
            Block("text", _upstream_sentence(r, options))]


def _inputs_sentence(r: BackpropResult, options: LatexOptions) -> str:
    r"""``The inputs: $X \in \mathbb{R}^{N \times d}$, ...`` (for every size, where
    the sizes are dimension names)."""
    made = {s.name for s in r.steps}
    inputs = dict.fromkeys(n for s in r.steps for n in s.inputs
                           if n not in made and n in r.shapes)
    declared = ", ".join(f"${name_tex(n, options)} {_space(r.shapes[n])}$" for n in inputs)
    text = f"The inputs: {declared}" if declared else "No array inputs"
    if r.sizes and not r.sizes.endswith("written out)"):
        text += ", for every size"
    return text + "."


def _space(shape: tuple[int, ...]) -> str:
    r"""``\in \mathbb{R}^{4 \times 2}``; ``\in \mathbb{R}`` for a scalar."""
    return r"\in \mathbb{R}" + (f"^{{{shape_tex(shape)}}}" if shape else "")


def _upstream_sentence(r: BackpropResult, options: LatexOptions) -> str:
    out = name_tex(r.output, options)
    if r.upstream == "1":
        return (f"The output ${out}$ is a scalar: its upstream gradient is $1$, and the "
                f"gradient of a variable $M$ is $dM$, with $dm_{{ij}} = "
                rf"\partial {out} / \partial m_{{ij}}$, of the shape of $M$.")
    up = name_tex(r.upstream, options)
    if not r.out_shape:
        return f"The output ${out}$ is a scalar with upstream gradient ${up}$."
    entries = generic_tex(r.upstream, OUT_LETTERS[:len(r.out_shape)], options)
    return (f"The output ${out} {_space(r.out_shape)}$ is an array: its upstream gradient "
            f"${up}$ has the same shape, with entries ${entries}$.")


def _backward(r: BackpropResult, style: Style) -> list[Block]:
    if not r.backward:
        return [Block("text", "No backward steps: no variable asked for appears.")]
    blocks = [Block("text", "The backward pass. Each step is the contraction of the "
                            "upstream gradient with the Jacobian of that step alone, "
                            "computed entry by entry in the step's own symbols, and "
                            "checked against the step's compact rule.")]
    for b in r.backward:
        blocks += step_blocks(r, b, style)
    return blocks


def step_blocks(r: BackpropResult, b: BackwardStep, style: Style) -> list[Block]:
    """One backward step: where it goes, its contraction and entries, its compact rule,
    its verdict."""
    o = style.options
    blocks = [Block("text", _step_heading(r, b, o)),
              Block("math", contraction_tex(r, b, o))]
    if b.derivation_tex:  # proved for all sizes: the contraction in index notation
        blocks += [Block("text", "In index notation, for every size:"),
                   Block("math", " ".join(b.derivation_tex))]
    else:
        blocks += [Block("text", _symbols_sentence(b, o))]
        blocks += entry_blocks(b.name, b.explicit, style)
    blocks += [Block("text", "The compact rule:"),
               Block("math", f"{name_tex(b.name, o)} {_sign(b)} {formula_tex(b.tree, o)}"),
               Block("text", verdict_tex(b, o))]
    return blocks


def _step_heading(r: BackpropResult, b: BackwardStep, options: LatexOptions) -> str:
    steps = {s.name: s for s in r.steps}
    through = " and ".join(f"${name_tex(n, options)} = {formula_tex(steps[n].expr, options)}$"
                           for n in reversed(b.through) if n in steps)
    text = (rf"\textbf{{Backward step ${name_tex(b.name, options)}$}}, back through "
            f"{through} to ${name_tex(b.target, options)}$")
    if b.fused:
        formulas = ([formula_tex(t, options) for _, t in b.fused_trees] if b.fused_trees
                    else [of_tex([], text=[t]) for _, t in b.fused])  # a step made by hand
        fused = ", ".join(f"${name_tex(n, options)} = {f}$"
                          for (n, _), f in zip(b.fused, formulas))
        text += f" (one step: {fused} is eliminated)"
    return text + ":"


def _arrays(r: BackpropResult) -> dict:
    """Shapes of the names that are arrays (a product of scalars is written ``x y``)."""
    return {n: s for n, s in r.shapes.items() if s}


def contraction_tex(r: BackpropResult, b: BackwardStep,
                    options: LatexOptions = LatexOptions()) -> str:
    r"""``dW_{kl} = \sum_{ij} dZ_{ij} \frac{\partial Z_{ij}}{\partial W_{kl}}``, or
    ``dY_{kl} = \frac{\partial L}{\partial Y_{kl}}`` from the scalar output.

    Examples
    --------
    >>> from jacobian_calc import backprop
    >>> r = backprop("X@W", "W", shapes={"X": (2, 3), "W": (3, 2)})
    >>> contraction_tex(r, r.backward[0])
    'dW_{kl} = \\sum_{ij} dY_{ij} \\frac{\\partial Y_{ij}}{\\partial W_{kl}}'
    """
    top = b.through[0]
    target = generic_tex(b.target, TARGET_LETTERS[:len(r.shapes[b.target])], options)
    lhs = generic_tex(b.name, TARGET_LETTERS[:len(r.shapes[b.target])], options)
    lhs += f" {_sign(b)} "
    if b.upstream == "1":
        return lhs + frac(name_tex(top, options), target)
    letters = OUT_LETTERS[:len(r.shapes[top])]
    up, out = generic_tex(b.upstream, letters, options), generic_tex(top, letters, options)
    total = rf"\sum_{{{letters}}} " if letters else ""
    return lhs + f"{total}{up} {frac(out, target)}"


def _symbols_sentence(b: BackwardStep, options: LatexOptions) -> str:
    what = (f"Entry by entry (this contribution to ${name_tex(b.name, options)}$)"
            if b.accumulate else "Entry by entry")
    if b.at:
        what += f" at {_sizes_tex(b.at)}"
    if not b.symbols:
        return what + ":"
    names = ", ".join(f"${_legend_tex(s, options)}$" for s in b.symbols)
    return f"{what}, in the step's own symbols ({names}):"


def _sizes_tex(sizes: str) -> str:
    """``N=2, d=3`` as ``$N = 2$, $d = 3$``."""
    return ", ".join(f"${escape(k)} = {v}$" for k, v in
                     (part.split("=") for part in sizes.split(", ")))


def _legend_tex(symbol: str, options: LatexOptions) -> str:
    """``Y1_i_j`` -> ``{Y_{1}}_{ij}``; a scalar's name as it is."""
    name, letters = re.fullmatch(r"(.+?)((?:_[a-z])*)", symbol).groups()
    return generic_tex(name, letters.replace("_", ""), options)


def entry_blocks(name: str, values: Grid, style: Style) -> list[Block]:
    """``dW = matrix`` of SymPy ``values`` in the shape of the target (a vector as a
    column). Of a grid too large to read, the first entries that fit
    :data:`SHOWN_ENTRIES` and :data:`MAX_ENTRY_TEX`, and how many more there are."""
    o = style.options
    names = Grid.from_function(values.shape, lambda i: entry_tex(name, i, o))
    printed = _printed_within(values, o, MAX_GRID_TEX)
    if len(printed) == values.size and values.size <= MAX_DEFINITION_ENTRIES and \
            sum(map(len, printed)) <= MAX_GRID_TEX:
        check_typesettable(_display_shape(values.shape), f"the gradient {name}")
        return value_blocks(name_tex(name, o), as_displayed(values), as_displayed(names),
                            style)
    shown = []
    for n, (e, tex) in enumerate(zip(values.flat, printed)):
        if n == SHOWN_ENTRIES or len(tex) > MAX_ENTRY_TEX:
            break
        shown.append(Block("math", broken_equation(names.flat[n], e, o)))
    whole = f"${name_tex(name, o)}$ (${shape_tex(values.shape)}$)"
    if not shown:
        return [Block("text", f"The {values.size} entries of {whole} are too long to "
                              r"typeset; \texttt{{{format_json}}} lists them.")]
    rest = values.size - len(shown)
    return shown + [Block("text", f"\\ldots\\ and {rest} more "
                                  f"{'entries' if rest > 1 else 'entry'} of {whole}; "
                                  r"\texttt{{{format_json}}} lists every entry.")]


def _printed_within(values: Grid, options: LatexOptions, budget: int) -> list[str]:
    """The entries printed in order, stopping once ``budget`` characters are passed."""
    printed, used = [], 0
    for e in values.flat:
        printed.append(latex_expr(e, options) if e != 0 else "0")
        used += len(printed[-1])
        if used > budget:
            break
    return printed


def verdict_tex(b: BackwardStep, options: LatexOptions = LatexOptions()) -> str:
    """The check of one step in words; a difference in bold, with the entry."""
    c, how = b.check, f" ({escape(b.check.how)})" if b.check.how else ""
    if c.verdict == PROVED:
        return f"The compact rule gives these entries: proved symbolically{how}."
    if c.verdict == CHECKED:
        return (f"The compact rule gives these entries, proved symbolically {how[2:-1]}: "
                "checked by instantiation.")
    if c.verdict == AGREES:
        return (f"The compact rule agrees with these entries numerically{how}, largest "
                f"difference ${number_tex(c.max_abs_error)}$.")
    if c.verdict == DIFFERS and c.mismatch is not None:
        label, explicit, compact = c.mismatch
        return (r"\textbf{The compact rule differs from the explicit contraction} at "
                f"${name_tex(label, options)}$: explicit ${_value_tex(explicit, options)}$, "
                f"compact ${_value_tex(compact, options)}$.")
    if c.verdict == DIFFERS:
        return r"\textbf{The compact rule differs from the explicit contraction}" + how + "."
    return f"Undecided{how}."


def _value_tex(value, options: LatexOptions) -> str:
    return number_tex(value) if isinstance(value, float) else latex_expr(value, options)


def _gradients(r: BackpropResult, style: Style) -> list[Block]:
    o = style.options
    blocks = [Block("text", "The gradients, in the step names:"),
              Block("math", _gradient_table(r, o, inline=False))]
    if r.inline:
        blocks += [Block("text", "Fully substituted:"),
                   Block("math", _gradient_table(r, o, inline=True))]
    for g in r.gradients.values():
        if g.expanded is not None:
            entries = entry_blocks(g.name, g.expanded, style)
            if entries[0].kind == "math":
                blocks.append(Block("text", f"The gradient ${name_tex(g.name, o)}$ entry by "
                                            "entry, in the variables' entries:"))
            blocks += entries
    return blocks


def _gradient_table(r: BackpropResult, options: LatexOptions, inline: bool) -> str:
    lines = []
    for g in r.gradients.values():
        tree: Node = g.inline_tree if inline else g.tree
        lines.append(f"{gradient_label(r, g, options)} = {name_tex(g.name, options)} &= "
                     f"{formula_tex(tree, options)} && {_space(g.shape)}")
    return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"


def gradient_label(r: BackpropResult, g: Gradient, options: LatexOptions = LatexOptions()) -> str:
    r"""``\frac{\partial L}{\partial W}``; ``dY \cdot \frac{\partial Y}{\partial W}`` for an
    array output with upstream gradient ``dY``."""
    label = frac(name_tex(r.output, options), name_tex(g.wrt, options))
    return label if r.upstream == "1" else rf"{name_tex(r.upstream, options)} \cdot {label}"


def _verdict(r: BackpropResult, options: LatexOptions) -> list[Block]:
    blocks = [Block("text", f"Verified: {escape(r.summary())}.")]
    if not r.agree:
        blocks.append(Block("text", disagreement_tex(r, options)))
    blocks += [Block("text", "Note: " + escape(w) + ".") for w in r.warnings]
    return blocks


def disagreement_tex(r: BackpropResult, options: LatexOptions = LatexOptions()) -> str:
    """The first failure, in bold: a step that differs, or the end-to-end comparison."""
    for b in r.backward:
        if not b.check.ok:
            return (r"\textbf{Disagreement}: the backward step "
                    f"${name_tex(b.name, options)} {_sign(b)} {formula_tex(b.tree, options)}$ "
                    "differs from its explicit contraction (above).")
    c = r.end_to_end.check
    text = (r"\textbf{Disagreement}: the composed gradients differ from the explicit "
            f"derivative of the whole expression ({escape(c.how)})")
    if c.mismatch is None:
        return text + "."
    label, explicit, compact = c.mismatch
    return (text + f" at ${name_tex(label, options)}$: explicit "
            f"${_value_tex(explicit, options)}$, compact ${_value_tex(compact, options)}$.")


__all__ = ["backprop_blocks", "compact_tex", "contraction_tex", "step_blocks", "entry_blocks",
           "verdict_tex", "disagreement_tex", "gradient_label", "gradient_matrix", "as_displayed"]


def gradient_values_latex(r: BackpropResult, values: dict, at: str | None = None,
                          **settings) -> str:
    r"""Every gradient at a point (``r.evaluate(at)``): one ``aligned`` block of matrices,
    each in its variable's shape, with the explicit route's agreement stated.
    """
    s = resolve_settings(**settings)
    options = make_style(s).options
    lines = []
    for name, v in values.items():
        grid = as_displayed(Grid.from_nested(v.compact.tolist()) if v.compact.ndim else
                            Grid.scalar(float(v.compact)))
        cells = grid.map(number_tex)
        lines.append(f"{name_tex(r.gradients[name].name, options)} &= "
                     f"{grid_latex(cells, options.matrix_env)}")
    blocks = [Block("math", r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}")]
    if s["derivation"] or s["standalone"]:
        agree = all(v.agree for v in values.values())
        worst = max((v.max_abs_error for v in values.values()), default=0.0)
        blocks.insert(0, Block("text", r"At \texttt{" + escape(at or "") + "}:"))
        blocks.append(Block("text", ("The explicit gradients agree" if agree else
                                     r"\textbf{The explicit gradients differ}")
                            + f" (largest difference ${number_tex(worst)}$)."))
    return render_blocks(blocks, s)
