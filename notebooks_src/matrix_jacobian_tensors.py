# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Jacobians of matrix expressions: from matrices to 3-D and 4-D tensors
#
# Companion to the handwritten note on Jacobians of matrices (after the
# *Mathematics for Machine Learning* book, p. 149). We go from $\vec y = A\vec x$,
# whose Jacobian is a matrix, to the derivative with respect to a matrix, which is a
# tensor, and finish with the chain rule for a scalar loss, where the big tensor
# collapses to the compact formula $X^{\top}\,dY$.
#
# Every cell that computes something also checks it with `assert`, against the answer
# written in the calculator's own symbols (`entry_symbols("A", (2, 3))` is the matrix of
# $A_{11}, \dots, A_{23}$).

# %%
# %matplotlib inline
import subprocess
import sys

import numpy as np
import sympy as sp
from IPython.display import Math, display

from jacobian_calc import backprop, entry_symbols, jacobian, same, show, spy_figure, to_latex

# %% [markdown]
# ## 1. Which way round?
#
# The Jacobian of $f:\mathbb{R}^n\to\mathbb{R}^m$ can be written $m\times n$ (numerator
# layout: one row per output) or as its $n\times m$ transpose (denominator layout). Both
# conventions are in use; what matters is to pick one and keep it. The calculator
# works in numerator layout and gives the other on request, as a transpose.
#
# ```bash
# jac "A@x" --wrt x --shape A=2x3 --shape x=3
# jac "A@x" --wrt x --shape A=2x3 --shape x=3 --layout denominator
# ```

# %%
shapes = {"A": (2, 3), "x": 3}
J_num = jacobian("A@x", wrt="x", shapes=shapes)
J_den = jacobian("A@x", wrt="x", shapes=shapes, layout="denominator")
show(r"\frac{\partial \vec y}{\partial \vec x}\ \text{(numerator)}", J_num)
show(r"\frac{\partial \vec y}{\partial \vec x}\ \text{(denominator)}", J_den)
assert J_num.shape == (2, 3) and J_den.shape == (3, 2)
assert J_den.tensor == J_num.tensor.T

# %% [markdown]
# ## 2. $\vec y = A\vec x$: the Jacobian is $A$
#
# Component $i$ is $y_i = a_{i1}x_1 + \dots + a_{in}x_n$, so
# $\partial y_i/\partial x_j = a_{ij}$ and the whole Jacobian is $A$ itself
# (the numerator-layout matrix shown above).

# %%
A = entry_symbols("A", (2, 3))
assert same(J_num, A)

# %% [markdown]
# ## 3. With respect to the matrix: a 3-D tensor
#
# Each output $y_i$ now depends on the $m\cdot n$ entries of $A$, so the derivative
# $\partial\vec y/\partial A$ has three indices:
# $(\partial\vec y/\partial A)_{ijk} = \partial y_i/\partial a_{jk} = \delta_{ij}\,x_k$,
# shape $m\times m\times n$. Output $y_i$ only involves row $i$ of $A$, hence the
# Kronecker delta. The calculator prints the tensor as a column of $m\times n$
# blocks, block $i$ being $\partial y_i/\partial A$.
#
# ```bash
# jac "A@x" --wrt A --shape A=2x3 --shape x=3
# ```

# %%
dy_dA = jacobian("A@x", wrt="A", shapes=shapes)
show(r"\frac{\partial \vec y}{\partial A}", dy_dA)

m, n = 2, 3
x = entry_symbols("x", n)
assert dy_dA.shape == (m, m, n)
for i in range(m):
    for j in range(m):
        for k in range(n):
            assert dy_dA[i, j, k] == (x[k] if i == j else 0)

# %% [markdown]
# The terminal shows the same blocks, one per output entry (run here via the
# current interpreter):

# %%
command = [sys.executable, "-m", "jacobian_calc", "A@x", "--wrt", "A",
           "--shape", "A=2x3", "--shape", "x=3"]
output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
print(output)
assert "shape 2 x 2 x 3" in output

# %% [markdown]
# ### For every $m$ and $n$
#
# The note's formula holds at every size, and so does the calculator's: with the sizes
# given as names there are no entries to write out, and the result is the Jacobian in
# index notation, indices from 1 as the note writes them, with their ranges. From Python
# `index_form` is a SymPy expression (`sympy.Indexed` entries, `KroneckerDelta`) and
# `indices` its index symbols in the order of the axes.
#
# ```bash
# jac "y" --let "y=A@x" --wrt A --shape A=mxn --shape x=n --index-form
# ```

# %%
general_shapes = {"A": ("m", "n"), "x": ("n",)}
dy_dA_general = jacobian("y", wrt="A", lets={"y": "A@x"}, shapes=general_shapes)
print(dy_dA_general)
i, j, k = dy_dA_general.indices
x_ = sp.IndexedBase(sp.Symbol("x", real=True))
assert dy_dA_general.shape == ("m", "m", "n")
assert dy_dA_general.index.text() == "(∂y/∂A)[i,j,k] = δ[i,j] x[k]"
assert dy_dA_general.index_form == sp.KroneckerDelta(i, j) * x_[k]
assert dy_dA_general.index.latex() == r"\frac{\partial y_{i}}{\partial A_{jk}} = \delta_{ij} x_{k}"
dy_dA_general

