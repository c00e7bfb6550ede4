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
# # Lecture 9: expansion of Jacobians
#
# Lecture 9 works out the gradients of a scalar loss $J$ with respect to whole
# matrices: the output layer of an MLP, reductions (sum, mean), element-wise functions,
# and element-wise operations between two matrices. For every one of them it expands
# the generalized Jacobian, contracts it with the upstream gradient, and recognises a
# compact matrix formula. `backprop` does exactly that, step by step:
#
# * it cuts the expression into named **forward steps** ($Z = AW + \vec b$, ...);
# * for each **backward step** it writes the *explicit contraction*
#   $dx_{kl} = \sum_{ij} dy_{ij}\,\partial y_{ij}/\partial x_{kl}$, computes its entries by
#   differentiating that step alone in the step's own symbols ($A_{11}$, $dZ_{11}$, ...),
#   and checks them against the *compact rule* ($dW = A^{\top} dZ$): the **verdict**;
# * finally it compares the composed gradients with the derivative of the whole
#   expression (`result.summary()`).
#
# A result typed alone in a cell renders as maths (the backward steps); `print(result)`
# shows the whole derivation as text. Each cell also checks the lecture's formula,
# written out independently in SymPy, with `assert`.

# %%
# %matplotlib inline
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp

from IPython.display import Math, display

from jacobian_calc import (backprop, chain, entry_symbols, jacobian, jacobians, same, show,
                           sigmoid, spy_figure, step, to_latex)

hadamard = sp.matrix_multiply_elementwise

# %% [markdown]
# ## 1. Notation
#
# For a matrix $M\in\mathbb{R}^{\alpha\times\beta}$ and a scalar loss $J$, write
# $dM = \partial J/\partial M$ for the matrix of partial derivatives
# $dm_{ij} = \partial J/\partial m_{ij}$. It has the same shape as $M$. For instance
# $J = \tfrac12\sum_{ij} m_{ij}^2$ has $dM = M$:
#
# ```bash
# jac "sum(M*M)/2" --wrt M --shape M=2x3
# ```

# %%
dM = jacobian("sum(M*M)/2", wrt="M", shapes={"M": (2, 3)})
show("dM", dM)
assert dM.shape == (2, 3)
assert same(dM, entry_symbols("M", (2, 3)))

# %% [markdown]
# ## 2. The output layer of an MLP
#
# The output layer takes the previous activations $A$ ($N\times l_{O-1}$, one row per
# sample), weights $W$ ($l_{O-1}\times K$, one column $\vec w_k$ per output unit) and a
# bias $\vec b\in\mathbb{R}^K$ added to every row: $Z = AW + \vec b$, an $N\times K$
# matrix. Given the upstream gradient $dZ$ (also $N\times K$), the lecture's results are
#
# $$dW = A^{\top} dZ,\qquad d\vec b = \text{column sums of } dZ,\qquad dA = dZ\,W^{\top}.$$
#
# Take $N = 3$ samples, $l_{O-1} = 2$ inputs and $K = 2$ outputs. The result renders as its
# backward steps:
#
# ```bash
# jac "A@W + b" --wrt W,b,A --shape A=3x2 --shape W=2x2 --shape b=2 --backprop --upstream dZ
# ```

# %%
N, L, K = 3, 2, 2
layer_shapes = {"A": (N, L), "W": (L, K), "b": K}
layer = backprop("A@W + b", "W,b,A", shapes=layer_shapes, upstream="dZ",
                 explicit=True)  # each contraction also written out entry by entry
layer

# %% [markdown]
# Each backward step stands for a contraction. Here is each one with its entries,
# computed from the step alone in its own symbols, and the verdict of comparing them
# with the compact rule:

# %%
for s in layer.backward:
    print(f"{s.name} = {s.text}:  {s.contraction}  ->  {s.check.verdict} ({s.check.how})")
    show(s.name, s.explicit)
print(layer.summary())

steps = {s.name: s for s in layer.backward}
A, W, dZ = entry_symbols("A", (N, L)), entry_symbols("W", (L, K)), entry_symbols("dZ", (N, K))
assert layer.agree and layer.proved
assert [steps[n].text for n in ("dW", "db", "dA")] == ["A.T @ dZ", "sum(dZ, axis=0)",
                                                       "dZ @ W.T"]
