"""Compact formulas made to read like the slides: algebraic rewrite rules in one table.

The backward rules of the operations compose into correct but clumsy trees
(``P * (-1/12 * T * (1 / P) - sum(...))``). Tidying rewrites the *formula
tree* -- matrix products stay matrix products, nothing is expanded into
entries -- with the small rules of :data:`RULES`, applied bottom-up until none
applies. Each rule keeps the value (the tests check every one at random
points) and the shape of what it rewrites.

While the rules run, trees are in a normal form: ``a - b`` is
``a + (-1) * b``, ``a / b`` is ``a * b**-1``, sums and element-wise products
are flat with the number first. :func:`present` turns the result back into
what a lecture writes: ``-T / (12 * P)``, ``(P - T) / 12``, ``2/3 * (Y - T)``.

Two rules are driven by cost (Name occurrences, then nodes): multiplying out
is kept only where something cancels, and ``(X.T @ A).T`` becomes
``A.T @ X`` only where transposes disappear.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable, Mapping

from ..core import budget
from ..core.grid import Shape, broadcast_shapes
from ..core.tree import Call, Name, Node, Num, walk, with_children
from ..ops import get
from ..ops.text import decimal_text
from ..symbolic.evaluate import node_shapes

ONE, MINUS_ONE = Fraction(1), Fraction(-1)

#: Largest number left in a sum by taking a common coefficient out of it.
MAX_COMMON_MULTIPLE = 1000

#: Most terms multiplying out one product may produce.
MAX_EXPANDED_TERMS = 32


# -- small helpers on normal-form trees -------------------------------------------------

def is_op(node: Node, *ops: str) -> bool:
    """Whether ``node`` is a call of one of the operations ``ops``."""
    return isinstance(node, Call) and node.op in ops


def split_coefficient(term: Node) -> tuple[Fraction, tuple[Node, ...]]:
    """``(c, factors)`` with ``term == c * product(factors)``.

    Examples
    --------
    >>> split_coefficient(Call("mul", (Num(3), Name("x"), Name("y"))))
    (Fraction(3, 1), (Name('x'), Name('y')))
    """
    if isinstance(term, Num):
        return term.value, ()
    if is_op(term, "mul") and isinstance(term.args[0], Num):
        return term.args[0].value, term.args[1:]
    if is_op(term, "mul"):
        return ONE, term.args
    return ONE, (term,)


def product(c: Fraction, factors: Iterable[Node]) -> Node:
    """``c * f1 * f2 ...`` in normal form (a number alone, or one factor, as itself)."""
    factors = list(factors)
    if c == 0 or not factors:
        return Num(c)
    if c == 1 and len(factors) == 1:
        return factors[0]
    return Call("mul", ([Num(c)] if c != 1 else []) + factors)


def total(terms: list[Node]) -> Node:
    """The sum of ``terms`` (0 for none, the term itself for one)."""
    if not terms:
        return Num(0)
    return terms[0] if len(terms) == 1 else Call("add", terms)


def base_exponent(factor: Node) -> tuple[Node, Fraction]:
    """``x**k`` -> ``(x, k)`` for a number ``k``; anything else is its own base, power 1."""
    if is_op(factor, "pow") and isinstance(factor.args[1], Num):
        return factor.args[0], factor.args[1].value
    return factor, ONE


def power(base: Node, k: Fraction) -> Node:
    return base if k == 1 else Call("pow", (base, Num(k)))


def cost(node: Node) -> tuple[int, int]:
    """How heavy a formula reads: occurrences of names, then nodes."""
    nodes = list(walk(node))
    return sum(isinstance(n, Name) for n in nodes), len(nodes)


# -- the context rules see ------------------------------------------------------------

class Tidy:
    """Applies :data:`RULES` to trees whose names have the given shapes.

    Parameters
    ----------
    shapes : mapping
        Shape of every name the trees mention.
    onehot : iterable of str
        Names of targets whose entries along the last axis sum to 1.
    expand : bool
        Whether multiplying out may be tried (off while a candidate of it is
        being tidied, so it is tried one level at a time).
    """

    def __init__(self, shapes: Mapping[str, Shape], onehot: Iterable[str] = (),
                 expand: bool = True, rules=None, steps: Mapping[str, Node] | None = None
                 ) -> None:
        self.shapes = dict(shapes)
        self.onehot = frozenset(onehot)
        self.expand = expand
        self.rules = RULES if rules is None else rules
        self.fired: list[str] = []
        self._memo: dict[Node, Node] = {}
        self._shape: dict[Node, Shape] = {}
        self._plain: Tidy | None = None
        #: normal form of each named step's formula -> its name (``inv(S)`` -> ``H2``)
        self.steps: dict[Node, str] = {}
        if steps:
            plain = Tidy(shapes, onehot, expand=False, rules=self.rules)
            self.steps = {plain.normal(expr): name for name, expr in steps.items()
                          if isinstance(expr, Call)}

    def shape(self, node: Node) -> Shape:
        """The shape of a tree (memoised)."""
        if node not in self._shape:
            self._shape.update(node_shapes(node, self.shapes))
        return self._shape[node]

    def plain(self) -> "Tidy":
        """The same context without multiplying out."""
        if self._plain is None:
            self._plain = Tidy(self.shapes, self.onehot, expand=False, rules=self.rules)
            self._plain._shape = self._shape
            self._plain.steps = self.steps
        return self._plain

    def normal(self, node: Node, depth: int = 0) -> Node:
        """``node`` rewritten until no rule applies (children first)."""
        hit = self._memo.get(node)
        if hit is not None:
            return hit
        out = node
        if node.children():
            out = with_children(node, [self.normal(k, depth) for k in node.children()])
        if isinstance(out, Call) and depth < 60:
            new = self._rewrite(out)
            if new is not None:
                out = self.normal(new, depth + 1)
        self._memo[node] = self._memo[out] = out
        return out

    def _rewrite(self, node: Call) -> Node | None:
        for rule in self.rules:
            if rule.ops != ANY and node.op not in rule.ops:
                continue
            new = rule.apply(node, self)
            if new is not None and new != node and self.shape(new) == self.shape(node):
                self.fired.append(rule.name)
                return new
        return None


def tidy(node: Node, shapes: Mapping[str, Shape], onehot: Iterable[str] = (),
         steps: Mapping[str, Node] | None = None) -> Node:
    """``node`` simplified by :data:`RULES` and written as a lecture writes it.

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression as p
    >>> from jacobian_calc.ops.text import to_source
    >>> to_source(tidy(p("-1/12 * T * (1 / P) * P"), {"T": (4, 3), "P": (4, 3)}))
    '-T / 12'
    >>> to_source(tidy(p("(x.T @ A).T + A @ x"), {"x": (3,), "A": (3, 3)}))
    '(A + A.T) @ x'
    """
    return present(Tidy(shapes, onehot, steps=steps).normal(node))


#: ``Rule.ops`` of a rule that looks at every operation.
ANY = ("*",)


# -- what is known of a value's sign ------------------------------------------------------

def positive(node: Node) -> bool:
    """Whether ``node`` is proved positive entry by entry (exp, softmax, sigmoid, positive
    numbers, and sums, products, quotients and powers of positives). Names are not:
    nothing is assumed of a variable."""
    if isinstance(node, Num):
        return node.value > 0
    if not isinstance(node, Call):
        return False
    if get(node.op).value_sign == "positive":  # exp, softmax, sigmoid, ...
        return True
    if node.op in ("add", "mul", "div", "mean", "sum"):
        return all(positive(a) for a in node.args)
    if node.op in ("sqrt",):
        return positive(node.args[0])
    if node.op == "pow":
        return positive(node.args[0])
    return False


def nonnegative(node: Node) -> bool:
    """Whether ``node`` is proved non-negative: positives, even powers, ``abs``, ``sqrt``,
    ``relu``, and sums, products and means of non-negatives."""
    if positive(node):
        return True
    if isinstance(node, Num):
        return node.value >= 0
    if not isinstance(node, Call):
        return False
    if get(node.op).value_sign == "nonnegative":  # abs, sqrt, relu, norm
        return True
    if node.op == "pow" and isinstance(node.args[1], Num):
        k = node.args[1].value
        return (k.denominator == 1 and k.numerator % 2 == 0) or nonnegative(node.args[0])
    if node.op in ("add", "mul", "mean", "sum"):
        return all(nonnegative(a) for a in node.args)
    return False


# -- the rules --------------------------------------------------------------------------

def neg_as_product(node: Call, t: Tidy) -> Node | None:
    """``-x`` -> ``-1 * x`` (normal form: signs are coefficients)."""
    x = node.args[0]
    return Num(-x.value) if isinstance(x, Num) else Call("mul", (Num(-1), x))


def quotient_as_power(node: Call, t: Tidy) -> Node | None:
    """``a / b`` -> ``a * b**-1`` (normal form: one kind of product)."""
    a, b = node.args
    return Call("mul", (a, Call("pow", (b, Num(-1)))))


def flatten(node: Call, t: Tidy) -> Node | None:
    """``a + (b + c)`` -> ``a + b + c``; the same for element-wise products."""
    if not any(is_op(a, node.op) for a in node.args):
        return None
    args = [k for a in node.args for k in (a.args if is_op(a, node.op) else (a,))]
    return Call(node.op, args)


def fold_numbers(node: Call, t: Tidy) -> Node | None:
    """Numbers combined: ``2 * x * 3`` -> ``6 * x``, ``x + 0`` -> ``x``, ``1 * x`` -> ``x``."""
    numbers = [a.value for a in node.args if isinstance(a, Num)]
    rest = [a for a in node.args if not isinstance(a, Num)]
    if node.op == "add":
        value = sum(numbers, Fraction(0))
        if len(numbers) == 1 and value != 0 and len(rest) > 0:
            return None
        return total(rest + ([Num(value)] if value != 0 else []))
    value = math.prod(numbers, start=ONE)
    if value == 0 and t.shape(node) == ():  # an array times 0 keeps its shape
        return Num(0)
    settled = len(numbers) == 1 and value != 1 and isinstance(node.args[0], Num)
    if (settled or not numbers) and len(node.args) > 1:
        return None
    return product(value, rest)


def fold_powers(node: Call, t: Tidy) -> Node | None:
    """``x**1`` -> ``x``; ``2**3`` -> ``8``; for whole ``k``: ``(x**a)**k`` ->
    ``x**(a*k)`` and ``(a * b)**k`` -> ``a**k * b**k``."""
    base, exponent = node.args
    if not isinstance(exponent, Num):
        return None
    k = exponent.value
    if k == 1:
        return base
    if isinstance(base, Num) and k.denominator == 1 and (base.value != 0 or k > 0):
        if _digits(base.value) * abs(k) > budget.active_limits().max_digits:
            return None  # 3**10**12 stays written as a power; it is never computed here
        return Num(base.value ** int(k))
    if is_op(base, "mul") and k.denominator == 1:
        return Call("mul", [Call("pow", (f, exponent)) for f in base.args])
    inner, a = base_exponent(base)
    if inner is not base and k.denominator == 1:
        return power(inner, a * k)
    return None


def _digits(value: Fraction) -> float:
    """Decimal digits of numerator and denominator, without converting them to text."""
    return sum(abs(n).bit_length() * math.log10(2) for n in (value.numerator, value.denominator))


def cancel_powers(node: Call, t: Tidy) -> Node | None:
    """Equal factors combined: ``x * x`` -> ``x**2``, ``x * (1/x)`` -> ``1``."""
    counts: dict[Node, Fraction] = {}
    for f in node.args:
        base, k = base_exponent(f)
        counts[base] = counts.get(base, Fraction(0)) + k
    if len(counts) == len(node.args):
        return None
    factors = [power(b, k) for b, k in counts.items() if k != 0 or isinstance(b, Num)]
    out = product(ONE, factors) if factors else Num(1)
    if t.shape(out) != t.shape(node):  # x * (1/x) alone: ones of x's shape
        gone = [b for b, k in counts.items() if k == 0]
        out = product(ONE, factors + [Call("ones_like", (gone[0],))])
    return out


def collect_terms(node: Call, t: Tidy) -> Node | None:
    """Like terms combined: ``2 * x - x`` -> ``x``, ``a * b - b * a`` -> ``0``."""
    groups: dict[frozenset, list] = {}
    for term in node.args:
        c, factors = split_coefficient(term)
        key = frozenset(Counter(factors).items())
        if key in groups:
            groups[key][0] += c
        else:
            groups[key] = [c, factors]
    if len(groups) == len(node.args):
        return None
    out = total([product(c, fs) for c, fs in groups.values() if c != 0])
    if t.shape(out) != t.shape(node):  # X - X + b keeps X's shape: b * ones_like(X)
        gone = [product(ONE, fs) for c, fs in groups.values() if c == 0]
        full = next((g for g in gone if t.shape(g) == t.shape(node)), None)
        if full is None:
            return None
        out = Call("mul", (out, Call("ones_like", (full,))))
    return out


def drop_ones(node: Call, t: Tidy) -> Node | None:
    """``dY * ones_like(X)`` -> ``dY`` where ``dY`` already has the product's shape."""
    ones = [a for a in node.args if is_op(a, "ones_like")]
    if not ones:
        return None
    rest = [a for a in node.args if not is_op(a, "ones_like")]
    keep = [a for a in rest if not isinstance(a, Num)]
    if not keep or broadcast_shapes(*(t.shape(a) for a in keep)) != t.shape(node):
        return None
    return Call("mul", rest) if len(rest) > 1 else rest[0]


