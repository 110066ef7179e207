"""Softmax cross-entropy rows, in place: the per-logit work of the full-softmax loss.

For each row z (C logits) with target t, scale s (1/M for a mean over M rows)::

    loss_row = logsumexp(z) - z[t]                      (max-shifted)
    z       <- s * (softmax(z) - onehot(t))             (only if grad: the logits' gradient)

``autograd/fused.linear_cross_entropy`` calls it on each chunk of ``h @ W^T``,
so the chunk is read and written while it sits in cache.

Versions (same contract, checked against each other in tests/test_kernels_softmax_xent.py):

* ``softmax_xent_ref`` -- NumPy: row max, shift, ``np.exp``, row sum, scale (six passes);
* ``softmax_xent_nb``  -- one Numba loop per row (the row stays in L1). For float32,
  ``exp(x) = 2^k e^r`` with ``k = round(x / ln 2)``, ``r = x - k ln 2`` in [-ln2/2, ln2/2],
  ``e^r`` a degree-7 polynomial (Cephes' ``expf`` coefficients) and ``2^k`` built from its
  exponent bits: written this way the loop vectorises (a call to libm's ``expf`` does
  not), ~3x faster than NumPy's ``exp`` here. Relative error ~1e-7 (1 ulp of float32);
  shifted logits below -87 count as ``exp(-87) ~ 2e-38``, under anything a row sum of
  at least 1 can resolve. float64 rows use libm's ``exp`` (exact to double rounding).

There is no Cython twin: the Numba loop is this kernel's compiled version.

Contract
--------
``z`` (m, C) float32/float64 C-contiguous, overwritten (with the gradient if ``grad``,
else with scratch); ``targets`` (m,) int64 in ``[0, C)``; ``scale`` float; ``grad`` bool.
Returns ``loss`` (m,) float64, the per-row losses (not scaled).
"""
import numpy as np

from .. import _backend
from ._numba import SAFE_FASTMATH, njit

F32 = np.float32
LOG2E = F32(1.4426950408889634)
LN2_HI, LN2_LO = F32(0.693359375), F32(-2.12194440e-4)     # ln 2 = LN2_HI + LN2_LO (Cody-Waite)
C0, C1, C2, C3, C4, C5 = (F32(1.9875691500e-4), F32(1.3981999507e-3), F32(8.3334519073e-3),
                          F32(4.1665795894e-2), F32(1.6666665459e-1), F32(5.0000001201e-1))  # Cephes expf
EXP_MIN = F32(-87.0)                                         # 2^-126 (smallest normal float32) ~ e^-87.3
HALF, ONE = F32(0.5), F32(1.0)


def softmax_xent_ref(z, targets, scale, grad):
    """NumPy oracle: the same result in whole-array passes."""
    rows = np.arange(z.shape[0])
    mx = z.max(axis=1)                                        # (m,)
    picked = z[rows, targets]                                 # (m,)
    z -= mx[:, None]
    np.exp(z, out=z)
    sums = z.sum(axis=1, dtype=np.float64)                   # (m,)
    loss = mx + np.log(sums) - picked                         # (m,) float64
    if grad:
        z *= (scale / sums).astype(z.dtype)[:, None]
        z[rows, targets] -= z.dtype.type(scale)
    return loss


def _softmax_xent_rows(z, targets, scale, grad, fast, loss, bits):
    """One row at a time (it stays in L1): max; exp into ``z``; sum; scale.

    ``fast`` (float32 only): ``exp`` as ``e^r 2^k`` with ``2^k`` written as exponent bits into
    ``bits`` (an int32 scratch row) -- a loop LLVM vectorises. Otherwise libm's ``exp``.
    """
    m, C = z.shape
    pow2 = bits.view(np.float32)                              # (C,) 2^k
    for i in range(m):
        row = z[i]
        mx = row[0]
        for j in range(1, C):
            mx = max(mx, row[j])
        picked = row[targets[i]]
        total = np.float64(0.0)                               # float64 sum (also without the JIT)
        if fast:
            for j in range(C):
                x = max(row[j] - mx, EXP_MIN)
                k = np.floor(x * LOG2E + HALF)                # nearest integer to x / ln 2
                r = x - k * LN2_HI - k * LN2_LO               # |r| <= ln2 / 2
                p = ((((C0 * r + C1) * r + C2) * r + C3) * r + C4) * r + C5
                row[j] = p * r * r + r + ONE                  # e^r
                bits[j] = (np.int32(k) + np.int32(127)) << np.int32(23)   # 2^k, k in [-126, 0]
            for j in range(C):
                e = row[j] * pow2[j]                          # e^x = e^r 2^k
                row[j] = e
                total += e
        else:
            for j in range(C):
                e = np.exp(row[j] - mx)
                row[j] = e
                total += e
        loss[i] = mx + np.log(total) - picked
        if grad:
            f = scale / total
            for j in range(C):
                row[j] *= f
            row[targets[i]] -= scale


_softmax_xent_rows_nb = njit(_softmax_xent_rows, fastmath=SAFE_FASTMATH, error_model="numpy")


def _softmax_xent_numba(z, targets, scale, grad):
    """Numba version: the row loop above (fast exp for float32), with its int32 scratch row."""
    loss = np.empty(z.shape[0], dtype=np.float64)
    bits = np.empty(z.shape[1], dtype=np.int32)
    _softmax_xent_rows_nb(z, targets, z.dtype.type(scale), grad, z.dtype == np.float32, loss, bits)
    return loss


softmax_xent_nb = _softmax_xent_numba if _softmax_xent_rows_nb is not None else None


def softmax_xent(z, targets, scale, grad=True):
    """Per-row softmax cross-entropy of logits ``z``; with ``grad``, ``z`` becomes its gradient.

    Parameters
    ----------
    z : ndarray (m, C), float32 or float64, C-contiguous -- overwritten in place.
    targets : array-like of int (m,), each in ``[0, C)``.
    scale : float -- the gradient is ``scale * (softmax(z) - onehot(targets))``.
    grad : bool -- False: only the losses (``z`` is left holding scratch).

    Returns
    -------
    loss : ndarray (m,) float64 -- ``logsumexp(z_i) - z_i[t_i]`` per row.

    Raises
    ------
    ValueError on a shape/dtype/layout mismatch; IndexError if a target is outside ``[0, C)``.
    """
    if not isinstance(z, np.ndarray) or z.ndim != 2 or z.dtype not in (np.float32, np.float64) \
            or not z.flags.c_contiguous:
        raise ValueError(f"softmax_xent: z must be a C-contiguous 2-D float32/float64 ndarray, got "
                         f"{getattr(z, 'dtype', type(z).__name__)} shape {getattr(z, 'shape', None)}")
    t = np.asarray(targets)
    if t.shape != (z.shape[0],) or (t.size and not np.issubdtype(t.dtype, np.integer)):
        raise ValueError(f"softmax_xent: targets must be integers of shape ({z.shape[0]},), got {t.dtype} {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= z.shape[1]):
        bad = int(t.min()) if t.min() < 0 else int(t.max())
        raise IndexError(f"softmax_xent: target {bad} is out of range for {z.shape[1]} classes")
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    return _backend.resolve("softmax_xent")[1](z, np.ascontiguousarray(t, dtype=np.int64), float(scale), bool(grad))
