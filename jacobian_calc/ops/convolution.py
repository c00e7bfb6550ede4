"""Convolution and pooling as deep-learning frameworks define them, for one channel.

``conv1d(x, w)`` and ``conv2d(X, W)`` are cross-correlations ("valid" by
default; ``stride=`` and ``padding=`` as in PyTorch), ``maxpool2d(X, k)`` and
``avgpool2d(X, k)`` pool k x k blocks with stride k. Their Jacobians are
sparse and banded (``--spy`` shows the band). The backward rules are the CNN
lecture's::

    dW = conv2d(X, dY)                       (the input correlated with dY)
    dX = conv2d(dY, flip(W), padding=k - 1)  (the full convolution with W rotated)

with ``padding=p`` the input side uses ``padding=k - 1 - p`` and the weight
side ``padding=p``; with ``stride=s`` the upstream gradient is first spread
out by ``dilate`` (s - 1 zeros between its entries); a rectangular kernel
pads each axis by its own ``k - 1 - p`` with ``pad``. ``padding`` is less
than the kernel size.

Max pooling splits the gradient evenly among the tied maxima of a window,
as ``torch.amax`` of the window does (``F.max_pool2d`` gives it all to the
first maximum; the two agree wherever a window has one maximum).
"""

from __future__ import annotations

from ..core import dims as D
from ..core.tree import Num, fn
from . import index_forms, windows
from .registry import PREC_MUL, Keyword, NoIndexForm, Op, register

STRIDE = Keyword("stride", "size", 1)
PADDING = Keyword("padding", "count", 0)
K = Keyword("k", "size")
ROWS = Keyword("rows", "size")
COLS = Keyword("cols", "size")


def _conv_index(c):
    """``conv(X, W)[i] = Σ_r W[r] [1 ≤ s (i - 1) + r - p ≤ n] X[s (i - 1) + r - p]``, one
    sum per axis (the bracket only with padding: without, the window is inside X)."""
    stride, padding = c.kw.get("stride", 1), c.kw.get("padding", 0)
    kernel = [c.fresh() for _ in c.out]
    sources = [stride * (i - 1) + r - D.as_sympy(padding) for i, r in zip(c.out, kernel)]
    body = c.arg(1, *kernel) * c.arg(0, *sources)
    if padding:
        for axis, source in enumerate(sources):
            body = body * c.in_range(source, c.shapes[0][axis])
    return c.sum(body, *((r, c.size(1, axis)) for axis, r in enumerate(kernel)))


def _conv_shape(ndim: int):
    def shape(s):
        x, w = s.shapes
        what = "vectors" if ndim == 1 else "matrices"
        if len(x) != ndim or len(w) != ndim:
            raise s.fail(f"needs two {what} (input and kernel), got {s.arg(0)} and {s.arg(1)}")
        stride, padding = s.kw.get("stride", 1), s.kw.get("padding", 0)
        if not D.concrete_dims((*x, *w, padding)):
            return _symbolic_conv_shape(s, x, w, stride, padding)
        if padding >= min(w):
            raise s.fail(f"needs padding less than the kernel size {min(w)}, got {padding}")
        if any(n + 2 * padding < k for n, k in zip(x, w)):
            raise s.fail(f"needs a kernel no larger than the (padded) input, got {s.arg(1)} "
                         f"for {s.arg(0)}")
        return tuple(windows.out_len(n, k, stride, padding) for n, k in zip(x, w))
    return shape


def _symbolic_conv_shape(s, x, w, stride, padding):
    """``n + 2 p - k + 1`` per axis, at symbolic sizes (stride 1 only: a stride divides)."""
    if stride != 1:
        named = next(d for d in (*x, *w, padding) if isinstance(d, str))
        raise s.fail(f"with stride {stride} needs concrete sizes, not {named} (the output's "
                     f"length (n + 2 p - k) / {stride} + 1 needs a division)")
    p = D.as_sympy(padding)
    for k in w:
        if D.known(p >= D.as_sympy(k)) is True:
            raise s.fail(f"needs padding less than the kernel size {k}, got {padding}")
    out = []
    for n, k in zip(x, w):
        length = D.as_sympy(n) + 2 * p - D.as_sympy(k) + 1
        if D.known(length >= 1) is False:
            raise s.fail(f"needs a kernel no larger than the (padded) input, got {s.arg(1)} "
                         f"for {s.arg(0)}")
        out.append(D.as_dim(length))
    return tuple(out)


