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
# and element-wise operations between two matrices. For every one of them this notebook
# computes the gradient **two ways** and checks that they agree:
#
# * *explicit*: build the generalized Jacobian $\partial Y/\partial X$ entry by entry and
#   contract it with the upstream gradient, $dx_{kl} = \sum_{ij} dy_{ij}\,\partial y_{ij}/\partial x_{kl}$;
# * *compact*: the matrix formula from the slides, such as $dW = A^{\top} dZ$.
#
# `backprop(of, wrt, shapes=..., upstream=...)` does both and reports the verdict.
# Each cell also compares the result with the lecture's formula, written out
# independently in SymPy, using `assert`.

# %%
# %matplotlib inline
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import Math, display

from jacobian_calc import backprop, chain, jacobian, sigmoid, to_latex
from jacobian_calc.latex import latex_expr
from jacobian_calc.spy import spy_figure


def show(label, value):
    """Display ``label = value`` as rendered math (a calculator result or SymPy object)."""
    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        body = latex_expr(value)  # entries print as A_{12}, like the results
    else:
        body = to_latex(value)
    display(Math(f"{label} = {body}"))


def same(a, b):
    """Exact symbolic equality, entry by entry."""
    a, b = sp.Matrix(a), sp.Matrix(b)
    return a.shape == b.shape and all(sp.simplify(p - q) == 0 for p, q in zip(a, b))