assert same(steps["dW"].explicit, A.T * dZ)
assert same(steps["db"].explicit, [sum(dZ[:, k]) for k in range(K)])  # column sums
assert same(steps["dA"].explicit, dZ * W.T)

# %% [markdown]
# The explicit route goes through the generalized Jacobians $\partial Z/\partial W$
# ($N\times K\times l_{O-1}\times K$) and $\partial Z/\partial A$. Flattened, their
# sparsity shows the block structure of $AW$: output $z_{ij}$ involves only column $j$
# of $W$, and only row $i$ of $A$.
#
# ```bash
# jac "A@W + b" --wrt W,A --shape A=3x2 --shape W=2x2 --shape b=2 --spy dZ_pattern.png
# ```

# %%
dZ_dW, dZ_dA = jacobians("A@W + b", wrt=["W", "A"], shapes=layer_shapes)
assert dZ_dW.shape == (N, K, L, K) and dZ_dW.nnz == N * K * L
assert dZ_dA.shape == (N, K, N, L) and dZ_dA.nnz == N * K * L
spy_figure([dZ_dW, dZ_dA])

# %% [markdown]
# The terminal version of the same computation (run here via the current interpreter):

# %%
command = [sys.executable, "-m", "jacobian_calc", "A@W + b", "--wrt", "W,b,A",
           "--shape", "A=3x2", "--shape", "W=2x2", "--shape", "b=2",
           "--backprop", "--upstream", "dZ"]
output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
print(output)
assert "dW = A.T @ dZ" in output and "dA = dZ @ W.T" in output

# %% [markdown]
# ### Every size at once
#
# The lecture states these results for every $N$, $l_{O-1}$ and $K$, not for $3\times 2$.
# Give the sizes as names and the calculator derives the layer once, for all of them:
# each backward step is written in index notation, the Kronecker deltas are summed out
# as the handwritten note does, and what is left is proved equal to the compact rule
# for every size ("proved for all sizes"), with no entries written out.
#
# ```bash
# jac "A@W + b" --wrt W,b,A --shape A=NxL --shape W=LxK --shape b=K --backprop --upstream dZ
# ```

# %%
sizes = {"A": ("N", "L"), "W": ("L", "K"), "b": ("K",)}
general = backprop("A@W + b", "W,b,A", shapes=sizes, upstream="dZ")
for s in general.backward:
    print(f"{s.name} = {s.text}\n    {s.contraction}\n    {s.check.verdict} ({s.check.how})")
print(general.summary())

by_name = {s.name: s for s in general.backward}
assert general.proved and general.agree
assert general.summary().startswith("3 steps proved for all sizes;")
assert all(s.check.verdict == "proved" and s.check.how.startswith("for all sizes")
           for s in general.backward)
# The lecture's results, exactly as the derivation states them:
assert by_name["dW"].contraction == (
    "dW[k,l] = Σ_i Σ_j dZ[i,j] A[i,k] δ[j,l] = Σ_i A[i,k] dZ[i,l] = (A.T @ dZ)[k,l]")
assert by_name["db"].contraction == (  # the column sums of dZ
    "db[k] = Σ_i Σ_j dZ[i,j] δ[j,k] = Σ_i dZ[i,k] = sum(dZ, axis=0)[k]")
assert by_name["dA"].contraction == (
    "dA[k,l] = Σ_i Σ_j dZ[i,j] δ[i,k] W[l,j] = Σ_j dZ[k,j] W[l,j] = (dZ @ W.T)[k,l]")
# ... and each gradient has the shape of its variable, W ∈ R^{l×K}, b ∈ R^K, A ∈ R^{N×l}.
assert {v: (g.text, g.shape) for v, g in general.gradients.items()} == {
    "W": ("A.T @ dZ", ("L", "K")), "b": ("sum(dZ, axis=0)", ("K",)),
    "A": ("dZ @ W.T", ("N", "L"))}

