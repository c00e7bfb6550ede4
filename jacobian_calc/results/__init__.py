"""Result types: plain data. Printers are registered by :mod:`jacobian_calc.render`."""

from .backprop import BackpropResult
from .base import Result
from .chain import ChainResult
from .hessian import HessianResult
from .jacobian import LAYOUTS, JacobianResult, check_layout

__all__ = ["Result", "JacobianResult", "ChainResult", "BackpropResult", "HessianResult",
           "LAYOUTS",
           "check_layout"]
