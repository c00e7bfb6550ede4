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
# # Lecture 5: vector functions and their Jacobians
#
# This notebook replays every worked example of Lecture 5 with `jacobian_calc`.
# Each section computes a Jacobian with the Python API, shows it as a formula (a
# result typed alone in a cell renders as maths; `show(label, value)` adds a label),
# gives the matching `jac` command for the terminal, and ends with an `assert`
# comparing the result with the lecture's answer, written in the calculator's own
# symbols (`entry_symbols`), so the notebook stops with an error if the calculator
# ever disagrees.
#
# Convention: numerator layout. For $f:\mathbb{R}^n\to\mathbb{R}^m$ the Jacobian is
# $m\times n$ and row $i$ is the gradient of the component $f_i$.

# %%
# %matplotlib inline
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import Math, display

from jacobian_calc import (backprop, entry_symbols, jacobian, jacobians, same, show, spy_figure,
                           to_latex)

# %% [markdown]
# ## 1. Dots on a circle
#
# The curve $\vec r(t) = (\cos 2\pi t,\ \sin 2\pi t)$ maps one number $t$ to a point of
# the plane, $\mathbb{R}\to\mathbb{R}^2$. As $t$ runs from 0 to 1 the point goes once
# around the unit circle. First the four points of the slide, computed exactly:

# %%
t = entry_symbols("t")  # the calculator's scalars are real symbols
r = sp.Matrix([sp.cos(2 * sp.pi * t), sp.sin(2 * sp.pi * t)])
points = {sp.Rational(k, 4): r.subs(t, sp.Rational(k, 4)) for k in range(4)}
for t0, p in points.items():
    show(rf"\vec r({t0})", p)

assert points[0] == sp.Matrix([1, 0])
assert points[sp.Rational(1, 4)] == sp.Matrix([0, 1])
assert points[sp.Rational(1, 2)] == sp.Matrix([-1, 0])
assert points[sp.Rational(3, 4)] == sp.Matrix([0, -1])

# %% [markdown]
# The derivative of a vector function of one scalar is a column: one entry per
# component. Terminal equivalent:
#
# ```bash
# jac "cos(2*pi*t), sin(2*pi*t)" --wrt t
# ```

# %%
dr = jacobian("cos(2*pi*t), sin(2*pi*t)", wrt="t")
show(r"\frac{\partial \vec r}{\partial t}", dr)

assert dr.shape == (2, 1)
assert same(dr.tensor, [[-2 * sp.pi * sp.sin(2 * sp.pi * t)],
                        [2 * sp.pi * sp.cos(2 * sp.pi * t)]])

# %% [markdown]
# The derivative is the velocity of the moving dot: at each of the four points it is
# tangent to the circle and has length $2\pi$. `.evaluate` substitutes numbers.

# %%
ts = np.linspace(0, 1, 200)
fig, ax = plt.subplots(figsize=(4, 4))
ax.plot(np.cos(2 * np.pi * ts), np.sin(2 * np.pi * ts), lw=1, color="grey")
for t0 in (0, 0.25, 0.5, 0.75):
    x0, y0 = np.cos(2 * np.pi * t0), np.sin(2 * np.pi * t0)
    vx, vy = dr.evaluate({"t": t0})[:, 0]
    assert np.isclose(np.hypot(vx, vy), 2 * np.pi)
    ax.plot(x0, y0, "o", color="C0")
    ax.arrow(x0, y0, vx / 10, vy / 10, head_width=0.05, color="C1")
ax.set_aspect("equal")
ax.set_title(r"$\vec r(t)$ and $\vec r\,'(t)/10$ at $t = 0, 1/4, 1/2, 3/4$")
plt.show()

# %% [markdown]
# ## 2. A vector function of one input, $f:\mathbb{R}\to\mathbb{R}^n$
#
# With no formula for the components, we declare them as undefined functions
# (`functions=`, `--function` in the terminal: an unknown name is otherwise an error);
# their derivatives stay symbolic, and the Jacobian is the $n\times 1$ column of them.
#
# ```bash
# jac "f1(x), f2(x), f3(x)" --wrt x --function f1,f2,f3
# ```

# %%
df = jacobian("f1(x), f2(x), f3(x)", wrt="x", functions=["f1", "f2", "f3"])
show(r"\frac{\partial \vec f}{\partial x}", df)

x = entry_symbols("x")
f_i = [sp.Function(f"f{i}", real=True)(x) for i in (1, 2, 3)]
assert df.shape == (3, 1)
assert same(df.tensor, [[f.diff(x)] for f in f_i])

