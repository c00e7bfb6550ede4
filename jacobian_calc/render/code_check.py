"""Running the generated code, and comparing what it computes with the explicit route.

:func:`check_code` generates the module (:mod:`.code`), imports it, runs it at
random points and compares

* its gradients (or Hessian, or Hessian-vector product) with the explicit
  symbolic result, evaluated at the same points -- the entries come from
  differentiating the whole expression, never from the compact rules;
* its forward value with the expression's own value;
* and, when PyTorch is installed, its gradients with PyTorch autograd through
  the generated PyTorch ``forward`` (``torch.autograd.functional.hessian`` or
  ``hvp`` for a Hessian), in float64.

The module text is our own (printed from formula trees, every name checked):
running it is running the derivation, not the user's input.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import sympy as sp

from ..core.grid import Grid, Shape, ndindex
from ..core.tree import Name, substitute, walk
from ..results.backprop import AGREES, DIFFERS, UNDECIDED, BackpropResult, Check
from ..results.hessian import MATRIX, HessianResult
from ..symbolic.autodiff import gradient
from ..symbolic.evaluate import Env, evaluate
from ..symbolic.numeric import float_eval
from ..symbolic.symbols import entry_name, symbol_grid
from ..symbolic.sampling import TRIES, DomainSearch, draw_array
from .code import TITLES, to_code

#: Relative and absolute tolerance of the float64 comparisons.
RTOL, ATOL = 1e-9, 1e-11


@dataclass(frozen=True)
class CodeCheck:
    """What running the generated code showed.

    Attributes
    ----------
    language : str
        ``"numpy"`` or ``"torch"``.
    explicit : Check
        The code's results against the explicit symbolic result, evaluated.
    autograd : Check or None
        The code's results against PyTorch autograd (None: PyTorch not installed).
    points : int
        Random points compared.
    """

    language: str
    explicit: Check
    autograd: Check | None
    points: int
    of: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The JSON document of the verdicts (``kind`` ``"code_check"``)."""
        from .json import envelope  # noqa: PLC0415

        return envelope("code_check", self.of or ["?"], language=self.language,
                        points=self.points, explicit=_check_dict(self.explicit),
                        autograd=None if self.autograd is None else _check_dict(self.autograd),
                        agree=self.ok, summary=self.summary())

    @property
    def ok(self) -> bool:
        """Nothing differed (and something was compared)."""
        return self.explicit.verdict == AGREES and (
            self.autograd is None or self.autograd.verdict == AGREES)

    def summary(self) -> str:
        """``generated NumPy code agrees with the explicit result at 3 random points ...``."""
        title = TITLES[self.language]
        parts = [f"generated {title} code {_words(self.explicit, 'the explicit result')}"]
        if self.autograd is None:
            parts.append("PyTorch autograd not compared (PyTorch is not installed)")
        else:
            parts.append(f"{_words(self.autograd, 'PyTorch autograd')}")
        return "; ".join(parts)


def _words(check: Check, other: str) -> str:
    if check.verdict == AGREES:
        return f"agrees with {other} {check.how} (max error {check.max_abs_error:.2g})"
    if check.verdict == DIFFERS:
        label, want, got = check.mismatch
        return (f"DIFFERS from {other} {check.how}: {label} should be {want:.10g}, "
                f"the code gives {got:.10g}")
    return f"{other}: undecided ({check.how})"


def _check_dict(check: Check) -> dict:
    mismatch = None
    if check.mismatch is not None:
        label, want, got = check.mismatch
        mismatch = {"entry": label, "explicit": repr(float(want)), "compact": repr(float(got))}
    return {"verdict": check.verdict, "how": check.how,
            "max_abs_error": check.max_abs_error, "mismatch": mismatch}


def load_module(code: str, name: str = "generated") -> ModuleType:
    """Import generated source as a module (nothing is written to disk)."""
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our own code
    return module