def double_transpose(node: Call, t: Tidy) -> Node | None:
    """``A.T.T`` -> ``A``; the transpose of a vector or a scalar is itself."""
    x = node.args[0]
    if is_op(x, "transpose"):
        return x.args[0]
    return x if len(t.shape(x)) < 2 else None


def transpose_of_product(node: Call, t: Tidy) -> Node | None:
    """``(X.T @ A).T`` -> ``A.T @ X`` when that removes transposes."""
    x = node.args[0]
    if not is_op(x, "matmul"):
        return None
    a, b = x.args
    candidate = t.plain().normal(Call("matmul", (Call("transpose", (b,)),
                                                 Call("transpose", (a,)))))
    return candidate if cost(candidate) < cost(node) else None


def scalars_out(node: Call, t: Tidy) -> Node | None:
    """Scalar factors out of linear operations: ``A @ (c * B)`` -> ``c * (A @ B)``,
    ``sum(c * X)`` -> ``c * sum(X)``, ``(c * A).T`` -> ``c * A.T``."""
    args, pulled = list(node.args), []
    for i, a in enumerate(args):
        if not is_op(a, "mul") or (node.op != "matmul" and i > 0):
            continue
        scalars = [f for f in a.args if t.shape(f) == ()]
        rest = [f for f in a.args if t.shape(f) != ()]
        if scalars and rest and broadcast_shapes(*(t.shape(f) for f in rest)) == t.shape(a):
            pulled += scalars
            args[i] = product(ONE, rest)
    if not pulled:
        return None
    return Call("mul", pulled + [Call(node.op, args, node.kwargs)])