def _concrete(s, dims, length: str) -> None:
    """A symbolic dimension here is refused plainly: ``length`` is not a dimension name."""
    named = [d for d in dims if isinstance(d, str)]
    if named:
        raise s.fail(f"needs concrete sizes, not {named[0]} ({length} is not a dimension "
                     "name)")


def _conv(S, X, W, stride, padding):
    """Entries of the cross-correlation: sums of products, the padding's zeros left out."""
    shape = tuple(windows.out_len(n, k, stride, padding) for n, k in zip(X.shape, W.shape))
    offsets = list(W.items())

    def entry(index):
        terms = []
        for offset, w in offsets:
            source = tuple(i * stride + o - padding for i, o in zip(index, offset))
            if all(0 <= j < n for j, n in zip(source, X.shape)):
                terms.append(S.mul(w, X[source]))
        return S.add(*terms) if terms else S.Integer(0)
    return S.Grid.from_function(shape, entry)


def _spread(v, g):
    """``dY``, dilated by the stride and padded to the length the backward rules need."""
    stride, padding = v.kw.get("stride", 1), v.kw.get("padding", 0)
    size = tuple(D.add(n, padding, padding, D.as_dim(-D.as_sympy(k)), 1)
                 for n, k in zip(v.shapes[0], v.shapes[1]))
    if stride == 1 and size == tuple(v.out_shape):
        return g
    return fn.dilate(g, stride=stride, **_size_kw(size))


def _size_kw(size) -> dict:
    return {"rows": size[0]} if len(size) == 1 else {"rows": size[0], "cols": size[1]}


def _conv_vjp(name: str):
    def vjp(v):
        x, w = v.args
        padding, kernel = v.kw.get("padding", 0), v.shapes[1]
        g = _spread(v, v.g)
        outer = {"padding": padding} if padding else {}
        conv = getattr(fn, name)
        full = [D.as_dim(D.as_sympy(k) - 1 - D.as_sympy(padding))  # the full convolution's
                for k in kernel]                                     # padding, per axis
        if len(set(full)) == 1:
            inner = {"padding": full[0]} if full[0] else {}
            return (conv(g, fn.flip(w), **inner), conv(x, g, **outer))
        padded = fn.pad(g, **dict(zip(("rows", "cols"), full)))  # a rectangular kernel
        return (conv(padded, fn.flip(w)), conv(x, g, **outer))
    return vjp


def _options_code(kw, names=("stride", "padding"), defaults=(1, 0)) -> str:
    return "".join(f", {n}={kw[n]}" for n, d in zip(names, defaults) if kw.get(n, d) != d)


def _conv_code(dims: int):
    def numpy(a, kw):
        return f"_conv({a[0]}, {a[1]}{_options_code(kw)})"

    def torch(a, kw):
        return (f"torch.nn.functional.conv{dims}d({a[0]}[None, None], {a[1]}[None, None]"
                f"{_options_code(kw)})[0, 0]")
    return {"numpy": numpy, "torch": torch}


def _conv_cost(c):
    k = 1
    for n in c.shapes[1]:
        k *= n
    return 2.0 * k, k * (c.sizes[0] + c.sizes[1] + 1) + 1


def _conv_latex(p):
    extra = []
    if p.kw("stride") not in (None, 1):
        extra.append(rf"\text{{stride }}{p.kw('stride')}")
    if p.kw("padding"):
        extra.append(rf"\text{{padding }}{p.kw('padding')}")
    tail = rf"_{{{', '.join(extra)}}}" if extra else ""
    return rf"{p.arg(0, 5)} \star{tail} {p.arg(1, 5)}"