# %% [markdown]
# ## 3. Two inputs, three outputs: $\vec r(\vec x) = (\sin(x_1-x_2),\ \cos(x_1-x_2),\ \tan(x_1-x_2))$
#
# $\mathbb{R}^2\to\mathbb{R}^3$, so the Jacobian is $3\times 2$: one row per component,
# one column per input.
#
# ```bash
# jac "sin(x1-x2), cos(x1-x2), tan(x1-x2)" --wrt x1,x2
# ```

# %%
J = jacobian("sin(x1-x2), cos(x1-x2), tan(x1-x2)", wrt="x1,x2")
show(r"\frac{\partial \vec r}{\partial \vec x}", J)

x1, x2 = entry_symbols("x1"), entry_symbols("x2")
u = x1 - x2
expected = sp.Matrix([[sp.cos(u), -sp.cos(u)],
                      [-sp.sin(u), sp.sin(u)],
                      [sp.sec(u) ** 2, -sp.sec(u) ** 2]])
assert J.shape == (3, 2)
assert same(J.tensor, expected)

# %% [markdown]
# **A slip on the slide.** The slide gives $\partial \cos(x_1-x_2)/\partial x_2 = \cos(x_1-x_2)$.
# The inner derivative of $x_1 - x_2$ with respect to $x_2$ is $-1$, and the derivative
# of $\cos$ is $-\sin$, so the two minus signs cancel and the entry is
# $+\sin(x_1-x_2)$. The calculator gets it right; a finite difference agrees with it
# and not with the slide.

# %%
entry = J[1, 1]  # row 2 (cos), column 2 (x2), 0-based
show(r"\frac{\partial \cos(x_1-x_2)}{\partial x_2}", entry)
assert sp.simplify(entry - sp.sin(u)) == 0
assert sp.simplify(entry - sp.cos(u)) != 0  # what the slide prints

a, b, h = 0.9, 0.2, 1e-6
finite_difference = (np.cos(a - (b + h)) - np.cos(a - (b - h))) / (2 * h)
assert np.isclose(finite_difference, np.sin(a - b))
assert not np.isclose(finite_difference, np.cos(a - b))
print(f"finite difference {finite_difference:.6f}, sin {np.sin(a - b):.6f}, "
      f"cos (slide) {np.cos(a - b):.6f}")

# %% [markdown]
# The same Jacobian from the terminal (run here through the current interpreter):

# %%
command = [sys.executable, "-m", "jacobian_calc", "sin(x1-x2), cos(x1-x2), tan(x1-x2)",
           "--wrt", "x1,x2"]
output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
print(output)
assert "sin(x1 - x2)" in output and "sec(x1 - x2)**2" in output

# %% [markdown]
# ## 4. The general case, $f:\mathbb{R}^m\to\mathbb{R}^n$
#
# Row $i$ of the Jacobian is the gradient $\nabla f_i$, so the shape is $n\times m$.
# Here $m = 3$ inputs and $n = 2$ components, left as undefined functions:
#
# ```bash
# jac "f1(x1,x2,x3), f2(x1,x2,x3)" --wrt x1,x2,x3 --function f1,f2
# ```

# %%
Jg = jacobian("f1(x1,x2,x3), f2(x1,x2,x3)", wrt="x1,x2,x3", functions=["f1", "f2"])
show(r"\frac{\partial \vec f}{\partial \vec x}", Jg)

xs = [entry_symbols(name) for name in ("x1", "x2", "x3")]
fs = [sp.Function(f"f{i}", real=True)(*xs) for i in (1, 2)]
assert Jg.shape == (2, 3)
assert same(Jg.tensor, [[f.diff(v) for v in xs] for f in fs])  # row i = gradient of f_i

# %% [markdown]
# ## 5. An affine layer of $n$ neurons, one sample
#
# Neuron $i$ computes $z_i = \vec x^{\top}\vec w_i + b_i$. Putting the weight vectors
# side by side as the columns of $W\in\mathbb{R}^{m\times n}$ gives the row vector
# $\vec z = \vec x^{\top} W + \vec b$. Below $m = 3$ inputs and $n = 2$ neurons.
# The calculator treats a declared vector as a plain 1-D array, so `x@W` is
# $\vec x^{\top} W$.
#
# ```bash
# jac "x@W + b" --wrt x --shape x=3 --shape W=3x2 --shape b=2
# jac "x@W + b" --wrt W --shape x=3 --shape W=3x2 --shape b=2
# jac "x@W + b" --wrt b --shape x=3 --shape W=3x2 --shape b=2
# ```

