"""One sampler, points inside the domain: the end-to-end check searches for points where
every log, sqrt, division and inv is defined, says how it chose them, and is undecided only
after a real search."""

import pathlib
import re

import numpy as np
import pytest
import sympy as sp

from jacobian_calc import backprop
from jacobian_calc.symbolic.sampling import DomainSearch, constraints, draw_array

# (expression, wrt, shapes): each has a domain that blind draws often miss
DOMAINS = [
    ("sum(sigmoid(z)*log(z-c) + (z-c))", "z", {"z": (3,), "c": (3,)}),
    ("sum(log(z - c))", "z,c", {"z": (4,), "c": (4,)}),
    ("sum(sqrt(x - y))", "x", {"x": (3,), "y": (3,)}),
    ("sum(log(x))", "x", {"x": (3,)}),
    ("sum(log(x - 2))", "x", {"x": (3,)}),
    ("sum(sqrt(x - 3) * log(y + 2))", "x,y", {"x": (2,), "y": (2,)}),
    ("sum(1 / (x - y))", "x", {"x": (3,), "y": (3,)}),
    ("logdet(S)", "S", {"S": (2, 2)}),
    ("logdet(S) + sum(log(x))", "S,x", {"S": (2, 2), "x": (2,)}),
    ("sum(asin(x / 2 + y))", "x", {"x": (3,), "y": (3,)}),
    ("sum(acosh(x + 1))", "x", {"x": (3,)}),
    ("sum(log(X @ w - b))", "w", {"X": (3, 2), "w": (2,), "b": (3,)}),
]


@pytest.mark.parametrize("expr,wrt,shapes", DOMAINS, ids=[d[0] for d in DOMAINS])
def test_the_end_to_end_check_finds_points_inside_the_domain(expr, wrt, shapes):
    r = backprop(expr, wrt, shapes=shapes)
    assert r.end_to_end.check.verdict == "agrees", r.summary()
    assert r.end_to_end.points == 3, r.summary()
    assert "undecided" not in r.summary()


def test_the_reported_case_says_how_it_chose_its_points():
    r = backprop("sum(sigmoid(z)*log(z-c) + (z-c))", "z", shapes={"z": (3,), "c": (3,)})
    assert r.agree and "shifted into the domain" in r.summary()
    assert "shifted into the domain" in r.end_to_end.chosen


def test_plain_random_points_say_nothing_more():
    r = backprop("sum(tanh(X))", "X", shapes={"X": (2, 2)})
    assert r.end_to_end.chosen == "" and "shifted" not in r.summary()
    assert r.end_to_end.points == 3


def test_undecided_only_after_a_real_search():
    r = backprop("sum(log(-x*x - 1))", "x", shapes={"x": (2,)})
    check = r.end_to_end.check
    assert check.verdict == "undecided" and r.end_to_end.points == 0
    assert "random draws" in check.how and "shifted" in check.how


def test_constraints_are_read_off_the_expression():
    z, c, x = sp.symbols("z c x", real=True)
    found = {(str(k.arg), k.need) for k in constraints(
        [sp.log(z - c) + sp.sqrt(x) + 1 / (z + 1) + sp.asin(x / 2)])}
    assert found >= {("-c + z", "positive"), ("x", "positive"), ("z + 1", "nonzero"),
                     ("x/2", "unit")}


def test_a_point_is_repaired_by_shifting_one_variable():
    z1, c1 = sp.symbols("z_1 c_1", real=True)
    search = DomainSearch([sp.log(z1 - c1)], {"z": (1,), "c": (1,)}, ["z"])
    values = {"z": np.array([-1.0]), "c": np.array([0.5])}
    fixed, _ = search.repair(values)
    assert fixed["c"][0] == 0.5 and fixed["z"][0] - 0.5 > 0
    assert np.isclose(fixed["z"][0] - fixed["c"][0], 1.0)


def test_kinds_of_random_arrays():
    rng = np.random.default_rng(0)
    assert (draw_array(rng, (50,), 1) > 0).all()
    near = draw_array(rng, (3, 3), 2)
    assert np.allclose(near, np.eye(3), atol=0.31)
    hot = draw_array(rng, (4, 3), 0, "onehot")
    assert (hot.sum(axis=1) == 1).all()
    assert set(np.unique(draw_array(rng, (20,), 0, "signs"))) == {-1.0, 1.0}


def test_there_is_one_sampler():
    """Random numbers are drawn in one module only."""
    root = pathlib.Path(__file__).resolve().parents[1] / "jacobian_calc"
    drawing = re.compile(r"\brng\.(uniform|choice|integers|normal|random)\(")
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if drawing.search(p.read_text(encoding="utf-8")))
    # index/algebra.py instantiates symbolic index ranges (integer indices with their
    # entries) for its own checks; it is not yet drawn from the one sampler
    assert users == ["index/algebra.py", "symbolic/sampling.py"], users


def test_the_readme_says_what_the_search_does():
    from jacobian_calc.symbolic.sampling import TRIES
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    assert f"it is \"undecided\" only when {TRIES} draws, each shifted" in readme
    assert "the other `X` held fixed" in readme


def test_fewer_points_than_asked_are_explained():
    from jacobian_calc.derive.backprop_numbers import _chosen
    assert _chosen({""}, 3, 3) == ""
    assert _chosen({"", "shifted"}, 3, 3).startswith("points shifted into the domain")
    assert _chosen({""}, 2, 3) == "3 asked, 1 without a point inside the domain"
    from jacobian_calc.results.backprop import AGREES, Check, EndToEnd
    from jacobian_calc import backprop
    r = backprop("sum(X)", "X", shapes={"X": (2,)})
    import dataclasses
    r = dataclasses.replace(r, end_to_end=EndToEnd(Check(AGREES, "at 2 random points", 0.0), 2,
                                                   0, _chosen({""}, 2, 3)))
    assert r.summary().endswith("(max error 0; 3 asked, 1 without a point inside the domain)")
