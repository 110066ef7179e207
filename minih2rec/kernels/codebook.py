"""Nearest-codeword search: ``codes[n] = argmin_k ||x_n - C_k||^2`` -- the hot loop of RQ-KMeans.

Versions (same contract, checked against each other in tests/test_kernels_codebook.py):

* ``nearest_codeword_ref`` -- NumPy, chunked over rows: one BLAS GEMM per chunk,
  then ``argmin`` over the (rows, K) score matrix; memory stays bounded;
* ``nearest_codeword_nb``  -- Numba, parallel over row blocks (``prange``),
  blocked over codes so one block of the codebook stays in L1 while a block of
  rows streams past it; the inner loop runs over codes so it vectorises
  without reassociating any sum;
* ``nearest_codeword_cy``  -- Cython (``ext/_codebook.pyx`` + ``ext/_nearest_tile.h``):
  tiles of 32 rows in parallel; per tile, dot products, scores and the running
  argmin stay in SIMD registers (AVX2 when the CPU has it), so no (n, K) score
  matrix is ever written -- the memory traffic the reference pays for.

Contract: ``x`` (n, D) and ``C`` (K, D) C-contiguous, same dtype (float32 or
float64), finite, ``K >= 1``. Returns ``codes`` (n,) int64 and ``sqdist`` (n,)
of the input dtype. Every version computes, in this order::

    cc_k    = sum_d C[k, d]^2                     # ||c_k||^2, once per code
    score_k = cc_k - 2 * (x . c_k)                 # (K,) per row
    code    = argmin_k score_k                     # ties -> lowest k
    sqdist  = max(||x||^2 + score_code, 0)         # clamp rounding below zero

so ``||x||^2`` (constant per row) never changes which code wins, and the clamp
happens after the argmin (two codes that both round below zero are not turned
into a tie). Ties: identical codewords give identical scores in the loop
versions (every code goes through the same arithmetic); BLAS gives no such
promise across columns, so the reference (and, as a safeguard, the Cython
version) maps each code to the lowest index of an identical codeword
(``_lowest_duplicate``) -- duplicates always resolve to the lowest index,
whatever the backend.
"""
import numpy as np

from ._numba import njit, numba
from ._threads import call_kernel

prange = numba.prange if numba is not None else range

_CHUNK_ELEMS = 1 << 18   # rows per chunk = _CHUNK_ELEMS // K: a (rows, K) block of ~1 MB (float32)


def _lowest_duplicate(C):
    """Return (K,) int64 mapping each code to the lowest index of an identical codeword, or None."""
    _, first, inverse = np.unique(C, axis=0, return_index=True, return_inverse=True)
    if first.shape[0] == C.shape[0]:
        return None                                  # all codewords distinct: nothing to map
    return first[inverse.reshape(-1)].astype(np.int64)