def check_code(result, language: str = "numpy", points: int = 3, seed: int = 0,
               autograd: bool = True) -> CodeCheck:
    """Generate ``result``'s module in ``language``, run it, and compare.

    Parameters
    ----------
    result : BackpropResult or HessianResult
        What to export.
    language : {"numpy", "torch"}
    points, seed : int
        Random points (and their seed).
    autograd : bool
        Also compare with PyTorch autograd (when PyTorch is installed).

    Returns
    -------
    CodeCheck
    """
    module = load_module(to_code(result, language), f"generated_{language}")
    case = _BackpropCase(result) if isinstance(result, BackpropResult) else \
        _HessianCase(result)
    torch = _torch() if autograd else None
    oracle = load_module(to_code(result, "torch"), "generated_torch") if torch else None
    rng = np.random.default_rng(seed)
    explicit, against, compared = _Tally(), _Tally(), 0
    search = case.domain()
    for kind in range(points):
        found = search.find(lambda k: case.sample(rng, k), kind)
        if found.values is None:
            continue  # no point inside the domain after a real search
        values, want = found.values, found.result
        got = case.run(module, values, language)
        compared += 1
        explicit.compare(want, got)
        if oracle is not None:
            against.compare(case.autograd(oracle, values, torch), got)
    how = f"at {compared} random {'point' if compared == 1 else 'points'}"
    if not compared:
        none = Check(UNDECIDED, f"no point inside the domain was found in {TRIES} random "
                           "draws, each shifted where a log, sqrt or division was undefined")
        return CodeCheck(language, none, none if oracle else None, 0, _of(result))
    return CodeCheck(language, explicit.check(how),
                     against.check(how) if oracle is not None else None, compared, _of(result))


def _of(result) -> tuple[str, ...]:
    return tuple(result.of) if isinstance(result.of, (list, tuple)) else (result.of,)


def _torch():
    try:
        import torch  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return torch


class _Tally:
    """The largest difference seen, and the first entry that differed."""

    def __init__(self) -> None:
        self.worst, self.mismatch = 0.0, None

    def compare(self, want: dict, got: dict) -> None:
        for name, expected in want.items():
            have = np.broadcast_to(np.asarray(got[name], dtype=float), expected.shape)
            diff = np.abs(expected - have)
            diff = np.where(np.isnan(diff), np.inf, diff)
            self.worst = max(self.worst, float(diff.max(initial=0.0)))
            bad = np.argwhere(diff > RTOL * np.abs(expected) + ATOL)
            if len(bad) and self.mismatch is None:
                index = tuple(int(i) for i in bad[0])
                label = entry_name(name, index) if index else name
                self.mismatch = (label, float(expected[index]), float(have[index]))

    def check(self, how: str) -> Check:
        if self.mismatch is not None:
            return Check(DIFFERS, how, self.worst, self.mismatch)
        return Check(AGREES, how, self.worst)


# -- what is compared ------------------------------------------------------------------------

def _symbols(values: dict) -> dict:
    return {s: np.float64(v) for n, a in values.items()
            for s, v in zip(symbol_grid(n, np.shape(a)).flat, np.ravel(a))}


def _numbers(grid: Grid, symbols: dict) -> np.ndarray | None:
    numbers = float_eval(grid.flat, symbols) if grid.size else []
    array = np.array([float(x) for x in numbers]).reshape(grid.shape)
    return array if np.all(np.isfinite(array)) else None


def _arguments(values: dict, language: str, torch=None) -> dict:
    if language == "numpy":
        return dict(values)
    torch = torch or _torch()
    return {n: torch.tensor(a, dtype=torch.float64) for n, a in values.items()}


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().numpy()
    return np.asarray(value, dtype=float)


