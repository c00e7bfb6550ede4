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
# # From derivatives to Jacobians
#
# Companion to the handwritten note that climbs from the ordinary derivative to the
# generalized Jacobian of tensors, and then does one small "autograd by hand" example.
# Each step is computed with `jacobian_calc` and checked with `assert`.

# %%
# %matplotlib inline
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp

from jacobian_calc import chain, jacobian, same, show

# %% [markdown]
# ## 1. The derivative: one number in, one number out
#
# For $f:\mathbb{R}\to\mathbb{R}$,
# $f'(x) = \lim_{h\to 0}\dfrac{f(x+h) - f(x)}{h}$: the rate at which the output moves
# when the input is nudged. Read the other way, it predicts the output after a small
# step, $f(x+\Delta x) \approx f(x) + f'(x)\,\Delta x$.
#
# For $f(x) = x^3$, SymPy's limit and the calculator's $1\times 1$ Jacobian agree:
#
# ```bash
# jac "x^3" --wrt x
# ```

# %%
x, h = sp.symbols("x h", real=True)
f = x**3
by_limit = sp.limit((f.subs(x, x + h) - f) / h, h, 0)
d = jacobian("x^3", wrt="x")
show(r"\lim_{h\to 0}\frac{(x+h)^3 - x^3}{h}", by_limit)
show(r"\frac{\partial f}{\partial x}", d)
assert d.shape == (1, 1)
assert same(d.tensor, [[by_limit]]) and same(d.tensor, [[3 * x**2]])

# %% [markdown]
# The linear prediction is off by an amount that shrinks like $\Delta x^2$: halving the
# step divides the error by about four.

# %%
x0 = 1.5
slope = d.evaluate({"x": x0})[0, 0]
errors = []
for dx in (0.1, 0.05, 0.025):
    exact, predicted = (x0 + dx) ** 3, x0**3 + slope * dx
    errors.append(abs(exact - predicted))
    print(f"dx = {dx:<6} f(x+dx) = {exact:.6f}  linear = {predicted:.6f}  error = {errors[-1]:.2e}")
ratios = [errors[i] / errors[i + 1] for i in range(2)]
assert all(3.5 < r < 4.5 for r in ratios), ratios

# %% [markdown]
# ## 2. The chain rule
#
# For $z = f(g(x))$ with $y = g(x)$: $\dfrac{dz}{dx} = \dfrac{dz}{dy}\cdot\dfrac{dy}{dx}$.
# `chain` names the intermediate and shows each factor. With $y = x^2$ and $z = \sin y$:
#
# ```bash
# jac "sin(y)" --wrt x --let y=x^2 --chain
# ```

# %%
c = chain("sin(y)", "x", lets={"y": "x^2"})
dz_dy, dy_dx = c.factors
show(r"\frac{dz}{dy}", dz_dy)
show(r"\frac{dy}{dx}", dy_dx)
show(r"\frac{dz}{dx}", c.direct)
y = sp.Symbol("y", real=True)
assert same(dz_dy.tensor, [[sp.cos(y)]]) and same(dy_dx.tensor, [[2 * x]])
assert c.agree and same(c.direct.tensor, [[2 * x * sp.cos(x**2)]])
c  # a result alone in a cell renders as maths: the factors and their product

# %% [markdown]
# ## 3. The gradient: a vector in, one number out
#
# For $f:\mathbb{R}^N\to\mathbb{R}$ there is one partial derivative per input, and a
# small step $\Delta\vec x$ changes the output by about
# $\Delta y \approx \sum_i \dfrac{\partial y}{\partial x_i}\,\Delta x_i$. In numerator
# layout the gradient is a $1\times N$ row. Example: $y = x_1^2 x_2 + \sin x_3$.
#
# ```bash
# jac "x1^2*x2 + sin(x3)" --wrt x1,x2,x3
# ```

# %%
grad = jacobian("x1^2*x2 + sin(x3)", wrt="x1,x2,x3")
show(r"\nabla y", grad)
x1, x2, x3 = sp.symbols("x1 x2 x3", real=True)
assert grad.shape == (1, 3)
assert same(grad.tensor, [[2 * x1 * x2, x1**2, sp.cos(x3)]])

point = {"x1": 1.0, "x2": -2.0, "x3": 0.5}
step = np.array([1e-3, -2e-3, 1.5e-3])
y_of = lambda v: v[0] ** 2 * v[1] + np.sin(v[2])  # noqa: E731
v0 = np.array(list(point.values()))
actual = y_of(v0 + step) - y_of(v0)
predicted = grad.evaluate(point)[0] @ step
print(f"actual change {actual:.3e}, predicted {predicted:.3e}")
assert abs(actual - predicted) < 1e-5

# %% [markdown]
# ## 4. The Jacobian, and the generalized Jacobian
#
# For $f:\mathbb{R}^N\to\mathbb{R}^M$ we stack the $M$ gradients as rows: an $M\times N$
# matrix. The note draws $\mathbb{R}^2\to\mathbb{R}^3$; here is one such map:
#
# ```bash
# jac "x1*x2, x1 + x2, x1^2" --wrt x1,x2
# ```