# %% [markdown]
# The index notation is SymPy underneath: `index_form=True` gives the generalized
# Jacobian $\partial Z_{ij}/\partial W_{kl} = A_{ik}\,\delta_{jl}$ as an expression of
# `sympy.Indexed` entries and `KroneckerDelta`, equal to the one written by hand here:

# %%
dZ_dW_general = jacobian("A@W + b", wrt="W", shapes=sizes)
i, j, k, l = dZ_dW_general.indices
A_ = sp.IndexedBase(sp.Symbol("A", real=True))
print(dZ_dW_general.index.text())
assert dZ_dW_general.index.text() == "(∂Y/∂W)[i,j,k,l] = A[i,k] δ[j,l]"
assert dZ_dW_general.index_form == A_[i, k] * sp.KroneckerDelta(j, l)
dZ_dW_general

# %% [markdown]
# The same derivation in LaTeX: each step's contraction and its δ-elimination, as
# rendered maths, then the source for lecture notes (`--derivation` on the command line;
# it declares the shapes, $A\in\mathbb{R}^{N\times L}$, and compiles with
# `--standalone`).
#
# ```bash
# jac "A@W + b" --wrt W,b,A --shape A=NxL --shape W=LxK --shape b=K --backprop --upstream dZ --derivation
# ```

# %%
for s in general.backward:
    display(Math(" ".join(s.derivation_tex)))
tex = to_latex(general, derivation=True)
print(tex)
assert r"$A \in \mathbb{R}^{N \times L}$" in tex and "for every size" in tex
assert (r"dW_{kl} = \sum_{i=1}^{N} \sum_{j=1}^{K} dZ_{ij} A_{ik} \delta_{jl}"
        r" = \sum_{i=1}^{N} A_{ik} dZ_{il}") in tex
assert r"dA = dZ W^{\top}" in tex and r"db = \operatorname{sum}_{\text{rows}}\left(dZ\right)" in tex

# %% [markdown]
# ## 3. Updating the parameters
#
# Gradient descent moves every parameter against its gradient, layer by layer from
# the output back to the first:
# $W^{[O]} := W^{[O]} - \alpha\, dW^{[O]}$, $\vec b^{[O]} := \vec b^{[O]} - \alpha\, d\vec b^{[O]}$,
# then $W^{[O-1]}, \vec b^{[O-1]}$, and so on down to layer 1.
#
# A tiny numeric run: the output layer alone, with a mean squared error loss
# $J = \operatorname{mean}\big((AW + \vec b - T)^2\big)$ against targets $T$. The
# calculator names the affine layer $AW + \vec b$ as the step $Z$, as the lecture does, so
# its compact rules read $dZ = (Z - T)/4$, which is $\tfrac{2}{NK}(Z - T)$ with $NK = 8$,
# $dW = A^{\top} dZ$ and $db$ the column sums of $dZ$. With `expand=True` it also gives each gradient entry by entry in the
# variables; we substitute numbers, take one step, and check that the loss went down.
#
# ```bash
# jac "mean((A@W + b - T)**2)" --wrt W,b --shape A=4x3 --shape W=3x2 --shape b=2 --shape T=4x2 --backprop --expand
# ```

# %%
N, L, K = 4, 3, 2
mse_shapes = {"A": (N, L), "W": (L, K), "b": K, "T": (N, K)}
mse = backprop("mean((A@W + b - T)**2)", "W,b", shapes=mse_shapes, expand=True)
for s in mse.steps:
    print(f"  forward step: {s.name} = {s.text}")
print(mse.summary())
assert mse.agree
assert mse.gradients["W"].text == "A.T @ dZ"
assert {s.name: s.text for s in mse.backward}["dZ"] == "(Z - T) / 4"
assert mse.gradients["b"].text == "sum(dZ, axis=0)"

symbols = [entry_symbols(name, shape) for name, shape in mse_shapes.items()]
inputs = [s for matrix in symbols for s in matrix]  # row-major, matching numpy's ravel()
dW_of = sp.lambdify(inputs, mse.gradients["W"].expanded.tolist(), "numpy")
db_of = sp.lambdify(inputs, mse.gradients["b"].expanded.tolist(), "numpy")


