"""The chain rule through intermediates: factors, product, agreement."""

import sympy as sp

from jacobian_calc import chain
from jacobian_calc.symbolic.symbols import scalar_symbol as S


def test_linear_chain_factors():
    c = chain("y2**2", "w1", lets={"y1": "a*w1", "y2": "y1 + b1"})
    assert [f.tensor for f in c.factors] == [sp.Matrix([[2 * S("y2")]]), sp.Matrix([[1]]),
                                             sp.Matrix([[S("a")]])]
    assert c.agree
    assert sp.expand(c.direct.tensor[0, 0] - 2 * S("a") * (S("a") * S("w1") + S("b1"))) == 0


def test_branching_chain_passes_quantities_through():
    # y1 depends on x1 only; y2 on y1 and x2: the factor from (x1, x2) keeps x2 alongside y1.
    c = chain("y2 * y1", "x1,x2", lets={"y1": "x1**2", "y2": "y1 + x2"})
    assert c.agree
    assert c.factors[-1].wrt == ["x1", "x2"]
    assert c.product.shape == (1, 2)


def test_undefined_outer_function():
    c = chain("L(y1, y2)", "x1,x2", lets={"y1": "x1^2", "y2": "x1*x2"}, functions=["L"])
    assert c.agree
    assert c.factors[0].tensor.has(sp.Derivative)


def test_entry_names_of_a_declared_array_are_its_entries():
    import pytest
    from jacobian_calc import JacobianError, jacobian
    assert list(jacobian("x_1 + sum(x)", "x", shapes={"x": (3,)}).as_grid().flat) == [2, 1, 1]
    with pytest.raises(JacobianError, match="'x_4' is not an entry of x"):
        jacobian("x_4 + sum(x)", "x", shapes={"x": (3,)})
    with pytest.raises(JacobianError, match="ends in '_<digits>'"):
        jacobian("W_1 @ x", "x", shapes={"W_1": (2, 2), "x": (2,)})
