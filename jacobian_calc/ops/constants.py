"""Named constants: ``pi`` and ``E``."""

from __future__ import annotations

from .registry import PREC_ATOM, Op, Syntax, register


def constant(name: str, doc: str, sympy_name: str, numpy_code: str, torch_code: str,
             latex: str) -> Op:
    """Declare a constant: an operation of no arguments, written as its name."""
    return register(Op(
        name=name, category="constant", doc=doc, rule="constant: no gradient",
        arity=(0, 0), shape=lambda s: (),
        evaluate=lambda S, args, kw: S.Grid.scalar(getattr(S, sympy_name)),
        index=lambda c: getattr(c.S, sympy_name),
        vjp=lambda v: (),
        numpy=lambda np, **kw: getattr(np, numpy_code.split(".")[-1]),
        code={"numpy": numpy_code, "torch": torch_code}, latex=latex,
        syntax=Syntax("atom", name, PREC_ATOM)))


constant("pi", "the constant π", "pi", "np.pi", "math.pi", r"\pi")
constant("E", "Euler's number e", "E", "np.e", "math.e", "e")
