"""Generic Jacobians in index notation, for every size at once.

``∂Y[i,j]/∂W[k,l] = X[i,k] δ[j,l]`` for ``Y = X @ W + b``: the output's entry
at symbolic indices (:func:`~.forms.entry_of`) differentiated w.r.t. the
input's (:func:`~.algebra.derivative`), its δs summed out. In terms of the
output (``in_terms_of_output``), the last operation's backward rule applied to
a unit upstream gradient gives its part, as the explicit route does
(softmax: ``p[i] (δ[i,j] − p[j])``).

Indices run from 1; the output's are named first (``i, j``), the input's next
(``k, l``). The numerator layout lists the output's indices first, the
denominator layout the input's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.tree import Call, Name, Node, names
from ..ops import NotDifferentiable, Vjp, get
from ..symbolic.evaluate import node_shapes
from . import algebra as I
from .forms import entry_of, index_symbols
from .printing import entry_tex, latex, text

LETTERS = "ijklmnpqrstuvw"


@dataclass(frozen=True)
class IndexJacobian:
    """One generic Jacobian in index notation.

    Attributes
    ----------
    of : str
        The expression, in the calculator's syntax.
    out_name, in_name : str
        ``Y`` and ``W`` in ``∂Y[i,j]/∂W[k,l]``.
    out_indices, in_indices : tuple of sympy.Symbol
        The index symbols of the output's and the input's axes.
    index_form : sympy.Expr
        The entry: ``sympy.Indexed`` entries named as the variables,
        ``KroneckerDelta`` and sums over index ranges from 1.
    sizes : tuple of sympy.Expr
        The range of each index of ``indices``: ``i = 1..sizes[0]``, ...
    layout : str
        ``"numerator"`` (output's indices first) or ``"denominator"``.
    """

    of: str
    out_name: str
    in_name: str
    out_indices: tuple
    in_indices: tuple
    index_form: sp.Expr
    out_sizes: tuple
    in_sizes: tuple
    layout: str = "numerator"
    out_shape: tuple = ()  # as declared: int | str dimensions

    @property
    def indices(self) -> tuple:
        """The index symbols in the order of the Jacobian's axes (this layout)."""
        if self.layout == "numerator":
            return self.out_indices + self.in_indices
        return self.in_indices + self.out_indices

    @property
    def sizes(self) -> tuple:
        return self.out_sizes + self.in_sizes if self.layout == "numerator" else \
            self.in_sizes + self.out_sizes

    def with_layout(self, layout: str) -> "IndexJacobian":
        from dataclasses import replace  # noqa: PLC0415
        return replace(self, layout=layout)

    @property
    def ranges(self) -> str:
        """``i = 1..N, j = 1..h``."""
        return ", ".join(f"{s} = 1..{n}" for s, n in zip(self.indices, self.sizes))

    @property
    def lhs(self) -> str:
        """``(∂Y/∂W)[i,j,k,l]``."""
        if not self.indices:
            return f"∂{self.out_name}/∂{self.in_name}"
        return f"(∂{self.out_name}/∂{self.in_name})[{','.join(map(str, self.indices))}]"

    def text(self) -> str:
        """``(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]``."""
        return f"{self.lhs} = {text(self.index_form, self.out_indices + self.in_indices)}"

    def latex(self) -> str:
        r"""``\frac{\partial Y_{ij}}{\partial W_{kl}} = X_{ik} \delta_{jl}``."""
        order = self.out_indices + self.in_indices
        num = _tex_entry(self.out_name, self.out_indices)
        den = _tex_entry(self.in_name, self.in_indices)
        return rf"\frac{{\partial {num}}}{{\partial {den}}} = {latex(self.index_form, order)}"

    def to_dict(self) -> dict:
        """What JSON holds: text, LaTeX, the SymPy form, the indices and their ranges."""
        return {"text": self.text(), "latex": self.latex(),
                "sympy": sp.srepr(self.index_form),
                "indices": [str(s) for s in self.indices],
                "ranges": {str(s): str(n) for s, n in zip(self.indices, self.sizes)}}

    def at(self, sizes: Mapping[str, int], indices: Mapping) -> sp.Expr:
        """The entry at concrete sizes and 1-based indices (sums written out)."""
        values = {I.size(k): v for k, v in sizes.items()}
        values.update({s: indices[s] if s in indices else indices[str(s)]
                       for s in self.out_indices + self.in_indices})
        return I.written_out(self.index_form, values)


def _tex_entry(name: str, indices) -> str:
    return entry_tex(name, [str(s) for s in indices])


def index_jacobian(expr: Node, wrt: str, shapes: Mapping[str, Shape], *,
                   of: str = "", out_name: str | None = None, layout: str = "numerator",
                   in_terms_of_output: bool = False) -> IndexJacobian:
    """The generic Jacobian of ``expr`` w.r.t. the variable ``wrt``, in index notation.

    Parameters
    ----------
    expr : Node
        The expression (one array or scalar).
    wrt : str
        A declared variable (or a scalar name).
    shapes : mapping
        Shapes of the names; dimensions ``int`` or ``str`` (a size name).
    of, out_name : str
        The expression's text and the output's name (default ``Y``, or ``f``
        for a scalar).
    layout : {"numerator", "denominator"}
        Which indices come first.
    in_terms_of_output : bool
        The last operation's part written through the output (``p``, ``P``, ``Y``).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression as parse
    >>> J = index_jacobian(parse("X @ W + b"), "W", {"X": ("N", "d"), "W": ("d", "h"),
    ...                                                 "b": ("h",)})
    >>> J.text()
    '(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l]'
    >>> J.ranges
    'i = 1..N, j = 1..h, k = 1..d, l = 1..h'
    """
    found = node_shapes(expr, shapes)
    out_shape, in_shape = found[expr], tuple(shapes.get(wrt, ()))
    taken = names(expr) | {wrt}
    letters = index_symbols(LETTERS, len(out_shape) + len(in_shape), taken)
    out, mine = letters[:len(out_shape)], letters[len(out_shape):]
    name = out_name or ("Y" if out_shape else "f")
    if in_terms_of_output:
        name, form = _through_output(expr, wrt, shapes, found, out, mine, taken)
    else:
        form = I.derivative(entry_of(expr, out, shapes, found), I.entry(wrt, mine))
    ranges = dict(zip(out + mine, (I.size(d) for d in out_shape + in_shape)))
    form = I.eliminated(form, I.Context(ranges), {str(s) for s in letters} | taken)
    return IndexJacobian(of, name, wrt, out, mine, form,
                         tuple(I.size(d) for d in out_shape),
                         tuple(I.size(d) for d in in_shape), layout, tuple(out_shape))


def _through_output(expr, wrt, shapes, found, out, mine, taken):
    """``Σ_m (∂Y[out]/∂Z[m]) (∂Z[m]/∂X[mine])``, the first factor from the last
    operation's backward rule in terms of ``Y``, with a unit upstream gradient."""
    op = get(expr.op) if isinstance(expr, Call) else None
    if op is None or op.arity != (1, 1) or isinstance(op.vjp, NotDifferentiable) \
            or op.category not in ("elementwise", "neural network") or not found[expr]:
        raise JacobianError("{{in_terms_of_output}} needs an element-wise function or "
                            "softmax applied last, e.g. sigmoid(X@W + b) or softmax(l)")
    shape = found[expr]
    name = (op.output_name if len(shape) == 1 else op.output_name.upper()) \
        if op.output_name else "Y"
    if name in taken:
        raise JacobianError(f"{{{{in_terms_of_output}}}} writes the output as {name}, "
                            f"which is already a name in the expression; rename it")
    z, g = Name("_z"), Name("_g")
    rule = op.vjp(Vjp((z,), Name(name), g, (shape,), shape, op.options(expr.kwargs)))[0]
    m = tuple(I.fresh() for _ in shape)
    local = {name: shape, "_z": shape, "_g": shape}
    outer = entry_of(rule, m, {**shapes, **local}, defs={"_z": expr.args[0]}) \
        if rule is not None else sp.S.Zero
    unit = {e: sp.Mul(*(I.delta(a, b) for a, b in zip(e.indices, out)))
            for e in outer.atoms(sp.Indexed) if str(e.base) == "_g"}
    outer = outer.xreplace(unit)
    inner = I.derivative(entry_of(expr.args[0], m, shapes, found), I.entry(wrt, mine))
    return name, I.summation(outer * inner, *zip(m, (I.size(d) for d in shape)))