def entries(name, rows, cols):
    """The calculator's symbols for a declared matrix: ``X_1_1`` ... (1-based, real)."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}_{j + 1}", real=True))


def report(g):
    """Show one GradientResult: compact formula = explicit entries, then the verdict."""
    display(Math(to_latex(g)))
    print(f"  d{g.wrt} = {g.compact_text:<28} agree: {g.agree}   "
          f"max |explicit - compact| = {g.max_abs_error:.1e}")


def spy(result, ax, title):
    """Sparsity pattern of a Jacobian flattened to a matrix (one row per output entry)."""
    flat = result.flatten()
    mask = np.array([[e != 0 for e in flat.row(i)] for i in range(flat.rows)])
    ax.spy(mask, markersize=8)
    ax.set_title(title, fontsize=10)


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
assert same(dM.tensor, entries("M", 2, 3))

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
# Take $N = 3$ samples, $l_{O-1} = 2$ inputs and $K = 2$ outputs.
#
# ```bash
# jac "A@W + b" --wrt W,b,A --shape A=3x2 --shape W=2x2 --shape b=2 --backprop --upstream dZ
# ```

# %%
N, L, K = 3, 2, 2
layer_shapes = {"A": (N, L), "W": (L, K), "b": K}
gW, gb, gA = backprop("A@W + b", "W,b,A", shapes=layer_shapes, upstream="dZ")
for g in (gW, gb, gA):
    report(g)

A, W, dZ = entries("A", N, L), entries("W", L, K), entries("dZ", N, K)
assert all(g.agree for g in (gW, gb, gA))
assert same(gW.explicit, A.T * dZ)  # and, since they agree, so is the compact formula
assert same(gb.explicit, [sum(dZ[:, k]) for k in range(K)])
assert same(gA.explicit, dZ * W.T)

# %% [markdown]
# The explicit route went through the generalized Jacobians $\partial Z/\partial W$
# ($N\times K\times l_{O-1}\times K$) and $\partial Z/\partial A$. Flattened, their
# sparsity shows the block structure of $AW$: output $z_{ij}$ involves only column $j$
# of $W$, and only row $i$ of $A$. (`spy_figure` draws the pattern of each gradient's
# Jacobian, naming the output entries $Y_{ij}$; here they are the $z_{ij}$.)
#
# ```bash
# jac "A@W + b" --wrt W,A --shape A=3x2 --shape W=2x2 --shape b=2 --spy dZ_pattern.png
# ```

# %%
display(spy_figure([gW, gA]))
assert gW.jacobian.shape == (N, K, L, K) and gW.jacobian.nnz == N * K * L

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
# ## 3. Updating the parameters
#
# Gradient descent moves every parameter against its gradient, layer by layer from
# the output back to the first:
# $W^{[O]} := W^{[O]} - \alpha\, dW^{[O]}$, $\vec b^{[O]} := \vec b^{[O]} - \alpha\, d\vec b^{[O]}$,
# then $W^{[O-1]}, \vec b^{[O-1]}$, and so on down to layer 1.
#
# A tiny numeric run: the output layer alone, with a mean squared error loss
# $J = \operatorname{mean}\big((AW + \vec b - T)^2\big)$ against targets $T$. We get
# $dW$ and $d\vec b$ symbolically, substitute numbers, take one step, and check that
# the loss went down. (The calculator names the residual $AW + \vec b - T$ as its
# intermediate `Z`, so its compact formulas read $dW = A^{\top}(Z/4)$ with
# $\tfrac{2}{NK} = \tfrac14$.)
#
# ```bash
# jac "mean((A@W + b - T)**2)" --wrt W,b --shape A=4x3 --shape W=3x2 --shape b=2 --shape T=4x2 --backprop
# ```

# %%
N, L, K = 4, 3, 2
mse_shapes = {"A": (N, L), "W": (L, K), "b": K, "T": (N, K)}
gW_mse, gb_mse = backprop("mean((A@W + b - T)**2)", "W,b", shapes=mse_shapes)
for name, step in gW_mse.steps:
    print(f"  forward step: {name} = {step}")
report(gW_mse)
report(gb_mse)
assert gW_mse.agree and gb_mse.agree

A_s, W_s, T_s = entries("A", N, L), entries("W", L, K), entries("T", N, K)
b_s = [sp.Symbol(f"b_{k + 1}", real=True) for k in range(K)]
inputs = [*A_s, *W_s, *b_s, *T_s]  # row-major, matching numpy's ravel()
dW_of = sp.lambdify(inputs, gW_mse.explicit, "numpy")
db_of = sp.lambdify(inputs, gb_mse.explicit, "numpy")


def gradients(A, W, b, T):
    """Substitute numbers into the symbolic dW and db."""
    values = np.concatenate([A.ravel(), W.ravel(), b.ravel(), T.ravel()])
    dW = np.asarray(dW_of(*values), dtype=float).reshape(W.shape)
    db = np.asarray(db_of(*values), dtype=float).reshape(b.shape)
    return dW, db


def loss(A, W, b, T):
    return np.mean((A @ W + b - T) ** 2)


rng = np.random.default_rng(0)
A_n, W_n, b_n, T_n = (rng.normal(size=(N, L)), rng.normal(size=(L, K)),
                      rng.normal(size=K), rng.normal(size=(N, K)))
dW_n, db_n = gradients(A_n, W_n, b_n, T_n)

# The same numbers from the compact formulas: dZ = 2 (Z - T) / (N K), dW = A^T dZ.
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
# Contracting the 4-D Jacobian of the output layer by hand reproduces $dW$ from section 2:

# %%
dZ_dW = gW.jacobian.as_object_array()  # shape (N, K, L, K) for N=3, L=2, K=2
contracted = np.tensordot(np.array(dZ.tolist(), dtype=object), dZ_dW, axes=([0, 1], [0, 1]))
show(r"\sum_{ij} dz_{ij}\,\frac{\partial z_{ij}}{\partial W}", sp.Matrix(contracted.tolist()))
assert same(contracted.tolist(), gW.explicit)

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
# A concrete case: $y_1 = x_1^2$, $y_2 = x_1x_2$, $y_3 = \sin(x_1 + x_2)$, $y_4 = e^{x_3}$.
# The zeros of $\partial\vec y/\partial\vec x$ are exactly the missing paths, and the
# row vector $(dy_1, \dots, dy_4)$ times this matrix gives the three sums above.
#
# ```bash
# jac "x1^2, x1*x2, sin(x1+x2), exp(x3)" --wrt x1,x2,x3
# ```

# %%
dy_dx = jacobian("x1^2, x1*x2, sin(x1+x2), exp(x3)", wrt="x1,x2,x3")
show(r"\frac{\partial \vec y}{\partial \vec x}", dy_dx)
Jy = dy_dx.tensor
assert [[Jy[k, j] != 0 for j in range(3)] for k in range(4)] == [
    [True, False, False], [True, True, False], [True, True, False], [False, False, True]]

dy = sp.Matrix([[sp.Symbol(f"dy_{k}", real=True) for k in range(1, 5)]])
dx = dy * Jy
show(r"\left(\frac{\partial J}{\partial x_1}, \frac{\partial J}{\partial x_2}, \frac{\partial J}{\partial x_3}\right)", dx)
assert dx[0] == sum(dy[k] * Jy[k, 0] for k in range(3))
assert dx[1] == sum(dy[k] * Jy[k, 1] for k in (1, 2))
assert dx[2] == dy[3] * Jy[3, 2]

# %% [markdown]
# With a concrete loss, say $J = y_1y_2 + y_3^2 + y_4$, `chain` multiplies the factor
# Jacobians and confirms the product equals the direct derivative:
#
# ```bash
# jac "y1*y2 + y3^2 + y4" --wrt x1,x2,x3 --let y1=x1^2 --let y2=x1*x2 --let y3="sin(x1+x2)" --let y4="exp(x3)" --chain
# ```

# %%
c = chain("y1*y2 + y3^2 + y4", "x1,x2,x3",
          lets={"y1": "x1^2", "y2": "x1*x2", "y3": "sin(x1+x2)", "y4": "exp(x3)"})
show(r"\frac{\partial J}{\partial \vec y}", c.factors[0])
show(r"\frac{\partial J}{\partial \vec x}", c.direct)
assert c.agree

# %% [markdown]
# ## 6–7. Sum and mean
#
# $J = \sum_{r,c} x_{rc}$ gives $dX = \mathbf 1$ (all ones, the shape of $X$), and the
# mean $J = \frac{1}{\alpha\beta}\sum_{r,c} x_{rc}$ gives $dX = \frac{1}{\alpha\beta}\mathbf 1$.
# Here $X$ is $2\times 3$, so $\alpha\beta = 6$. The output is a scalar, so the upstream
# gradient is 1.
#
# ```bash
# jac "sum(X)" --wrt X --shape X=2x3 --backprop
# jac "mean(X)" --wrt X --shape X=2x3 --backprop
# ```

# %%
alpha_, beta_ = 2, 3
S = {"X": (alpha_, beta_)}
X, dY = entries("X", alpha_, beta_), entries("dY", alpha_, beta_)
ones = sp.ones(alpha_, beta_)

[g_sum] = backprop("sum(X)", "X", shapes=S)
[g_mean] = backprop("mean(X)", "X", shapes=S)
report(g_sum)
report(g_mean)
assert g_sum.agree and same(g_sum.explicit, ones)
assert g_mean.agree and same(g_mean.explicit, ones / (alpha_ * beta_))

# %% [markdown]
# ## 8. Unary element-wise functions
#
# For $Y = f(X)$ applied entry by entry, $y_{ij}$ depends on $x_{ij}$ alone, so the
# 4-D Jacobian $\partial Y/\partial X$ is zero except where all four indices pair up.
# Flattened it is a diagonal matrix:

# %%
dY_dX = jacobian("exp(X)", wrt="X", shapes=S)
fig, ax = plt.subplots(figsize=(3, 3))
spy(dY_dX, ax, r"non-zeros of $\partial e^X/\partial X$, flattened")
plt.show()
assert dY_dX.shape == (alpha_, beta_, alpha_, beta_) and dY_dX.nnz == alpha_ * beta_
assert all(i == k and j == l for (i, j, k, l) in dY_dX.nonzeros())

# %% [markdown]
# Contracting with $dY$ therefore leaves one term per entry,
# $dx_{ij} = dy_{ij}\,\partial y_{ij}/\partial x_{ij}$, i.e. $dX = dY\odot f'(X)$.
# The slides write $f'$ through the output $Y$ where that is shorter:
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
# jac "sigmoid(X)" --wrt X --shape X=2x3 --backprop
# jac "relu(X)" --wrt X --shape X=2x3 --backprop
# ```

# %%
def lecture_dX(f_prime_of_X):
    return hadamard(dY, X.applyfunc(f_prime_of_X))


unary = {
    "exp": lambda x: sp.exp(x),                                    # = y
    "log": lambda x: 1 / x,
    "sigmoid": lambda x: sigmoid(x) * (1 - sigmoid(x)),            # y (1 - y)
    "tanh": lambda x: (1 + sp.tanh(x)) * (1 - sp.tanh(x)),         # (1 + y)(1 - y)
    "relu": lambda x: sp.Heaviside(x, 1),                          # [x >= 0]
}
for name, f_prime in unary.items():
    [g] = backprop(f"{name}(X)", "X", shapes=S)
    print(f"Y = {name}(X)")
    report(g)
    assert g.agree, name
    assert same(g.explicit, lecture_dX(f_prime)), name

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
# jac "M*N" --wrt M,N --shape M=2x3 --shape N=2x3 --backprop
# ```

# %%
S2 = {"M": (alpha_, beta_), "N": (alpha_, beta_)}
M, Nm = entries("M", alpha_, beta_), entries("N", alpha_, beta_)
binary = {
    "M + N": (dY, dY),
    "M - N": (dY, -dY),
    "M * N": (hadamard(dY, Nm), hadamard(dY, M)),
}
for expr, (expected_dM, expected_dN) in binary.items():
    gM, gN = backprop(expr, "M,N", shapes=S2)
    print(f"Y = {expr}")
    report(gM)
    report(gN)
    assert gM.agree and gN.agree, expr
    assert same(gM.explicit, expected_dM) and same(gN.explicit, expected_dN), expr
