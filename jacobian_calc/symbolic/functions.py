"""SymPy functions that SymPy lacks: sigmoid, ReLU, softplus and the unit step.

They are ``sympy.Function`` subclasses so that derivatives stay readable
(``sigmoid(x)*(1 - sigmoid(x))`` rather than a tower of exponentials).
Their LaTeX, NumPy and PyTorch forms are declared with the operations in
:mod:`jacobian_calc.ops.elementwise`; here is only what SymPy needs.

Conventions (as in the lectures): ``relu'(x) = step(x)``, 1 for ``x >= 0``
(PyTorch uses 0 at 0); ``step'(x) = 0``.
"""

from __future__ import annotations

import sympy as sp

from .trusted import refuse_text


class _Function(sp.Function):
    """A SymPy function that refuses text arguments (``sympify`` would run them)."""

    def __new__(cls, *args, **options):
        refuse_text(args, cls.__name__)
        return super().__new__(cls, *args, **options)


class sigmoid(_Function):  # noqa: N801 - named as users type it
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

    def plain(self) -> sp.Expr:
        """The same in SymPy's own functions (for output plain SymPy reads back)."""
        return 1 / (1 + sp.exp(-self.args[0]))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real


class step(_Function):  # noqa: N801
    """Unit step with value 1 at 0: ReLU's derivative, ``Heaviside(x, 1)``; derivative 0."""

    @classmethod
    def eval(cls, x):
        if x.is_extended_nonnegative:
            return sp.Integer(1)
        if x.is_extended_negative:
            return sp.Integer(0)
        return None

    def fdiff(self, argindex=1):
        return sp.Integer(0)

    def _eval_rewrite_as_Heaviside(self, x, **kwargs):
        return sp.Heaviside(x, 1)

    def plain(self) -> sp.Expr:
        """The same in SymPy's own functions (for output plain SymPy reads back)."""
        return sp.Heaviside(self.args[0], 1)

    def _eval_is_real(self):
        return self.args[0].is_real


class relu(_Function):  # noqa: N801
    """Rectified linear unit ``max(0, x)``; derivative ``step(x)``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)
        if x.is_nonnegative:
            return x
        return None

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sp.Max(0, x)

    def plain(self) -> sp.Expr:
        """The same in SymPy's own functions (for output plain SymPy reads back)."""
        return sp.Max(0, self.args[0])

    def _eval_evalf(self, prec):
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class softplus(_Function):  # noqa: N801
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

    def plain(self) -> sp.Expr:
        """The same in SymPy's own functions (for output plain SymPy reads back)."""
        return sp.log(1 + sp.exp(self.args[0]))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.log)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


#: Our functions by name, for reading printed entries back.
FUNCTIONS = {"sigmoid": sigmoid, "relu": relu, "softplus": softplus, "step": step}
