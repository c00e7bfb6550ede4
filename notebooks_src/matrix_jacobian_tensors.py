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

from jacobian_calc import backprop, entry_symbols, jacobian, same, show, spy_figure

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
r = backprop("X@A", "A", shapes=bshapes)
[s] = r.backward
print(f"{s.name} = {s.text}   {s.contraction}: {s.check.verdict} ({s.check.how})")
print(r.summary())
show(s.name, s.explicit)
assert r.proved and s.text == "X.T @ dY"
assert same(s.explicit, X.T * dY)
r
