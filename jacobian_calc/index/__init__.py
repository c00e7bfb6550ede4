"""Index notation: entries at symbolic indices, generic Jacobians, steps proved for all sizes.

* :mod:`.algebra` -- sums over index ranges, Kronecker deltas, δ-elimination,
  canonical summation indices, and the decision "equal for all sizes".
* :mod:`.forms` -- an expression's entry at symbolic indices, from the index
  form each operation declares in the registry.
* :mod:`.printing` -- index expressions as text (``X[i,k] δ[j,l]``) and LaTeX.
* :mod:`.jacobian` -- generic Jacobians, ``∂Y[i,j]/∂W[k,l] = X[i,k] δ[j,l]``.
* :mod:`.prove` -- a backward step's compact rule against its contraction.
"""