def gradients(A, W, b, T):
    """The symbolic dW and db with numbers substituted."""
    values = np.concatenate([A.ravel(), W.ravel(), b.ravel(), T.ravel()])
    return np.array(dW_of(*values), dtype=float), np.array(db_of(*values), dtype=float)


def loss(A, W, b, T):
    return np.mean((A @ W + b - T) ** 2)


rng = np.random.default_rng(0)
A_n, W_n, b_n, T_n = (rng.normal(size=(N, L)), rng.normal(size=(L, K)),
                      rng.normal(size=K), rng.normal(size=(N, K)))
dW_n, db_n = gradients(A_n, W_n, b_n, T_n)

# The same numbers from the compact rules: dZ = 2 (AW + b - T) / (N K), dW = A^T dZ.
dZ_n = 2 * (A_n @ W_n + b_n - T_n) / (N * K)
assert np.allclose(dW_n, A_n.T @ dZ_n) and np.allclose(db_n, dZ_n.sum(axis=0))

alpha = 0.1
before = loss(A_n, W_n, b_n, T_n)
W_new, b_new = W_n - alpha * dW_n, b_n - alpha * db_n
after = loss(A_n, W_new, b_new, T_n)
print(f"loss before the step {before:.4f}, after {after:.4f}")
assert after < before

# %% [markdown]
# Repeating the step keeps lowering the loss:

# %%
history = [before]
W_k, b_k = W_n.copy(), b_n.copy()
for _ in range(30):
    dW_k, db_k = gradients(A_n, W_k, b_k, T_n)
    W_k, b_k = W_k - alpha * dW_k, b_k - alpha * db_k
    history.append(loss(A_n, W_k, b_k, T_n))
assert all(later < earlier for earlier, later in zip(history, history[1:]))
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot(history, marker=".")
ax.set_xlabel("step")
ax.set_ylabel("loss $J$")
ax.set_title(r"gradient descent, $\alpha = 0.1$")
plt.show()

# %% [markdown]
# ## 4. Matrix-by-matrix Jacobians and the chain rule
#
# For $Y = f(X)$ with both matrices, $\partial Y/\partial X$ has four indices, and the
# chain rule $\dfrac{\partial J}{\partial X} = \dfrac{\partial J}{\partial Y}\,\dfrac{\partial Y}{\partial X}$
# means: sum over both indices of $Y$,
# $dx_{kl} = \sum_{i,j} dy_{ij}\,\partial y_{ij}/\partial x_{kl}$.
# Contracting the 4-D Jacobian $\partial Z/\partial W$ of the output layer by hand
# reproduces the entries of the backward step $dW$ from section 2:
#
# ```bash
# jac "A@W + b" --wrt W --shape A=3x2 --shape W=2x2 --shape b=2
# ```

# %%
N, L, K = 3, 2, 2
dZ_dW_dense = dZ_dW.as_object_array()  # shape (N, K, L, K)
contracted = np.tensordot(np.array(dZ.tolist(), dtype=object), dZ_dW_dense, axes=([0, 1], [0, 1]))
show(r"\sum_{ij} dz_{ij}\,\frac{\partial z_{ij}}{\partial W}", sp.Matrix(contracted.tolist()))
assert same(contracted.tolist(), steps["dW"].explicit)
assert same(contracted.tolist(), A.T * dZ)

# %% [markdown]
# ## 5. Total derivatives
#
# When an input feeds several outputs, its gradient adds up one contribution per path.
# Suppose $y_1, y_2, y_3$ depend on $x_1$; $y_2, y_3$ on $x_2$; and $y_4$ on $x_3$ only.
# Then
#
# $$\frac{\partial J}{\partial x_1} = \sum_{k=1}^{3}\frac{\partial J}{\partial y_k}\frac{\partial y_k}{\partial x_1},\qquad
#   \frac{\partial J}{\partial x_2} = \sum_{k=2}^{3}\frac{\partial J}{\partial y_k}\frac{\partial y_k}{\partial x_2},\qquad
#   \frac{\partial J}{\partial x_3} = \frac{\partial J}{\partial y_4}\frac{\partial y_4}{\partial x_3}.$$
#
# A concrete case: $y_1 = \sin x_1$, $y_2 = x_1x_2$, $y_3 = x_1 + x_2$, $y_4 = e^{x_3}$.
# The zeros of $\partial\vec y/\partial\vec x$ are exactly the missing paths, and the
# row vector $(dy_1, \dots, dy_4)$ times this matrix gives the three sums above.
#
# ```bash
# jac "sin(x1), x1*x2, x1 + x2, exp(x3)" --wrt x1,x2,x3
# ```

