'''Runnable NumPy and PyTorch code of a derivation: a self-contained Python module.

For a backprop result the module has ``forward(...)``, which computes the
named forward steps, and ``backward(...)``, which computes every named
backward step and returns the gradients; for a Hessian with a compact form,
``forward``, ``gradient`` and ``hessian`` (or ``hvp``). Every line is printed
from a formula *tree* with the operations' declared code templates
(:attr:`Op.code <jacobian_calc.ops.registry.Op.code>`): nothing the user typed is
pasted, every name is checked to be a plain Python identifier (no keyword, no
built-in, nothing the module itself defines), and numbers are exact literals
(``1/8`` is ``(1 / 8)``).

>>> from jacobian_calc import backprop
>>> r = backprop("mean(sigmoid(X@W + b))", "W,b", shapes={"X": (4, 3), "W": (3, 2), "b": 2})
>>> code = to_numpy_code(r)
>>> print(code[code.index("    _steps"):].rstrip())
    _steps = forward(X, W, b)
    Y = _steps["Y"]
    dY = np.ones_like(Y) / 8
    dZ = dY * Y * (1 - Y)
    dW = X.T @ dZ
    db = np.sum(dZ, axis=0)
    return {"W": dW, "b": db}
'''

from __future__ import annotations

import keyword
import re
from fractions import Fraction
from typing import Mapping

from ..core.errors import JacobianError
from ..core.grid import Shape
from ..core.names import GENERATED_CODE_NAMES, PYTHON_BUILTINS
from ..core.tree import Call, Declared, Name, Node, Num, names, walk
from ..ops import get
from ..ops.printing import TreePrinter, decimal_text
from ..ops.registry import PREC_ATOM, PREC_NEG
from ..ops.windows import HELPERS as WINDOW_HELPERS
from ..results.backprop import BackpropResult
from ..results.hessian import MATRIX, HessianResult
from ..symbolic.evaluate import node_shapes

LANGUAGES = ("numpy", "torch")
#: Names the generated module defines or imports: no variable may be called so.
RESERVED = GENERATED_CODE_NAMES

#: Helper functions some templates call, defined in the module when used.
HELPERS = {
    "numpy": {
        "_softmax": '''def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)''',
        "_log_softmax": '''def _log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))''',
        "_logsumexp": '''def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)''',
        "_logdet": '''def _logdet(x):
    sign, value = np.linalg.slogdet(x)
    return value if sign > 0 else np.nan''',
        "_scatter": '''def _scatter(values, like, index):
    out = np.zeros_like(like)
    out[index] = values
    return out''',
    },
    "torch": {
        "_t": '''def _t(x):
    return torch.as_tensor(x, dtype=torch.float64)''',
        "_scatter": '''def _scatter(values, like, index):
    out = torch.zeros_like(like)
    out[index] = values
    return out''',
    },
}

for _language, _helpers in WINDOW_HELPERS.items():  # convolution and pooling
    HELPERS[_language].update(_helpers)

IMPORTS = {"numpy": "import numpy as np", "torch": "import torch"}
TITLES = {"numpy": "NumPy", "torch": "PyTorch"}


def to_numpy_code(result) -> str:
    """A self-contained NumPy module for ``result`` (a backprop result, or a Hessian
    with a compact form); see the module docstring."""
    return to_code(result, "numpy")


def to_torch_code(result) -> str:
    """The same as :func:`to_numpy_code`, with PyTorch (float64 tensors in, out)."""
    return to_code(result, "torch")


def to_code(result, language: str) -> str:
    """The module for ``result`` in ``language`` (``"numpy"`` or ``"torch"``)."""
    if language not in LANGUAGES:
        raise JacobianError(f"no code for {language!r}: use numpy or torch")
    if isinstance(result, BackpropResult):
        return _Module(language, result.shapes).backprop(result)
    if isinstance(result, HessianResult):
        return _Module(language, _hessian_shapes(result)).hessian(result)
    raise JacobianError(f"cannot export a {type(result).__name__} as code; export the "
                        "result of backprop() or of hessian()")


# -- names -----------------------------------------------------------------------------------

def check_identifier(name: str) -> str:
    """``name`` if it can be a variable of the generated module, else an error."""
    if not (isinstance(name, str) and name.isidentifier() and name.isascii()):
        raise JacobianError(f"cannot export code: {name!r} is not a Python identifier")
    if keyword.iskeyword(name) or name in PYTHON_BUILTINS or name.startswith("_"):
        raise JacobianError(f"cannot export code: {name!r} is a Python keyword or built-in")
    if name in RESERVED:
        raise JacobianError(f"cannot export code: the generated module uses the name "
                            f"{name!r} itself; rename that variable")
    return name