for _dims in (1, 2):
    register(Op(
        name=f"conv{_dims}d", category="neural network",
        doc=(f"conv{_dims}d({'x, w' if _dims == 1 else 'X, W'}, stride=1, padding=0): "
             "cross-correlation, 'valid' by default, as torch.nn.functional."
             f"conv{_dims}d for one channel"),
        rule=(f"dW = conv{_dims}d(X, dY), dX = conv{_dims}d(dY, flip(W), padding=2)  "
              "(a kernel of size k = 3 pads the full convolution by k - 1 = 2; padding p "
              "gives padding=p and k - 1 - p; stride s dilates dY first)"),
        arity=(2, 2), keywords=(STRIDE, PADDING), shape=_conv_shape(_dims),
        evaluate=lambda S, args, kw: _conv(S, args[0], args[1], kw.get("stride", 1),
                                           kw.get("padding", 0)),
        cost=_conv_cost, vjp=_conv_vjp(f"conv{_dims}d"), index=_conv_index,
        numpy=lambda np, x, w, **kw: windows.conv(np, x, w, kw.get("stride", 1),
                                                  kw.get("padding", 0)),
        code=_conv_code(_dims), latex=_conv_latex, latex_precedence=PREC_MUL,
        params=("X", "W")))


# -- flip, dilate, upsample: the pieces of the backward rules ---------------------------------

def _array_shape(s):
    if len(s.shapes[0]) not in (1, 2):
        raise s.fail(f"needs a vector or a matrix, got {s.arg(0)}")
    return s.shapes[0]


def _flip(S, X):
    return S.Grid.from_function(X.shape, lambda i: X[tuple(n - 1 - j for j, n in
                                                           zip(i, X.shape))])


register(Op(
    name="flip", category="structure",
    doc="flip(W): W with every axis reversed (a matrix rotated by 180 degrees)",
    rule="dX = flip(dY)",
    arity=(1, 1), shape=_array_shape,
    evaluate=lambda S, args, kw: _flip(S, args[0]), cost=lambda c: (0.0, c.sizes[0]),
    index=lambda c: c.arg(0, *(c.size(0, a) + 1 - o for a, o in enumerate(c.out))),
    vjp=lambda v: (fn.flip(v.g),),
    numpy=lambda np, x, **kw: np.flip(x),
    code={"numpy": "np.flip({0})", "torch": "torch.flip({0}, tuple(range({0}.dim())))"},
    latex=lambda p: rf"\operatorname{{rot180}}\left({p.arg(0)}\right)"))


def _pad_shape(s):
    shape = s.shapes[0]
    if len(shape) not in (1, 2):
        raise s.fail(f"needs a vector or a matrix, got {s.arg(0)}")
    if len(shape) == 1 and s.kw.get("cols"):
        raise s.fail(f"takes no cols for a vector, got {s.arg(0)}")
    out = []
    for axis, (n, key) in enumerate(zip(shape, ("rows", "cols"))):
        w = s.kw.get(key, 0)
        out.append(D.add(n, w, w) if w else n)
    return tuple(out)


def _pad(S, G, widths):
    zero = S.Integer(0)

    def entry(index):
        source = tuple(i - w for i, w in zip(index, widths))
        if all(0 <= j < n for j, n in zip(source, G.shape)):
            return G[source]
        return zero
    shape = tuple(n + 2 * w for n, w in zip(G.shape, widths))
    return S.Grid.from_function(shape, entry)


def _pad_code(function: str, arg: str, kw, numpy: bool) -> str:
    r, c = kw.get("rows", 0), kw.get("cols", 0)
    if numpy:
        return f"{function}({arg}, [({r}, {r}), ({c}, {c})][:np.ndim({arg})])"
    return f"{function}({arg}, ({c}, {c}, {r}, {r}) if {arg}.dim() == 2 else ({r}, {r}))"


def _widths(kw, ndim):
    return (kw.get("rows", 0), kw.get("cols", 0))[:ndim]