# %%
dy_dx = jacobian("sin(x1), x1*x2, x1 + x2, exp(x3)", wrt="x1,x2,x3")
show(r"\frac{\partial \vec y}{\partial \vec x}", dy_dx)
Jy = dy_dx.tensor
assert [[Jy[k, j] != 0 for j in range(3)] for k in range(4)] == [
    [True, False, False], [True, True, False], [True, True, False], [False, False, True]]

dy = entry_symbols("dy", 4).T
dx = dy * Jy
show(r"\left(\frac{\partial J}{\partial x_1}, \frac{\partial J}{\partial x_2}, \frac{\partial J}{\partial x_3}\right)", dx)
assert dx[0] == sum(dy[k] * Jy[k, 0] for k in range(3))
assert dx[1] == sum(dy[k] * Jy[k, 1] for k in (1, 2))
assert dx[2] == dy[3] * Jy[3, 2]

# %% [markdown]
# With a concrete loss, $J = y_1 + y_2y_3 + y_4$, `chain` multiplies the factor
# Jacobians and confirms the product equals the direct derivative:
#
# ```bash
# jac "y1 + y2*y3 + y4" --wrt x1,x2,x3 --let y1="sin(x1)" --let y2=x1*x2 --let y3=x1+x2 --let y4="exp(x3)" --chain
# ```

# %%
c = chain("y1 + y2*y3 + y4", "x1,x2,x3",
          lets={"y1": "sin(x1)", "y2": "x1*x2", "y3": "x1+x2", "y4": "exp(x3)"})
c

# %%
x1, x2, x3 = entry_symbols("x1"), entry_symbols("x2"), entry_symbols("x3")
assert c.agree
assert same(c.direct, [[sp.cos(x1) + x2 * (x1 + x2) + x1 * x2, x1 * (x1 + x2) + x1 * x2,
                        sp.exp(x3)]])

# %% [markdown]
# ## 6–7. Sum and mean
#
# $J = \sum_{r,c} x_{rc}$ gives $dX = \mathbf 1$ (all ones, the shape of $X$), and the
# mean $J = \frac{1}{\alpha\beta}\sum_{r,c} x_{rc}$ gives $dX = \frac{1}{\alpha\beta}\mathbf 1$.
# Here $X$ is $2\times 3$, so $\alpha\beta = 6$. The output is a scalar, so the upstream
# gradient is 1, and the one backward step is $dx_{kl} = \partial J/\partial x_{kl}$.
#
# ```bash
# jac "sum(X)" --wrt X --shape X=2x3 --backprop
# jac "mean(X)" --wrt X --shape X=2x3 --backprop --expand
# ```

# %%
alpha_, beta_ = 2, 3
S = {"X": (alpha_, beta_)}
ones = sp.ones(alpha_, beta_)

total = backprop("sum(X)", "X", shapes=S, explicit=True)
average = backprop("mean(X)", "X", shapes=S, expand=True)
show("dX", average.gradients["X"].expanded)
print(total.summary())
print(average.summary())
assert total.proved and same(total.backward[0].explicit, ones)
assert average.proved and same(average.gradients["X"].expanded, ones / (alpha_ * beta_))
average

# %% [markdown]
# The lecture's $\alpha$ and $\beta$ are any sizes. Named, the factor is $1/(\alpha\beta)$
# itself, and the step is proved for all of them:
#
# ```bash
# jac "mean(X)" --wrt X --shape X=alphaxbeta --backprop
# ```

