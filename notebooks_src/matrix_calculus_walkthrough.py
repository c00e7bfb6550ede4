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
# # Walkthrough: "The Matrix Calculus You Need for Deep Learning", part 1
#
# Companion to the walkthrough of Parr and Howard's paper: one neuron, gradients of
# scalar functions, Jacobians as stacks of gradients in both layouts, and the four
# shapes a Jacobian can take. Every result is computed with `jacobian_calc` and
# checked with `assert`.

# %%
import subprocess
import sys

import sympy as sp

from jacobian_calc import entry_symbols, jacobian, jacobians, same, show, step

# %% [markdown]
# ## 1. One neuron
#
# A neuron is an affine map followed by an activation: $z(\vec x) = \vec w\cdot\vec x + b$,
# then $\mathrm{activation}(\vec x) = \max(0, z(\vec x))$ (the ReLU). Training adjusts
# $\vec w$ and $b$, so we need the derivatives of the output with respect to them.
# With three inputs:
#
# ```bash
# jac "x@w + b" --wrt w --shape x=3 --shape w=3
# jac "relu(x@w + b)" --wrt w,b --shape x=3 --shape w=3
# ```

# %%
shapes = {"x": 3, "w": 3}
dz_dw = jacobian("x@w + b", wrt="w", shapes=shapes)
show(r"\frac{\partial z}{\partial \vec w}", dz_dw)
xs, ws = entry_symbols("x", 3), entry_symbols("w", 3)  # the calculator's symbols x_1, ...
assert same(dz_dw, xs)  # the gradient of w.x + b with respect to w is x

da_dw, da_db = jacobians("relu(x@w + b)", wrt="w,b", shapes=shapes)
show(r"\frac{\partial\, \mathrm{activation}}{\partial \vec w}", da_dw)
show(r"\frac{\partial\, \mathrm{activation}}{\partial b}", da_db)

b = entry_symbols("b")
z = (xs.T * ws)[0] + b
active_z = step(z)  # [z >= 0]: 1 where z >= 0 (the lectures' convention at 0), else 0
assert same(da_dw, xs * active_z)
assert same(da_db, [[active_z]])

# %% [markdown]
# Where the neuron is active ($z > 0$) the activation's gradient is the affine one;
# where it is off ($z < 0$) the gradient is zero. A quick numeric check:

# %%
active = {"x_1": 1, "x_2": 2, "x_3": 3, "w_1": 1, "w_2": 0, "w_3": 0, "b": 0.5}
inactive = {**active, "b": -5}
print("active:  ", da_dw.evaluate(active))
print("inactive:", da_dw.evaluate(inactive))
assert list(da_dw.evaluate(active)) == [1, 2, 3]
assert list(da_dw.evaluate(inactive)) == [0, 0, 0]

# %% [markdown]
# ## 2. The gradient of a scalar function
#
# The gradient collects the partial derivatives of a scalar function. For
# $f(x, y) = 10x^2y^2$ it is $\nabla f = (20xy^2,\ 20x^2y)$.
#
# ```bash
# jac "10*x^2*y^2" --wrt x,y
# ```

# %%
grad = jacobian("10*x^2*y^2", wrt="x,y")
show(r"\nabla f", grad)
x, y = sp.symbols("x y", real=True)
assert grad.shape == (1, 2)
assert same(grad.tensor, [[20 * x * y**2, 20 * x**2 * y]])

# %% [markdown]
# ## 3. A Jacobian is a stack of gradients
#
# For a vector function $(f(x, y),\ g(x, y))$ with $f = 3x^2y$ and $g = 2x + y^8$ we
# stack $\nabla f$ and $\nabla g$. In the numerator layout each function's partials fill
# a row:
#
# $$J = \begin{pmatrix}\nabla f\\ \nabla g\end{pmatrix}
#     = \begin{pmatrix} 6xy & 3x^2 \\ 2 & 8y^7 \end{pmatrix}.$$
#
# ```bash
# jac "3*x^2*y, 2*x + y^8" --wrt x,y
# ```

# %%
J = jacobian("3*x^2*y, 2*x + y^8", wrt="x,y")
assert same(J, [[6 * x * y, 3 * x**2], [2, 8 * y**7]])

rows = [jacobian(expr, wrt="x,y").tensor for expr in ("3*x^2*y", "2*x + y^8")]
assert J.tensor == sp.Matrix.vstack(*rows)  # literally the gradients, stacked
J  # a result alone in a cell renders as maths

# %% [markdown]
# The denominator layout puts each function's partials in a column instead; it is the
# transpose. From the terminal (run here via the current interpreter):
#
# ```bash
# jac "3*x^2*y, 2*x + y^8" --wrt x,y --layout denominator
# ```

# %%
J_den = jacobian("3*x^2*y, 2*x + y^8", wrt="x,y", layout="denominator")
show(r"J_{\text{denominator}}", J_den)
assert J_den.tensor == J.tensor.T

command = [sys.executable, "-m", "jacobian_calc", "3*x^2*y, 2*x + y^8", "--wrt", "x,y",
           "--layout", "denominator"]
output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
print(output)
assert "denominator layout, shape 2 x 2" in output

# %% [markdown]
# ## 4. The four shapes
#
# Whether the function and its input are scalars or vectors decides the shape
# (numerator layout, $\vec f\in\mathbb{R}^m$, $\vec x\in\mathbb{R}^n$):
#
# | | scalar $x$ | vector $\vec x$ |
# |---|---|---|
# | **scalar $f$** | $1\times 1$ | $1\times n$ (row) |
# | **vector $\vec f$** | $m\times 1$ (column) | $m\times n$ |
#
# ```bash
# jac "x^2*y" --wrt x
# jac "x^2*y" --wrt x,y
# jac "x^2*y, x + y" --wrt x
# jac "x^2*y, x + y, x*y" --wrt x,y
# ```

# %%
cases = [("x^2*y", "x", (1, 1)), ("x^2*y", "x,y", (1, 2)),
         ("x^2*y, x + y", "x", (2, 1)), ("x^2*y, x + y, x*y", "x,y", (3, 2))]
for expr, wrt, shape in cases:
    Jc = jacobian(expr, wrt=wrt)
    label = rf"{shape[0]}\times{shape[1]}:\quad \frac{{\partial f}}{{\partial ({wrt})}}"
    show(label, Jc)
    assert Jc.shape == shape, (expr, wrt, Jc.shape)