# %%
shapes = {"x": 3, "W": (3, 2), "b": 2}
dz_dx, dz_dW, dz_db = jacobians("x@W + b", wrt=["x", "W", "b"], shapes=shapes)
show(r"\frac{\partial \vec z}{\partial \vec x}", dz_dx)
show(r"\frac{\partial \vec z}{\partial \vec b}", dz_db)

W, xv = entry_symbols("W", (3, 2)), entry_symbols("x", 3)
assert dz_dx.shape == (2, 3) and same(dz_dx, W.T)
assert dz_db.shape == (2, 2) and same(dz_db, sp.eye(2))

# %% [markdown]
# **The compact form.** `compact=True` (`--compact` on the command line) writes the whole
# Jacobian as one matrix formula, found from the operations' own rules (forward mode over
# the formula) and proved equal to the entries above, entry by entry: the lecture's
# $\partial\vec z/\partial\vec x = W^{\top}$ and $\partial\vec z/\partial\vec b = I_n$.
#
# ```bash
# jac "x@W + b" --wrt x --shape x=3 --shape W=3x2 --shape b=2 --compact
# ```

# %%
compact_x = jacobian("x@W + b", wrt="x", shapes=shapes, compact=True).compact
compact_b = jacobian("x@W + b", wrt="b", shapes=shapes, compact=True).compact
print(compact_x.equation, "--", compact_x.check.verdict)
print(compact_b.equation, "--", compact_b.check.verdict)
assert compact_x.text == "W.T" and compact_x.check.verdict == "proved"
assert compact_b.text == "eye(n=2)" and compact_b.check.verdict == "proved"

# %% [markdown]
# The lecture's results hold for any $m$ and $n$. Named sizes give them in index
# notation, for every size at once: $\partial z_i/\partial x_j = W_{ji}$, the entry $(i, j)$
# of $W^{\top}$, and $\partial z_i/\partial b_j = \delta_{ij}$, the identity $I_n$.
#
# ```bash
# jac "z" --let "z=x@W + b" --wrt x,b --shape x=m --shape W=mxn --shape b=n --index-form
# ```

# %%
every = {"x": ("m",), "W": ("m", "n"), "b": ("n",)}
dz_dx_mn, dz_db_mn = jacobians("z", wrt=["x", "b"], lets={"z": "x@W + b"}, shapes=every)
print(dz_dx_mn.index.text())
print(dz_db_mn.index.text())
assert dz_dx_mn.index.text() == "(∂z/∂x)[i,j] = W[j,i]"
assert dz_db_mn.index.text() == "(∂z/∂b)[i,j] = δ[i,j]"
i, j = dz_dx_mn.indices
W_ = sp.IndexedBase(sp.Symbol("W", real=True))
assert dz_dx_mn.shape == ("n", "m") and dz_dx_mn.index_form == W_[j, i]  # W transposed
assert dz_db_mn.shape == ("n", "n") and dz_db_mn.index_form == sp.KroneckerDelta(*dz_db_mn.indices)
display(Math(dz_dx_mn.index.latex() + r",\qquad " + dz_db_mn.index.latex()))

# %% [markdown]
# The Jacobian with respect to the whole matrix $W$ is a 3-D tensor of shape
# $n\times m\times n$ (output index, then the two indices of $W$); it prints as a
# column of $m\times n$ blocks, one per output. Fixing the last index at $k$ picks
# the column $\vec w_k$, and $\partial\vec z/\partial\vec w_k$ is an $n\times m$
# matrix with $\vec x^{\top}$ in row $k$ and zeros elsewhere: only neuron $k$ uses $\vec w_k$.

# %%
show(r"\frac{\partial \vec z}{\partial W}", dz_dW)
assert dz_dW.shape == (2, 3, 2)
dense = dz_dW.as_object_array()
for k in range(2):
    dz_dwk = sp.Matrix(dense[:, :, k])
    show(rf"\frac{{\partial \vec z}}{{\partial \vec w_{k + 1}}}", dz_dwk)
    expected = sp.zeros(2, 3)
    expected[k, :] = xv.T
    assert same(dz_dwk, expected)