# -- printing trees ------------------------------------------------------------------------

class CodePrinter(TreePrinter):
    """Trees as Python source in one language, from the operations' code templates.

    Parameters
    ----------
    language : {"numpy", "torch"}
    shapes : mapping
        Shapes of every name (a transpose of a vector prints as nothing).

    Examples
    --------
    >>> from jacobian_calc.parsing import parse_expression as p
    >>> CodePrinter("numpy", {"X": (2, 3), "y": (3,)}).code(p("sigmoid(X @ y.T) / 4"))
    '(1 / (1 + np.exp(-(X @ y)))) / 4'
    >>> CodePrinter("torch", {"X": (2, 3)}).code(p("sum(X, axis=1) ** 2 + log(2)"))
    'torch.sum(X, dim=1)**2 + torch.log(_t(2))'
    """

    printer = "code"

    def __init__(self, language: str, shapes: Mapping[str, Shape]) -> None:
        self.language = language
        self.shapes = dict(shapes)
        self._shape: dict[Node, Shape] = {}

    def code(self, node: Node) -> str:
        return self.doprint(node)

    def shape(self, node: Node) -> Shape:
        if node not in self._shape:
            self._shape.update(node_shapes(node, self.shapes))
        return self._shape[node]

    # -- precedence: numbers are exact literals, a vector's transpose is the vector ------
    def number_precedence(self, value: Fraction) -> int:
        decimal = value.denominator == 1 or decimal_text(value) is not None
        return PREC_NEG if decimal and value < 0 else PREC_ATOM

    def op_precedence(self, op) -> int:
        return op.precedence("code", self.language)

    def precedence(self, node: Node) -> int:
        if self._vector_transpose(node):
            return self.precedence(node.args[0])
        return super().precedence(node)

    def _vector_transpose(self, node: Node) -> bool:
        return (isinstance(node, Call) and get(node.op).syntax.form == "postfix"
                and len(self.shape(node.args[0])) < 2)

    # -- nodes --------------------------------------------------------------------------
    def _print_Num(self, node: Num) -> str:
        value = node.value
        if value.denominator != 1 and decimal_text(value) is not None:
            return decimal_text(value)  # typed as a decimal: written as one
        return str(value.numerator) if value.denominator == 1 else \
            f"({value.numerator} / {value.denominator})"

    def _print_Name(self, node: Name) -> str:
        return check_identifier(node.id)

    def _print_Declared(self, node: Declared) -> str:
        raise JacobianError(f"cannot export code: {node.name}() is an undefined function")

    def symbol(self, op) -> str:
        code = op.code[self.language]
        if op.syntax.form != "infix":
            return code
        return code.strip() if op.syntax.right_associative else f" {code.strip()} "

    def _print_postfix(self, op, node: Call) -> str:
        if self._vector_transpose(node):  # a vector's transpose is itself
            return self._print(node.args[0])
        return super()._print_postfix(op, node)

    def _print_call(self, op, node: Call) -> str:
        template = op.code[self.language]
        if callable(template):  # a function of the argument texts: made a template
            template = template([f"\x00{i}\x00" for i in range(len(node.args))],
                                op.options(node.kwargs))
        else:
            template = re.sub(r"\{(\d+)\}", lambda m: f"\x00{m.group(1)}\x00", template)
        return re.sub("\x00(\\d+)\x00",
                      lambda m: self._fill(template, m, node.args[int(m.group(1))]), template)

    _print_atom = _print_call

    def _fill(self, template: str, match: re.Match, arg: Node) -> str:
        """An argument in a template, bracketed unless it is atomic or delimited
        (``np.exp({0})`` needs no brackets, ``-{0}`` and ``{0}.shape`` may)."""
        if self.language == "torch" and not names(arg) and not _tensor_valued(arg):
            return f"_t({self._print(arg)})"  # torch functions want tensors
        before = template[:match.start()].rstrip(" ")
        after = template[match.end():].lstrip(" ")
        delimited = before.endswith(("(", ",", "[")) and after.startswith((")", ",", "]"))
        return self._print(arg) if delimited else self.parenthesize(arg, PREC_ATOM)


def _tensor_valued(node: Node) -> bool:
    """Whether a constant subtree already evaluates to a tensor (``eye(3)``)."""
    return isinstance(node, Call) and get(node.op).tensor_valued


