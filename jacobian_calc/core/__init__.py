"""The bottom layer: errors, limits, names, the expression tree, object grids, files.

Nothing here imports SymPy or NumPy, so the ``jac`` command can answer
``--help``, ``--version`` and ``--rules`` without them.
"""
