r"""LaTeX documents: results as blocks, rendered as a fragment or a standalone page.

Output is built as a list of :class:`~jacobian_calc.render.tex.Block` (section
titles, sentences and displays), one list per result, by the function
registered for the result's class with :func:`block_printer`; :func:`to_latex`
renders the blocks as a fragment or a document that compiles with pdflatex
however wide the matrices or long the entries. Each result type prints by
registering its own block function, from its own module
(:mod:`jacobian_calc.render.jacobian_latex`, :mod:`.chain_latex`,
:mod:`.backprop_latex`, :mod:`.hessian_latex`)::

    @block_printer(BackpropResult)
    def backprop_blocks(r, style: Style) -> list[Block]: ...

The primitives they are made of (names, entries, matrices, blocks) are in
:mod:`jacobian_calc.render.tex`.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from typing import Any, Callable

from ..core.errors import WORDS, JacobianError, Message
from ..results.base import load_missing_printers, printer
from .tex import Block, LatexOptions, Style, escape

#: The API's names of arguments, as LaTeX text (``to\_json()``): what a ``{{marker}}``
#: in a document says to a Python user (the ``jac`` command writes its options).
_TEX_WORDS = {marker: escape(text) for marker, text in WORDS.items()}

# -- block functions per result type ----------------------------------------------------------

_BLOCK_PRINTERS: dict[type, Callable[[Any, Style], list[Block]]] = {}


def block_printer(cls: type):
    """Register ``func(result, style) -> list[Block]`` as the LaTeX of ``cls``.

    The function makes the blocks of one result; :func:`to_latex` renders
    them (fragment or document) and ``result.to_latex()`` works too. A
    subclass without its own function uses its base class's.

    Examples
    --------
    >>> class Note:
    ...     text = "a remark"
    >>> @block_printer(Note)
    ... def note_blocks(note, style):
    ...     return [Block("text", note.text)]
    >>> to_latex(Note())
    'a remark'
    >>> unregister_block_printer(Note)
    """
    def register(func: Callable[[Any, Style], list[Block]]):
        _BLOCK_PRINTERS[cls] = func
        printer("latex", cls)(_print_result)
        return func
    return register


def unregister_block_printer(cls: type) -> None:
    """Remove the block function of ``cls`` (tests add and remove their own)."""
    _BLOCK_PRINTERS.pop(cls, None)


def result_blocks(result: Any, style: Style) -> list[Block]:
    """The blocks of one result, by the function registered for its class."""
    for _ in range(2):  # again after loading the printers not loaded yet, if any
        for cls in type(result).__mro__:
            func = _BLOCK_PRINTERS.get(cls)
            if func is not None:
                return func(result, style)
        if not load_missing_printers():
            break
    raise JacobianError(f"cannot print a {type(result).__name__} as LaTeX")


def _print_result(result: Any, **settings) -> str:
    """``result.to_latex(**settings)``."""
    return to_latex(result, **settings)


# -- rendering blocks ---------------------------------------------------------------------------

def render_fragment(blocks: list[Block], derivation: bool = False) -> str:
    r"""Blocks as a fragment: maths alone, or with ``derivation`` text and ``\[...\]``.

    Maths alone is one display, pasteable inside ``\[...\]`` as it is: several
    equations become the lines of one ``gathered`` block.
    """
    if not derivation:
        maths = [b.tex for b in blocks]
        if len(maths) == 1 or any(b.kind != "math" for b in blocks):
            return "\n\n".join(maths)
        return "\\begin{gathered} " + " \\\\ ".join(maths) + " \\end{gathered}"
    parts = []
    for b in blocks:
        if b.kind == "section":
            parts.append(rf"\paragraph{{{b.tex}}}")
        elif b.kind == "text":
            parts.append(b.tex)
        else:
            parts.append("\\[\n" + b.tex + "\n\\]")
    return "\n\n".join(parts)


PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage{adjustbox}
\setcounter{MaxMatrixCols}{%d}
\renewcommand{\arraystretch}{1.3}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\begin{document}
"""


def _fitted(tex: str) -> str:
    """Display maths scaled down (never up) to fit the text width and page height.

    Not a ``center`` environment: it invites a page break before itself, which
    would part a display from the sentence introducing it.
    """
    return ("\\smallskip\n{\\centering\n"
            "\\begin{adjustbox}{max totalsize={\\linewidth}{0.9\\textheight}}\n"
            f"$\\displaystyle {_row_per_line(tex)}$\n"
            "\\end{adjustbox}\\par}\n\\smallskip")


def _row_per_line(tex: str) -> str:
    """One matrix row per line: TeX reads at most 200,000 characters per line."""
    return tex.replace(r" \\ ", " \\\\\n")


def render_document(blocks: list[Block]) -> str:
    """Blocks as a standalone document for pdflatex (displays scaled to fit the page)."""
    parts = []
    for b, after in zip(blocks, blocks[1:] + [None]):
        if b.kind == "section":
            parts.append(rf"\section*{{{b.tex}}}")
        elif b.kind == "text":  # a sentence introducing a display stays on its page
            parts.append(b.tex + ("\n\\nopagebreak" if after and after.kind == "math" else ""))
        else:
            parts.append(_fitted(b.tex))
    body = "\n\n".join(parts)
    return PREAMBLE % max(10, max_matrix_columns(body)) + body + "\n\n\\end{document}\n"


