"""The rule-test table: at least one row per registered operation.

Each row is an expression using the operation, the shapes it needs, the
variable to differentiate by, the same computation in PyTorch, and where to
draw random values (some operations have a domain: ``log`` of positives,
``acosh`` above 1, ``logdet`` of a matrix with a positive determinant).
``tests/test_operations.py`` expands every row into tests; a registered
operation without a row fails ``test_every_operation_has_a_row``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    expr: str
    shapes: dict
    wrt: str
    torch: Callable  # (torch module, dict of tensors) -> tensor
    domain: dict = field(default_factory=dict)  # name -> "any", "pos", "unit", "gt1", "spd"

    @property
    def id(self) -> str:
        return self.expr


def sample(name: str, shape: tuple, domain: str, rng: np.random.Generator) -> np.ndarray:
    """Random values for a variable, inside the domain its operation needs."""
    draw = {
        "any": lambda s: rng.uniform(-1.5, 1.5, s),
        "pos": lambda s: rng.uniform(0.3, 2.0, s),
        "unit": lambda s: rng.uniform(-0.8, 0.8, s),
        "gt1": lambda s: rng.uniform(1.2, 3.0, s),
        "nonzero": lambda s: rng.choice([-1, 1], s) * rng.uniform(0.3, 1.5, s),
        "spd": lambda s: 2 * np.eye(s[0]) + rng.uniform(-0.3, 0.3, s),
    }[domain]
    return np.asarray(draw(shape), dtype=float)


M, V, S = (2, 3), (3,), (3, 3)

#: op name -> cases. Element-wise functions get one row each from ELEMENTWISE below.
CASES: dict[str, list[Case]] = {
    "add": [Case("X + b", {"X": M, "b": V}, "b", lambda t, v: v["X"] + v["b"]),
            Case("X - Y", {"X": M, "Y": M}, "Y", lambda t, v: v["X"] - v["Y"])],
    "neg": [Case("-X", {"X": M}, "X", lambda t, v: -v["X"])],
    "mul": [Case("X * Y * 3", {"X": M, "Y": M}, "X", lambda t, v: v["X"] * v["Y"] * 3),
            Case("x * X", {"X": M}, "x", lambda t, v: v["x"] * v["X"])],
    "div": [Case("X / Y", {"X": M, "Y": M}, "Y", lambda t, v: v["X"] / v["Y"],
                 {"Y": "pos"})],
    "pow": [Case("X**3", {"X": M}, "X", lambda t, v: v["X"] ** 3),
            Case("Y**X", {"X": M, "Y": M}, "X", lambda t, v: v["Y"] ** v["X"], {"Y": "pos"})],
    "matmul": [Case("X @ W", {"X": M, "W": (3, 2)}, "W", lambda t, v: v["X"] @ v["W"]),
               Case("A @ x", {"A": M, "x": V}, "A", lambda t, v: v["A"] @ v["x"]),
               Case("x @ A.T", {"A": M, "x": V}, "x", lambda t, v: v["x"] @ v["A"].T),
               Case("x @ y", {"x": V, "y": V}, "y", lambda t, v: v["x"] @ v["y"])],
    "transpose": [Case("X.T", {"X": M}, "X", lambda t, v: v["X"].T)],
    "hadamard": [Case("hadamard(X, Y)", {"X": M, "Y": M}, "Y", lambda t, v: v["X"] * v["Y"])],
    "pi": [Case("pi * x", {}, "x", lambda t, v: np.pi * v["x"])],
    "E": [Case("E * x", {}, "x", lambda t, v: np.e * v["x"])],
    "trace": [Case("trace(A @ X)", {"A": S, "X": S}, "X", lambda t, v: t.trace(v["A"] @ v["X"])),
              Case("trace(X.T @ A @ X)", {"A": S, "X": S}, "X",
                   lambda t, v: t.trace(v["X"].T @ v["A"] @ v["X"]))],
    "det": [Case("det(X)", {"X": S}, "X", lambda t, v: t.det(v["X"]), {"X": "spd"})],
    "inv": [Case("inv(X)", {"X": S}, "X", lambda t, v: t.inverse(v["X"]), {"X": "spd"}),
            Case("a @ inv(X) @ b", {"X": S, "a": V, "b": V}, "X",
                 lambda t, v: v["a"] @ t.inverse(v["X"]) @ v["b"], {"X": "spd"})],
    "logdet": [Case("logdet(X)", {"X": S}, "X", lambda t, v: t.logdet(v["X"]), {"X": "spd"})],
    "diag": [Case("diag(x)", {"x": V}, "x", lambda t, v: t.diag(v["x"])),
             Case("diag(X)", {"X": S}, "X", lambda t, v: t.diag(v["X"]))],
    "outer": [Case("outer(a, b)", {"a": V, "b": (2,)}, "a", lambda t, v: t.outer(v["a"], v["b"]))],
    "eye": [Case("eye(3) * x", {}, "x", lambda t, v: t.eye(3, dtype=t.float64) * v["x"])],
    "eye_like": [Case("X * eye_like(X)", {"X": S}, "X",
                      lambda t, v: v["X"] * t.eye(3, dtype=t.float64))],
    "ones_like": [Case("ones_like(X) * x", {"X": M}, "x",
                       lambda t, v: t.ones(M, dtype=t.float64) * v["x"])],
    "expand_dims": [Case("expand_dims(y, 1) * X", {"y": (2,), "X": M}, "y",
                         lambda t, v: v["y"].unsqueeze(1) * v["X"])],
    "kron": [Case("kron(A, B)", {"A": M, "B": (2, 2)}, "A", lambda t, v: t.kron(v["A"], v["B"])),
             Case("kron(A, B)", {"A": M, "B": (2, 2)}, "B", lambda t, v: t.kron(v["A"], v["B"])),
             Case("kron(a, b)", {"a": V, "b": (2,)}, "b", lambda t, v: t.kron(v["a"], v["b"]))],
    "vec": [Case("vec(X)", {"X": M}, "X", lambda t, v: v["X"].T.reshape(-1)),
            Case("vec(x)", {"x": V}, "x", lambda t, v: v["x"])],
    "reshape": [Case("reshape(X, 3, 2)", {"X": M}, "X", lambda t, v: v["X"].reshape(3, 2)),
                Case("reshape(X, 6)", {"X": M}, "X", lambda t, v: v["X"].reshape(6)),
                Case("reshape(x, 1, 3)", {"x": V}, "x", lambda t, v: v["x"].reshape(1, 3))],
    "sum": [Case("sum(X)", {"X": M}, "X", lambda t, v: t.sum(v["X"])),
            Case("sum(X, axis=0)", {"X": M}, "X", lambda t, v: t.sum(v["X"], dim=0)),
            Case("sum(X, axis=1, keepdims=True)", {"X": M}, "X",
                 lambda t, v: t.sum(v["X"], dim=1, keepdim=True))],
    "mean": [Case("mean(X)", {"X": M}, "X", lambda t, v: t.mean(v["X"])),
             Case("mean(X, axis=1)", {"X": M}, "X", lambda t, v: t.mean(v["X"], dim=1))],
    "logsumexp": [Case("logsumexp(x)", {"x": V}, "x", lambda t, v: t.logsumexp(v["x"], dim=0)),
                  Case("logsumexp(X, axis=1)", {"X": M}, "X",
                       lambda t, v: t.logsumexp(v["X"], dim=1))],
    "norm": [Case("norm(x)", {"x": V}, "x", lambda t, v: t.linalg.norm(v["x"])),
             Case("norm(X)", {"X": M}, "X", lambda t, v: t.linalg.norm(v["X"])),
             Case("norm(x, 1)", {"x": V}, "x", lambda t, v: t.sum(t.abs(v["x"])),
                  {"x": "nonzero"})],
    "softmax": [Case("softmax(x)", {"x": V}, "x", lambda t, v: t.softmax(v["x"], dim=0)),
                Case("softmax(X, axis=0)", {"X": M}, "X", lambda t, v: t.softmax(v["X"], dim=0))],
    "log_softmax": [Case("log_softmax(X)", {"X": M}, "X",
                         lambda t, v: t.log_softmax(v["X"], dim=1))],
}

#: Element-wise functions: PyTorch's version and the domain of their argument.
ELEMENTWISE = {
    "exp": ("exp", "any"), "log": ("log", "pos"), "sqrt": ("sqrt", "pos"),
    "sigmoid": ("sigmoid", "any"), "tanh": ("tanh", "any"), "relu": ("relu", "nonzero"),
    "step": (lambda t, x: (x >= 0).to(x.dtype), "nonzero"),
    "softplus": (lambda t, x: t.nn.functional.softplus(x), "any"),
    "abs": ("abs", "nonzero"), "sign": ("sign", "nonzero"), "sin": ("sin", "any"),
    "cos": ("cos", "any"), "tan": ("tan", "unit"),
    "sec": (lambda t, x: 1 / t.cos(x), "unit"), "csc": (lambda t, x: 1 / t.sin(x), "pos"),
    "cot": (lambda t, x: 1 / t.tan(x), "pos"),
    "asin": ("asin", "unit"), "acos": ("acos", "unit"), "atan": ("atan", "any"),
    "sinh": ("sinh", "any"), "cosh": ("cosh", "any"), "asinh": ("asinh", "any"),
    "acosh": ("acosh", "gt1"), "atanh": ("atanh", "unit"),
}


def _elementwise_case(name: str, torch_name, domain: str) -> Case:
    func = (lambda t, x: getattr(t, torch_name)(x)) if isinstance(torch_name, str) else torch_name
    return Case(f"{name}(X)", {"X": M}, "X", lambda t, v: func(t, v["X"]), {"X": domain})


for _name, (_torch, _domain) in ELEMENTWISE.items():
    CASES.setdefault(_name, []).append(_elementwise_case(_name, _torch, _domain))

ALL_CASES = [(name, case) for name, cases in CASES.items() for case in cases]