def matmul_identity(node: Call, t: Tidy) -> Node | None:
    """``A @ eye_like(Z)`` -> ``A`` (and ``eye_like(Z) @ A``) where the shape allows."""
    a, b = node.args
    for eye, other in ((b, a), (a, b)):
        if is_op(eye, "eye_like") and t.shape(other) == t.shape(node):
            return other
    return None


def vector_on_the_right(node: Call, t: Tidy) -> Node | None:
    """``x @ A`` (a vector times a matrix) -> ``A.T @ x``, as the slides write it."""
    a, b = node.args
    if len(t.shape(a)) == 1 and len(t.shape(b)) == 2:
        return Call("matmul", (Call("transpose", (b,)), a))
    return None


def factor_products(node: Call, t: Tidy) -> Node | None:
    """A common operand of matrix products factored out: ``A @ x + A.T @ x`` ->
    ``(A + A.T) @ x``, ``A @ x + A @ y`` -> ``A @ (x + y)``."""
    for side in (1, 0):
        groups: dict[Node, list[int]] = {}
        for i, term in enumerate(node.args):
            c, factors = split_coefficient(term)
            if len(factors) == 1 and is_op(factors[0], "matmul"):
                groups.setdefault(factors[0].args[side], []).append(i)
        shared = next(((k, v) for k, v in groups.items() if len(v) > 1), None)
        if shared is not None:
            return _factored(node, side, *shared)
    return None


