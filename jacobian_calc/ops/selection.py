"""Selections: max and min (reductions), maximum, minimum, clip, where and the comparisons.

Conventions at ties and boundaries, each PyTorch's (and tested against it):

=====================  ==========================================  ===================
operation              derivative where it has a kink              PyTorch
=====================  ==========================================  ===================
``max(X)``, ``min``    the gradient split evenly among tied         ``torch.amax``,
                       entries (1/k each of k)                      ``torch.amin``
``maximum(A, B)``      1/2 each at a tie: ``(1 + sign(A - B))/2``   ``torch.maximum``
``minimum(A, B)``      1/2 each at a tie                            ``torch.minimum``
``clip(X, lo, hi)``    1 on ``lo <= X <= hi``, boundaries included  ``torch.clamp``
``where(C, A, B)``     ``C`` is not differentiated                  ``torch.where``
=====================  ==========================================  ===================

``max(a, b)`` with an expression (not an integer) as its second argument is
the lectures' ``max(0, 1 - y*s)``: the parser reads it as ``maximum``; with
an integer second argument (``max(X, 1)``: NumPy's axis, or the maximum with
1?) it refuses and says how to write either. Comparisons ``< <= > >=`` are
allowed only as the condition of ``where``.
"""

from __future__ import annotations

import re

from ..core.tree import fn
from .reductions import AXIS, KEEPDIMS, _axis_latex, _np_kw, _reduce_code, restore
from .registry import NoIndexForm, Op, Syntax, broadcast, reduced_shape, register

#: Comparisons bind less tightly than sums, as in Python.
PREC_COMPARE = 0

_NUMBER = re.compile(r"^\(?-?[0-9./ ]+\)?$")


def _torch_tensor(text: str) -> str:
    """A number literal made a tensor (``torch.maximum`` takes tensors only)."""
    return f"torch.tensor({text}, dtype=torch.float64)" if _NUMBER.match(text) else text


# -- index forms: indicator products, no Max/Min/Piecewise ------------------------------
#
# Written with ``sign`` and ``step`` (``step(0) = 1``), whose derivatives are 0 in the
# index notation, so differentiating a form gives exactly the conventions above:
# ``maximum(a, b) = a (1 + sign(a - b))/2 + b (1 - sign(a - b))/2`` is ``a`` at a tie
# and its derivative in ``a`` is ``(1 + sign(a - b))/2``, 1/2 at the tie.

def _pair_index(largest: bool):
    def index(c):
        a, b = c.bcast(0), c.bcast(1)
        side = c.S.sign(a - b) if largest else c.S.sign(b - a)
        return a * (1 + side) / 2 + b * (1 - side) / 2
    return index


def _clip_index(c):
    """``x step(x - lo) step(hi - x) + lo (1 - step(x - lo)) + hi (1 - step(hi - x))``:
    the value of ``clip`` wherever ``lo <= hi`` and, everywhere, the derivatives of the
    explicit entries (``torch.clamp``'s, boundaries included)."""
    x, lo, hi = c.bcast(0), c.bcast(1), c.bcast(2)
    above, below = c.S.step(x - lo), c.S.step(hi - x)
    return x * above * below + lo * (1 - above) + hi * (1 - below)


#: Comparison -> its indicator (1 where it holds, else 0) with ``step(0) = 1``.
_INDICATORS = {
    "less": lambda S, a, b: 1 - S.step(a - b),
    "less_equal": lambda S, a, b: S.step(b - a),
    "greater": lambda S, a, b: 1 - S.step(b - a),
    "greater_equal": lambda S, a, b: S.step(a - b),
}


def _is_indicator(expr, S) -> bool:
    """Whether ``expr`` is a comparison's indicator (``step(u)`` or ``1 - step(u)``)."""
    return isinstance(expr, S.step) or isinstance(1 - expr, S.step)


