"""SymPy input as fast as text: plain symbols are read once into a DAG (a subexpression
shared by many components is one node) and the result is written back in them in one pass
over the result's DAG. Work is counted, not timed (times are in benchmarks/)."""

import sympy as sp

from jacobian_calc import jacobian
from jacobian_calc.core.tree import Node, walk
from jacobian_calc.derive import jacobian as jacobian_module
from jacobian_calc.derive.problem import prepare
from jacobian_calc.symbolic import measure


def softmax(K: int, **assumptions):
    l = sp.symbols(f"l1:{K + 1}", **assumptions)
    S = sp.Add(*[sp.exp(s) for s in l])
    return [sp.exp(s) / S for s in l], l


def test_a_subexpression_shared_by_components_is_one_node():
    exprs, _ = softmax(8)
    problem = prepare(exprs)
    denominators = set()
    for c in problem.components:
        for n in walk(c):
            if isinstance(n, Node) and getattr(n, "op", None) == "add":
                denominators.add(id(n))
    assert len(denominators) == 1


def _distinct(exprs) -> int:
    seen, stack = set(), list(exprs)
    while stack:
        e = stack.pop()
        if id(e) not in seen:
            seen.add(id(e))
            stack.extend(e.args)
    return len(seen)


def test_writing_back_in_the_callers_symbols_visits_each_node_once(monkeypatch):
    memos, real = [], measure.replace_symbols

    def spy(expr, values, functions=None, memo=None, rename=False):
        memos.append(memo)
        return real(expr, values, functions, memo, rename)

    monkeypatch.setattr(jacobian_module, "replace_symbols", spy)
    exprs, l = softmax(12)
    J = jacobian(exprs, wrt=list(l))
    assert len({id(m) for m in memos}) == 1  # one memo for all 144 entries
    internal = jacobian(softmax(12, real=True)[0], wrt=list(softmax(12, real=True)[1]))
    assert len(memos[0]) <= _distinct(internal.entries.values())


def test_plain_and_real_and_text_give_the_same_entries():
    K = 6
    exprs, l = softmax(K)
    plain = jacobian(exprs, wrt=list(l))
    real_exprs, real_l = softmax(K, real=True)
    real = jacobian(real_exprs, wrt=list(real_l))
    names = [f"l{i + 1}" for i in range(K)]
    total = " + ".join(f"exp({n})" for n in names)
    text = jacobian(", ".join(f"exp({n})/({total})" for n in names), wrt=",".join(names))
    back = dict(zip(l, real_l))
    assert plain.tensor.xreplace(back) == real.tensor == text.tensor
    assert all(s in l for e in plain.entries.values() for s in e.free_symbols)
