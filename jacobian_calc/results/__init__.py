"""Result types: plain data, one module each (``jacobian``, ``chain``, ``backprop``,
``hessian``). Printers are registered by the modules of :mod:`jacobian_calc.render`;
the public names are gathered in :mod:`jacobian_calc.api`. This package imports
nothing itself, so a plain Jacobian loads only its own result type.
"""
