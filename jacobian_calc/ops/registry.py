"""The operation registry: everything about one operation, declared in one place.

An :class:`Op` holds what every layer needs to know about an operation:

============  =================================================================
part          used by
============  =================================================================
name, aliases the parser (``arcsin`` is ``asin``) and every printer
pairwise      the parser (``max(0, t)``, with two operands, is ``maximum(0, t)``)
arity,        the parser (argument counts, ``sum(X, axis=0)``)
keywords
shape         shape inference, before anything is evaluated
evaluate      the symbolic layer: argument grids of SymPy entries -> result grid
vjp           the compact backward rule (or :class:`NotDifferentiable`)
syntax        the calculator's own text syntax, with its precedence
latex         the LaTeX printer of compact formulas and of SymPy entries, with
              ``latex_precedence`` where it binds otherwise than the text
numpy         float evaluation of whole arrays
code          NumPy / PyTorch source for code export, with ``code_precedence``
              where a template is not one call
category, doc ``jac --help`` and ``jac --rules``; ``rule`` is the rule's line
cost          size estimates, checked against the limits before evaluating
sympy_classes the reader of SymPy input (``Inverse`` is ``inv``)
linear        simplification (a sign moves through a linear operation)
value_sign    simplification (``sqrt(exp(x)**2)`` is ``exp(x)``: its values are positive)
step_role     naming backprop steps (an activation's argument is a step)
step_letters  naming backprop steps (``P = softmax(Z)``: the letters of its step)
step_in_arithmetic  naming backprop steps (``P = softmax(z)`` even inside ``P * log(P)``)
output_name   formulas written through the output (``p`` of ``softmax(l)``)
hessian_letters  naming a compact Hessian's subexpressions (``s = sigmoid(u)``)
rational      checking backprop exactly (its values at rational points are rational)
shape_only    backprop (a gradient of it alone depends on shapes only: ``ones_like``)
tensor_valued code export (a constant call that is already an array)
index         the entry at symbolic indices (index notation, all sizes at once)
============  =================================================================

The layers receive what they need as arguments (``S``: the symbolic algebra,
``np``: NumPy), so declaring operations imports neither SymPy nor NumPy.
:func:`register` refuses an operation with a missing part, so a forgotten
shape rule can never fail silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..core.errors import JacobianError
from ..core.grid import Shape, broadcast_shapes, shape_text
from ..core.names import is_name, suggest
from ..core.tree import Call, Name, Node, Num

#: Precedence levels of the text, LaTeX and code printers (Python's order); 0 is
#: "always bracketed as an operand".
PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 5
#: A declared precedence meaning "as tightly as argument 0" (an operation printed as
#: its argument, such as ``expand_dims`` in LaTeX).
AS_ARGUMENT = -1
#: The printers whose precedence an operation declares.
PRINTERS = ("text", "latex", "code")

CATEGORIES = ("arithmetic", "elementwise", "reduction", "linear algebra", "neural network",
              "structure", "constant")
#: What a step of an operation is when backprop names steps (see :attr:`Op.step_role`).
STEP_ROLES = ("activation", "arithmetic", "own step", "condition", "statistic")
LANGUAGES = ("numpy", "torch")


@dataclass(frozen=True)
class Syntax:
    """How an operation is written in the calculator's syntax.

    ``form`` is ``"call"`` (``name(args)``), ``"infix"`` (``a + b``),
    ``"prefix"`` (``-a``), ``"postfix"`` (``a.T``) or ``"atom"`` (``pi``).
    An infix operator is left-associative unless ``right_associative``
    (``x**y**z``); ``signed_terms`` writes negated terms with ``-`` (a sum).
    """

    form: str = "call"
    symbol: str = ""
    precedence: int = PREC_ATOM
    right_associative: bool = False
    signed_terms: bool = False


CALL = Syntax()


@dataclass(frozen=True)
class Keyword:
    """A keyword option such as ``axis`` or ``keepdims`` (also accepted by position)."""

    name: str
    kind: str  # "axis", "bool", "ord", "size", "count", "index"
    default: Any = None

    def check(self, value: Any) -> Any:
        """The value if allowed, else ``ValueError`` with what is allowed."""
        ok = {
            "axis": lambda v: v is None or (type(v) is int and -2 <= v <= 1),
            "bool": lambda v: isinstance(v, bool),
            "ord": lambda v: type(v) is int and v in (1, 2),
            "size": lambda v: (type(v) is int and 1 <= v <= 10_000) or (
                is_name(v) and lookup(v) is None),
            "count": lambda v: type(v) is int and 0 <= v <= 10_000,
        }[self.kind](value)
        if not ok:
            allowed = {"axis": "None, 0, 1, -1 or -2", "bool": "True or False",
                       "ord": "1 or 2",
                       "size": "a positive integer or a dimension name",
                       "count": "a non-negative integer"}[self.kind]
            raise ValueError(f"{self.name} must be {allowed}, got {value!r}")
        return value


@dataclass(frozen=True)
class NotDifferentiable:
    """Marks an operation with no compact backward rule, and says why."""

    reason: str


class NoIndexFormError(JacobianError):
    """An operation in the expression has no index form (``det``, ``inv``, ``logdet``)."""


@dataclass(frozen=True)
class NoIndexForm:
    """Marks an operation with no index form at symbolic size (``det``), and says why."""

    reason: str


class ShapeContext:
    """What a shape rule sees: argument shapes, options, and how to fail."""

    def __init__(self, op: "Op", shapes: tuple[Shape, ...], kw: Mapping[str, Any],
                 describe: Callable[[int], str], where: Callable[[str], JacobianError]):
        self.op, self.shapes, self.kw = op, shapes, dict(kw)
        self._describe, self._where = describe, where

    def arg(self, i: int) -> str:
        """``"X (2x3)"``: argument ``i`` as typed, with its shape."""
        return f"{self._describe(i)} ({shape_text(self.shapes[i])})"

    def fail(self, message: str) -> JacobianError:
        """An error to raise: ``trace() needs a square matrix, got A (2x3)``, or for
        an operator ``shape mismatch in '@': ...``."""
        if self.op.callable_by_name:
            return self._where(f"{self.op.name}() {message}")
        if self.op.syntax.form == "subscript":
            return self._where(f"bad index: {message}")
        return self._where(f"shape mismatch in '{self.op.syntax.symbol.strip()}': {message}")


@dataclass(frozen=True)
class Cost:
    """What a cost rule sees: the arguments' shapes and the size of one of their entries.

    A rule returns ``(built, size)`` for one entry of the result: the nodes
    built to make it (work) and its size counted as a tree (what printing and
    differentiation see). The default, :func:`default_cost`, is one node built
    on top of one entry of each argument.
    """

    shapes: tuple[Shape, ...]
    out_shape: Shape
    sizes: tuple[float, ...]
    kw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reduced(self) -> int:  # costs are estimated at concrete sizes only
        """How many entries of argument 0 each entry of the result combines."""
        total, out = 1, 1
        for d in self.shapes[0]:
            total *= d
        for d in self.out_shape:
            out *= d
        return max(total // max(out, 1), 1)


def default_cost(c: Cost) -> tuple[float, float]:
    """One node on top of one entry of each argument (element-wise operations)."""
    return 1.0, 1.0 + sum(c.sizes)


@dataclass(frozen=True)
class Vjp:
    """What a backward rule sees.

    Attributes
    ----------
    args : tuple of Node
        The step's inputs, as written in the step (``X``, ``W``).
    out : Node
        The step's output (its name, e.g. ``Y``), for rules written through it.
    g : Node
        The upstream gradient of the output (``dY``).
    shapes, out_shape
        Shapes of the inputs and of the output.
    kw : dict
        The operation's keyword options.
    """

    args: tuple[Node, ...]
    out: Node
    g: Node
    shapes: tuple[Shape, ...]
    out_shape: Shape
    kw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def x(self) -> Node:
        """The first (often the only) input."""
        return self.args[0]


@dataclass(frozen=True)
class Op:
    """One operation; see the module docstring for what each part is for."""

    name: str
    category: str
    doc: str
    rule: str
    arity: tuple[int, int]
    shape: Callable[[ShapeContext], Shape]
    evaluate: Callable[..., Any]
    vjp: Callable[[Vjp], tuple] | NotDifferentiable
    numpy: Callable[..., Any]
    code: Mapping[str, Any]
    latex: Any
    syntax: Syntax = CALL
    keywords: tuple[Keyword, ...] = ()
    aliases: tuple[str, ...] = ()
    broadcasts: bool = False
    #: Element-wise operations: the SymPy entry of one argument entry, and the
    #: derivative f'(X, Y) as a tree (in terms of the input X or the output Y).
    entry: Callable[..., Any] | None = None
    derivative: Callable[[Node, Node], Node | None] | None = None
    #: The derivative of an entry where SymPy's own differs from our convention.
    entry_derivative: Callable[..., Any] | None = None
    #: log10 of the size of the result of constant arguments, from theirs (and their
    #: values, where small): ``2**10**10`` is refused before it is computed.
    digits: Callable[[list, list], float] | None = None
    #: ``cost(Cost) -> (built, size)`` per result entry; None means :func:`default_cost`.
    cost: Callable[[Cost], tuple[float, float]] | None = None
    #: How tightly the LaTeX binds, where not as ``syntax.precedence`` says (``X^{-1}``
    #: of ``inv`` is a power, ``a b^{\top}`` of ``outer`` a product).
    latex_precedence: int | None = None
    #: How tightly the code binds, by language, where a template is not one call
    #: (``1 / np.cos({0})``); by default read from the template (see :meth:`precedence`).
    code_precedence: Mapping[str, int] | None = None
    #: Names of the SymPy classes read as this operation (``("Inverse",)`` for ``inv``).
    sympy_classes: tuple[str, ...] = ()
    #: Linear in its arguments: a minus sign moves through it (``-(A @ B)`` = ``(-A) @ B``).
    linear: bool = False
    #: What a step of it is when backprop names steps: ``"activation"`` (``Y = f(Z)``
    #: names ``Z``), ``"arithmetic"`` (entry by entry, as ``1 - y``), ``"own step"``
    #: (always a step of its own: ``max``, whose backward rule reads its output),
    #: ``"condition"`` (a comparison, read inside the step of its ``where``, never a step),
    #: ``"statistic"`` (a reduction that, broadcast back against the data, is a step of
    #: its own: ``mu = mean(x)`` in ``x - mu``; a loss of it names a layer, ``h = H @ v``
    #: in ``L = mean(h)``) or None; by default ``"activation"`` for element-wise and neural-network
    #: operations (see :attr:`role`).
    step_role: str | None = None
    #: The sign of every value wherever it is defined: ``"positive"`` (``exp``),
    #: ``"nonnegative"`` (``abs``) or None (not known); read when simplifying.
    value_sign: str | None = None
    #: Letters of the name of a backprop step of it, in order of preference (``"PQ"``:
    #: ``P = softmax(Z)``); empty: named as what the step is (an activation ``Y``, ...).
    step_letters: str = ""
    #: A step of its own even as an operand of arithmetic (``P = softmax(z)`` in
    #: ``sum(P * (log_softmax(z) - log(q)))``), where an activation of a name is kept
    #: inside it (``1 + tanh(u)``).
    step_in_arithmetic: bool = False
    #: The name a lecture gives its output, lower case (``"p"``: ``p = softmax(l)``, ``P``
    #: for a matrix), where a Jacobian is written through the output; empty: ``Y``.
    output_name: str = ""
    #: Letters of the name of a subexpression of it in a compact Hessian, in order of
    #: preference, lower case (``"sg"``: ``s = sigmoid(u)``); empty: ``h``, ``g``, ``k``.
    hessian_letters: str = ""
    #: Its values at rational points are rational (``add``, ``inv``, ``relu``; not ``exp``):
    #: backprop's end-to-end check runs in exact rational arithmetic when every operation is.
    rational: bool = False
    #: Its value depends on its arguments' shapes only (``ones_like``, ``eye_like``): a
    #: gradient made of it is a constant, which backprop keeps as a step of its own.
    shape_only: bool = False
    #: A call of constants whose generated code is already an array (``np.eye(3)``).
    tensor_valued: bool = False
    #: ``index(IndexContext) -> SymPy entry``: one output entry at the output's index
    #: symbols, from the arguments' entries (``A @ B``: ``Σ_r A[i,r] B[r,j]``); see
    #: :mod:`jacobian_calc.index.forms`. :class:`NoIndexForm` says there is none
    #: (``det``); ``None``: not declared.
    index: Callable[[Any], Any] | NoIndexForm | None = None
    #: The element-wise operation that a call of it with two operands is (``max(0, t)``
    #: is ``maximum(0, t)``; ``max(X, 1)``, which could be an axis, is refused).
    pairwise: str = ""
    #: Names of the arguments in ``--rules`` (``clip(X, lo, hi)``); default X, Y.
    params: tuple[str, ...] = ()

    @property
    def callable_by_name(self) -> bool:
        """Written ``name(...)`` (``sum(X)``), not as an operator (``a + b``)."""
        return self.syntax.form in ("call", "list", "scatter")

    @property
    def role(self) -> str | None:
        """:attr:`step_role`, or what the category implies."""
        if self.step_role is not None:
            return self.step_role
        return "activation" if self.category in ("elementwise", "neural network") else None

    def precedence(self, printer: str = "text", language: str = "numpy") -> int:
        """How tightly the operation binds as ``printer`` (one of :data:`PRINTERS`) writes it.

        Examples
        --------
        >>> from jacobian_calc.ops import get
        >>> get("inv").precedence("text"), get("inv").precedence("latex")
        (5, 4)
        >>> get("sigmoid").precedence("code", "numpy"), get("sigmoid").precedence("code", "torch")
        (0, 5)
        """
        if printer == "latex" and self.latex_precedence is not None:
            return self.latex_precedence
        if printer == "code":
            if self.code_precedence is not None and language in self.code_precedence:
                return self.code_precedence[language]
            if self.syntax.form in ("call", "atom"):
                return template_precedence(self.code[language])
        return self.syntax.precedence

    def keyword(self, name: str) -> Keyword | None:
        return next((k for k in self.keywords if k.name == name), None)

    def options(self, kwargs) -> dict:
        """Keyword options with their defaults filled in."""
        given = dict(kwargs)
        return {k.name: given.get(k.name, k.default) for k in self.keywords}


_OPS: dict[str, Op] = {}
_ALIASES: dict[str, str] = {}
_VERSION = [0]


def version() -> int:
    """A number that changes whenever an operation is registered or removed.

    Tables derived from the registry (SymPy class -> operation, say) are
    cached under it.
    """
    return _VERSION[0]

#: Parts every operation must have (``None`` nowhere).
REQUIRED = ("name", "category", "doc", "rule", "arity", "shape", "evaluate", "vjp", "numpy",
            "code", "latex", "syntax")


def register(op: Op) -> Op:
    """Add ``op`` to the registry; refuse it if a part is missing or a name is taken."""
    missing = [part for part in REQUIRED if getattr(op, part) in (None, "")
               and not (part == "rule" and op.derivative is not None)]
    missing += [f"code[{lang!r}]" for lang in LANGUAGES if not op.code.get(lang)]
    if missing:
        raise TypeError(f"operation {op.name!r} is missing {', '.join(missing)}")
    if op.category not in CATEGORIES:
        raise TypeError(f"operation {op.name!r} has unknown category {op.category!r}")
    if op.step_role is not None and op.step_role not in STEP_ROLES:
        raise TypeError(f"operation {op.name!r} has unknown step_role {op.step_role!r}")
    if op.value_sign not in (None, "positive", "nonnegative"):
        raise TypeError(f"operation {op.name!r} has unknown value_sign {op.value_sign!r}")
    for part in ("step_letters", "output_name", "hessian_letters"):
        letters = getattr(op, part)
        if letters and not (letters.isalpha() and letters.isascii()):
            raise TypeError(f"operation {op.name!r} has {part} {letters!r}, not letters")
    for name in (op.name, *op.aliases):
        if name in _OPS or name in _ALIASES:
            raise TypeError(f"operation name {name!r} is registered twice")
    _OPS[op.name] = op
    _ALIASES.update({alias: op.name for alias in op.aliases})
    _VERSION[0] += 1
    return op


def unregister(name: str) -> None:
    """Remove an operation (tests add and remove their own)."""
    op = _OPS.pop(name)
    for alias in op.aliases:
        _ALIASES.pop(alias, None)
    _VERSION[0] += 1


def lookup(name: str) -> Op | None:
    """The operation called ``name`` (or one of its aliases), if there is one."""
    return _OPS.get(name) or _OPS.get(_ALIASES.get(name, ""))


def get(name: str) -> Op:
    """The operation called ``name``; an error with suggestions if there is none."""
    op = lookup(name)
    if op is None:
        raise JacobianError(f"unknown function {name!r}{suggest(name, known_names())}")
    return op


def operations() -> list[Op]:
    """Every registered operation, in registration order."""
    return list(_OPS.values())


def known_names() -> set[str]:
    """Names and aliases of every operation."""
    return set(_OPS) | set(_ALIASES)


# -- building blocks shared by declarations --------------------------------------------

def same_shape(s: ShapeContext) -> Shape:
    """The shape rule of element-wise operations of one argument."""
    return s.shapes[0]


def broadcast(s: ShapeContext) -> Shape:
    """NumPy broadcasting of all arguments."""
    try:
        return broadcast_shapes(*s.shapes)
    except ValueError:
        operands = " and ".join(s.arg(i) for i in range(len(s.shapes)))
        raise s.fail(f"cannot broadcast {operands}") from None


def size_node(dims) -> Node:
    """The number of entries of ``dims`` as a tree: ``12``, or ``N * h`` at symbolic sizes.

    Examples
    --------
    >>> str(size_node((4, 3))), str(size_node(("N", "h"))), str(size_node((2, "N")))
    ('12', 'N * h', '2 * N')
    """
    number, names_ = 1, []
    for d in dims:
        if isinstance(d, str):
            names_.append(Name(d))
        else:
            number *= d
    factors = ([Num(number)] if number != 1 or not names_ else []) + names_
    return factors[0] if len(factors) == 1 else Call("mul", tuple(factors))


def square_matrix(s: ShapeContext, i: int = 0) -> int | str:
    """The size ``n`` of argument ``i`` if it is an ``n x n`` matrix."""
    shape = s.shapes[i]
    if len(shape) != 2 or shape[0] != shape[1]:
        raise s.fail(f"needs a square matrix, got {s.arg(i)}")
    return shape[0]


def reduced_shape(s: ShapeContext) -> Shape:
    """The shape after reducing argument 0 along ``axis`` (all axes for None)."""
    shape, axis, keep = s.shapes[0], s.kw.get("axis"), bool(s.kw.get("keepdims"))
    if axis is None:
        return (1,) * len(shape) if keep else ()
    if not -len(shape) <= axis < len(shape):
        raise s.fail(f"axis {axis} is out of range for {s.arg(0)}")
    axis %= len(shape)
    return shape[:axis] + ((1,) if keep else ()) + shape[axis + 1:]


def needs_array(s: ShapeContext) -> Shape:
    """Argument 0 unchanged, if it is a vector or a matrix."""
    if not s.shapes[0]:
        raise s.fail(f"needs a vector or a matrix, got {s.arg(0)}")
    axis = s.kw.get("axis", -1)
    if axis is None:
        raise s.fail("needs one axis (axis=None, over every entry at once, is not supported)")
    if not -len(s.shapes[0]) <= axis < len(s.shapes[0]):
        raise s.fail(f"axis {axis} is out of range for {s.arg(0)}")
    return s.shapes[0]


def template_precedence(template: Any) -> int:
    """A code template's precedence, as its declaration reads: one call or one dotted
    name (``np.exp({0})``, ``np.pi``) is atomic; anything else (``1 / np.cos({0})``) is
    bracketed as an operand. A template written as a function is a call.

    Examples
    --------
    >>> [template_precedence(t) for t in ("np.exp({0})", "np.pi", "1 / np.cos({0})",
    ...                                   "np.exp({0}) * 2", "({0} * {1})")]
    [5, 5, 0, 0, 0]
    """
    if callable(template):
        return PREC_ATOM
    head = len(template) - len(template.lstrip("abcdefghijklmnopqrstuvwxyz"
                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.0123456789"))
    if head == 0 or template[0].isdigit():
        return 0
    if head == len(template):
        return PREC_ATOM
    if template[head] != "(":
        return 0
    depth = 0
    for i, c in enumerate(template[head:], head):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return PREC_ATOM if i == len(template) - 1 else 0
    return 0


def call_code(numpy_name: str, torch_name: str) -> dict[str, str]:
    """Code templates for a function of one argument: ``np.sin({0})``."""
    return {"numpy": numpy_name + "({0})", "torch": torch_name + "({0})"}
