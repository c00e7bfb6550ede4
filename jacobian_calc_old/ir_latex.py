"""LaTeX for matrix expressions in the calculator's syntax (compact formulas).

``X.T @ (dY * Y * (1 - Y))`` prints as ``X^{\\top} \\left(dY \\odot Y \\odot (1 - Y)\\right)``:
``@`` is juxtaposition, ``*`` is the Hadamard product ``\\odot``.
"""

from __future__ import annotations

import sympy as sp

from . import ir

_PREC = {ir.Add: 1, ir.Mul: 2, ir.Div: 2, ir.MatMul: 2, ir.Neg: 3, ir.Pow: 4}
_FUNCS = {"sigmoid": r"\sigma", "exp": r"\exp", "log": r"\log", "ln": r"\ln",
          "tanh": r"\tanh", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan",
          "sinh": r"\sinh", "cosh": r"\cosh", "sec": r"\sec", "csc": r"\csc", "cot": r"\cot",
          "asin": r"\arcsin", "acos": r"\arccos", "atan": r"\arctan",
          "relu": r"\operatorname{ReLU}", "softplus": r"\operatorname{softplus}",
          "softmax": r"\operatorname{softmax}", "sign": r"\operatorname{sign}",
          "abs": r"\operatorname{abs}"}


def compact_to_latex(node: ir.Node, transpose: str = r"^{\top}") -> str:
    """LaTeX for a compact formula.

    Examples
    --------
    >>> from jacobian_calc.parser import parse_expression
    >>> compact_to_latex(parse_expression("X.T @ (dY * Y * (1 - Y))"))
    'X^{\\\\top} \\\\left(dY \\\\odot Y \\\\odot \\\\left(1 - Y\\\\right)\\\\right)'
    """
    return _Printer(transpose).print(node)


class _Printer:
    def __init__(self, transpose: str) -> None:
        self.transpose = transpose

    def print(self, node: ir.Node) -> str:
        return getattr(self, "_" + type(node).__name__)(node)

    def wrap(self, node: ir.Node, least: int) -> str:
        text = self.print(node)
        prec = 3 if isinstance(node, ir.Num) and node.value.is_negative else \
            _PREC.get(type(node), 5)
        if isinstance(node, ir.Num) and node.value.is_Rational and not node.value.is_Integer:
            prec = 2
        return rf"\left({text}\right)" if prec < least else text

    def _Num(self, node: ir.Num) -> str:
        return sp.latex(node.value)

    def _Name(self, node: ir.Name) -> str:
        return sp.latex(sp.Symbol(node.id))

    def _Add(self, node: ir.Add) -> str:
        out = []
        for i, (t, s) in enumerate(zip(node.terms, node.signs)):
            text = self.wrap(t, 2 if s < 0 else 1)
            out.append(text if i == 0 and s > 0 else f"-{text}" if i == 0
                       else f"{'+' if s > 0 else '-'} {text}")
        return " ".join(out)

    def _Mul(self, node: ir.Mul) -> str:
        factors = list(node.factors)
        coeff = ""
        if isinstance(factors[0], ir.Num) and len(factors) > 1:
            coeff = sp.latex(factors.pop(0).value) + " "
        return coeff + r" \odot ".join(self.wrap(f, 3) for f in factors)

    def _Div(self, node: ir.Div) -> str:
        return rf"\frac{{{self.print(node.left)}}}{{{self.print(node.right)}}}"

    def _MatMul(self, node: ir.MatMul) -> str:
        # Juxtaposition binds tighter than ⊙ to the eye: bracket a product on the left.
        least = 2 if isinstance(node.left, ir.MatMul) else 3
        return f"{self.wrap(node.left, least)} {self.wrap(node.right, 3)}"

    def _Pow(self, node: ir.Pow) -> str:
        return f"{self.wrap(node.base, 5)}^{{{self.print(node.exp)}}}"

    def _Neg(self, node: ir.Neg) -> str:
        return f"-{self.wrap(node.operand, 3)}"

    def _Transpose(self, node: ir.Transpose) -> str:
        return f"{self.wrap(node.operand, 5)}{self.transpose}"

    def _Call(self, node: ir.Call) -> str:
        args = [self.print(a) for a in node.args]
        f = node.func
        if f == "ones_like":
            return r"\mathbf{1}"
        if f == "step":
            return rf"\left[{args[0]} \geq 0\right]"
        if f == "outer":
            return f"{self.wrap(node.args[0], 5)} {self.wrap(node.args[1], 5)}{self.transpose}"
        if f == "sqrt":
            return rf"\sqrt{{{args[0]}}}"
        if f == "hadamard":
            return self._Mul(ir.Mul(node.args))
        if f in ("sum", "mean"):
            axis = node.kwarg("axis")
            sub = {None: "", 0: r"_{\text{rows}}", 1: r"_{\text{cols}}", -1: r"_{\text{cols}}"}
            name = r"\operatorname{%s}%s" % (f, sub.get(axis, ""))
            return rf"{name}\left({args[0]}\right)"
        name = _FUNCS.get(f, rf"\operatorname{{{f}}}")
        return rf"{name}\left({', '.join(args)}\right)"