# %%
J = jacobian("x1*x2, x1 + x2, x1^2", wrt="x1,x2")
show(r"\frac{\partial \vec y}{\partial \vec x}", J)
assert J.shape == (3, 2)
assert same(J.tensor, [[x2, x1], [1, 1], [2 * x1, 0]])

# %% [markdown]
# When the input is a $D_X$-dimensional tensor of shape $N_1\times\dots\times N_{D_X}$ and
# the output a $D_Y$-dimensional one of shape $M_1\times\dots\times M_{D_Y}$, there is one
# partial derivative for each pair (output entry, input entry): the generalized Jacobian
# has shape $(M_1\times\dots\times M_{D_Y})\times(N_1\times\dots\times N_{D_X})$.
# Two examples: the outer product $\vec x\vec x^{\top}$ (vector in, matrix out, 3-D
# Jacobian) and an element-wise sigmoid of a matrix (matrix in, matrix out, 4-D).
#
# ```bash
# jac "outer(x, x)" --wrt x --shape x=3
# jac "sigmoid(X)" --wrt X --shape X=2x2
# ```

# %%
J_outer = jacobian("outer(x, x)", wrt="x", shapes={"x": 3})
J_sig = jacobian("sigmoid(X)", wrt="X", shapes={"X": (2, 2)})
show(r"\frac{\partial\, \vec x\vec x^{\top}}{\partial \vec x}", J_outer)
show(r"\frac{\partial\, \sigma(X)}{\partial X}", J_sig)
assert J_outer.shape == (3, 3) + (3,)
assert J_sig.shape == (2, 2) + (2, 2)

xv = [sp.Symbol(f"x_{k}", real=True) for k in (1, 2, 3)]
for i, j, k in np.ndindex(3, 3, 3):  # d(x_i x_j)/d x_k
    assert sp.expand(J_outer[i, j, k] - sp.diff(xv[i] * xv[j], xv[k])) == 0

# %% [markdown]
# ## 5. Autograd by hand
#
# Take $y_1 = a w_1$, $y_2 = y_1 + b_1$ and $\varphi = y_3 = y_2^2$, so that
# $\varphi = (a w_1 + b_1)^2$. Differentiating the whole expression at once gives
# $\partial\varphi/\partial w_1 = 2a(a w_1 + b_1)$. Going step by step instead, each
# stage contributes one local factor:
#
# $$\frac{\partial\varphi}{\partial w_1} = \frac{\partial\varphi}{\partial y_2}\cdot
#   \frac{\partial y_2}{\partial y_1}\cdot\frac{\partial y_1}{\partial w_1}
#   = 2y_2\cdot 1\cdot a.$$
#
# This is what an autograd engine records on the way forward and multiplies on the way
# back.
#
# ```bash
# jac "y2**2" --wrt w1 --let y1=a*w1 --let y2=y1+b1 --chain
# ```

# %%
c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
labels = [r"\frac{\partial\varphi}{\partial y_2}", r"\frac{\partial y_2}{\partial y_1}",
          r"\frac{\partial y_1}{\partial w_1}"]
for label, factor in zip(labels, c.factors):
    show(label, factor)
show(r"\frac{\partial\varphi}{\partial w_1}", c.direct)

a, b1, w1, y2 = sp.symbols("a b1 w1 y2", real=True)
assert [f.tensor for f in c.factors] == [sp.Matrix([[2 * y2]]), sp.Matrix([[1]]), sp.Matrix([[a]])]
assert c.agree
assert same(c.direct.tensor, [[2 * a * (a * w1 + b1)]])
c

# %% [markdown]
# The terminal shows the factors too (run here via the current interpreter):

# %%
command = [sys.executable, "-m", "jacobian_calc", "y2**2", "--wrt", "w1",
           "--let", "y1=a*w1", "--let", "y2=y1+b1", "--chain"]
output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
print(output)
assert "2*a*(a*w1 + b1)" in output

# %% [markdown]
# ## 6. Why nobody builds these Jacobians in practice: $N = 1024$
#
# An element-wise function of a vector with $N = 1024$ entries has a
# $1024\times 1024$ Jacobian: over a million entries, of which only the 1024 on the
# diagonal can be non-zero. Backpropagation therefore uses the compact form
# $d\vec x = d\vec y\odot f'(\vec x)$, which stores 1024 numbers, never the matrix.
#
# ```bash
# jac "sigmoid(x)" --wrt x --shape x=1024
# ```

# %%
N = 1024
J_big = jacobian("sigmoid(x)", wrt="x", shapes={"x": N})
print(f"shape {J_big.shape}: {J_big.size:,} entries, {J_big.nnz:,} non-zero "
      f"({100 * J_big.nnz / J_big.size:.2f} %)")
assert J_big.shape == (N, N) and J_big.size == N * N and J_big.nnz == N
assert all(i == j for i, j in J_big.nonzeros())

mask = np.zeros(J_big.shape, dtype=bool)
for index in J_big.nonzeros():
    mask[index] = True
fig, ax = plt.subplots(figsize=(3.5, 3.5))
ax.spy(mask, markersize=0.5)
ax.set_title(r"non-zeros of $\partial\sigma(\vec x)/\partial\vec x$, $N = 1024$")
plt.show()