# -- modules ------------------------------------------------------------------------------------

class _Module:
    """The lines of one generated module."""

    def __init__(self, language: str, shapes: Mapping[str, Shape]) -> None:
        self.language = language
        self.printer = CodePrinter(language, shapes)
        self.shapes = dict(shapes)

    # -- backprop ------------------------------------------------------------------------
    def backprop(self, r: BackpropResult) -> str:
        inputs = _inputs([s.expr for s in r.steps], {s.name for s in r.steps}, r.gradients)
        params = inputs + ([r.upstream] if r.upstream != "1" else [])
        for name in params + [s.name for s in r.steps] + [b.name for b in r.backward]:
            check_identifier(name)
        forward = self._forward(r, inputs)
        backward = self._backward(r, inputs, params)
        doc = self._backprop_doc(r, inputs)
        return self._assemble(doc, [forward, backward])

    def _forward(self, r: BackpropResult, inputs: list[str]) -> str:
        body = [f"{s.name} = {self.printer.code(s.expr)}" for s in r.steps]
        body.append("return {" + ", ".join(f'"{s.name}": {s.name}' for s in r.steps) + "}")
        body = self._sizes(inputs, body) + body
        doc = [f"The forward steps; returns every step by name (the last, {r.output}, is "
               "the output).", ""] + self._shape_lines(inputs)
        return _function("forward", inputs, doc, body)

    def _shape_lines(self, inputs: list[str]) -> list[str]:
        return [f"{n}: {_shape(self.shapes.get(n, ()))}" for n in inputs]

    def _backward(self, r: BackpropResult, inputs: list[str], params: list[str]) -> str:
        used = [s.name for s in r.steps if any(s.name in names(b.tree) for b in r.backward)]
        body = [f"_steps = forward({', '.join(inputs)})"] if used else []
        body += [f'{name} = _steps["{name}"]' for name in used]
        for b in r.backward:
            value = self.printer.code(b.tree)
            body.append(f"{b.name} = {b.name} + ({value})" if b.accumulate
                        else f"{b.name} = {value}")
        body += self._gradients_out(r)
        body = self._sizes(params, body) + body
        doc = [f"The backward steps; returns the gradients of {r.output} by variable name.",
               ""] + [f"{g.label} = {g.name}: {_shape(g.shape)}" for g in r.gradients.values()]
        if r.upstream != "1":
            doc.append(f"{r.upstream} is the upstream gradient of {r.output}, "
                       f"{_shape(r.out_shape)}.")
        return _function("backward", params, doc, body)

    def _gradients_out(self, r: BackpropResult) -> list[str]:
        lines = []
        defined = {b.name for b in r.backward}
        for g in r.gradients.values():
            if g.name not in defined:
                lines.append(f"{g.name} = {self._zeros(g.shape)}")
            elif self.printer.shape(_total(r, g.name)) != tuple(g.shape):
                lines.append(f"{g.name} = {self._broadcast(g.name, g.shape)}")
        pairs = ", ".join(f'"{g.wrt}": {g.name}' for g in r.gradients.values())
        return lines + ["return {" + pairs + "}"]

    def _sizes(self, params: list[str], body: list[str]) -> list[str]:
        """At symbolic sizes, each size the body uses read from an argument's shape
        (``N = X.shape[0]``), so the function runs at any sizes."""
        used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "\n".join(body)))
        lines, bound = [], set(params)
        for param in params:
            for axis, d in enumerate(self.shapes.get(param, ())):
                if isinstance(d, str) and d.isidentifier() and d in used and d not in bound:
                    lines.append(f"{check_identifier(d)} = {param}.shape[{axis}]")
                    bound.add(d)
        return lines

    def _zeros(self, shape: Shape) -> str:
        if self.language == "numpy":
            return f"np.zeros({_shape_code(shape)})"
        return f"torch.zeros({_shape_code(shape)}, dtype=torch.float64)"

    def _broadcast(self, name: str, shape: Shape) -> str:
        if self.language == "numpy":
            return f"np.broadcast_to(np.asarray({name}, dtype=float), {_shape_code(shape)})"
        return f"torch.broadcast_to(_t({name}), {_shape_code(shape)})"

    def _backprop_doc(self, r: BackpropResult, inputs: list[str]) -> list[str]:
        width = max(len(s.name) for s in r.steps)
        lines = [f"Forward and backward pass of {r.output} = {r.of}, in "
                 f"{TITLES[self.language]}.", "",
                 "Generated by jacobian_calc from the formula trees of its backprop "
                 "derivation", f"(every backward step checked: {_without_errors(r.summary())}).",
                 "",
                 "Shapes: " + ", ".join(f"{n} {_shape(self.shapes.get(n, ()))}"
                                        for n in inputs), "", "Forward steps:"]
        lines += [f"    {s.name.ljust(width)} = {s.text}" for s in r.steps]
        lines += ["", "Backward steps:"]
        lines += [f"    {b.name} {'+=' if b.accumulate else '='} {b.text}" for b in r.backward]
        return lines + _assumptions(r.onehot, ())

    # -- Hessians -------------------------------------------------------------------------------
    def hessian(self, H: HessianResult) -> str:
        c = H.compact
        if not c.found or H.tree is None:
            raise JacobianError("no compact Hessian to export: "
                                + (c.reason or "the expression is not one formula"))
        inputs = _inputs([H.tree], set(), {}, extra=H.wrt)
        for name in inputs + list(c.directions.values()) + [n for n, _, _ in c.where]:
            check_identifier(name)
        forward = _function("forward", inputs, [f"The value of {H.out_name}."],
                            [f"return {self.printer.code(H.tree)}"])
        gradient = self._hessian_gradient(H, inputs)
        second = self._hessian_matrix(H, inputs) if c.kind == MATRIX else \
            self._hessian_product(H, inputs)
        return self._assemble(self._hessian_doc(H, inputs), [forward, gradient, second])

    def _where_lines(self, H: HessianResult, trees: list[Node]) -> list[str]:
        used = set().union(*(names(t) for t in trees)) if trees else set()
        lines, needed = [], set(used)
        for name, tree, _ in reversed(H.compact.where):  # what the used names need
            if name in needed:
                needed |= names(tree)
        for name, tree, _ in H.compact.where:
            if name in needed:
                lines.append(f"{name} = {self.printer.code(tree)}")
        return lines

    def _hessian_gradient(self, H: HessianResult, inputs: list[str]) -> str:
        grads = H.compact.gradients
        local = _locals({v: f"d{v}" for v in H.wrt}, inputs)
        body = [f"{local[v]} = {self._full(grads[v], H.variable(v).shape)}" for v in H.wrt]
        body.append("return {" + ", ".join(f'"{v}": {local[v]}' for v in H.wrt) + "}")
        doc = [f"The gradient of {H.out_name} by variable name (the formula differentiated "
               "once more below)."]
        return _function("gradient", inputs, doc, body)

    def _hessian_matrix(self, H: HessianResult, inputs: list[str]) -> str:
        (term,) = H.compact.terms
        body = self._where_lines(H, [term.tree])
        body.append(f"return {self._full(term.tree, term.shape)}")
        doc = [f"The Hessian of {H.out_name} with respect to {term.wrt}, "
               f"{_shape(term.shape)}:", "", f"    {term.label} = {term.text}"]
        doc += [f"    where {n} = {text}" for n, _, text in H.compact.where]
        return _function("hessian", inputs, doc, body)

    def _hessian_product(self, H: HessianResult, inputs: list[str]) -> str:
        c = H.compact
        directions = [c.directions[v] for v in H.wrt]
        body = self._where_lines(H, [t.tree for t in c.terms])
        local = _locals({t.wrt: f"H{c.directions[t.wrt]}" for t in c.terms},
                        inputs + directions + [n for n, _, _ in c.where])
        body += [f"{local[t.wrt]} = {self._full(t.tree, t.shape)}" for t in c.terms]
        body.append("return {" + ", ".join(f'"{t.wrt}": {local[t.wrt]}'
                                           for t in c.terms) + "}")
        doc = ["The Hessian-vector product: the Hessian applied to the directions "
               + ", ".join(f"{d} (like {v})" for v, d in c.directions.items()) + ".", ""]
        doc += [f"    {t.label} = {t.text}" for t in c.terms]
        doc += [f"    where {n} = {text}" for n, _, text in c.where]
        return _function("hvp", inputs + directions, doc, body)

    def _full(self, tree: Node, shape: Shape) -> str:
        code = self.printer.code(tree)
        if self.printer.shape(tree) == tuple(shape):
            return code
        if self.language == "numpy":
            return f"np.broadcast_to(np.asarray({code}, dtype=float), {tuple(shape)!r})"
        return f"torch.broadcast_to(_t({code}), {tuple(shape)!r})"

    def _hessian_doc(self, H: HessianResult, inputs: list[str]) -> list[str]:
        c = H.compact
        what = "the Hessian" if c.kind == MATRIX else "a Hessian-vector product"
        lines = [f"{TITLES[self.language]} code of {what} of {H.out_name} = "
                 f"{', '.join(H.of)}.", "",
                 "Generated by jacobian_calc from the compact formula trees, each checked "
                 "against", f"the explicit Hessian: {c.check.verdict} ({c.check.how}).", "",
                 "Shapes: " + ", ".join(f"{n} {_shape(self.shapes.get(n, ()))}"
                                        for n in inputs), ""]
        lines += [f"    {t.label} = {t.text}" for t in c.terms]
        lines += [f"    where {n} = {text}" for n, _, text in c.where]
        if c.rewrites:
            lines.append(f"    (using {'; '.join(c.rewrites)})")
        return lines + _assumptions(H.onehot, H.signs)

    # -- assembly ---------------------------------------------------------------------------------
    def _assemble(self, doc: list[str], functions: list[str]) -> str:
        body = "\n\n\n".join(functions)
        helpers = [code for name, code in HELPERS[self.language].items()
                   if re.search(rf"\b{name}\(", body)]
        imports = [IMPORTS[self.language]]
        if "math." in body:
            imports.insert(0, "import math")
        head = '"""' + _docstring(doc) + '\n"""\n\n' + "\n".join(imports)
        return "\n\n\n".join([head] + helpers + [body]) + "\n"