def _factored(node: Call, side: int, common: Node, members: list[int]) -> Node:
    parts = []
    for i in members:
        c, (mm,) = split_coefficient(node.args[i])
        parts.append(product(c, [mm.args[1 - side]]))
    parts.sort(key=lambda p: cost(p))  # the plainer operand first: A + A.T
    inner = total(parts)
    joined = Call("matmul", (inner, common) if side == 1 else (common, inner))
    rest = [a for i, a in enumerate(node.args) if i not in members]
    return total([joined] + rest)


def positive_axis(node: Call, t: Tidy) -> Node | None:
    """``axis=-1`` -> ``axis=1`` for a matrix (the lectures count axes from 0);
    ``sum(x, axis=0)`` of a vector -> ``sum(x)``."""
    axis = node.kwarg("axis")
    if axis is None or not get(node.op).keyword("axis"):
        return None
    ndim = len(t.shape(node.args[0])) + (node.op == "expand_dims")
    options = dict(node.kwargs)
    if axis < 0 and ndim:
        options["axis"] = axis % ndim
        return Call(node.op, node.args, options)
    if node.op in ("sum", "mean") and ndim == 1 and not node.kwarg("keepdims"):
        options.pop("axis")
        return Call(node.op, node.args, options)
    return None


def onehot_rows(node: Call, t: Tidy) -> Node | None:
    """``P * sum(T, axis=1, keepdims=True)`` -> ``P`` when the rows of ``T`` are one-hot
    (declared with ``onehot``): each row sums to 1."""
    def is_row_total(a: Node) -> bool:
        return (is_op(a, "sum") and isinstance(a.args[0], Name) and a.args[0].id in t.onehot
                and a.kwarg("keepdims") is True
                and a.kwarg("axis") == len(t.shapes.get(a.args[0].id, ())) - 1)

    if node.op == "mul":
        kept = [a for a in node.args if not is_row_total(a)]
        if len(kept) == len(node.args) or not kept:
            return None
        return product(ONE, kept)
    terms = [Num(c) if fs and all(map(is_row_total, fs)) else product(c, fs)
             for c, fs in map(split_coefficient, node.args)]
    return Call("add", terms) if terms != list(node.args) else None


def common_coefficient(node: Call, t: Tidy) -> Node | None:
    """A shared number out of a sum (its sign too, when every term is negative):
    ``-T/12 + P/12`` -> ``1/12 * (P - T)``, ``-a - b`` -> ``-(a + b)``."""
    coefficients = [split_coefficient(a)[0] for a in node.args]
    g = Fraction(math.gcd(*(c.numerator for c in coefficients)),
                 math.lcm(*(c.denominator for c in coefficients)))
    if all(c < 0 for c in coefficients):
        g = -g
    if g.denominator > 1 and any(c.denominator == 1 for c in coefficients):
        return None  # H.T / 2 - A stays, not (H.T - 2 * A) / 2
    if g in (0, 1) or max(abs(c / g) for c in coefficients) > MAX_COMMON_MULTIPLE:
        return None  # 0.5 + 0.044715 * x stays, not (100000 + 8943 * x) / 200000
    terms = [product(c / g, fs) for c, fs in map(split_coefficient, node.args)]
    return Call("mul", (Num(g), Call("add", terms)))


