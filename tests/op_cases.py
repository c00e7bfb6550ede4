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
        "low": lambda s: rng.uniform(-1.5, -0.2, s),
        "high": lambda s: rng.uniform(0.2, 1.5, s),
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
    # selections: PyTorch's conventions at ties are tested in tests/test_selection.py
    "max": [Case("max(X)", {"X": M}, "X", lambda t, v: t.amax(v["X"])),
            Case("max(X, axis=1)", {"X": M}, "X", lambda t, v: t.amax(v["X"], dim=1)),
            Case("max(X, axis=0, keepdims=True)", {"X": M}, "X",
                 lambda t, v: t.amax(v["X"], dim=0, keepdim=True))],
    "min": [Case("min(X)", {"X": M}, "X", lambda t, v: t.amin(v["X"])),
            Case("min(X, axis=-1)", {"X": M}, "X", lambda t, v: t.amin(v["X"], dim=-1))],
    "maximum": [Case("maximum(X, Y)", {"X": M, "Y": M}, "Y",
                     lambda t, v: t.maximum(v["X"], v["Y"])),
                Case("max(0, 1 - y * s)", {"y": V, "s": V}, "s",
                     lambda t, v: t.maximum(t.tensor(0.0), 1 - v["y"] * v["s"]))],
    "minimum": [Case("minimum(X, b)", {"X": M, "b": V}, "b",
                     lambda t, v: t.minimum(v["X"], v["b"]))],
    "clip": [Case("clip(X, -1/2, 1/2)", {"X": M}, "X", lambda t, v: t.clamp(v["X"], -0.5, 0.5)),
             Case("clip(X, L, H)", {"X": M, "L": M, "H": M}, "L",
                  lambda t, v: t.clamp(v["X"], v["L"], v["H"]), {"L": "low", "H": "high"})],
    "where": [Case("where(X > Y, X * Y, X - Y)", {"X": M, "Y": M}, "X",
                   lambda t, v: t.where(v["X"] > v["Y"], v["X"] * v["Y"], v["X"] - v["Y"])),
              Case("where(abs(r) <= 1, r**2 / 2, abs(r) - 1/2)", {"r": V}, "r",
                   lambda t, v: t.where(t.abs(v["r"]) <= 1, v["r"] ** 2 / 2,
                                        t.abs(v["r"]) - 0.5), {"r": "nonzero"})],
    "less": [Case("where(x < y, x, 2 * y)", {"x": V, "y": V}, "y",
                  lambda t, v: t.where(v["x"] < v["y"], v["x"], 2 * v["y"]))],
    "less_equal": [Case("where(X <= 0, 0, X)", {"X": M}, "X",
                        lambda t, v: t.where(v["X"] <= 0, 0.0, v["X"]))],
    "greater": [Case("where(x > 0, x, exp(x) - 1)", {"x": V}, "x",
                     lambda t, v: t.where(v["x"] > 0, v["x"], t.exp(v["x"]) - 1))],
    "greater_equal": [Case("where(x >= 0, x, x / 10)", {"x": V}, "x",
                           lambda t, v: t.where(v["x"] >= 0, v["x"], v["x"] / 10))],
    # indexing, 0-based as NumPy and PyTorch
    "getitem": [Case("x[0]", {"x": V}, "x", lambda t, v: v["x"][0]),
                Case("X[:, 0]", {"X": M}, "X", lambda t, v: v["X"][:, 0]),
                Case("X[1:, :]", {"X": M}, "X", lambda t, v: v["X"][1:, :]),
                Case("X[-1, ::2]", {"X": M}, "X", lambda t, v: v["X"][-1, ::2]),
                Case("x[::2] * x[1:]", {"x": V}, "x", lambda t, v: v["x"][::2] * v["x"][1:])],
    "scatter": [Case("scatter(y, X[1:, :])", {"y": (1, 3), "X": M}, "y",
                     lambda t, v: t.cat([t.zeros(1, 3, dtype=t.float64), v["y"]], dim=0))],
    "concat": [Case("concat([x, y], axis=0)", {"x": V, "y": (2,)}, "y",
                    lambda t, v: t.cat([v["x"], v["y"]], dim=0)),
               Case("concat([X, X * Y, Y], axis=1)", {"X": M, "Y": (2, 1)}, "Y",
                    lambda t, v: t.cat([v["X"], v["X"] * v["Y"], v["Y"]], dim=1))],
    "stack": [Case("stack([x, y])", {"x": V, "y": V}, "x",
                   lambda t, v: t.stack([v["x"], v["y"]])),
              Case("stack([X, 2 * X], axis=1)", {"X": M}, "X",
                   lambda t, v: t.stack([v["X"], 2 * v["X"]], dim=1))],
    # convolution and pooling, one channel (torch.nn.functional with batch and channel axes)
    "conv1d": [Case("conv1d(x, w)", {"x": (5,), "w": (3,)}, "w",
                    lambda t, v: _f(t).conv1d(v["x"][None, None], v["w"][None, None])[0, 0]),
               Case("conv1d(x, w, stride=2, padding=1)", {"x": (6,), "w": (3,)}, "x",
                    lambda t, v: _f(t).conv1d(v["x"][None, None], v["w"][None, None],
                                              stride=2, padding=1)[0, 0])],
    "conv2d": [Case("conv2d(X, W)", {"X": (4, 3), "W": (2, 2)}, "X",
                    lambda t, v: _f(t).conv2d(v["X"][None, None], v["W"][None, None])[0, 0]),
               Case("conv2d(X, W, stride=2)", {"X": (5, 4), "W": (2, 2)}, "W",
                    lambda t, v: _f(t).conv2d(v["X"][None, None], v["W"][None, None],
                                              stride=2)[0, 0]),
               Case("conv2d(X, W, stride=2, padding=1)", {"X": (4, 4), "W": (3, 3)}, "X",
                    lambda t, v: _f(t).conv2d(v["X"][None, None], v["W"][None, None],
                                              stride=2, padding=1)[0, 0]),
               Case("conv2d(X, W, padding=1)", {"X": (4, 5), "W": (2, 3)}, "X",
                    lambda t, v: _f(t).conv2d(v["X"][None, None], v["W"][None, None],
                                              padding=1)[0, 0])],
    "pad": [Case("pad(X, rows=1, cols=2)", {"X": M}, "X",
                 lambda t, v: _f(t).pad(v["X"], (2, 2, 1, 1))),
            Case("pad(x, rows=2) * 2", {"x": V}, "x", lambda t, v: _f(t).pad(v["x"], (2, 2)) * 2)],
    "flip": [Case("flip(W)", {"W": M}, "W", lambda t, v: t.flip(v["W"], (0, 1))),
             Case("flip(x) * x", {"x": V}, "x", lambda t, v: t.flip(v["x"], (0,)) * v["x"])],
    "dilate": [Case("dilate(X, stride=2)", {"X": M}, "X",
                    lambda t, v: _dilate(t, v["X"], 2, (3, 5))),
               Case("dilate(x, stride=3, rows=8)", {"x": V}, "x",
                    lambda t, v: _dilate(t, v["x"], 3, (8,)))],
    "upsample": [Case("upsample(X, k=2, rows=5)", {"X": M}, "X",
                      lambda t, v: t.cat([t.kron(v["X"], t.ones(2, 2, dtype=t.float64)),
                                          t.zeros(1, 6, dtype=t.float64)], dim=0))],
    "maxpool2d": [Case("maxpool2d(X, 2)", {"X": (4, 5)}, "X",
                       lambda t, v: _f(t).max_pool2d(v["X"][None, None], 2)[0, 0])],
    "avgpool2d": [Case("avgpool2d(X, 2)", {"X": (5, 4)}, "X",
                       lambda t, v: _f(t).avg_pool2d(v["X"][None, None], 2)[0, 0])],
}


def _f(t):
    return t.nn.functional


def _dilate(t, x, stride, size):
    out = t.zeros(size, dtype=t.float64)
    out[tuple(slice(0, n * stride, stride) for n in x.shape)] = x
    return out


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