# %% [markdown]
# The same result without slicing: write each neuron separately and differentiate
# with respect to the vector $\vec w_1$ alone.
#
# ```bash
# jac "x@w1 + b1, x@w2 + b2" --wrt w1 --shape x=3 --shape w1=3 --shape w2=3
# ```

# %%
dz_dw1 = jacobian("x@w1 + b1, x@w2 + b2", wrt="w1", shapes={"x": 3, "w1": 3, "w2": 3})
show(r"\frac{\partial \vec z}{\partial \vec w_1}", dz_dw1)
assert same(dz_dw1.tensor, sp.Matrix([xv.T, sp.zeros(1, 3)]))

# %% [markdown]
# ## 6. A mini-batch through one neuron
#
# Now one neuron sees $N$ samples at once. The samples are the rows of
# $X\in\mathbb{R}^{N\times m}$, and $\vec z = X\vec w + b$ collects the $N$ outputs
# $z^{(i)} = \vec x^{(i)\top}\vec w + b$. Below $N = 3$, $m = 2$.
#
# ```bash
# jac "X@w + b" --wrt X --shape X=3x2 --shape w=2
# jac "X@w + b" --wrt w --shape X=3x2 --shape w=2
# jac "X@w + b" --wrt b --shape X=3x2 --shape w=2
# ```

# %%
shapes = {"X": (3, 2), "w": 2}
dz_dX, dz_dw, dz_dbias = jacobians("X@w + b", wrt=["X", "w", "b"], shapes=shapes)
show(r"\frac{\partial \vec z}{\partial \vec w}", dz_dw)
show(r"\frac{\partial \vec z}{\partial b}", dz_dbias)

X, wv = entry_symbols("X", (3, 2)), entry_symbols("w", 2)
assert dz_dw.shape == (3, 2) and same(dz_dw, X)
assert dz_dbias.shape == (3, 1) and same(dz_dbias.tensor, sp.ones(3, 1))

# %% [markdown]
# $\partial\vec z/\partial\vec w$ stacks the samples $\vec x^{(i)\top}$ as rows, which
# is $X$ itself. (The slide labels this matrix $X^{\top}$; with samples as rows of
# $X$, the matrix with rows $\vec x^{(i)\top}$ is $X$, so read the label as a slip of
# notation.)
#
# With respect to the first sample $\vec x^{(1)}$ (row 1 of $X$) the Jacobian is
# $N\times m$ with $\vec w^{\top}$ in row 1: the other outputs do not see that sample.

# %%
dz_dx1 = sp.Matrix(dz_dX.as_object_array()[:, 0, :])
show(r"\frac{\partial \vec z}{\partial \vec x^{(1)}}", dz_dx1)
expected = sp.zeros(3, 2)
expected[0, :] = wv.T
assert same(dz_dx1, expected)

# %% [markdown]
# The full $\partial\vec z/\partial X$ is a $3\times 3\times 2$ tensor, mostly zeros.
# Flattened to a $3\times 6$ matrix (columns are the entries of $X$ row by row), its
# sparsity pattern shows the staircase: output $i$ depends only on row $i$ of $X$.

# %%
flat = dz_dX.flatten()
assert flat.shape == (3, 6) and dz_dX.nnz == 6
assert [[entry != 0 for entry in flat.row(i)] for i in range(3)] == [
    [True, True, False, False, False, False], [False, False, True, True, False, False],
    [False, False, False, False, True, True]]
spy_figure(dz_dX)

# %% [markdown]
# ## 7. Softmax
#
# $p_i = e^{l_i}/\sum_k e^{l_k}$ turns $K$ scores into $K$ probabilities,
# $\mathbb{R}^K\to\mathbb{R}^K$. The lecture's result is
# $\partial p_i/\partial l_j = p_i(\delta_{ij} - p_j)$, i.e. the symmetric matrix
# $\operatorname{diag}(\vec p) - \vec p\vec p^{\top}$. With $K = 3$:
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=3
# ```

# %%
K = 3
dp_dl = jacobian("softmax(l)", wrt="l", shapes={"l": K})
ls = entry_symbols("l", K)
p = ls.applyfunc(sp.exp) / sum(sp.exp(v) for v in ls)

expected = sp.diag(*p) - p * p.T
assert dp_dl.shape == (K, K)
assert same(dp_dl.tensor, expected)
assert same(dp_dl.tensor, dp_dl.tensor.T)  # symmetric

# %% [markdown]
# The raw entries are long quotients of exponentials. Asking for the derivatives in terms
# of the output $\vec p$ gives the lecture's form directly:
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=3 --in-terms-of-output
# ```