def common_factor(node: Call, t: Tidy) -> Node | None:
    """A factor shared by every term out of a sum: ``dY * cos(X) - dY * sin(X)`` ->
    ``dY * (cos(X) - sin(X))``."""
    splits = [split_coefficient(a) for a in node.args]
    shared = Counter(splits[0][1])
    for _, factors in splits[1:]:
        shared &= Counter(factors)
    if not shared:
        return None
    terms = [product(c, list((Counter(fs) - shared).elements())) for c, fs in splits]
    return Call("mul", list(shared.elements()) + [Call("add", terms)])


def multiply_out(node: Call, t: Tidy) -> Node | None:
    """Products multiplied out where that makes something cancel:
    ``P * (-T/(12*P) + Y/12)`` -> ``(P*Y - T)/12``, but ``dY * (1 - Y**2)`` stays as
    it is. Each sum factor is tried on its own, so ``(1 - y)`` can still cancel
    ``1/(1 - y)``."""
    if not t.expand:
        return None
    best = node
    for expanded in _multiplied_out(node):
        candidate = t.plain().normal(expanded)
        if cost(candidate) < cost(best):
            best = candidate
    return best if best is not node else None


def _multiplied_out(node: Call) -> list[Node]:
    """Distributions of element-wise products over sums, one level deep: a product
    over each of its sum factors, and over all of them; a sum term by term."""
    if node.op == "add":
        terms = [k for a in node.args for k in _distribute(a, None)]
        return [Call("add", terms)] if len(terms) > len(node.args) else []
    sums = [i for i, a in enumerate(node.args) if is_op(a, "add")]
    choices = [[i] for i in sums] + ([sums] if len(sums) > 1 else [])
    return [total(terms) for terms in (_distribute(node, c) for c in choices)
            if 1 < len(terms) <= MAX_EXPANDED_TERMS]


def _distribute(term: Node, over: list[int] | None) -> list[Node]:
    """The terms of ``term`` multiplied out over its sum factors ``over`` (all: None)."""
    if not is_op(term, "mul"):
        return [term]
    parts = [a.args if is_op(a, "add") and (over is None or i in over) else (a,)
             for i, a in enumerate(term.args)]
    if math.prod(len(p) for p in parts) > MAX_EXPANDED_TERMS:
        return [term]
    return [Call("mul", combo) for combo in itertools.product(*parts)]


def sign_into_sum(node: Call, t: Tidy) -> Node | None:
    """A negative number times a sum with as many negative terms as positive ones:
    the sign goes into the sum, ``-1/4 * (T - y)`` -> ``1/4 * (y - T)``."""
    c, factors = split_coefficient(node)
    sums = [f for f in factors if is_op(f, "add")]
    if c >= 0 or not sums:
        return None
    signs = [split_coefficient(a)[0] < 0 for a in sums[0].args]
    if 2 * sum(signs) < len(signs):
        return None
    flipped = Call("add", [product(-k, fs) for k, fs in map(split_coefficient, sums[0].args)])
    return product(-c, [flipped if f is sums[0] else f for f in factors])


def _reduced_axis(node: Call) -> tuple:
    return node.kwarg("axis"), bool(node.kwarg("keepdims"))


def centred_sum(node: Call, t: Tidy) -> Node | None:
    """Sums of centred values vanish: ``sum(x - mean(x))`` -> ``0``, and along an axis,
    ``sum(X - mean(X, axis=1, keepdims=True), axis=1)`` -> ``0``."""
    arg = node.args[0]
    if not is_op(arg, "add"):
        return None
    axis, keepdims = _reduced_axis(node)
    for i, a in enumerate(arg.args):
        c, fs = split_coefficient(a)
        if c != -1 or len(fs) != 1 or not is_op(fs[0], "mean"):
            continue
        m = fs[0]
        m_axis, m_keep = _reduced_axis(m)
        rest = total([b for j, b in enumerate(arg.args) if j != i])
        whole = m_axis is None and axis is None
        along = axis is not None and m_axis == axis and (m_keep or t.shape(m) == ())
        if m.args[0] == rest and (whole or along) and t.shape(rest) == t.shape(arg):
            if t.shape(node) == ():
                return Num(0)
            like = m if t.shape(m) == t.shape(node) else Call(node.op, (rest,), node.kwargs)
            return Call("mul", (Num(0), Call("ones_like", (like,))))
    return None


def exp_of_log_softmax(node: Call, t: Tidy) -> Node | None:
    """``exp(log_softmax(z))`` -> ``softmax(z)`` (or the name of that step)."""
    x = node.args[0]
    if is_op(x, "log_softmax"):
        return Call("softmax", x.args, x.kwargs)
    return None