def _locals(wanted: dict[str, str], names_: list[str]) -> dict[str, str]:
    """Local names of a generated function: the wanted ones, unless one is a parameter's
    or another value's name, then ``_`` + it (no user name starts with ``_``)."""
    used = {n.lower() for n in names_}
    return {k: f"_{v}" if v.lower() in used else v for k, v in wanted.items()}


def _without_errors(summary: str) -> str:
    """A verdict without its float errors (they vary in the last digit from run to run)."""
    return re.sub(r" \(max error [^)]*\)", "", summary)


def _assumptions(onehot, signs) -> list[str]:
    """What the formulas take for granted about the data (they are wrong otherwise)."""
    lines = [f"Assumes: every row of {n} sums to 1 (one-hot targets)." for n in onehot]
    lines += [f"Assumes: every entry of {n} is -1 or 1." for n in signs]
    return [""] + lines if lines else []


def _function(name: str, params: list[str], doc: list[str], body: list[str]) -> str:
    head = f"def {name}({', '.join(params)}):"
    text = _docstring(doc, indent="    ")
    lines = [head, f'    """{text}', '    """'] if len(doc) > 1 else [head, f'    """{text}"""']
    return "\n".join(lines + [f"    {line}" for line in body])


def _docstring(lines: list[str], indent: str = "") -> str:
    for line in lines:  # our own text, from trees; never a quote or a backslash
        if '"""' in line or "\\" in line:
            raise JacobianError("cannot export code: a docstring line is not plain text")
    first, *rest = lines
    return first + "".join("\n" + (indent + line if line else "") for line in rest)