def _pad_index(c):
    """``pad(G)[i, j] = [1 ≤ i - a ≤ n] [1 ≤ j - b ≤ m] G[i - a, j - b]``."""
    widths = _widths(c.kw, len(c.out))
    sources = [o - D.as_sympy(w) for o, w in zip(c.out, widths)]
    entry = c.arg(0, *sources)
    for axis, (w, source) in enumerate(zip(widths, sources)):
        if w:
            entry = entry * c.in_range(source, c.shapes[0][axis])
    return entry


def _pad_vjp(v):
    widths = _widths(v.kw, len(v.shapes[0]))
    index = tuple((w or None, D.add(w, n) if w else None, None)
                  for w, n in zip(widths, v.shapes[0]))
    return (fn.getitem(v.g, index=index),)


register(Op(
    name="pad", category="structure",
    doc="pad(G, rows=a, cols=b): G with a rows of zeros above and below, b columns of "
        "zeros left and right",
    rule="dX = dY[1:-1, 2:-2]  (for rows=1, cols=2, the entries that came from X)",
    arity=(1, 1), keywords=(Keyword("rows", "count", 0), Keyword("cols", "count", 0)),
    shape=_pad_shape,
    evaluate=lambda S, args, kw: _pad(S, args[0], _widths(kw, args[0].ndim)),
    cost=lambda c: (0.0, c.sizes[0]), vjp=_pad_vjp,
    index=lambda c: _pad_index(c),
    numpy=lambda np, g, **kw: np.pad(np.asarray(g, dtype=float),
                                     [(w, w) for w in _widths(kw, np.ndim(g))]),
    code={"numpy": lambda a, kw: _pad_code("np.pad", a[0], kw, numpy=True),
          "torch": lambda a, kw: _pad_code("torch.nn.functional.pad", a[0], kw, numpy=False)},
    latex=lambda p: rf"\operatorname{{pad}}\left({p.arg(0)}\right)"))


def _target(s, per_entry, plus):
    """The result shape of dilate/upsample: rows (and cols) given or the natural size."""
    shape = s.shapes[0]
    if len(shape) not in (1, 2):
        raise s.fail(f"needs a vector or a matrix, got {s.arg(0)}")
    if len(shape) == 1 and s.kw.get("cols") is not None:
        raise s.fail(f"takes no cols for a vector, got {s.arg(0)}")
    _concrete(s, shape, "the spread length")
    out = []
    for n, key in zip(shape, ("rows", "cols")):
        least = (n - 1) * per_entry + 1 if plus else n * per_entry
        given = s.kw.get(key)
        if given is not None and given < least:
            raise s.fail(f"needs {key} of at least {least} for {s.arg(0)}, got {given}")
        out.append(least if given is None else given)
    return tuple(out)


def _sizes(kw, shape, per_entry, plus):
    return tuple(kw.get(key) or ((n - 1) * per_entry + 1 if plus else n * per_entry)
                 for n, key in zip(shape, ("rows", "cols")))