def exp_of_log(node: Call, t: Tidy) -> Node | None:
    """``exp(log(x))`` -> ``x`` where ``x > 0`` is proved (``exp(log(sigmoid(z)))``)."""
    x = node.args[0]
    if is_op(x, "log") and positive(x.args[0]):
        return x.args[0]
    return None


def softmax_total(node: Call, t: Tidy) -> Node | None:
    """The entries of a softmax sum to 1: ``sum(softmax(z))`` -> ``1``, and
    ``P * sum(softmax(Z, axis=1), axis=1, keepdims=True)`` -> ``P``."""
    def is_total(a: Node) -> bool:
        if not is_op(a, "sum"):
            return False
        s = a.args[0]
        if isinstance(s, Name):
            s = next((e for e, n in t.steps.items() if n == s.id), s)
        if not is_op(s, "softmax"):
            return False
        ndim = len(t.shape(s.args[0]))
        s_axis = s.kwarg("axis")
        s_axis = (ndim - 1 if s_axis is None else s_axis % ndim) if ndim else None
        axis = a.kwarg("axis")
        if ndim <= 1:
            return axis in (None, 0)
        return axis is not None and axis % ndim == s_axis and bool(a.kwarg("keepdims"))

    if node.op == "sum":
        return Num(1) if is_total(node) and t.shape(node) == () else None
    kept = [a for a in node.args if not is_total(a)]
    if len(kept) == len(node.args) or not kept:
        return None
    return product(ONE, kept)


def sqrt_squared(node: Call, t: Tidy) -> Node | None:
    """``sqrt(h)**2`` -> ``h`` (``sqrt(h)**4`` -> ``h**2``): ``sqrt(h)`` has a value only
    where ``h >= 0``, so the rule holds wherever the formula does."""
    base, exponent = node.args
    if is_op(base, "sqrt") and isinstance(exponent, Num):
        k = exponent.value
        if k > 0 and k.denominator == 1 and k.numerator % 2 == 0:
            return power(base.args[0], k / 2)
    return None


def sqrt_of_square(node: Call, t: Tidy) -> Node | None:
    """``sqrt(h**2)`` -> ``h`` where ``h >= 0`` is proved (``sqrt(exp(z)**2)``)."""
    base, k = base_exponent(node.args[0])
    if k == 2 and nonnegative(base):
        return base
    return None


def constant_along_axis(node: Call, t: Tidy) -> Node | None:
    """Factors constant along the summed axis out of the sum:
    ``sum(A * s, axis=1, keepdims=True)`` -> ``s * sum(A, axis=1, keepdims=True)`` for
    ``s`` of shape ``N x 1``."""
    axis, keepdims = _reduced_axis(node)
    arg = node.args[0]
    if axis is None or not keepdims or not is_op(arg, "mul"):
        return None
    ndim = len(t.shape(arg))
    axis %= max(ndim, 1)
    out = [f for f in arg.args if not isinstance(f, Num) and len(t.shape(f)) == ndim
           and t.shape(f)[axis] == 1 and ndim > 1]
    rest = [f for f in arg.args if f not in out]
    if not out or not rest or broadcast_shapes(*(t.shape(f) for f in rest)) != t.shape(arg):
        return None
    return Call("mul", out + [Call(node.op, (product(ONE, rest),), node.kwargs)])


def sqrt_powers(node: Call, t: Tidy) -> Node | None:
    """A quantity and its square root in one product combined:
    ``(v + eps) * sqrt(v + eps)`` -> ``sqrt(v + eps)**3``."""
    halves: dict[Node, Fraction] = {}
    for f in node.args:
        base, k = base_exponent(f)
        if is_op(base, "sqrt"):
            halves.setdefault(base.args[0], Fraction(0))
    both = [h for h in halves if any(base_exponent(f)[0] == h for f in node.args)]
    if not both:
        return None
    h = both[0]
    total_halves, rest = Fraction(0), []
    for f in node.args:
        base, k = base_exponent(f)
        if base == h:
            total_halves += 2 * k
        elif is_op(base, "sqrt") and base.args[0] == h:
            total_halves += k
        else:
            rest.append(f)
    combined = power(Call("sqrt", (h,)), total_halves) if total_halves.denominator == 1 \
        and total_halves.numerator % 2 else power(h, total_halves / 2)
    return product(ONE, rest + ([combined] if total_halves != 0 else []))


def by_step_name(node: Call, t: Tidy) -> Node | None:
    """A subexpression that has a step name is written by that name:
    ``inv(S).T`` -> ``H2.T`` (with ``H2 = inv(S)``), ``ones_like(H @ v)`` -> ``ones_like(h)``."""
    name = t.steps.get(node)
    return Name(name) if name is not None else None