def _where_index(c):
    """``C A + (1 - C) B`` with ``C`` the condition's indicator (NumPy's ``C != 0``
    when the condition is not a comparison: ``1 - step(-C**2)``)."""
    cond, a, b = c.bcast(0), c.bcast(1), c.bcast(2)
    held = cond if _is_indicator(cond, c.S) else 1 - c.S.step(-cond ** 2)
    return held * a + (1 - held) * b


def _tied(v, largest: bool):
    """1 where an entry of X is the reduction's result (``step(0) = 1``), else 0."""
    out = restore(v, v.out)
    return fn.step(v.x - out) if largest else fn.step(out - v.x)


def _extreme_vjp(largest: bool):
    def vjp(v):
        tied = _tied(v, largest)
        axis = v.kw.get("axis")
        count = fn.sum(tied) if axis is None else fn.sum(tied, axis=axis, keepdims=True)
        return (restore(v, v.g) * tied / count,)
    return vjp


def _extreme(name: str, largest: bool, torch_name: str, pairwise: str) -> Op:
    word = "largest" if largest else "smallest"
    return register(Op(
        name=name, category="reduction",
        doc=f"{word} entry (axis and keepdims as for sum); at a tie the gradient is split "
            f"evenly among the tied entries, as {torch_name}",
        rule=(f"dX = dY * step({'X - Y' if largest else 'Y - X'}) / "
              f"sum(step({'X - Y' if largest else 'Y - X'}))  (step is 1 where X is the "
              "result; tied entries share dY evenly; with axis= the sum is along it, "
              "keepdims=True)"),
        arity=(1, 1), keywords=(AXIS, KEEPDIMS), shape=reduced_shape,
        evaluate=lambda S, args, kw: args[0].reduce(
            lambda xs: (S.Max if largest else S.Min)(*xs), kw.get("axis"),
            bool(kw.get("keepdims"))),
        cost=lambda c: (c.reduced, c.reduced * c.sizes[0] + 1), step_role="own step",
        index=NoIndexForm(f"the {word} of a symbolic number of entries is not a sum over "
                          "an index; the explicit Jacobian at concrete sizes has it"),
        vjp=_extreme_vjp(largest),
        numpy=lambda np, x, **kw: (np.max if largest else np.min)(x, **_np_kw(kw)),
        code=_reduce_code("np.max" if largest else "np.min", torch_name),
        latex=_axis_latex(name), pairwise=pairwise))


_extreme("max", True, "torch.amax", "maximum")
_extreme("min", False, "torch.amin", "minimum")


def _pair_vjp(largest: bool):
    def vjp(v):
        a, b = v.args
        side = fn.sign(a - b) if largest else fn.sign(b - a)
        return (v.g * (1 + side) / 2, v.g * (1 - side) / 2)
    return vjp


def _pair_code(name: str) -> dict:
    return {"numpy": f"np.{name}({{0}}, {{1}})",
            "torch": lambda a, kw: f"torch.{name}({_torch_tensor(a[0])}, {_torch_tensor(a[1])})"}


for _name, _largest in (("maximum", True), ("minimum", False)):
    register(Op(
        name=_name, category="elementwise",
        doc=f"element-wise {_name} of two arrays (broadcast); 1/2 each at a tie, as "
            f"torch.{_name}; max(0, t) is maximum(0, t)",
        rule=(f"dA = dY * (1 + sign(A - B)) / 2, dB = dY * (1 - sign(A - B)) / 2"
              if _largest else
              f"dA = dY * (1 + sign(B - A)) / 2, dB = dY * (1 - sign(B - A)) / 2"),
        arity=(2, 2), shape=broadcast, broadcasts=True,
        evaluate=(lambda S, args, kw, m=_largest: S.elementwise(S.Max if m else S.Min, *args)),
        index=_pair_index(_largest),
        vjp=_pair_vjp(_largest),
        numpy=(lambda np, a, b, m=_largest, **kw: (np.maximum if m else np.minimum)(a, b)),
        code=_pair_code(_name),
        latex=(lambda p, n=_name[:3]: rf"\{n}\left({p.arg(0)}, {p.arg(1)}\right)"),
        params=("A", "B")))