def _dilate(S, G, stride, size):
    zero = S.Integer(0)

    def entry(index):
        if all(i % stride == 0 and i // stride < n for i, n in zip(index, G.shape)):
            return G[tuple(i // stride for i in index)]
        return zero
    return S.Grid.from_function(size, entry)


def _dilate_vjp(v):
    stride = v.kw.get("stride", 1)
    index = tuple((None, (n - 1) * stride + 1, stride if stride > 1 else None)
                  for n in v.shapes[0])
    return (fn.getitem(v.g, index=index),)


def _size_code(kw, shape_of) -> str:
    """``(rows, cols)`` for the helpers (None: the natural size; a vector uses rows)."""
    return f"({kw.get('rows')}, {kw.get('cols')})"


register(Op(
    name="dilate", category="structure",
    doc="dilate(G, stride=s, rows=, cols=): s - 1 zeros between the entries of G, zeros at "
        "the end up to rows x cols (the backward rules of a strided convolution)",
    rule="dX = dY[::2, ::2]  (for stride=2, the entries that came from X)",
    arity=(1, 1), keywords=(STRIDE, ROWS, COLS),
    shape=lambda s: _target(s, s.kw.get("stride", 1), plus=True),
    evaluate=lambda S, args, kw: _dilate(S, args[0], kw.get("stride", 1),
                                         _sizes(kw, args[0].shape, kw.get("stride", 1), True)),
    cost=lambda c: (0.0, c.sizes[0]), vjp=_dilate_vjp,
    index=lambda c: _spread_index(c, lambda o, r: c.kw.get("stride", 1) * (o - 1) + 1, ()),
    numpy=lambda np, g, **kw: windows.dilate(np, g, kw.get("stride", 1),
                                             _sizes(kw, np.shape(g), kw.get("stride", 1), True)),
    code={lang: (lambda a, kw: f"_dilate({a[0]}, {kw.get('stride', 1)}, "
                               f"{_size_code(kw, None)})") for lang in ("numpy", "torch")},
    latex=lambda p: rf"\operatorname{{dilate}}_{{{p.kw('stride')}}}\left({p.arg(0)}\right)"))


def _upsample(S, G, k, size):
    zero = S.Integer(0)

    def entry(index):
        if all(i // k < n for i, n in zip(index, G.shape)):
            return G[tuple(i // k for i in index)]
        return zero
    return S.Grid.from_function(size, entry)


register(Op(
    name="upsample", category="structure",
    doc="upsample(G, k, rows=, cols=): each entry of G over a k x k block, zeros at the end "
        "up to rows x cols (the backward rules of pooling)",
    rule="dX = avgpool2d(dY, 2) * 4  (for k=2, each k x k block of dY summed)",
    arity=(1, 1), keywords=(K, ROWS, COLS),
    shape=lambda s: _pool_k(s) and _target(s, s.kw["k"], plus=False),
    evaluate=lambda S, args, kw: _upsample(S, args[0], kw["k"],
                                           _sizes(kw, args[0].shape, kw["k"], False)),
    cost=lambda c: (0.0, c.sizes[0]),
    index=lambda c: _spread_index(c, lambda o, r: c.kw["k"] * (o - 1) + r, (c.kw["k"],)),
    vjp=lambda v: (_block_sum(v.g, v.kw["k"]),),
    numpy=lambda np, g, **kw: windows.upsample(np, g, kw["k"],
                                               _sizes(kw, np.shape(g), kw["k"], False)),
    code={lang: (lambda a, kw: f"_upsample({a[0]}, {kw['k']}, {_size_code(kw, None)})")
          for lang in ("numpy", "torch")},
    latex=lambda p: rf"\operatorname{{upsample}}_{{{p.kw('k')}}}\left({p.arg(0)}\right)"))


def _spread_index(c, at, block):
    """``dilate``/``upsample`` at the output's indices: ``Σ_o G[o] δ[i, at(o)]`` per axis
    (``at(o) = s (o - 1) + 1`` for dilate; upsample also sums ``r = 1..k`` in
    ``at(o, r) = k (o - 1) + r``), so the zeros beyond G's entries need no bracket."""
    fresh = [c.fresh() for _ in c.out]
    inner = [c.fresh() for _ in c.out] if block else [None] * len(c.out)
    body = c.arg(0, *fresh)
    for i, o, r in zip(c.out, fresh, inner):
        body = body * c.delta(i, at(o, r))
    limits = [(o, c.size(0, axis)) for axis, o in enumerate(fresh)]
    limits += [(r, block[0]) for r in inner if r is not None]
    return c.sum(body, *limits)


def _block_sum(g, k):
    return fn.avgpool2d(g, k=k) * Num(k * k)


# -- pooling ------------------------------------------------------------------------------------

def _pool_k(s) -> int:
    k = s.kw.get("k")
    if k is None:
        raise s.fail("needs its window size, e.g. maxpool2d(X, 2)")
    return k


def _pool_shape(s):
    k = _pool_k(s)
    shape = s.shapes[0]
    if len(shape) != 2:
        raise s.fail(f"needs a matrix, got {s.arg(0)}")
    _concrete(s, shape, "the pooled length n // k")
    if k > min(shape):
        raise s.fail(f"window {k}x{k} is larger than {s.arg(0)}")
    return tuple(n // k for n in shape)


def _pool(S, X, k, reduce):
    shape = tuple(n // k for n in X.shape)

    def entry(index):
        block = [X[index[0] * k + a, index[1] * k + b] for a in range(k) for b in range(k)]
        return reduce(block)
    return S.Grid.from_function(shape, entry)


def _avgpool_index(c):
    """``avgpool2d(X, k)[i, j] = Σ_r Σ_t X[k (i - 1) + r, k (j - 1) + t] / k**2``."""
    k = c.kw["k"]
    r, t = c.fresh(), c.fresh()
    body = c.arg(0, k * (c.out[0] - 1) + r, k * (c.out[1] - 1) + t)
    return c.sum(body, (r, k), (t, k)) / (k * k)


def _pad_to(v) -> dict:
    """``rows=``/``cols=`` for upsample where X is larger than the pooled blocks."""
    k = v.kw["k"]
    return {key: n for key, n, m in zip(("rows", "cols"), v.shapes[0], v.out_shape)
            if n != m * k}


def _maxpool_vjp(v):
    k = v.kw["k"]
    size = _pad_to(v)
    tied = fn.step(v.x - fn.upsample(v.out, k=k, **size))  # 1 where X is its window's max
    count = _block_sum(tied, k)
    return (tied * fn.upsample(v.g / count, k=k, **size),)


def _pool_code(name, reducer):
    return {"numpy": lambda a, kw: f"_pool({a[0]}, {kw['k']}, np.{reducer})",
            "torch": lambda a, kw: (f"torch.nn.functional.{name}({a[0]}[None, None], "
                                    f"{kw['k']})[0, 0]")}


register(Op(
    name="maxpool2d", category="neural network",
    doc="maxpool2d(X, k): the largest entry of each k x k block (stride k); at a tie the "
        "gradient is split evenly, as torch.amax of the window",
    rule="dX = step(X - upsample(Y, 2)) * upsample(dY / (4 * avgpool2d(step(X - upsample(Y, "
         "2)), 2)), 2)  (for k=2, step is 1 where X is its window's maximum; tied maxima "
         "share dY evenly)",
    arity=(1, 1), keywords=(K,), shape=_pool_shape,
    evaluate=lambda S, args, kw: _pool(S, args[0], kw["k"], lambda xs: S.Max(*xs)),
    cost=lambda c: (c.reduced, c.reduced * c.sizes[0] + 1), vjp=_maxpool_vjp,
    index=NoIndexForm("the largest entry of each k x k window is not a sum of products of "
                      "entries (its derivative selects the window's maxima, a comparison "
                      "between entries, not between indices)"),
    numpy=lambda np, x, **kw: windows.pool(np, x, kw["k"], np.max),
    code=_pool_code("max_pool2d", "max"),
    latex=lambda p: rf"\operatorname{{maxpool}}_{{{p.kw('k')}}}\left({p.arg(0)}\right)"))

register(Op(
    name="avgpool2d", category="neural network",
    doc="avgpool2d(X, k): the mean of each k x k block (stride k)",
    rule="dX = upsample(dY, 2) / 4  (for k=2, each entry of dY spread over its block)",
    arity=(1, 1), keywords=(K,), shape=_pool_shape,
    evaluate=lambda S, args, kw: _pool(
        S, args[0], kw["k"], lambda xs: S.div(S.add(*xs), S.Integer(len(xs)))),
    cost=lambda c: (c.reduced + 1, c.reduced * c.sizes[0] + 2),
    index=lambda c: _avgpool_index(c),
    vjp=lambda v: (fn.upsample(v.g, k=v.kw["k"], **_pad_to(v)) / Num(v.kw["k"] ** 2),),
    numpy=lambda np, x, **kw: windows.pool(np, x, kw["k"], np.mean),
    code=_pool_code("avg_pool2d", "mean"),
    latex=lambda p: rf"\operatorname{{avgpool}}_{{{p.kw('k')}}}\left({p.arg(0)}\right)"))
