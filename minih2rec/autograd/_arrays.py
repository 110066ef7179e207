"""NumPy helpers of the autograd: gradient un-broadcasting, batched matmul, axis and index checks.

Plain functions on ndarrays (no Tensor), used by ``tensor.py``, ``ops.py`` and ``fused.py``.
"""
import numpy as np


def _unbroadcast(g, shape):
    """Sum gradient ``g`` over the axes NumPy broadcast, so it gets ``shape`` back."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _matmul(x, y):
    """``np.matmul``, but (..., m, k) @ (k, n) runs as ONE 2-D GEMM (NumPy would loop over the batch)."""
    if y.ndim == 2 and x.ndim > 2:
        return (x.reshape(-1, x.shape[-1]) @ y).reshape(x.shape[:-1] + y.shape[-1:])
    return np.matmul(x, y)


def _norm_axes(axis, ndim):
    """``axis`` (None, int or tuple, may be negative) -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _is_advanced(index):
    """True if ``index`` uses integer/boolean arrays (NumPy advanced indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)
