"""From expression trees to grids of SymPy entries, and their shapes.

:func:`infer_shape` finds every shape error before any SymPy work (it is
cheap, so limits can be checked first); :func:`evaluate` then builds the
entries, each operation by its registry declaration. Shared subtrees are
evaluated once.
"""

from __future__ import annotations

from typing import Mapping

from ..core import budget
from ..core.errors import JacobianError, JacobianTypeError
from ..core.grid import Grid, Shape, shape_text
from ..core.tree import Declared, Name, Node, Num, fold
from ..ops import ShapeContext, get
from ..ops.text import to_source
from . import algebra
from .symbols import symbol_grid, undefined_function


class Env:
    """What names mean while evaluating: declared shapes and known values.

    Parameters
    ----------
    shapes : mapping
        Declared shapes; an undeclared name is a scalar.
    values : mapping
        Grids already known (intermediates, upstream gradients).
    """

    def __init__(self, shapes: Mapping[str, Shape] | None = None,
                 values: Mapping[str, Grid] | None = None) -> None:
        self.shapes = dict(shapes or {})
        self.values: dict[str, Grid] = dict(values or {})
        for name, value in self.values.items():
            if not isinstance(value, Grid):
                raise JacobianTypeError(f"the value of {name} must be a Grid, "
                                        f"not {type(value).__name__}")
            if any(isinstance(e, (str, bytes, bytearray)) for e in value.flat):
                raise JacobianTypeError(f"the value of {name} holds text: text is read with "
                                        "the parser, never given to SymPy")
        self.memo: dict[Node, Grid] = {}

    def lookup(self, name: str) -> Grid:
        if name not in self.values:
            self.values[name] = symbol_grid(name, self.shapes.get(name, ()))
        return self.values[name]


def evaluate(node: Node, env: Env | None = None) -> Grid:
    """Evaluate ``node`` to a grid of SymPy expressions (shapes checked beforehand).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> evaluate(parse_expression("A@x"), Env({"A": (2, 2), "x": (2,)})).tolist()
    [A_1_1*x_1 + A_1_2*x_2, A_2_1*x_1 + A_2_2*x_2]
    """
    if not isinstance(node, Node):
        raise JacobianTypeError(f"evaluate() takes a parsed expression, not "
                                f"{type(node).__name__} (parse text with parse_expression)")
    env = env if env is not None else Env()
    return _evaluate(node, env)


def _evaluate(node: Node, env: Env) -> Grid:
    if isinstance(node, Name):
        return env.lookup(node.id)
    if isinstance(node, Num):
        return Grid.scalar(algebra.number(node.value))
    hit = env.memo.get(node)
    if hit is not None:
        return hit
    args = [_evaluate(a, env) for a in node.args]
    budget.check()
    if isinstance(node, Declared):
        value = Grid.scalar(undefined_function(node.name)(*(a.item() for a in args)))
    else:
        op = get(node.op)
        value = op.evaluate(algebra, args, op.options(node.kwargs))
        algebra.check_defined(value.flat, node, args)
    env.memo[node] = value
    return value


def infer_shape(node: Node, shapes: Mapping[str, Shape]) -> Shape:
    """Shape of ``node``'s value, or a JacobianError naming the operands that clash.

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression
    >>> infer_shape(parse_expression("X@W + b"), {"X": (4, 3), "W": (3, 2), "b": (2,)})
    (4, 2)
    """
    return node_shapes(node, shapes)[node]


def node_shapes(node: Node, shapes: Mapping[str, Shape]) -> dict[Node, Shape]:
    """The shape of every subtree of ``node`` (post-order, without recursion)."""
    out: dict[Node, Shape] = {}
    fold(node, lambda n, args: shape_of(n, args, shapes), out)
    return out


def shape_of(node: Node, args: list[Shape], shapes: Mapping[str, Shape]) -> Shape:
    if isinstance(node, Name):
        return tuple(shapes.get(node.id, ()))
    if isinstance(node, Num):
        return ()
    if isinstance(node, Declared):
        for a, s in zip(node.args, args):
            if s:
                raise JacobianError(f"{node.name}() is an undefined function of scalars, "
                                    f"but {to_source(a)} is {shape_text(s)}")
        return ()
    op = get(node.op)
    context = ShapeContext(op, tuple(args), op.options(node.kwargs),
                           lambda i: to_source(node.args[i]), JacobianError)
    return tuple(op.shape(context))
