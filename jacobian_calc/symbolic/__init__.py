"""The symbolic layer: trees evaluated to SymPy entries, differentiated, compared.

``evaluate`` builds entries by the operations' declarations; ``autodiff`` is
the reverse sweep over SymPy's DAG that the explicit route uses; ``numeric``
evaluates entries in floating point; ``compare`` decides whether two arrays
of entries agree.
"""