# %%
average_general = backprop("mean(X)", "X", shapes={"X": ("alpha", "beta")})
[s] = average_general.backward
print(f"{s.name} = {s.text}:  {s.contraction}  ({s.check.verdict}, {s.check.how})")
display(Math(" ".join(s.derivation_tex)))
assert average_general.proved and s.check.how.startswith("for all sizes")
assert s.text == "ones_like(X) / (alpha * beta)"
assert s.contraction == "dX[k,l] = 1 / (alpha beta) = (ones_like(X) / (alpha * beta))[k,l]"

# %% [markdown]
# ## 8. Unary element-wise functions
#
# For $Y = f(X)$ applied entry by entry, $y_{ij}$ depends on $x_{ij}$ alone, so the
# 4-D Jacobian $\partial Y/\partial X$ is zero except where all four indices pair up.
# Flattened it is a diagonal matrix:
#
# ```bash
# jac "exp(X)" --wrt X --shape X=2x3 --spy exp_pattern.png
# ```

# %%
dY_dX = jacobian("exp(X)", wrt="X", shapes=S)
assert dY_dX.shape == (alpha_, beta_, alpha_, beta_) and dY_dX.nnz == alpha_ * beta_
assert all(i == k and j == l for (i, j, k, l) in dY_dX.nonzeros())
spy_figure(dY_dX)

# %% [markdown]
# Contracting with $dY$ therefore leaves one term per entry,
# $dx_{ij} = dy_{ij}\,\partial y_{ij}/\partial x_{ij}$, i.e. $dX = dY\odot f'(X)$.
# The slides write $f'$ through the output $Y$ where that is shorter, and so does the
# calculator: the explicit entries of each backward step are in the step's own symbols,
# $Y_{ij}$ and $dY_{ij}$.
#
# | $f$ | $f'$ | $dX$ |
# |---|---|---|
# | $\exp$ | $Y$ | $dY\odot Y$ |
# | $\log$ | $1/X$ | $dY\odot (1/X)$ |
# | $\sigma$ | $Y\odot(1 - Y)$ | $dY\odot Y\odot(1-Y)$ |
# | $\tanh$ | $(1 + Y)\odot(1 - Y)$ | $dY\odot(1+Y)\odot(1-Y)$ |
# | ReLU | $[X \ge 0]$ | $dY\odot[X\ge 0]$ (1 at $x = 0$, as on the slides) |
#
# ```bash
# jac "exp(X)" --wrt X --shape X=2x3 --backprop
# jac "log(X)" --wrt X --shape X=2x3 --backprop
# jac "sigmoid(X)" --wrt X --shape X=2x3 --backprop
# jac "tanh(X)" --wrt X --shape X=2x3 --backprop
# jac "relu(X)" --wrt X --shape X=2x3 --backprop
# ```

# %%
X, Y, dY = (entry_symbols(n, (alpha_, beta_)) for n in ("X", "Y", "dY"))
lecture = {  # f'(X) as the slides write it, through X or through Y = f(X)
    "exp": Y,
    "log": X.applyfunc(lambda x: 1 / x),
    "sigmoid": hadamard(Y, ones - Y),
    "tanh": hadamard(ones + Y, ones - Y),
    "relu": X.applyfunc(step),  # [x >= 0]
}
for name, f_prime in lecture.items():
    r = backprop(f"{name}(X)", "X", shapes=S, explicit=True)
    [s] = r.backward
    print(f"Y = {name}(X):  dX = {s.text},  {s.contraction}: {s.check.verdict}")
    show(rf"\text{{{name}:}}\quad dX", s.explicit)
    assert r.proved, name
    assert same(s.explicit, hadamard(dY, f_prime)), name

# %% [markdown]
# The symbols $Y_{ij}$ stand for the outputs $f(x_{ij})$: written through the inputs,
# the sigmoid's entries are $dy_{ij}\,\sigma(x_{ij})(1 - \sigma(x_{ij}))$, which is what
# the derivative of the whole expression gives (`expand=True`):

# %%
r = backprop("sigmoid(X)", "X", shapes=S, expand=True)
sigma_prime = X.applyfunc(lambda x: sigmoid(x) * (1 - sigmoid(x)))
assert same(r.gradients["X"].expanded, hadamard(dY, sigma_prime))

