"""Scatter-add: ``out[idx[n]] += src[n]`` -- the backward of an embedding lookup.

Versions (same contract, checked against each other in tests/test_kernels_scatter_add.py):

* ``scatter_add_ref`` -- ``np.add.at`` (correct with repeated indices, but slow:
  it is unbuffered and dispatches per element);
* ``scatter_add_nb``  -- a serial Numba loop over rows (rows may repeat, so a
  parallel loop over n would race);
* ``scatter_add_cy``  -- the Cython twin in ``ext/_scatter_add.pyx``.

Contract: ``out`` (R, C) float32/float64 C-contiguous, modified in place;
``idx`` (n,) int64 with ``0 <= idx < R``; ``src`` (n, C) same dtype as ``out``.
Returns ``out``.
"""
import numpy as np

from .. import _backend
from ._numba import njit


def scatter_add_ref(out, idx, src):
    """NumPy oracle: unbuffered ``np.add.at``."""
    np.add.at(out, idx, src)
    return out


def _scatter_add_loop(out, idx, src):
    n, c = src.shape
    for i in range(n):
        r = idx[i]
        for j in range(c):
            out[r, j] += src[i, j]
    return out


scatter_add_nb = njit(_scatter_add_loop)


def scatter_add(out, idx, src):
    """Add the rows of ``src`` into ``out`` at row positions ``idx`` (repeats accumulate).

    Parameters
    ----------
    out : ndarray (R, C), float32 or float64, C-contiguous -- updated in place.
    idx : array-like of int (n,), each in ``[0, R)``.
    src : ndarray (n, C), same dtype as ``out``.

    Returns
    -------
    out : the updated array.

    Raises
    ------
    IndexError if an index is outside ``[0, R)``; ValueError on a shape or dtype mismatch.
    """
    out, idx, src = _check(out, idx, src)
    if idx.size == 0:
        return out
    return _backend.resolve("scatter_add")[1](out, idx, src)


def _check(out, idx, src):
    if not isinstance(out, np.ndarray) or out.ndim != 2:
        raise ValueError(f"scatter_add: out must be a 2-D ndarray, got {type(out).__name__} "
                         f"with shape {getattr(out, 'shape', None)}")
    if out.dtype not in (np.float32, np.float64) or not out.flags.c_contiguous:
        raise ValueError(f"scatter_add: out must be C-contiguous float32/float64, got {out.dtype}")
    idx = np.asarray(idx)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"scatter_add: idx must be a 1-D integer array, got dtype {idx.dtype} shape {idx.shape}")
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    src = np.ascontiguousarray(src, dtype=out.dtype)
    if src.shape != (idx.shape[0], out.shape[1]):
        raise ValueError(f"scatter_add: src has shape {src.shape}, expected {(idx.shape[0], out.shape[1])}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= out.shape[0]:
            bad = lo if lo < 0 else hi
            raise IndexError(f"scatter_add: index {bad} is out of range for {out.shape[0]} rows")
    return out, idx, src
