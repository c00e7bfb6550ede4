"""The checked input of every derivation: components, shapes, intermediates.

:func:`prepare` reads what the caller gave (text, SymPy objects, trees),
declares what SymPy matrix symbols declare, orders the intermediates
(``lets``), and infers every shape, so shape errors and oversized requests
surface before any SymPy work starts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence, Union

import sympy as sp

from ..core.budget import active_limits
from ..core.dims import names_of
from ..core.errors import JacobianError, JacobianTypeError, LimitError, warn
from ..core.grid import Grid, Shape, SymbolicSizeError, concrete, shape_text
from ..core.names import natural_key
from ..core.tree import Call, Name, Node, names, fold
from ..ops.text import to_source
from ..parsing import declared_name, normalize_shapes, parse
from ..parsing.shapes import dimension_names
from ..symbolic.evaluate import Env, evaluate, shape_of
from ..symbolic.sympy_input import Reading, read
from ..symbolic.measure import free_symbols
from ..symbolic.symbols import scalar_symbol, symbol_grid, symmetric_grid
from .estimate import Costs, check_forward, check_gradient, tree_costs

ExprLike = Union[str, sp.Basic, Node]


@dataclass
class Problem:
    """Parsed, checked input shared by Jacobians, chains, backprop and Hessians."""

    components: list[Node]
    shapes: dict[str, Shape]
    lets: dict[str, Node]
    let_order: list[str]
    functions: frozenset[str] = frozenset()
    symbols: dict[str, sp.Symbol] = field(default_factory=dict)  # the caller's own
    function_classes: dict[str, type] = field(default_factory=dict)  # the caller's own
    matrix_input: bool = False  # one SymPy Matrix given: its shape is the output's
    costs: Costs | None = None  # size estimates of every subtree (derive.estimate)
    origins: dict[Node, sp.Expr] = field(default_factory=dict)  # SymPy input, as given
    symmetric: frozenset[str] = frozenset()  # square matrices with S_i_j = S_j_i
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def env(self) -> Env:
        """A fresh evaluation environment with the intermediates evaluated."""
        self.check_forward()
        env = Env(self.shapes)
        for name in self.symmetric:
            env.values[name] = symmetric_grid(name, self.shapes[name][0])
        for name in self.let_order:
            env.values[name] = evaluate(self.lets[name], env)
        return env

    def subtree_shapes(self) -> tuple[dict[str, Shape], dict[Node, Shape]]:
        """Shapes of the names (intermediates included) and of every subtree, computed
        once: a subtree shared by many components (softmax's sum) is looked at once."""
        if "shapes" not in self._cache:
            names_, subtrees = dict(self.shapes), {}
            for name in self.let_order:
                node = self.lets[name]
                names_[name] = fold(node, lambda n, a, s=dict(names_): shape_of(n, a, s),
                                    subtrees)
            for node in self.components:
                fold(node, lambda n, a: shape_of(n, a, names_), subtrees)
            self._cache["shapes"] = (names_, subtrees)
        return self._cache["shapes"]

    def let_shapes(self) -> dict[str, Shape]:
        return dict(self.subtree_shapes()[0])

    def array_shapes(self) -> dict[str, Shape]:
        """Shapes of the names that are arrays: declared variables, array intermediates."""
        return {n: s for n, s in self.subtree_shapes()[0].items() if s}

    def component_shapes(self) -> list[Shape]:
        subtrees = self.subtree_shapes()[1]
        return [subtrees[c] for c in self.components]

    def sources(self) -> list[str]:
        """The components in the calculator's syntax (a summary for a huge SymPy input)."""
        if "sources" not in self._cache:
            self._cache["sources"] = [_source(c, self) for c in self.components]
        return list(self._cache["sources"])

    def evaluate(self, env: Env | None = None) -> list[Grid]:
        env = env or self.env()
        return [Grid.scalar(self.origins[c]) if c in self.origins and not names(c) & set(
            self.lets) else evaluate(c, env) for c in self.components]

    def check_forward(self) -> None:
        """Refuse evaluating what would build over ``limits.max_nodes`` nodes."""
        if self.costs is not None:
            check_forward(self.costs)

    def check_work(self, groups: int = 1) -> None:
        """Refuse evaluating, or differentiating ``groups`` times, what the size
        estimates put over ``limits.max_nodes``."""
        if self.costs is not None:
            check_forward(self.costs)
            check_gradient([self.costs.nodes[c] for c in self.components], groups)

    def used_names(self) -> set[str]:
        """Every name the components and the intermediates mention."""
        if "names" not in self._cache:
            found: set[str] = set()
            for node in [*self.components, *self.lets.values()]:
                found |= names(node)
            self._cache["names"] = found
        return set(self._cache["names"])

    @property
    def dimensions(self) -> set[str]:
        """The dimension names of the declared shapes (``N``, ``d``), and of ``eye(d)``."""
        if "dimensions" not in self._cache:
            found = {n for shape in self.subtree_shapes()[1].values() for d in shape
                     for n in names_of(d)}  # n and k of a convolution's n - k + 1
            self._cache["dimensions"] = found | dimension_names(self.shapes)
        return set(self._cache["dimensions"])

    @property
    def symbolic(self) -> bool:
        """Whether some size is a dimension name (no entries can be written out)."""
        return bool(self.dimensions)

    def caller_symbol(self, name: str) -> sp.Symbol:
        """The caller's own SymPy symbol for ``name``, else the calculator's real one."""
        return self.symbols.get(name) or scalar_symbol(name)


def prepare(of: ExprLike | Sequence[ExprLike], *, shapes: Mapping | None = None,
            lets: Mapping | None = None, functions: Iterable[str] | None = None,
            symmetric: Iterable[str] | None = None, symbolic: bool = False) -> Problem:
    """Parse and validate the input of any computation (``symmetric``: names of square
    matrices whose entries (i, j) and (j, i) are one symbol).

    ``symbolic``: whether the caller handles sizes given as dimension names
    (``X`` of ``Nxd``); otherwise they are refused with a clear error.
    """
    declared = _functions(functions)
    reading = Reading()
    shape_map = normalize_shapes(shapes)
    components = _components(of, declared, set(shape_map), reading)
    let_nodes = _lets(lets, declared, set(shape_map), reading)
    for name, shape in reading.shapes.items():
        if shape_map.get(name, shape) != shape:
            raise JacobianError(f"{name} is a {shape_text(shape)} MatrixSymbol but "
                                f"{{{{shapes}}}} declares it {shape_text(shape_map[name])}")
        shape_map[name] = shape
    for name in let_nodes:
        if name in shape_map:
            raise JacobianError(f"{name!r} is both declared with {{{{shapes}}}} and defined "
                                "by {{lets}}")
    order = _let_order(let_nodes)
    problem = Problem(components, shape_map, let_nodes, order,
                      frozenset(declared | reading.functions), reading.symbols,
                      reading.function_classes, matrix_input=isinstance(of, sp.MatrixBase),
                      origins=reading.origins)
    problem.symmetric = _symmetric(symmetric, problem.shapes)
    _check_entry_names(problem)
    _check_sizes(problem)
    _check_dimensions(problem, symbolic)
    if not problem.symbolic:
        problem.costs = tree_costs(components, shape_map, let_nodes, order,
                                   problem.subtree_shapes()[1])
    return problem


def _source(node: Node, problem: Problem) -> str:
    cost = problem.costs.nodes.get(node) if problem.costs is not None else None
    if cost is not None and cost.size > active_limits().max_length:
        return f"<an expression of about {cost.size:,.0f} nodes>"
    return to_source(node)


def _symmetric(symmetric, shapes: Mapping[str, Shape]) -> frozenset[str]:
    """The declared symmetric matrices: each must be a square matrix declared with shapes."""
    if symmetric is None:
        return frozenset()
    if isinstance(symmetric, str):
        symmetric = [s.strip() for s in symmetric.split(",") if s.strip()]
    try:
        items = list(symmetric)
    except TypeError:
        raise JacobianTypeError("symmetric must be names, e.g. ['S'] or 'S'") from None
    for name in items:
        if not isinstance(name, str):
            raise JacobianTypeError(f"symmetric must be names, not {type(name).__name__}")
        shape = shapes.get(name)
        if shape is None or len(shape) != 2 or shape[0] != shape[1]:
            got = "not declared" if shape is None else f"declared {shape_text(shape)}"
            raise JacobianError(f"{{{{symmetric}}}} {name} needs a square matrix declared "
                                f"with {{{{shapes}}}} (e.g. {name}=3x3); {name} is {got}")
    return frozenset(items)


def _functions(functions) -> set[str]:
    if functions is None:
        return set()
    if isinstance(functions, str):
        functions = [f.strip() for f in functions.split(",") if f.strip()]
    try:
        items = list(functions)
    except TypeError:
        raise JacobianTypeError("functions must be names, e.g. ['f', 'g'] or 'f,g'") from None
    return {declared_name(getattr(f, "__name__", f), "function name") for f in items}


def _components(of, functions: set, variables: set,
                reading: Reading) -> list[Node]:
    if isinstance(of, sp.MatrixBase):
        items = list(of)
    elif isinstance(of, (str, sp.Basic, Node)):
        items = [of]
    elif isinstance(of, (list, tuple)):
        items = list(of)
    else:
        raise JacobianTypeError(f"cannot differentiate a {type(of).__name__}; pass a string, "
                                "a SymPy expression or a list of them")
    if not items:
        raise JacobianError("nothing to differentiate: no expression given")
    out: list[Node] = []
    for item in items:
        if isinstance(item, str):
            out.extend(parse(item, functions=functions, variables=variables))
        elif isinstance(item, Node):
            out.append(item)
        elif isinstance(item, (sp.Basic, int, float)) and not isinstance(item, bool):
            out.append(read(item, reading))
        else:
            raise JacobianTypeError(f"cannot differentiate a {type(item).__name__}; pass a "
                                    "string or a SymPy expression")
    return out


def _lets(lets, functions: set, variables: set,
          reading: Reading) -> dict[str, Node]:
    if lets is None:
        return {}
    if not isinstance(lets, Mapping):
        raise JacobianTypeError(f"lets must be a mapping of names to expressions, not "
                                f"{type(lets).__name__}")
    out = {}
    for key, value in lets.items():
        name = declared_name(getattr(key, "name", key), "intermediate name")
        if isinstance(value, Node):
            out[name] = value
        elif isinstance(value, sp.Basic):
            out[name] = read(value, reading)
        elif isinstance(value, str) and value.strip():
            parts = parse(value, functions=functions, variables=variables)
            if len(parts) != 1:
                raise JacobianError(f"intermediate {name!r} must be one expression, "
                                    f"got {len(parts)} components")
            out[name] = parts[0]
        else:
            raise JacobianError(f"intermediate {name!r} has no definition")
    return out


def _let_order(lets: Mapping[str, Node]) -> list[str]:
    """Topological order of intermediates; a cycle is an error naming it."""
    deps = {n: sorted(names(node) & set(lets)) for n, node in lets.items()}
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = in progress, 2 = done
    for root in lets:
        stack = [(root, iter(deps[root]))]
        if state.get(root) == 2:
            continue
        state[root] = 1
        path = [root]
        while stack:
            name, pending = stack[-1]
            dep = next(pending, None)
            if dep is None:
                stack.pop()
                path.pop()
                state[name] = 2
                order.append(name)
            elif state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                raise JacobianError("cyclic intermediates: " + " -> ".join(cycle))
            elif state.get(dep) != 2:
                state[dep] = 1
                path.append(dep)
                stack.append((dep, iter(deps[dep])))
    return order


_ENTRY = re.compile(r"(.+?)((?:_\d+)+)\Z")


def entry_of(name: str, shapes: Mapping[str, Shape]) -> str | None:
    """The declared array ``name`` is an entry of (``x_2`` of ``x``), or None.

    Examples
    --------
    >>> entry_of("x_2", {"x": (3,)}), entry_of("x_2", {}), entry_of("A_1_2", {"A": (2, 2)})
    ('x', None, 'A')
    """
    match = _ENTRY.match(name)
    if match is None:
        return None
    stem = match.group(1)
    while stem not in shapes:  # x_1_2 of a declared x_1 is impossible: x_1 is no array name
        inner = _ENTRY.match(stem)
        if inner is None:
            return None
        stem = inner.group(1)
    return stem


def entry_names(problem: Problem) -> dict[str, str]:
    """Names the expression uses that are entries of declared arrays: ``{"x_1": "x"}``."""
    found = {}
    for name in problem.used_names() - set(problem.shapes):
        array = entry_of(name, problem.shapes)
        if array is not None:
            found[name] = array
    return found


def _check_entry_names(problem: Problem) -> None:
    """Entry symbols are NAME_i_j (1-based): with ``x`` declared 3, ``x_2`` in the
    expression is its second entry (what the calculator prints reads back), and
    ``x_4`` or ``x_1_1`` is an error."""
    for name, array in sorted(entry_names(problem).items()):
        shape = problem.shapes[array]
        if not all(isinstance(n, int) for n in shape):
            raise JacobianError(f"{name!r} names an entry of {array}, whose size "
                                f"({shape_text(shape)}) is a name: entries are named only "
                                "at numeric sizes; index it instead (x[0] is x_1)")
        index = [int(k) for k in name[len(array) + 1:].split("_")]
        if len(index) != len(shape) or not all(1 <= k <= n for k, n in zip(index, shape)):
            form = "_".join([array, *"ij"[:len(shape)]])
            raise JacobianError(f"{name!r} is not an entry of {array} ({shape_text(shape)}): "
                                f"its entries are {form} with 1-based indices within its "
                                "shape")


def entry_indices(problem: Problem) -> dict[str, Node]:
    """The entries the expression names (``x_2`` of a declared ``x``) as the indexing that
    picks them (``x[1]``, 0-based), for the routes built from the operations' rules.

    Examples
    --------
    >>> p = prepare("x_2 * sum(x)", shapes={"x": 3})
    >>> {k: to_source(v) for k, v in entry_indices(p).items()}
    {'x_2': 'x[1]'}
    """
    out = {}
    for name, array in entry_names(problem).items():
        index = tuple(int(k) - 1 for k in name[len(array) + 1:].split("_"))
        out[name] = Call("getitem", (Name(array),), {"index": index})
    return out


def _check_dimensions(problem: Problem, allowed: bool) -> None:
    """Dimension names are sizes: never arrays; refused where entries are needed."""
    dims = problem.dimensions
    for name in sorted(dims & (set(problem.shapes) | set(problem.lets))):
        raise JacobianError(f"{name!r} is both a dimension name and an array; choose "
                            "another name for one of them")
    if dims and not allowed:
        name, shape = next((n, s) for n, s in problem.shapes.items() if not concrete(s))
        raise SymbolicSizeError(
            f"explicit entries need concrete sizes, and {name} is {shape_text(shape)}: give "
            f"numbers (e.g. {name}={'x'.join(str(d if type(d) is int else 3) for d in shape)}),"
            " or use {{backprop}}")


def _check_sizes(problem: Problem) -> None:
    """Infer every shape (errors surface here) and refuse oversized intermediate arrays."""
    limits = active_limits()
    for sub, shape in problem.subtree_shapes()[1].items():
        if not concrete(shape):
            continue  # a symbolic size is never written out
        size = math.prod(shape)
        if size > limits.max_entries:
            raise LimitError(f"{to_source(sub)[:60]} would have {size:,} entries (shape "
                             f"{shape_text(shape)}), over the limit of "
                             f"{limits.max_entries:,}", limit="max_entries")


# -- wrt --------------------------------------------------------------------------

def parse_wrt(wrt) -> list[str] | None:
    """Normalise ``wrt`` ("x1,x2", a list of names, Symbols or MatrixSymbols) to names."""
    if wrt is None:
        return None
    if isinstance(wrt, str):
        parts = [p.strip() for p in wrt.split(",")]
    elif isinstance(wrt, (sp.Symbol, sp.MatrixSymbol)):
        parts = [str(wrt.name)]
    elif isinstance(wrt, (list, tuple, sp.MatrixBase)):
        parts = [str(p.name) if isinstance(p, (sp.Symbol, sp.MatrixSymbol)) else p
                 for p in wrt]
    else:
        raise JacobianTypeError(f"wrt must be names (\"x1,x2\"), a list of them or SymPy "
                                f"symbols, not {type(wrt).__name__}")
    if not parts or any(not isinstance(p, str) or not p for p in parts):
        raise JacobianError(f"malformed {{{{wrt}}}} list {wrt!r}: expected names like x1,x2")
    seen: set[str] = set()
    for p in parts:
        wrt_name(p)
        if p in seen:
            raise JacobianError(f"duplicate name {p!r} in {{{{wrt}}}}")
        seen.add(p)
    return parts


def wrt_name(name: object) -> str:
    """A name to differentiate with respect to: a declared name, or one that reads as an
    entry (``x_1``): the calculator prints entries so, and they read back."""
    if isinstance(name, str) and _ENTRY.match(name):
        return declared_name(_ENTRY.match(name).group(1), "a {{wrt}} name") and name
    return declared_name(name, "a {{wrt}} name")


def default_wrt(problem: Problem) -> list[str]:
    """Every variable the input mentions, in natural order (``x2`` before ``x10``)."""
    found = problem.used_names() - set(problem.lets)
    if not found:
        raise JacobianError("the expression has no variables to differentiate with respect to")
    return sorted(found, key=natural_key)


def wrt_groups(names_: list[str], problem: Problem) -> list[list[str]]:
    """Consecutive scalar names form one input vector; declared arrays stand alone."""
    groups: list[list[str]] = []
    used = problem.used_names()
    for name in names_:
        if name in problem.dimensions:
            raise JacobianError(f"{name!r} is a dimension name (a size), not a variable: "
                                "there is nothing to differentiate with respect to")
        if problem.shapes and name not in problem.shapes and name not in used:
            raise JacobianError(f"{{{{wrt}}}} names {name!r}, which is neither declared with "
                                "{{shapes}} nor used in the expression",
                                hint=f"declare it, e.g. {{{{shapes}}}} {name}=2x3")
        if name in problem.lets:
            raise JacobianError(f"{name!r} is an intermediate ({{{{lets}}}}); differentiate "
                                "with respect to the variables it is made of")
        if name in problem.shapes:
            groups.append([name])
        elif groups and groups[-1][0] not in problem.shapes:
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def absence_warnings(names_: Iterable[str], shapes: Mapping[str, Shape], entries: Iterable,
                     used: set[str]) -> list[str]:
    """Warn about variables the output does not depend on: their derivatives are all zero.

    ``entries`` are the output's SymPy entries; a variable the expression
    mentions but that cancels out is told apart from one it never mentions.
    """
    present = {s.name for s in free_symbols(entries)}  # each shared part looked at once
    messages = []
    for name in names_:
        own = {s.name for s in symbol_grid(name, shapes.get(name, ())).flat}
        if not own & present:
            where = ("cancels out of the output" if name in used
                     else "does not appear in the expression")
            messages.append(f"{name} {where}; its derivatives are all zero")
    for message in messages:
        warn(message)
    return messages