def max_matrix_columns(tex: str) -> int:
    r"""The most columns of any ``*matrix`` environment in ``tex`` (amsmath's
    ``MaxMatrixCols`` must be at least this).

    Examples
    --------
    >>> inner = r"\begin{bmatrix} a & b & c \end{bmatrix}"
    >>> max_matrix_columns(r"\begin{pmatrix} 1 & " + inner + r" \\ 3 & 4 \end{pmatrix}")
    3
    """
    best, stack = 0, []
    for token in re.finditer(r"\\begin\{[A-Za-z]*matrix\}|\\end\{[A-Za-z]*matrix\}|&|\\\\",
                             tex):
        text = token.group(0)
        if text.startswith(r"\begin"):
            stack.append([1, 1])
        elif not stack:
            continue
        elif text.startswith(r"\end"):
            best = max(best, *stack.pop())
        elif text == "&":
            stack[-1][0] += 1
            stack[-1][1] = max(stack[-1])
        else:
            stack[-1][0] = 1
    return best


# -- defaults and the public entry points ---------------------------------------------------------

_DEFAULTS: contextvars.ContextVar[dict] = contextvars.ContextVar("latex_defaults", default={})
SETTINGS = ("derivation", "standalone", "flatten", "matrix_env", "transpose", "element_style")


@contextlib.contextmanager
def printoptions(**settings):
    r"""Defaults for :func:`to_latex` inside a ``with`` block, like ``numpy.printoptions``.

    The CLI sets the user's choices once; code that formats results (such as
    the backprop report) then calls ``to_latex(results)`` unchanged.

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> with printoptions(matrix_env="bmatrix"):
    ...     to_latex(jacobian("x*y", wrt="x,y"))
    '\\begin{bmatrix} y & x \\end{bmatrix}'
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown LaTeX settings: {', '.join(sorted(unknown))}")
    token = _DEFAULTS.set({**_DEFAULTS.get(), **settings})
    try:
        yield
    finally:
        _DEFAULTS.reset(token)


def resolve_settings(**given) -> dict:
    """The given settings over the :func:`printoptions` defaults over the built-in ones."""
    unknown = set(given) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown LaTeX settings: {', '.join(sorted(unknown))}")
    return {**dict(derivation=False, standalone=False, flatten=False), **LatexOptions().__dict__,
            **_DEFAULTS.get(), **{k: v for k, v in given.items() if v is not None}}


def make_style(s: dict) -> Style:
    """The :class:`Style` of some :func:`resolve_settings`."""
    options = LatexOptions(s["matrix_env"], s["transpose"], s["element_style"])
    return Style(options, flatten=bool(s["flatten"]), fit=bool(s["standalone"]),
                 derivation=bool(s["derivation"]), headers=bool(s["standalone"]))


def render_blocks(blocks: list[Block], s: dict) -> str:
    """Blocks as a document (``standalone``) or a fragment, as the settings ``s`` say
    (:func:`resolve_settings`)."""
    if s["standalone"]:
        return render_document(blocks)
    return render_fragment(blocks, bool(s["derivation"]))


def to_latex(result, derivation: bool | None = None, standalone: bool | None = None,
             flatten: bool | None = None, matrix_env: str | None = None,
             transpose: str | None = None, element_style: str | None = None) -> str:
    r"""LaTeX for a result of the calculator.

    Parameters
    ----------
    result : JacobianResult, ChainResult, BackpropResult, or a list of them
        What to print (any result whose class has a :func:`block_printer`; a
        backprop result's is in :mod:`jacobian_calc.render.backprop_latex`).
    derivation : bool
        The steps, as slides present them: the definition (a matrix of
        :math:`\partial f_i/\partial x_j`), then the evaluated entries; the
        factor product of a chain; each backward step of a backprop result.
    standalone : bool
        A complete document for pdflatex (amsmath, geometry, adjustbox);
        wide matrices are scaled down to the page, long entries listed.
    flatten : bool
        Print a 3D/4D Jacobian as its flattened 2-D matrix.
    matrix_env, transpose, element_style
        See :class:`LatexOptions`.

    Without ``derivation`` or ``standalone`` the result is maths without
    delimiters (a matrix for a Jacobian); otherwise text with ``\[...\]``
    displays. Unset parameters come from :func:`printoptions`, else the
    defaults (``False``, ``"pmatrix"``, ``"^{\top}"``, ``"upper"``). The text is a
    :class:`~jacobian_calc.Message`: where it says what to do, it names the API's
    arguments (``to\_json()``).

    Examples
    --------
    >>> from jacobian_calc import jacobian
    >>> to_latex(jacobian("x*y", wrt="x,y"))
    '\\begin{pmatrix} y & x \\end{pmatrix}'
    >>> to_latex(jacobian("A@x", wrt="x", shapes={"A": (2, 2), "x": 2}), matrix_env="bmatrix")
    '\\begin{bmatrix} A_{11} & A_{12} \\\\ A_{21} & A_{22} \\end{bmatrix}'
    """
    s = resolve_settings(derivation=derivation, standalone=standalone, flatten=flatten,
                 matrix_env=matrix_env, transpose=transpose, element_style=element_style)
    style = make_style(s)
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    style.shared["several"] = len(results) > 1
    blocks = [b for r in results for b in result_blocks(r, style)]
    return Message(render_blocks(blocks, s), _TEX_WORDS)


__all__ = ["to_latex", "printoptions", "block_printer", "unregister_block_printer",
           "result_blocks", "render_blocks", "render_fragment", "render_document",
           "resolve_settings", "make_style", "max_matrix_columns"]