# %% [markdown]
# ### Element-wise functions at every size
#
# With $X\in\mathbb{R}^{N\times d}$ for any $N$ and $d$, the generalized Jacobian in index
# notation is $\partial Y_{ij}/\partial X_{kl} = f'(X_{ij})\,\delta_{ik}\,\delta_{jl}$, and
# contracting with $dY$ sums both deltas out: $dX_{kl} = dY_{kl}\,f'(X_{kl})$, that is
# $dX = dY\odot f'(X)$ for every size. Each step below is proved so, and the index form in
# terms of the output equals the table's $f'$ (SymPy equality, e.g.
# $1 - Y^2 = (1 + Y)(1 - Y)$ for $\tanh$).
#
# ```bash
# jac "tanh(X)" --wrt X --shape X=Nxd --backprop
# jac "tanh(X)" --wrt X --shape X=Nxd --index-form --in-terms-of-output
# ```

# %%
every_size = {"X": ("N", "d")}
X_, Y_ = (sp.IndexedBase(sp.Symbol(n, real=True)) for n in ("X", "Y"))
for name, compact in {"exp": "dY * Y", "log": "dY / X", "sigmoid": "dY * Y * (1 - Y)",
                      "tanh": "dY * (1 - Y**2)", "relu": "dY * step(X)"}.items():
    r = backprop(f"{name}(X)", "X", shapes=every_size)
    [s] = r.backward
    J = jacobian(f"{name}(X)", wrt="X", shapes=every_size, in_terms_of_output=True)
    i, j, k, l = J.indices
    x, y = X_[i, j], Y_[i, j]
    f_prime = {"exp": y, "log": 1 / x, "sigmoid": y * (1 - y), "tanh": (1 + y) * (1 - y),
               "relu": step(x)}[name]  # the lecture's table, through X or Y = f(X)
    print(f"Y = {name}(X):  {s.contraction}  ({s.check.verdict}, {s.check.how})")
    print(f"    {J.index.text()}")
    display(Math(" ".join(s.derivation_tex) + r" \qquad " + J.index.latex()))
    assert r.proved and s.check.how.startswith("for all sizes"), name
    assert s.text == compact and s.contraction.endswith(f"= ({compact})[k,l]"), name
    assert sp.expand(J.index_form - f_prime * sp.KroneckerDelta(i, k)
                     * sp.KroneckerDelta(j, l)) == 0, name

# %% [markdown]
# ## 9. Binary element-wise operations
#
# For $Y = f(M, N)$ entry by entry, each input gets $dY$ times its own partial
# derivative: $dM = dY\odot \partial Y/\partial M$, $dN = dY\odot\partial Y/\partial N$.
#
# | $Y$ | $dM$ | $dN$ |
# |---|---|---|
# | $M + N$ | $dY$ | $dY$ |
# | $M - N$ | $dY$ | $-dY$ |
# | $M\odot N$ | $dY\odot N$ | $dY\odot M$ |
#
# ```bash
# jac "M + N" --wrt M,N --shape M=2x3 --shape N=2x3 --backprop
# jac "M - N" --wrt M,N --shape M=2x3 --shape N=2x3 --backprop
# jac "M*N" --wrt M,N --shape M=2x3 --shape N=2x3 --backprop
# ```

# %%
S2 = {"M": (alpha_, beta_), "N": (alpha_, beta_)}
M, Nm = entry_symbols("M", (alpha_, beta_)), entry_symbols("N", (alpha_, beta_))
binary = {
    "M + N": (dY, dY),
    "M - N": (dY, -dY),
    "M * N": (hadamard(dY, Nm), hadamard(dY, M)),
}
for expr, (expected_dM, expected_dN) in binary.items():
    r = backprop(expr, "M,N", shapes=S2, explicit=True)
    print(f"Y = {expr}:  " + ",  ".join(f"{s.name} = {s.text} ({s.check.verdict})"
                                        for s in r.backward))
    found = {s.name: s.explicit for s in r.backward}
    assert r.proved, expr
    assert same(found["dM"], expected_dM) and same(found["dN"], expected_dN), expr
r