# %% [markdown]
# At $m = 2$, $n = 3$ the index form, entry by entry (sizes and 1-based indices
# substituted), is the explicit tensor computed above:

# %%
def at_size(result, sizes, arrays, position):
    """The index form's entry at 1-based ``position``, in the symbols of ``entry_symbols``."""
    entry = result.index.at(sizes, dict(zip(result.indices, position)))
    return entry.replace(lambda e: isinstance(e, sp.Indexed), lambda e: arrays[str(e.base)][
        tuple(int(t) - 1 for t in e.indices) if len(e.indices) > 1 else int(e.indices[0]) - 1])


m, n = 2, 3
for i_, j_, k_ in np.ndindex(m, m, n):
    assert at_size(dy_dA_general, {"m": m, "n": n}, {"x": x},
                   (i_ + 1, j_ + 1, k_ + 1)) == dy_dA[i_, j_, k_]

# %% [markdown]
# A matrix-valued function of a matrix has a 4-D Jacobian (two output indices, two
# input indices); that is the batched case of section 5.
#
# ## 4. Luckily, the loss is a scalar
#
# These tensors grow fast, but training never needs them whole. The loss $E$ is a
# single number, and its gradient with respect to a matrix has the same shape as that
# matrix. For example, with an upstream gradient $d\vec y = \partial E/\partial\vec y$
# and $E = d\vec y\cdot A\vec x$ (so that $\partial E/\partial \vec y$ is indeed
# $d\vec y$), $\partial E/\partial A = d\vec y\,\vec x^{\top}$ is just $m\times n$, and
# prints as an $m\times n$ matrix.
#
# ```bash
# jac "sum(dy*(A@x))" --wrt A --shape A=2x3 --shape x=3 --shape dy=2
# ```

# %%
dE_dA = jacobian("sum(dy*(A@x))", wrt="A", shapes={**shapes, "dy": 2})
show(r"\frac{\partial E}{\partial A}", dE_dA)
dy = entry_symbols("dy", m)
assert dE_dA.shape == (m, n)
assert same(dE_dA, dy * x.T)

# %% [markdown]
# ## 5. A batch: $Y = XA$ and its 4-D Jacobian
#
# With a batch of $b$ samples as the rows of $X$ ($b\times m$) and $A$ of shape
# $m\times n$, the output $Y = XA$ is $b\times n$. Each layer of a network keeps the
# batch dimension and changes only the number of channels. The Jacobian with respect
# to $A$ is 4-D, $b\times n\times m\times n$, with
#
# $$\left(\frac{\partial Y}{\partial A}\right)_{ijkl} = \frac{\partial Y_{ij}}{\partial A_{kl}}
#   = \begin{cases} X_{ik} & j = l \\ 0 & j \ne l. \end{cases}$$
#
# Below $b = 2$, $m = 3$, $n = 2$.
#
# ```bash
# jac "X@A" --wrt A --shape X=2x3 --shape A=3x2
# jac "X@A" --wrt A --shape X=2x3 --shape A=3x2 --flatten
# ```

# %%
b, m, n = 2, 3, 2
bshapes = {"X": (b, m), "A": (m, n)}
dY_dA = jacobian("X@A", wrt="A", shapes=bshapes)
show(r"\frac{\partial Y}{\partial A}", dY_dA)

X = entry_symbols("X", (b, m))
assert dY_dA.shape == (b, n, m, n)
for i, j, k, l in np.ndindex(b, n, m, n):
    assert dY_dA[i, j, k, l] == (X[i, k] if j == l else 0)
print(f"{dY_dA.nnz} non-zero entries out of {dY_dA.size}")

# %% [markdown]
# For every batch size $b$ and every $m$, $n$, in index notation:
# $(\partial Y/\partial A)_{ijkl} = X_{ik}\,\delta_{jl}$, and at $b, m, n = 2, 3, 2$ it is
# the tensor above, entry by entry.
#
# ```bash
# jac "Y" --let "Y=X@A" --wrt A --shape X=bxm --shape A=mxn --index-form
# ```

# %%
dY_dA_general = jacobian("Y", wrt="A", lets={"Y": "X@A"},
                         shapes={"X": ("b", "m"), "A": ("m", "n")})
print(dY_dA_general)
i, j, k, l = dY_dA_general.indices
X_ = sp.IndexedBase(sp.Symbol("X", real=True))
assert dY_dA_general.index.text() == "(∂Y/∂A)[i,j,k,l] = X[i,k] δ[j,l]"
assert dY_dA_general.index_form == X_[i, k] * sp.KroneckerDelta(j, l)
for position in np.ndindex(b, n, m, n):
    assert at_size(dY_dA_general, {"b": b, "m": m, "n": n}, {"X": X},
                   tuple(t + 1 for t in position)) == dY_dA[position]