def _shape_code(shape: Shape) -> str:
    """A shape as Python: ``(4, 3)``, ``(N, d)`` (sizes bound by :meth:`_Module._sizes`)."""
    return f"({', '.join(str(d) for d in shape)}{',' if len(shape) == 1 else ''})"


def _shape(shape: Shape) -> str:
    return f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})" if shape \
        else "scalar"


def _inputs(trees: list[Node], steps: set[str], gradients, extra=()) -> list[str]:
    """Variables in order of first appearance, then variables asked for that do not
    appear."""
    order: dict[str, None] = {}
    for tree in trees:
        for n in walk(tree):
            if isinstance(n, Name) and n.id not in steps:
                order.setdefault(n.id)
    for name in list(gradients) + list(extra):
        order.setdefault(name)
    return list(order)


def _total(r: BackpropResult, name: str) -> Node:
    """The whole gradient ``name``: its backward steps' contributions summed."""
    parts = [b.tree for b in r.backward if b.name == name]
    return parts[0] if len(parts) == 1 else Call("add", parts)


def _hessian_shapes(H: HessianResult) -> dict[str, Shape]:
    shapes = {n: tuple(H.arrays.get(n, ())) for n in H.names}
    shapes.update({v.name: v.shape for v in H.variables})
    shapes.update({d: H.variable(v).shape for v, d in H.compact.directions.items()})
    for name, tree, _ in H.compact.where:
        shapes[name] = node_shapes(tree, shapes)[tree]
    return shapes


__all__ = ["to_numpy_code", "to_torch_code", "to_code", "CodePrinter", "check_identifier"]