def _clip_code_torch(a, kw) -> str:
    lo, hi = a[1], a[2]
    if not (_NUMBER.match(lo) and _NUMBER.match(hi)):
        lo, hi = _torch_tensor(lo), _torch_tensor(hi)
    return f"torch.clamp({_torch_tensor(a[0])}, {lo}, {hi})"


register(Op(
    name="clip", category="elementwise",
    doc="clip(X, lo, hi): X limited to [lo, hi]; derivative 1 on lo <= X <= hi (boundaries "
        "included), as torch.clamp",
    rule="dX = dY * step(X - lo) * step(hi - X), dlo = dY * (1 - step(X - lo)), "
         "dhi = dY * (1 - step(hi - X))",
    arity=(3, 3), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.clip, *args),
    index=_clip_index,
    vjp=lambda v: (v.g * fn.step(v.x - v.args[1]) * fn.step(v.args[2] - v.x),
                   v.g * (1 - fn.step(v.x - v.args[1])),
                   v.g * (1 - fn.step(v.args[2] - v.x))),
    numpy=lambda np, x, lo, hi, **kw: np.minimum(np.maximum(x, lo), hi),
    code={"numpy": "np.clip({0}, {1}, {2})", "torch": _clip_code_torch},
    latex=lambda p: rf"\operatorname{{clip}}\left({p.arg(0)}, {p.arg(1)}, {p.arg(2)}\right)",
    params=("X", "lo", "hi")))

register(Op(
    name="where", category="elementwise",
    doc="where(C, A, B): A where the comparison C holds, else B (Huber: where(abs(r) <= 1, "
        "r**2/2, abs(r) - 1/2)); C is not differentiated, as torch.where",
    rule="dA = where(C > 0, dY, 0), dB = where(C > 0, 0, dY)  (for the condition C > 0, "
         "which gets no gradient)",
    arity=(3, 3), shape=broadcast, broadcasts=True,
    evaluate=lambda S, args, kw: S.elementwise(S.where, *args),
    index=_where_index,
    vjp=lambda v: (None, fn.where(v.args[0], v.g, 0), fn.where(v.args[0], 0, v.g)),
    numpy=lambda np, c, a, b, **kw: np.where(np.asarray(c) != 0, a, b),
    code={"numpy": "np.where({0}, {1}, {2})", "torch": "torch.where({0}, {1}, {2})"},
    latex=lambda p: (rf"\begin{{cases}} {p.arg(1)} & \text{{if }} {p.arg(0)} \\ "
                     rf"{p.arg(2)} & \text{{otherwise}} \end{{cases}}"),
    params=("C", "A", "B")))

#: name, symbol, LaTeX, NumPy
COMPARISONS = [("less", "<", r" < ", "less"), ("less_equal", "<=", r" \leq ", "less_equal"),
               ("greater", ">", r" > ", "greater"),
               ("greater_equal", ">=", r" \geq ", "greater_equal")]

for _name, _symbol, _tex, _np_name in COMPARISONS:
    register(Op(
        name=_name, category="arithmetic",
        doc=f"comparison a {_symbol} b, only as the condition of where()",
        rule="dA = 0, dB = 0  (the condition of where is not differentiated)",
        arity=(2, 2), shape=broadcast, broadcasts=True,
        evaluate=(lambda S, args, kw, n=_name: S.elementwise(
            lambda a, b: S.compare(n, a, b), *args)),
        index=(lambda c, n=_name: _INDICATORS[n](c.S, c.bcast(0), c.bcast(1))),
        vjp=lambda v: (None, None),  # the condition of where() is not differentiated
        numpy=(lambda np, a, b, f=_np_name, **kw: getattr(np, f)(a, b)),
        code={"numpy": _symbol, "torch": _symbol}, latex=_tex, step_role="condition",
        syntax=Syntax("infix", f" {_symbol} ", PREC_COMPARE)))