# %%
dp_dl_p = jacobian("softmax(l)", wrt="l", shapes={"l": K}, in_terms_of_output=True)
show(r"\frac{\partial \vec p}{\partial \vec l}", dp_dl_p)
P = entry_symbols("p", K)
assert same(dp_dl_p.tensor, sp.diag(*P) - P * P.T)

# %% [markdown]
# The lecture's $p_i(\delta_{ij} - p_j)$ holds for every $K$. With the size given as a
# name, the result is the Jacobian in index notation, the same at every size; in terms
# of the output it is the lecture's formula word for word, and in terms of the scores
# $l$ it equals it once $p_i = e^{l_i}/\sum_m e^{l_m}$ is put in (SymPy equality):
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=K --index-form
# jac "softmax(l)" --wrt l --shape l=K --index-form --in-terms-of-output
# jac "softmax(l)" --wrt l --shape l=K --index-form --in-terms-of-output --format latex
# ```

# %%
dp_dl_K = jacobian("softmax(l)", wrt="l", shapes={"l": ("K",)}, in_terms_of_output=True)
dp_dl_K_raw = jacobian("softmax(l)", wrt="l", shapes={"l": ("K",)}, index_form=True)
print(dp_dl_K.index.text())
print(dp_dl_K_raw.index.text())
print(to_latex(dp_dl_K))
i, j = dp_dl_K.indices
p_, l_ = sp.IndexedBase(sp.Symbol("p", real=True)), sp.IndexedBase(sp.Symbol("l", real=True))
assert dp_dl_K.shape == ("K", "K")
assert dp_dl_K.index.text() == "(∂p/∂l)[i,j] = p[i] (δ[i,j] − p[j])"
assert dp_dl_K.index_form == p_[i] * (sp.KroneckerDelta(i, j) - p_[j])
m_, K_ = sp.Symbol("m", integer=True), sp.Symbol("K", integer=True, positive=True)
softmax_at = {p_[t]: sp.exp(l_[t]) / sp.Sum(sp.exp(l_[m_]), (m_, 1, K_)) for t in (i, j)}
assert sp.simplify(dp_dl_K_raw.index_form - dp_dl_K.index_form.subs(softmax_at)) == 0
dp_dl_K

# %% [markdown]
# The compact Jacobian is the lecture's $\operatorname{diag}(\vec p) - \vec p\vec p^{\top}$,
# written with the output's name $\vec p$, and proved equal to the raw entries above:
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=3 --compact
# ```

# %%
dp_dl_c = jacobian("softmax(l)", wrt="l", shapes={"l": K}, compact=True)
c = dp_dl_c.compact
print(c.equation, " where", ", ".join(f"{n} = {t}" for n, _, t in c.where))
print("against the explicit Jacobian:", c.check.verdict, f"({c.check.how})")
assert c.text == "diag(p) - outer(p, p)" and c.where[0][2] == "softmax(l)"
assert c.check.verdict == "proved"
dp_dl_c

# %% [markdown]
# **Check your answer.** A formula of your own, in the request's names, is proved or
# refuted against the calculator's result: `check_claims` (a method of every result), or
# `--claim` on the command line, which exits with status 1 when a claim is refuted (a
# course can grade with it). The softmax Jacobian in the lecture's form is proved:
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=3 --claim "J = diag(p) - outer(p, p)"
# ```

# %%
[verdict] = dp_dl.check_claims(["J = diag(p) - outer(p, p)"])
print(verdict)
assert verdict.verdict == "proved"

# %% [markdown]
# For a layer $Y = XW + \vec b$ with upstream gradient $dY$, the weight gradient is
# $dW = X^{\top} dY$. A common slip is to transpose it: `--claim "dW = dY.T @ X"` is
# refuted, and the reason says what to fix (`jac` then exits with status 1).
#
# ```bash
# jac "X@W + b" --wrt W --shape X=4x3 --shape W=3x2 --shape b=2 --backprop --claim "dW = X.T @ dY"
# ```

# %%
layer = backprop("X@W + b", "W", shapes={"X": (4, 3), "W": (3, 2), "b": 2})
right, transposed = layer.check_claims(["dW = X.T @ dY", "dW = dY.T @ X"])
print(right)
print(transposed)
assert right.verdict == "proved"
assert transposed.verdict == "refuted" and transposed.kind == "transpose"
assert transposed.reason == "2x3, but dW is 3x2; your formula is the transpose of dW"