dY_dA_general

# %% [markdown]
# Flattened to a $bn\times mn$ matrix (rows: entries of $Y$ row by row; columns:
# entries of $A$ row by row), the condition $j = l$ shows up as a regular comb: each
# output entry $Y_{ij}$ touches only column $j$ of $A$.

# %%
show(r"\frac{\partial\, \mathrm{vec}\,Y}{\partial\, \mathrm{vec}\,A}", dY_dA, flatten=True)
spy_figure(dY_dA)

# %% [markdown]
# ## 6. The chain rule is a contraction
#
# With a scalar loss $E$ and the upstream gradient $dY = \partial E/\partial Y$
# ($b\times n$), the chain rule sums over both indices of $Y$:
#
# $$\frac{\partial E}{\partial A_{kl}} = \sum_{i,j} dY_{ij}\,\frac{\partial Y_{ij}}{\partial A_{kl}}
#   \qquad\text{i.e.}\qquad \frac{\partial E}{\partial A} = dY \otimes_2 \frac{\partial Y}{\partial A}.$$
#
# Since only the $j = l$ terms survive, the sum is $\sum_i X_{ik}\,dY_{il}$: the compact
# formula $X^{\top} dY$. We check that the explicit contraction of the 4-D tensor and the
# compact formula give the same $m\times n$ matrix.

# %%
dY = entry_symbols("dY", (b, n))
contracted = np.tensordot(np.array(dY.tolist(), dtype=object), dY_dA.as_object_array(),
                          axes=([0, 1], [0, 1]))
dE_dA_explicit = sp.Matrix(contracted.tolist()).applyfunc(sp.expand)
show(r"dY \otimes_2 \frac{\partial Y}{\partial A}", dE_dA_explicit)
show(r"X^{\top} dY", X.T * dY)
assert dE_dA_explicit.shape == (m, n)
assert same(dE_dA_explicit, X.T * dY)

# %% [markdown]
# The same gradient comes out of the calculator directly when the loss is written as
# $E = \sum_{ij} dY_{ij}\,Y_{ij}$:
#
# ```bash
# jac "sum(dY*(X@A))" --wrt A --shape X=2x3 --shape A=3x2 --shape dY=2x2
# ```

# %%
dE_dA_direct = jacobian("sum(dY*(X@A))", wrt="A", shapes={**bshapes, "dY": (b, n)})
assert same(dE_dA_direct, X.T * dY)

# %% [markdown]
# Finally, `backprop` does both routes at once: its backward step $dA = X^{\top} dY$ is
# the compact rule of the matrix product, and it checks that rule against the explicit
# contraction $dA_{kl} = \sum_{ij} dY_{ij}\,\partial Y_{ij}/\partial A_{kl}$, computed
# entry by entry. The result renders as its backward step:
#
# ```bash
# jac "X@A" --wrt A --shape X=2x3 --shape A=3x2 --backprop
# ```

# %%
r = backprop("X@A", "A", shapes=bshapes, explicit=True)
[s] = r.backward
print(f"{s.name} = {s.text}   {s.contraction}: {s.check.verdict} ({s.check.how})")
print(r.summary())
show(s.name, s.explicit)
assert r.proved and s.text == "X.T @ dY"
assert same(s.explicit, X.T * dY)
r

# %% [markdown]
# ### The contraction for every size
#
# The note's derivation, $dA_{kl} = \sum_{ij} dY_{ij}\,X_{ik}\,\delta_{jl}
# = \sum_i X_{ik}\,dY_{il} = (X^{\top} dY)_{kl}$, is what `backprop` does at symbolic
# sizes: it writes the contraction in index notation, sums the delta out, renames the
# summation index to a canonical one, and proves the compact rule equal to what is left,
# for all sizes at once. The LaTeX of the derivation declares the shapes and typesets
# each of these lines.
#
# ```bash
# jac "X@A" --wrt A --shape X=bxm --shape A=mxn --backprop
# jac "X@A" --wrt A --shape X=bxm --shape A=mxn --backprop --derivation
# ```

# %%
r_general = backprop("X@A", "A", shapes={"X": ("b", "m"), "A": ("m", "n")})
[s] = r_general.backward
print(r_general)
display(Math(" ".join(s.derivation_tex)))
assert s.text == "X.T @ dY"
assert s.contraction == "dA[k,l] = Σ_i Σ_j dY[i,j] X[i,k] δ[j,l] = Σ_i X[i,k] dY[i,l] = (X.T @ dY)[k,l]"
assert s.check.verdict == "proved" and s.check.how.startswith("for all sizes")
assert r_general.summary().startswith("1 step proved for all sizes;")
tex = to_latex(r_general, derivation=True)
print(tex)
assert r"$X \in \mathbb{R}^{b \times m}$" in tex
assert (r"dA_{kl} = \sum_{i=1}^{b} \sum_{j=1}^{n} dY_{ij} X_{ik} \delta_{jl}"
        r" = \sum_{i=1}^{b} X_{ik} dY_{il}") in tex
r_general