def nearest_codeword_ref(x, C):
    """NumPy oracle: chunked ``cc - 2 x C^T`` (BLAS), ``argmin``, then add ``||x||^2`` and clamp."""
    n, K = x.shape[0], C.shape[0]
    cc = np.einsum("kd,kd->k", C, C)                 # (K,)
    codes = np.empty(n, dtype=np.int64)
    sqdist = np.empty(n, dtype=x.dtype)
    step = max(1, _CHUNK_ELEMS // K)
    for s in range(0, n, step):
        xb = x[s:s + step]                           # (b, D)
        score = cc - 2 * (xb @ C.T)                  # (b, K)
        c = np.argmin(score, axis=1)                 # (b,) first minimum = lowest index
        best = np.take_along_axis(score, c[:, None], axis=1)[:, 0]
        codes[s:s + step] = c
        sqdist[s:s + step] = np.maximum(np.einsum("nd,nd->n", xb, xb) + best, 0)
    dup = _lowest_duplicate(C)
    return (codes if dup is None else dup[codes]), sqdist


_KB = 64    # codes per block: a (D, 64) slice of the codebook is 8 KB (float32, D=32) .. 64 KB (float64, D=128)
_RB = 128   # rows per parallel task


def _nearest_codeword_loop(x, C):
    """Plain loops (njit-ed below): row blocks in parallel, codes in blocks of _KB, scores kept per row."""
    n, D = x.shape
    K = C.shape[0]
    nkb = (K + _KB - 1) // _KB
    # codebook re-laid out as (blocks, D, KB), padded with zero codes whose ||c||^2 = +inf never wins
    Cb = np.zeros((nkb, D, _KB), dtype=x.dtype)
    cc = np.full(nkb * _KB, np.inf, dtype=x.dtype)
    for k in range(K):
        cc[k] = 0                                    # accumulate in the array: stays in x's dtype
        for d in range(D):
            Cb[k // _KB, d, k % _KB] = C[k, d]
            cc[k] += C[k, d] * C[k, d]
    codes = np.zeros(n, dtype=np.int64)
    sqdist = np.empty(n, dtype=x.dtype)
    for blk in prange((n + _RB - 1) // _RB):
        i0 = blk * _RB
        i1 = min(n, i0 + _RB)
        acc = np.empty(_KB, dtype=x.dtype)           # x . c for one row and one block of codes
        best = np.full(_RB, np.inf, dtype=x.dtype)   # running min score per row of the block
        for kb in range(nkb):
            for i in range(i0, i1):
                acc[:] = 0
                for d in range(D):
                    xd = x[i, d]
                    for k in range(_KB):
                        acc[k] += xd * Cb[kb, d, k]
                for k in range(_KB):
                    score = cc[kb * _KB + k] - (acc[k] + acc[k])
                    if score < best[i - i0]:         # strict: the lowest index keeps a tie
                        best[i - i0] = score
                        codes[i] = kb * _KB + k
        for i in range(i0, i1):
            xx = x[i, 0] * x[i, 0]
            for d in range(1, D):
                xx += x[i, d] * x[i, d]
            sqdist[i] = max(xx + best[i - i0], 0)
    return codes, sqdist


nearest_codeword_nb = njit(_nearest_codeword_loop, parallel=True)


def nearest_codeword(x, C):
    """Index and squared distance of the nearest codeword for every row of ``x``.

    ``codes[n] = argmin_k ||x[n] - C[k]||^2`` computed as ``||x||^2 - 2 x.c + ||c||^2``
    (one matrix product), ties resolved to the lowest ``k``.

    Parameters
    ----------
    x : array-like (n, D), float -- the vectors to encode (e.g. residuals of one RQ level).
    C : array-like (K, D), float -- the codebook, ``K >= 1``.
        Both are cast to a common float dtype: float64 if either is float64, else float32.

    Returns
    -------
    codes : ndarray (n,) int64 in ``[0, K)``.
    sqdist : ndarray (n,) of the common dtype, ``>= 0``: the squared distance to the chosen code.

    Raises
    ------
    ValueError on a non-2-D or non-float input, a D mismatch, an empty codebook, or a
    NaN/inf entry (the message names the first bad row).
    """
    x, C = _check(x, C)
    if x.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=x.dtype)
    return call_kernel("nearest_codeword", x.shape[0] * C.shape[0], x, C)


def _check(x, C):
    x, C = np.asarray(x), np.asarray(C)
    for name, a in (("x", x), ("C", C)):
        if a.ndim != 2:
            raise ValueError(f"nearest_codeword: {name} must be 2-D, got shape {a.shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"nearest_codeword: {name} must have a float dtype, got {a.dtype}")
    if x.shape[1] != C.shape[1]:
        raise ValueError(f"nearest_codeword: x has D={x.shape[1]} columns but C has D={C.shape[1]}")
    if C.shape[0] < 1:
        raise ValueError("nearest_codeword: the codebook C is empty (K=0); need K >= 1")
    if C.shape[0] >= 2**31:
        raise ValueError(f"nearest_codeword: K={C.shape[0]} codes; at most 2^31 - 1 are supported")
    if x.shape[1] < 1:
        raise ValueError("nearest_codeword: D=0; the vectors need at least one column")
    dtype = np.float64 if np.float64 in (x.dtype, C.dtype) else np.float32
    x = np.ascontiguousarray(x, dtype=dtype)
    C = np.ascontiguousarray(C, dtype=dtype)
    for name, a in (("x", x), ("C", C)):
        with np.errstate(over="ignore", invalid="ignore"):
            total = a.sum()                          # one cheap pass; NaN/inf always poison the sum
        if a.size and not np.isfinite(total):
            bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
            if bad.size:
                r = int(bad[0])
                raise ValueError(f"nearest_codeword: {name} row {r} has a NaN or inf entry: {a[r][:8]}")
    return x, C
