"""Element-wise functions: one row per function.

Each row gives the SymPy entry of one argument entry, the derivative
``f'(X)`` as a tree in terms of the input ``X`` or the output ``Y`` (the way
the lectures write it: ``exp' = Y``, ``sigmoid' = Y * (1 - Y)``), NumPy and
PyTorch, and LaTeX. The backward rule is always ``dX = dY * f'(X)``.

Conventions at kinks, shared by every route and by PyTorch where it has
them: ``relu'(0) = step(0) = 1`` (the lectures' convention; PyTorch uses 0),
``abs'(x) = sign(x)`` with ``sign(0) = 0``, and ``sign`` and ``step`` have
derivative 0.
"""

from __future__ import annotations

from ..core.tree import Num, fn
from .registry import NotDifferentiable, Op, call_code, register, same_shape


def _vjp(derivative):
    def vjp(v):
        d = derivative(v.x, v.out)
        return (None if d is None else v.g * d,)
    return vjp


def elementwise(name, doc, entry, derivative, numpy, torch, latex, aliases=(),
                entry_derivative=None, latex_precedence=None, value_sign=None,
                rational=False, hessian_letters="") -> Op:
    """Declare an element-wise function of one argument (``latex_precedence`` where its
    LaTeX is no function application, as ``x^{3}``)."""
    return register(Op(
        name=name, category="elementwise", doc=doc, rule="", arity=(1, 1),
        shape=same_shape,
        evaluate=lambda S, args, kw: args[0].map(lambda e: S.checked(entry, S, e)),
        index=lambda c: entry(c.S, c.arg(0, *c.out)),
        vjp=_vjp(derivative),
        numpy=lambda np, x, **kw: numpy(np, x),
        code=call_code(*torch) if isinstance(torch, tuple) else torch,
        latex=latex, aliases=aliases, entry=entry, derivative=derivative,
        entry_derivative=entry_derivative, latex_precedence=latex_precedence,
        value_sign=value_sign, rational=rational, hessian_letters=hessian_letters))


ONE = Num(1)