# %% [markdown]
# **Backprop through softmax.** For a scalar loss $J$ with upstream row gradient
# $d\vec p = \partial J/\partial\vec p$ ($1\times K$), the chain rule multiplies
# $(1\times K)(K\times K)$ and gives the $1\times K$ row $d\vec l$. Writing out the
# product gives the compact rule $d\vec l = \vec p\odot(d\vec p - d\vec p\cdot\vec p)$,
# which never builds the $K\times K$ matrix.

# %%
dp = entry_symbols("dp", K).T  # a row, 1 x K
dl_explicit = dp * dp_dl.tensor
dl_compact = sp.Matrix([[p[j] * (dp[j] - (dp * p)[0]) for j in range(K)]])
assert dl_explicit.shape == (1, K)
assert same(dl_explicit, dl_compact)

# %% [markdown]
# `backprop` performs the same check itself: its backward step for softmax is the compact
# rule, and it compares the rule's entries with the explicit contraction
# $dl_k = \sum_i dp_i\,\partial p_i/\partial l_k$, computed in the step's own symbols
# $p_i$ and $dp_i$. The result renders as its backward step; the entries are a column,
# like $\vec l$.
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=3 --backprop --upstream dp
# ```

# %%
r = backprop("softmax(l)", "l", shapes={"l": K}, upstream="dp",
             explicit=True)  # each contraction also written out entry by entry
[s] = r.backward
print(f"{s.name} = {s.text}   {s.contraction}: {s.check.verdict}")
print(r.summary())
show(r"d\vec l", s.explicit)
assert r.proved and s.text == "p * (dp - sum(dp * p))"
dl_lecture = sp.Matrix([[P[j] * (dp[j] - (dp * P)[0]) for j in range(K)]])  # p ⊙ (dp - dp·p)
assert same(s.explicit, dl_lecture)
r

# %% [markdown]
# At every $K$ the backward step is derived once, in index notation: the contraction
# $dl_k = \sum_i dp_i\,\partial p_i/\partial l_k$ is summed over the delta and proved equal to
# the compact rule $\vec p\odot(d\vec p - d\vec p\cdot\vec p)$ for all sizes:
#
# ```bash
# jac "softmax(l)" --wrt l --shape l=K --backprop --upstream dp
# ```

# %%
r_K = backprop("softmax(l)", "l", shapes={"l": ("K",)}, upstream="dp")
[s] = r_K.backward
print(f"{s.name} = {s.text}\n    {s.contraction}\n    {s.check.verdict} ({s.check.how})")
print(r_K.summary())
display(Math(" ".join(s.derivation_tex)))
assert s.text == "p * (dp - sum(dp * p))"
assert s.check.verdict == "proved" and s.check.how.startswith("for all sizes")
assert s.contraction.endswith("= (p * (dp - sum(dp * p)))[k]")
assert s.derivation_tex[0].startswith(r"dl_{k} = \sum_{i=1}^{K} dp_{i} \left(")  # dp_i (a - b)
assert r_K.summary().startswith("1 step proved for all sizes;")
assert r"\sum_{i=1}^{K}" in to_latex(r_K, derivation=True)

# %% [markdown]
# ## 8. The four shapes of a Jacobian
#
# | input $x$ | output $f$ | Jacobian |
# |---|---|---|
# | scalar | scalar | $1\times 1$ |
# | vector, $n$ | scalar | $1\times n$ row (the gradient) |
# | scalar | vector, $m$ | $m\times 1$ column |
# | vector, $n$ | vector, $m$ | $m\times n$ |
#
# ```bash
# jac "x^2" --wrt x
# jac "x1*x2*x3" --wrt x1,x2,x3
# jac "x, x^2" --wrt x
# jac "x1*x2, x2*x3" --wrt x1,x2,x3
# ```

# %%
cases = {
    "scalar / scalar": ("x^2", "x", (1, 1)),
    "scalar / vector": ("x1*x2*x3", "x1,x2,x3", (1, 3)),
    "vector / scalar": ("x, x^2", "x", (2, 1)),
    "vector / vector": ("x1*x2, x2*x3", "x1,x2,x3", (2, 3)),
}
for name, (expr, wrt, shape) in cases.items():
    Jc = jacobian(expr, wrt=wrt)
    show(rf"\text{{{name}: }} {Jc.shape[0]}\times {Jc.shape[1]}", Jc)
    assert Jc.shape == shape, (name, Jc.shape)