@dataclass(frozen=True)
class Rule:
    """One rewrite rule: its name, what it does, the operations it looks at, the
    function (``None`` when it does not apply), and an example ``(before, after,
    shapes)`` that the tests check and the documentation shows."""

    name: str
    ops: tuple[str, ...]
    apply: Callable[[Call, Tidy], Node | None]
    example: tuple[str, str, dict]
    onehot: tuple[str, ...] = ()
    steps: tuple[tuple[str, str], ...] = ()  # named steps of the example: (name, formula)

    @property
    def doc(self) -> str:
        return (self.apply.__doc__ or "").strip()


M23, M33 = {"X": (2, 3), "Y": (2, 3), "T": (2, 3), "P": (2, 3)}, {"A": (3, 3), "x": (3,)}

#: The rules, in the order they are tried on each node.
RULES: tuple[Rule, ...] = (
    Rule("neg_as_product", ("neg",), neg_as_product, ("-(-X)", "X", M23)),
    Rule("quotient_as_power", ("div",), quotient_as_power, ("X / Y * Y", "X", M23)),
    Rule("flatten", ("add", "mul"), flatten, ("X * (Y * X)", "X**2 * Y", M23)),
    Rule("fold_numbers", ("add", "mul"), fold_numbers, ("2 * X * 3 + 0", "6 * X", M23)),
    Rule("fold_powers", ("pow",), fold_powers,
         ("(X**2)**3 + X**1 + (2 * Y)**2", "X**6 + X + 4 * Y**2", M23)),
    Rule("cancel_powers", ("mul",), cancel_powers, ("Y * X * (1 / X)", "Y", M23)),
    Rule("collect_terms", ("add",), collect_terms,
         ("2 * X - Y - X + Y * 1 + (T - T)", "X", M23)),
    Rule("drop_ones", ("mul",), drop_ones, ("Y * ones_like(X)", "Y", M23)),
    Rule("double_transpose", ("transpose",), double_transpose, ("X.T.T + x.T", "X + x",
                                                                {"X": (3,), "x": (3,)})),
    Rule("transpose_of_product", ("transpose",), transpose_of_product,
         ("(B.T @ A).T", "A.T @ B", {"A": (3, 3), "B": (3, 3)})),
    Rule("scalars_out", ("matmul", "sum", "mean", "transpose", "expand_dims"), scalars_out,
         ("A @ (2 * A.T) + sum(3 * A) * A", "2 * (A @ A.T) + 3 * sum(A) * A", M33)),
    Rule("matmul_identity", ("matmul",), matmul_identity, ("A @ eye_like(A)", "A", M33)),
    Rule("vector_on_the_right", ("matmul",), vector_on_the_right, ("x @ A", "A.T @ x", M33)),
    Rule("factor_products", ("add",), factor_products,
         ("A.T @ x + A @ x", "(A + A.T) @ x", M33)),
    Rule("positive_axis", ("sum", "mean", "softmax", "log_softmax", "logsumexp",
                           "expand_dims"), positive_axis,
         ("sum(X, axis=-1, keepdims=True) * X + sum(x, axis=0)",
          "sum(X, axis=1, keepdims=True) * X + sum(x)", {"X": (2, 3), "x": (3,)})),
    Rule("onehot_rows", ("mul", "add"), onehot_rows,
         ("P * sum(T, axis=1, keepdims=True) - T", "P - T", M23), onehot=("T",)),
    Rule("common_coefficient", ("add",), common_coefficient,
         ("-T / 12 + P / 12", "(P - T) / 12", M23)),
    Rule("common_factor", ("add",), common_factor,
         ("Y * X - Y * X**2", "Y * (X - X**2)", M23)),
    Rule("sign_into_sum", ("mul",), sign_into_sum, ("-(T - Y) / 4", "(Y - T) / 4", M23)),
    Rule("multiply_out", ("mul", "add"), multiply_out,
         ("P * (-T / (12 * P) + Y / 12)", "(P * Y - T) / 12", M23)),
    Rule("centred_sum", ("sum", "mean"), centred_sum,
         ("Y * sum(X - mean(X, axis=1, keepdims=True), axis=1, keepdims=True) + "
          "sum(x - mean(x)) + Y", "Y", {"x": (3,), "X": (2, 3), "Y": (2, 3)})),
    Rule("exp_of_log_softmax", ("exp",), exp_of_log_softmax,
         ("exp(log_softmax(X, axis=1)) - T", "softmax(X, axis=1) - T", M23)),
    Rule("exp_of_log", ("exp",), exp_of_log, ("exp(log(sigmoid(X))) * Y", "sigmoid(X) * Y",
                                              M23)),
    Rule("softmax_total", ("sum", "mul"), softmax_total,
         ("Y * sum(softmax(X, axis=1), axis=1, keepdims=True) + sum(softmax(x))",
          "Y + 1", {"X": (2, 3), "Y": (2, 3), "x": (3,)})),
    Rule("sqrt_squared", ("pow",), sqrt_squared, ("Y / sqrt(X**2 + 1)**2", "Y / (X**2 + 1)",
                                                  M23)),
    Rule("sqrt_of_square", ("sqrt",), sqrt_of_square, ("sqrt(exp(X)**2) * Y",
                                                       "exp(X) * Y", M23)),
    Rule("constant_along_axis", ("sum", "mean"), constant_along_axis,
         ("sum(X * s, axis=1, keepdims=True)", "s * sum(X, axis=1, keepdims=True)",
          {"X": (2, 3), "s": (2, 1)})),
    Rule("sqrt_powers", ("mul",), sqrt_powers,
         ("Y / (2 * (X**2 + 1) * sqrt(X**2 + 1))", "Y / (2 * sqrt(X**2 + 1)**3)", M23)),
    Rule("by_step_name", ANY, by_step_name, ("ones_like(X @ x) / 2", "ones_like(h) / 2",
                                              {"X": (2, 3), "x": (3,), "h": (2,)}),
         steps=(("h", "X @ x"),)),
)


