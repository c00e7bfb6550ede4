"""The functions of the expression grammar, as SymPy objects.

SymPy has no sigmoid, ReLU or softplus; they are defined here as
``sympy.Function`` subclasses so that derivatives stay readable
(``sigmoid(x)*(1 - sigmoid(x))`` rather than a tower of exponentials) and
print as the lectures write them.

ReLU convention (as in the lectures): ``relu'(x) = 1`` for ``x >= 0`` and 0
below, i.e. ``Heaviside(x, 1)``. PyTorch uses 0 at 0. ``abs'(0) = sign(0) = 0``.
"""

from __future__ import annotations

import sympy as sp


class sigmoid(sp.Function):  # noqa: N801 - named as users type it
    """Logistic function ``1 / (1 + exp(-x))``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sp.exp(-x))
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class relu(sp.Function):  # noqa: N801
    """Rectified linear unit ``max(0, x)``; derivative ``Heaviside(x, 1)``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)
        if x.is_nonnegative:
            return x
        return None

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 1)

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sp.Max(0, x)

    def _eval_evalf(self, prec):
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class softplus(sp.Function):  # noqa: N801
    """``log(1 + exp(x))``; its derivative is ``sigmoid(x)``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.log(1 + sp.exp(x))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.log)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


def step(x):
    """Unit step with value 1 at 0: the derivative of ReLU, ``(x >= 0)``."""
    return sp.Heaviside(x, 1)


#: Element-wise functions of the grammar: name -> SymPy callable of one argument.
UNARY = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "sec": sp.sec, "csc": sp.csc, "cot": sp.cot,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt,
    "abs": sp.Abs, "sigmoid": sigmoid, "relu": relu, "softplus": softplus,
    "step": step, "sign": sp.sign,
}

#: Functions that act on whole arrays (implemented in :mod:`jacobian_calc.arrays`).
ARRAY_FUNCTIONS = ("sum", "mean", "softmax", "hadamard", "outer", "ones_like")

#: Named constants of the grammar.
CONSTANTS = {"pi": sp.pi, "E": sp.E}

RESERVED = set(UNARY) | set(ARRAY_FUNCTIONS) | set(CONSTANTS)


def sympy_namespace() -> dict:
    """Names to pass as ``locals`` to ``sympy.sympify`` to read our output back.

    Examples
    --------
    >>> import sympy
    >>> sympy.sympify("sigmoid(x)", locals=sympy_namespace())
    sigmoid(x)
    """
    return {"sigmoid": sigmoid, "relu": relu, "softplus": softplus}