#: name, doc, SymPy entry, f'(X, Y), NumPy, code (function names or templates), LaTeX, aliases
TABLE = [
    ("exp", "exponential", lambda S, x: S.exp(x), lambda X, Y: Y,
     lambda np, x: np.exp(x), ("np.exp", "torch.exp"), r"\exp", ()),
    ("log", "natural logarithm", lambda S, x: S.log(x), lambda X, Y: 1 / X,
     lambda np, x: np.log(x), ("np.log", "torch.log"), r"\log", ("ln",)),
    ("sqrt", "square root", lambda S, x: S.sqrt(x), lambda X, Y: 1 / (2 * Y),
     lambda np, x: np.sqrt(x), ("np.sqrt", "torch.sqrt"),
     lambda p: rf"\sqrt{{{p.arg(0)}}}", ()),
    ("sigmoid", "logistic function 1 / (1 + exp(-x))", lambda S, x: S.sigmoid(x),
     lambda X, Y: Y * (1 - Y), lambda np, x: 1 / (1 + np.exp(-x)),
     {"numpy": "1 / (1 + np.exp(-{0}))", "torch": "torch.sigmoid({0})"}, r"\sigma", ()),
    ("tanh", "hyperbolic tangent", lambda S, x: S.tanh(x), lambda X, Y: 1 - Y ** 2,
     lambda np, x: np.tanh(x), ("np.tanh", "torch.tanh"), r"\tanh", ()),
    ("relu", "rectified linear unit max(0, x); relu'(0) = 1 as in the lectures",
     lambda S, x: S.relu(x), lambda X, Y: fn.step(X),
     lambda np, x: np.maximum(x, 0.0), {"numpy": "np.maximum({0}, 0.0)", "torch": "torch.relu({0})"}, r"\operatorname{ReLU}", ()),
    ("step", "unit step: 1 for x >= 0, else 0 (ReLU's derivative); derivative 0",
     lambda S, x: S.step(x), lambda X, Y: None,
     lambda np, x: np.heaviside(x, 1.0), {"numpy": "np.heaviside({0}, 1.0)",
      "torch": "({0} >= 0).to({0}.dtype)"},
     lambda p: rf"\left[{p.arg(0)} \geq 0\right]", ()),
    ("softplus", "log(1 + exp(x)); its derivative is sigmoid(x)", lambda S, x: S.softplus(x),
     lambda X, Y: fn.sigmoid(X), lambda np, x: np.logaddexp(0.0, x),
     {"numpy": "np.logaddexp(0.0, {0})",
      "torch": "torch.nn.functional.softplus({0})"}, r"\operatorname{softplus}", ()),
    ("abs", "absolute value; abs'(x) = sign(x), 0 at 0", lambda S, x: S.Abs(x),
     lambda X, Y: fn.sign(X), lambda np, x: np.abs(x), ("np.abs", "torch.abs"),
     lambda p: rf"\left|{p.arg(0)}\right|", ()),
    ("sign", "sign: -1, 0 or 1; derivative 0", lambda S, x: S.sign(x), lambda X, Y: None,
     lambda np, x: np.sign(x), ("np.sign", "torch.sign"), r"\operatorname{sign}", ()),
    ("sin", "sine", lambda S, x: S.sin(x), lambda X, Y: fn.cos(X),
     lambda np, x: np.sin(x), ("np.sin", "torch.sin"), r"\sin", ()),
    ("cos", "cosine", lambda S, x: S.cos(x), lambda X, Y: -fn.sin(X),
     lambda np, x: np.cos(x), ("np.cos", "torch.cos"), r"\cos", ()),
    ("tan", "tangent; tan' = sec(x)**2 as the lectures write it", lambda S, x: S.tan(x),
     lambda X, Y: fn.sec(X) ** 2, lambda np, x: np.tan(x), ("np.tan", "torch.tan"), r"\tan", ()),
    ("sec", "secant 1/cos(x)", lambda S, x: S.sec(x), lambda X, Y: Y * fn.tan(X),
     lambda np, x: 1 / np.cos(x), {"numpy": "1 / np.cos({0})", "torch": "1 / torch.cos({0})"}, r"\sec", ()),
    ("csc", "cosecant 1/sin(x)", lambda S, x: S.csc(x), lambda X, Y: -(Y * fn.cot(X)),
     lambda np, x: 1 / np.sin(x), {"numpy": "1 / np.sin({0})", "torch": "1 / torch.sin({0})"}, r"\csc", ()),
    ("cot", "cotangent 1/tan(x)", lambda S, x: S.cot(x), lambda X, Y: -(fn.csc(X) ** 2),
     lambda np, x: 1 / np.tan(x), {"numpy": "1 / np.tan({0})", "torch": "1 / torch.tan({0})"}, r"\cot", ()),
    ("asin", "inverse sine", lambda S, x: S.asin(x), lambda X, Y: 1 / fn.sqrt(1 - X ** 2),
     lambda np, x: np.arcsin(x), ("np.arcsin", "torch.asin"), r"\arcsin", ("arcsin",)),
    ("acos", "inverse cosine", lambda S, x: S.acos(x), lambda X, Y: -(1 / fn.sqrt(1 - X ** 2)),
     lambda np, x: np.arccos(x), ("np.arccos", "torch.acos"), r"\arccos", ("arccos",)),
    ("atan", "inverse tangent", lambda S, x: S.atan(x), lambda X, Y: 1 / (1 + X ** 2),
     lambda np, x: np.arctan(x), ("np.arctan", "torch.atan"), r"\arctan", ("arctan",)),
    ("sinh", "hyperbolic sine", lambda S, x: S.sinh(x), lambda X, Y: fn.cosh(X),
     lambda np, x: np.sinh(x), ("np.sinh", "torch.sinh"), r"\sinh", ()),
    ("cosh", "hyperbolic cosine", lambda S, x: S.cosh(x), lambda X, Y: fn.sinh(X),
     lambda np, x: np.cosh(x), ("np.cosh", "torch.cosh"), r"\cosh", ()),
    ("asinh", "inverse hyperbolic sine", lambda S, x: S.asinh(x),
     lambda X, Y: 1 / fn.sqrt(X ** 2 + 1), lambda np, x: np.arcsinh(x),
     ("np.arcsinh", "torch.asinh"), r"\operatorname{arsinh}", ("arcsinh",)),
    ("acosh", "inverse hyperbolic cosine (x >= 1)", lambda S, x: S.acosh(x),
     lambda X, Y: 1 / (fn.sqrt(X - 1) * fn.sqrt(X + 1)), lambda np, x: np.arccosh(x),
     ("np.arccosh", "torch.acosh"), r"\operatorname{arcosh}", ("arccosh",)),
    ("atanh", "inverse hyperbolic tangent (|x| < 1)", lambda S, x: S.atanh(x),
     lambda X, Y: 1 / (1 - X ** 2), lambda np, x: np.arctanh(x),
     ("np.arctanh", "torch.atanh"), r"\operatorname{artanh}", ("arctanh",)),
]

#: Where SymPy's derivative of an entry differs from the convention above.
ENTRY_DERIVATIVES = {
    "tan": lambda S, x: S.sec(x) ** 2,  # SymPy writes tan**2 + 1
    "sign": lambda S, x: S.Integer(0),  # SymPy leaves Derivative(sign(x), x)
}

#: The sign of the values, where it is known (``Op.value_sign``).
VALUE_SIGNS = {"exp": "positive", "sigmoid": "positive", "softplus": "positive",
               "cosh": "positive", "abs": "nonnegative", "sqrt": "nonnegative",
               "relu": "nonnegative"}

#: Functions whose values at rational points are rational (``Op.rational``).
RATIONAL = ("relu", "step", "abs", "sign")
#: Letters of a compact Hessian's names for them (``Op.hessian_letters``).
HESSIAN_LETTERS = {"sigmoid": "sg", "tanh": "yh", "exp": "eg", "relu": "ha", "step": "dg"}

for _name, _doc, _entry, _d, _np, _code, _latex, _aliases in TABLE:
    elementwise(_name, _doc, _entry, _d, _np, _code, _latex, _aliases,
                entry_derivative=ENTRY_DERIVATIVES.get(_name),
                value_sign=VALUE_SIGNS.get(_name), rational=_name in RATIONAL,
                hessian_letters=HESSIAN_LETTERS.get(_name, ""))

__all__ = ["TABLE", "elementwise", "NotDifferentiable"]
