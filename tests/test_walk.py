"""The one walk over expression DAGs: each distinct node once, after its arguments,
with work bounded by the DAG (never the tree)."""

import sympy as sp

from jacobian_calc.symbolic.measure import Measures, free_symbols, replace_symbols
from jacobian_calc.symbolic.numeric import float_eval
from jacobian_calc.symbolic.walk import distinct_nodes, post_order

g = sp.Function("g")
x, y = sp.symbols("x y")


def doubling(depth: int) -> list[sp.Basic]:
    """``e_{k+1} = g(e_k, e_k)``: ``depth + 1`` distinct nodes, a tree of ``2**(depth+1) - 1``."""
    levels = [x]
    for _ in range(depth):
        levels.append(g(levels[-1], levels[-1]))
    return levels


class Counted(set):
    """A ``done`` set that counts the walk's questions."""

    asked = 0

    def __contains__(self, key) -> bool:
        self.asked += 1
        return super().__contains__(key)


def walked(expr, **kw) -> tuple[list, Counted]:
    done, order = Counted(), []
    for node in post_order(expr, done, **kw):
        done.add(id(node) if kw.get("key", id) else node)
        order.append(node)
    return order, done


def test_each_distinct_node_once_after_its_arguments():
    levels = doubling(60)  # a tree of 2**61 - 1 nodes
    order, done = walked(levels[-1])
    assert [id(n) for n in order] == [id(n) for n in levels]
    # work: at most two looks at each node and three per edge (one per parent that reached it)
    edges = sum(len(n.args) for n in levels)
    assert done.asked <= 2 * len(levels) + 3 * edges
    assert Measures(levels[-1:]).size(levels[-1]) == 2**61 - 1


def test_post_order_on_a_shared_dag():
    s = sp.exp(x) + sp.exp(y)
    exprs = [sp.exp(x) / s, sp.exp(y) / s, s]
    seen, order = set(), []
    for e in exprs:
        for node in post_order(e, seen):
            seen.add(id(node))
            order.append(node)
    assert len({id(n) for n in order}) == len(order)  # never twice
    position = {id(n): i for i, n in enumerate(order)}
    assert all(position[id(a)] < position[id(n)] for n in order for a in n.args)
    assert {id(n) for n in order} == {id(n) for n in distinct_nodes(exprs)}
    assert set(order) == set(sp.preorder_traversal(sp.Tuple(*exprs))) - {sp.Tuple(*exprs)}


def test_deeper_than_the_recursion_limit():
    e = x
    for _ in range(5000):
        e = g(e)
    order, _ = walked(e)
    assert len(order) == 5001 and order[0] is x and order[-1] is e


def test_by_equality_equal_subexpressions_are_one_node():
    a = sp.sin(x) + 1
    b = sp.Add._from_args(a.args)  # a new object, equal to a
    assert a == b and a is not b
    done = set()
    first = list(node for node in post_order(a, done, key=None) if not done.add(node))
    assert list(post_order(g(b, y), done, key=None)) == [y, g(b, y)]
    assert a in first


def test_args_chooses_what_is_walked():
    e = g(sp.sin(x), sp.cos(y))
    order, _ = walked(e, args=lambda n: [a for a in n.args if not isinstance(n, sp.cos)])
    assert sp.cos(y) in order and y not in order  # a node whose arguments are not walked
    order, _ = walked(e, args=lambda n: [a for a in n.args if not isinstance(a, sp.cos)])
    assert sp.cos(y) not in order and order[-1] == e  # an argument left out


def test_users_of_the_walk_agree_with_sympy():
    levels = doubling(8)
    e = levels[-1] + sp.sin(levels[3]) * y
    assert free_symbols([e]) == e.free_symbols
    assert replace_symbols(e, {x: y + 1}) == e.xreplace({x: y + 1})
    s = sp.exp(x) + sp.exp(y)
    value = float_eval([sp.exp(x) / s + s], {x: 0.5, y: -1.0})[0]
    assert abs(value - float((sp.exp(x) / s + s).subs({x: 0.5, y: -1.0}))) < 1e-12
