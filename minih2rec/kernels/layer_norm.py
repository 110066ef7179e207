"""LayerNorm forward and backward over the rows of a matrix (the fused ``layer_norm`` op's work).

For each row x (C values), weight w and bias b (C,)::

    forward:   xhat = (x - mean x) / sqrt(var x + eps),   y = xhat w + b     (population variance)
    backward:  gh = g w,   dx = (gh - mean(gh) - xhat mean(gh xhat)) / sqrt(var x + eps),
               dw = sum_rows g xhat,   db = sum_rows g

``autograd/fused.layer_norm`` calls them on ``x`` reshaped to (N, C). NumPy needs ~15
whole-array passes for the pair, several of them reductions over a short last axis (slow
in NumPy); a row of C = 64 floats fits in L1, so the loops below read it once or twice.

Versions (same contract, checked against each other in tests/test_kernels_layer_norm.py):

* ``layer_norm_forward_ref`` / ``layer_norm_backward_ref`` -- NumPy;
* ``layer_norm_forward_nb``  / ``layer_norm_backward_nb``  -- one Numba loop over the rows
  (serial: ``dw`` and ``db`` accumulate over rows). Sums are float64.

There is no Cython twin: the Numba loops are these kernels' compiled versions.

Contract
--------
forward(x, w, b, eps): ``x`` (N, C) float32/float64 C-contiguous, ``w``, ``b`` (C,) of its
dtype -> ``(y, xhat, rstd)``: (N, C), (N, C), (N,) of its dtype.
backward(g, xhat, rstd, w): ``g``, ``xhat`` (N, C), ``rstd`` (N,), ``w`` (C,) ->
``(dx, dw, db)``: (N, C), (C,), (C,) of its dtype.
"""
import numpy as np

from .. import _backend
from ._numba import SAFE_FASTMATH, njit


def layer_norm_forward_ref(x, w, b, eps):
    """NumPy oracle of the forward."""
    xc = x - x.mean(axis=-1, keepdims=True)                             # (N, C)
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)  # (N, 1)
    xhat = xc * rstd
    return (xhat * w + b).astype(x.dtype, copy=False), xhat.astype(x.dtype, copy=False), \
        rstd[:, 0].astype(x.dtype, copy=False)


def layer_norm_backward_ref(g, xhat, rstd, w):
    """NumPy oracle of the backward."""
    gh = g * w
    dx = rstd[:, None] * (gh - gh.mean(axis=-1, keepdims=True)
                          - xhat * (gh * xhat).mean(axis=-1, keepdims=True))
    return dx.astype(g.dtype, copy=False), (g * xhat).sum(axis=0), g.sum(axis=0)


def _forward_rows(x, w, b, eps, y, xhat, rstd):
    N, C = x.shape
    for i in range(N):
        s = np.float64(0.0)                                   # float64 sums (also without the JIT)
        for j in range(C):
            s += x[i, j]
        mean = s / C
        v = np.float64(0.0)
        for j in range(C):
            c = x[i, j] - mean
            v += c * c
        r = 1.0 / np.sqrt(v / C + eps)
        rstd[i] = r
        for j in range(C):
            h = (x[i, j] - mean) * r
            xhat[i, j] = h
            y[i, j] = h * w[j] + b[j]


def _backward_rows(g, xhat, rstd, w, dx, dw, db):
    N, C = g.shape
    for i in range(N):
        a = np.float64(0.0)
        c = np.float64(0.0)
        for j in range(C):
            gh = g[i, j] * w[j]
            a += gh
            c += gh * xhat[i, j]
            dw[j] += g[i, j] * xhat[i, j]
            db[j] += g[i, j]
        a /= C
        c /= C
        r = rstd[i]
        for j in range(C):
            dx[i, j] = r * (g[i, j] * w[j] - a - xhat[i, j] * c)


_forward_rows_nb = njit(_forward_rows, fastmath=SAFE_FASTMATH, error_model="numpy")
_backward_rows_nb = njit(_backward_rows, fastmath=SAFE_FASTMATH, error_model="numpy")


def _forward_numba(x, w, b, eps):
    y, xhat, rstd = np.empty_like(x), np.empty_like(x), np.empty(x.shape[0], dtype=x.dtype)
    _forward_rows_nb(x, w, b, eps, y, xhat, rstd)
    return y, xhat, rstd


def _backward_numba(g, xhat, rstd, w):
    dx = np.empty_like(g)
    dw, db = np.zeros(g.shape[1]), np.zeros(g.shape[1])                 # float64 sums over rows
    _backward_rows_nb(g, xhat, rstd, w, dx, dw, db)
    return dx, dw.astype(g.dtype), db.astype(g.dtype)


layer_norm_forward_nb = _forward_numba if _forward_rows_nb is not None else None
layer_norm_backward_nb = _backward_numba if _backward_rows_nb is not None else None


def _rows(name, a, dtype, C=None):
    """``a`` as a C-contiguous 2-D array of ``dtype`` (C columns), or a ValueError naming it."""
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.ndim != 2 or (C is not None and a.shape[1] != C):
        raise ValueError(f"layer_norm: {name} must be 2-D (N, {C if C is not None else 'C'}), got shape {a.shape}")
    return a


def layer_norm_forward(x, w, b, eps):
    """Normalise each row of ``x`` (N, C), scale by ``w`` and shift by ``b`` (C,).

    Returns
    -------
    y, xhat : ndarray (N, C); rstd : ndarray (N,) -- ``1 / sqrt(var + eps)`` per row.
    """
    if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64):
        raise ValueError(f"layer_norm: x must be a float32/float64 ndarray, got {getattr(x, 'dtype', type(x).__name__)}")
    x = _rows("x", x, x.dtype)
    w, b = (np.ascontiguousarray(a, dtype=x.dtype).reshape(-1) for a in (w, b))
    if w.shape != (x.shape[1],) or b.shape != (x.shape[1],):
        raise ValueError(f"layer_norm: weight {w.shape} and bias {b.shape} must be ({x.shape[1]},)")
    return _backend.resolve("layer_norm_forward")[1](x, w, b, float(eps))


def layer_norm_backward(g, xhat, rstd, w):
    """Gradients ``(dx, dw, db)`` of the LayerNorm of rows, given ``g`` = dloss/dy (N, C)."""
    xhat = _rows("xhat", xhat, xhat.dtype)
    g = _rows("g", g, xhat.dtype, xhat.shape[1])
    rstd = np.ascontiguousarray(rstd, dtype=xhat.dtype).reshape(-1)
    w = np.ascontiguousarray(w, dtype=xhat.dtype).reshape(-1)
    if g.shape != xhat.shape or rstd.shape != (xhat.shape[0],) or w.shape != (xhat.shape[1],):
        raise ValueError(f"layer_norm: g {g.shape}, xhat {xhat.shape}, rstd {rstd.shape}, weight {w.shape} "
                         f"do not match")
    return _backend.resolve("layer_norm_backward")[1](g, xhat, rstd, w)