class _BackpropCase:
    """A backprop result: ``backward(...)`` against the explicit gradients."""

    def __init__(self, r: BackpropResult) -> None:
        self.r = r
        steps = {s.name: s.expr for s in r.steps[:-1]}
        self.root = substitute(r.steps[-1].expr, steps)
        self.inputs = list(dict.fromkeys(
            [n.id for s in r.steps for n in walk(s.expr)
             if isinstance(n, Name) and n.id not in steps and n.id != r.output]
            + list(r.gradients)))
        self.shapes = {n: tuple(r.shapes.get(n, ())) for n in self.inputs}
        y = evaluate(self.root, Env(self.shapes))
        total = y.item() if r.upstream == "1" else sp.Add(*(
            u * e for u, e in zip(symbol_grid(r.upstream, r.out_shape).flat, y.flat)))
        targets = {n: symbol_grid(n, self.shapes[n]) for n in r.gradients}
        found = gradient(total, {s for g in targets.values() for s in g.flat})
        self.output = y
        self.grads = {n: g.map(lambda s: found.get(s, sp.Integer(0)))
                      for n, g in targets.items()}

    def sample(self, rng, kind: int) -> dict:
        shapes = dict(self.shapes)
        if self.r.upstream != "1":
            shapes[self.r.upstream] = self.r.out_shape
        return {n: draw_array(rng, s, kind, "onehot" if n in self.r.onehot else None)
                for n, s in shapes.items()}

    def domain(self) -> DomainSearch:
        shapes = dict(self.shapes)
        if self.r.upstream != "1":
            shapes[self.r.upstream] = self.r.out_shape
        exprs = [*self.output.flat, *(e for g in self.grads.values() for e in g.flat)]
        return DomainSearch(exprs, shapes, [n for n in self.shapes if n not in self.r.onehot],
                            accept=self.explicit)

    def explicit(self, values: dict) -> dict | None:
        symbols = _symbols(values)
        out = {}
        for name, grid in [*self.grads.items(), (self.r.output, self.output)]:
            numbers = _numbers(grid, symbols)
            if numbers is None:
                return None
            out[name if name == self.r.output else f"d{name}"] = numbers
        return out

    def run(self, module, values: dict, language: str) -> dict:
        args = _arguments(values, language)
        inputs = {n: args[n] for n in self.inputs}
        got = {f"d{n}": _as_numpy(g) for n, g in module.backward(**args).items()}
        got[self.r.output] = _as_numpy(module.forward(**inputs)[self.r.output])
        return got

    def autograd(self, oracle, values: dict, torch) -> dict:
        args = _arguments(values, "torch", torch)
        wrt = list(self.r.gradients)
        for n in wrt:
            args[n].requires_grad_(True)
        out = oracle.forward(**{n: args[n] for n in self.inputs})[self.r.output]
        if self.r.upstream != "1":
            out = (out * args[self.r.upstream]).sum()
        grads = torch.autograd.grad(out, [args[n] for n in wrt], allow_unused=True)
        result = {f"d{n}": (np.zeros(self.shapes[n]) if g is None else _as_numpy(g))
                  for n, g in zip(wrt, grads)}
        result[self.r.output] = _as_numpy(out) if self.r.upstream == "1" else \
            self._plain_value(oracle, args)
        return result

    def _plain_value(self, oracle, args) -> np.ndarray:
        return _as_numpy(oracle.forward(**{n: args[n] for n in self.inputs})[self.r.output])