# -- presentation -----------------------------------------------------------------------

def present(node: Node) -> Node:
    """A normal-form tree written as a lecture writes it: signs, quotients, order.

    Examples
    --------
    >>> from jacobian_calc.ops.text import to_source
    >>> P, T = Name("P"), Name("T")
    >>> to_source(present(Call("mul", (Num(Fraction(-1, 12)), T, Call("pow", (P, Num(-1)))))))
    '-T / (12 * P)'
    """
    if is_op(node, "mul"):
        return _present_product(*split_coefficient(node))
    if is_op(node, "add"):
        return _present_sum(Call("add", [present(a) for a in node.args]))
    if _is_reciprocal(node):
        return _present_product(ONE, (node,))
    if not node.children():
        return node
    return with_children(node, [present(k) for k in node.children()])


def _present_sum(node: Call) -> Node:
    """Positive terms first; a negative term as ``- term``."""
    terms = [(_negative(a), a) for a in node.args]
    ordered = [a for neg, a in terms if not neg] + [a for neg, a in terms if neg]
    return Call("add", [_negated(a) if _negative(a) else a for a in ordered])


def _negative(term: Node) -> bool:
    return (isinstance(term, Num) and term.value < 0) or is_op(term, "neg") or (
        is_op(term, "div") and _negative(term.args[0])) or (
        is_op(term, "mul") and (is_op(term.args[0], "neg") or (
            isinstance(term.args[0], Num) and term.args[0].value < 0)))


def _negated(term: Node) -> Node:
    """The presented term with its sign flipped, as ``neg(...)`` for the printer."""
    if isinstance(term, Num):
        return Call("neg", (Num(-term.value),))
    if is_op(term, "neg"):
        return term
    if is_op(term, "div"):
        return Call("neg", (Call("div", (_unsigned(term.args[0]), term.args[1])),))
    return Call("neg", (_unsigned(term),))


def _unsigned(node: Node) -> Node:
    if isinstance(node, Num):
        return Num(abs(node.value))
    if is_op(node, "neg"):
        return node.args[0]
    if is_op(node, "mul"):
        first = node.args[0]
        if isinstance(first, Num):
            rest = list(node.args[1:])
            return Call("mul", [Num(-first.value)] + rest) if first.value != -1 else \
                product(ONE, rest)
        return Call("mul", (_unsigned(first),) + node.args[1:])
    return node


def _present_product(c: Fraction, factors: tuple[Node, ...]) -> Node:
    """``c * a * b**-1`` -> ``c * a / b`` with the sign on the first factor."""
    top = [present(f) for f in factors if not _is_reciprocal(f)]
    bottom = [present(power(*_flipped(f))) for f in factors if _is_reciprocal(f)]
    p, q = abs(c.numerator), c.denominator
    if decimal_text(c) is not None:  # 0.134145 * x**2, as typed, not 26829 * x**2 / 200000
        numerator = _signed(c < 0, Num(abs(c)), top)
        return Call("div", (numerator, product(ONE, bottom))) if bottom else numerator
    if not bottom and (q == 1 or p != 1):
        return _signed(c < 0, Num(abs(c)) if abs(c) != 1 else None, top)
    numerator = _signed(c < 0, Num(p) if p != 1 else None, top)
    denominator = product(ONE, ([Num(q)] if q != 1 else []) + bottom)
    return Call("div", (numerator, denominator))


def _is_reciprocal(f: Node) -> bool:
    return is_op(f, "pow") and isinstance(f.args[1], Num) and f.args[1].value < 0


def _flipped(f: Call) -> tuple[Node, Fraction]:
    return f.args[0], -f.args[1].value


def _signed(negative: bool, number: Num | None, factors: list[Node]) -> Node:
    factors = ([number] if number is not None else []) + factors
    if not factors:
        return Num(-1 if negative else 1)
    if negative:
        first = factors[0]
        factors[0] = Num(-first.value) if isinstance(first, Num) else Call("neg", (first,))
    return factors[0] if len(factors) == 1 else Call("mul", factors)


__all__ = ["tidy", "present", "Tidy", "Rule", "RULES", "cost", "split_coefficient",
           "positive", "nonnegative"]
