"""Sliding windows on NumPy arrays: convolution, pooling, dilation, upsampling.

The float side of :mod:`jacobian_calc.ops.convolution` (each function takes
the NumPy module first, as every operation's ``numpy`` part does), and the
source of the helpers the generated NumPy and PyTorch code defines.
"""

from __future__ import annotations


def out_len(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Length of a "valid" cross-correlation of length ``n`` with a window of ``k``."""
    return (n + 2 * padding - k) // stride + 1


def conv(np, x, w, stride=1, padding=0):
    """Cross-correlation of a vector or matrix ``x`` with ``w`` (deep learning's "conv")."""
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    x = np.pad(x, padding)
    shape = tuple(out_len(n, k, stride) for n, k in zip(x.shape, w.shape))
    out = np.zeros(shape)
    for index in np.ndindex(*shape):
        window = tuple(slice(i * stride, i * stride + k) for i, k in zip(index, w.shape))
        out[index] = np.sum(x[window] * w)
    return out


def pool(np, x, k, reduce):
    """``reduce`` (np.max, np.mean) of each k x k block (stride k, trailing rows dropped)."""
    x = np.asarray(x, dtype=float)
    shape = tuple(n // k for n in x.shape)
    out = np.zeros(shape)
    for index in np.ndindex(*shape):
        out[index] = reduce(x[tuple(slice(i * k, i * k + k) for i in index)])
    return out


def dilate(np, g, stride, size):
    """``stride - 1`` zeros between entries along every axis, zeros at the end up to ``size``."""
    g = np.asarray(g, dtype=float)
    out = np.zeros(size)
    out[tuple(slice(0, n * stride, stride) for n in g.shape)] = g
    return out


def upsample(np, g, k, size):
    """Each entry over a k x k block, zeros at the end up to ``size``."""
    g = np.asarray(g, dtype=float)
    out = np.zeros(size)
    out[tuple(slice(0, n * k) for n in g.shape)] = np.kron(g, np.ones((k,) * g.ndim))
    return out


#: Helpers of the generated code, by language.
HELPERS = {
    "numpy": {
        "_conv": '''def _conv(x, w, stride=1, padding=0):
    x = np.pad(x, padding)
    shape = tuple((n - k) // stride + 1 for n, k in zip(x.shape, w.shape))
    out = np.zeros(shape)
    for index in np.ndindex(*shape):
        window = tuple(slice(i * stride, i * stride + k) for i, k in zip(index, w.shape))
        out[index] = np.sum(x[window] * w)
    return out''',
        "_pool": '''def _pool(x, k, reduce):
    shape = tuple(n // k for n in x.shape)
    out = np.zeros(shape)
    for index in np.ndindex(*shape):
        out[index] = reduce(x[tuple(slice(i * k, i * k + k) for i in index)])
    return out''',
        "_dilate": '''def _dilate(g, stride, size):
    size = tuple(s or (n - 1) * stride + 1 for s, n in zip(size, g.shape))
    out = np.zeros(size)
    out[tuple(slice(0, n * stride, stride) for n in g.shape)] = g
    return out''',
        "_upsample": '''def _upsample(g, k, size):
    size = tuple(s or n * k for s, n in zip(size, g.shape))
    out = np.zeros(size)
    out[tuple(slice(0, n * k) for n in g.shape)] = np.kron(g, np.ones((k,) * g.ndim))
    return out''',
    },
    "torch": {
        "_dilate": '''def _dilate(g, stride, size):
    size = tuple(s or (n - 1) * stride + 1 for s, n in zip(size, g.shape))
    out = torch.zeros(size, dtype=g.dtype)
    out[tuple(slice(0, n * stride, stride) for n in g.shape)] = g
    return out''',
        "_upsample": '''def _upsample(g, k, size):
    size = tuple(s or n * k for s, n in zip(size, g.shape))
    out = torch.zeros(size, dtype=g.dtype)
    block = torch.kron(g, torch.ones((k,) * g.dim(), dtype=g.dtype))
    out[tuple(slice(0, n * k) for n in g.shape)] = block
    return out''',
    },
}