class _HessianCase:
    """A Hessian: ``hessian(...)`` (or ``hvp(...)``) and ``gradient(...)`` against the
    explicit second and first derivatives."""

    def __init__(self, H: HessianResult) -> None:
        self.H = H
        c = H.compact
        self.inputs = list(dict.fromkeys(
            [n.id for n in walk(H.tree) if isinstance(n, Name)] + H.wrt))
        self.shapes = {n: tuple(H.arrays.get(n, ())) for n in self.inputs}
        self.directions = {c.directions[v]: v for v in H.wrt} if c.kind != MATRIX else {}
        y = evaluate(H.tree, Env(self.shapes)).item()
        targets = {v.name: symbol_grid(v.name, v.shape) for v in H.variables}
        found = gradient(y, {s for g in targets.values() for s in g.flat})
        self.grads = {n: g.map(lambda s: found.get(s, sp.Integer(0)))
                      for n, g in targets.items()}
        self.value = Grid.scalar(y)

    def _special(self, name: str) -> str | None:
        return "onehot" if name in self.H.onehot else "signs" if name in self.H.signs \
            else None

    def sample(self, rng, kind: int) -> dict:
        values = {n: draw_array(rng, s, kind, self._special(n))
                  for n, s in self.shapes.items()}
        values.update({d: draw_array(rng, self.H.variable(v).shape, 0)
                       for d, v in self.directions.items()})
        return values

    def domain(self) -> DomainSearch:
        shapes = dict(self.shapes)
        shapes.update({d: self.H.variable(v).shape for d, v in self.directions.items()})
        exprs = [*self.value.flat, *(e for g in self.grads.values() for e in g.flat)]
        return DomainSearch(exprs, shapes, [n for n in self.shapes if self._special(n) is None],
                            accept=self.explicit)

    def explicit(self, values: dict) -> dict | None:
        symbols = _symbols({n: values[n] for n in self.inputs})
        out = {}
        value = _numbers(self.value, symbols)
        if value is None:
            return None
        out["f"] = value
        for name, grid in self.grads.items():
            numbers = _numbers(grid, symbols)
            if numbers is None:
                return None
            out[f"d{name}"] = numbers
        blocks = {}
        for key, block in self.H.with_layout("numerator").blocks.items():
            numbers = _numbers(block.as_grid(), symbols)
            if numbers is None:
                return None
            blocks[key] = numbers
        if self.H.compact.kind == MATRIX:
            (v,) = self.H.variables
            out["H"] = blocks[(v.name, v.name)]
            return out
        for U in self.H.variables:
            total = np.zeros(U.shape)
            for V in self.H.variables:
                d = values[self.H.compact.directions[V.name]]
                b = blocks[(U.name, V.name)].reshape(U.size, V.size)
                total = total + (b @ np.ravel(d)).reshape(U.shape)
            out[f"H_{U.name}"] = total
        return out

    def run(self, module, values: dict, language: str) -> dict:
        args = _arguments(values, language)
        inputs = {n: args[n] for n in self.inputs}
        got = {"f": _as_numpy(module.forward(**inputs))}
        got.update({f"d{n}": _as_numpy(g) for n, g in module.gradient(**inputs).items()})
        if self.H.compact.kind == MATRIX:
            got["H"] = _as_numpy(module.hessian(**inputs))
        else:
            products = module.hvp(**args)
            got.update({f"H_{n}": _as_numpy(g) for n, g in products.items()})
        return got

    def autograd(self, oracle, values: dict, torch) -> dict:
        args = _arguments(values, "torch", torch)
        wrt = self.H.wrt
        fixed = {n: args[n] for n in self.inputs if n not in wrt}

        def f(*xs):
            return oracle.forward(**fixed, **dict(zip(wrt, xs)))

        xs = tuple(args[n] for n in wrt)
        out = {"f": _as_numpy(f(*xs))}
        grads = torch.autograd.functional.jacobian(f, xs)
        out.update({f"d{n}": _as_numpy(g) for n, g in zip(wrt, grads)})
        if self.H.compact.kind == MATRIX:
            out["H"] = _as_numpy(torch.autograd.functional.hessian(f, xs)[0][0])
        else:
            v = tuple(args[self.H.compact.directions[n]] for n in wrt)
            _, hv = torch.autograd.functional.hvp(f, xs, v)
            out.update({f"H_{n}": _as_numpy(h) for n, h in zip(wrt, hv)})
        return out


__all__ = ["check_code", "CodeCheck", "load_module"]
