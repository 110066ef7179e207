# cython: language_level=3
"""Cython twin of minih2rec.kernels.codebook.nearest_codeword_ref.

Design (the "blocked GEMM + fused argmin" split used by fast k-means codes):

1. rows are processed in blocks of ``b`` rows, with ``b * K`` ~ ``_BLOCK_ELEMS``
   so the (b, K) block of dot products stays in cache;
2. the dot products ``x_block @ C^T`` come from one BLAS GEMM per block (through
   NumPy's ``matmul`` into a reused buffer; BLAS is far better at dense dot
   products than a portable C loop, and releases the GIL);
3. one compiled pass per block (``_fused_argmin``, OpenMP ``prange`` over rows,
   serial when the build found no OpenMP) forms ``score_k = ||c_k||^2 - 2 x.c_k``,
   keeps the running argmin (strict ``<``: lowest index wins ties), adds
   ``||x||^2`` and clamps at 0 -- no (n, K) distance matrix and none of the
   extra full passes the NumPy version makes.

``||c_k||^2`` is computed once per call. Duplicated codewords are mapped to the
lowest identical index afterwards, as in the reference (BLAS does not promise
bit-identical results for identical columns). Inputs are validated by the
Python wrapper (minih2rec.kernels.codebook.nearest_codeword).
"""
cimport cython
from cython.parallel cimport prange
from libc.stdint cimport int64_t

import numpy as np

ctypedef fused floating:
    float
    double

_BLOCK_ELEMS = 1 << 17   # (b, K) dot-product buffer: 512 KB float32, 1 MB float64


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _fused_argmin(const floating[:, ::1] dots,   # IN  (b, K) x_i . c_k
                        const floating[::1] cc,        # IN  (K,)   ||c_k||^2
                        const floating[:, ::1] x,      # IN  (b, D) the rows, for ||x_i||^2
                        int64_t[::1] codes,            # OUT (b,)
                        floating[::1] sqdist           # OUT (b,)
                        ) noexcept nogil:
    cdef Py_ssize_t i, k, d, bk
    cdef Py_ssize_t b = dots.shape[0], K = dots.shape[1], D = x.shape[1]
    cdef floating best, score, xx
    for i in prange(b, schedule="static"):
        best = cc[0] - (dots[i, 0] + dots[i, 0])
        bk = 0
        for k in range(1, K):
            score = cc[k] - (dots[i, k] + dots[i, k])
            if score < best:          # strict: an equal score keeps the lower index
                best = score
                bk = k
        xx = 0
        for d in range(D):
            xx = xx + x[i, d] * x[i, d]    # not "+=": that would make xx a prange reduction
        codes[i] = bk
        sqdist[i] = xx + best if xx + best > 0 else 0


def _lowest_duplicate(C):
    """(K,) map from each code to the lowest index of an identical codeword, or None."""
    _, first, inverse = np.unique(C, axis=0, return_index=True, return_inverse=True)
    if first.shape[0] == C.shape[0]:
        return None
    return first[inverse.reshape(-1)].astype(np.int64)


def nearest_codeword_cy(x, C):
    """(codes int64 (n,), sqdist (n,)); same contract as nearest_codeword_ref."""
    cdef Py_ssize_t n = x.shape[0], K = C.shape[0], s, e
    cdef Py_ssize_t b = max(16, min(n, _BLOCK_ELEMS // K))
    cc = np.einsum("kd,kd->k", C, C)                  # (K,) once per call
    Ct = C.T                                          # (D, K) view; BLAS reads it transposed
    dots = np.empty((b, K), dtype=x.dtype)            # reused GEMM output buffer
    codes = np.empty(n, dtype=np.int64)
    sqdist = np.empty(n, dtype=x.dtype)
    single = x.dtype == np.float32
    for s in range(0, n, b):
        e = min(n, s + b)
        blk = dots[:e - s]
        np.matmul(x[s:e], Ct, out=blk)                # (e-s, K), GIL released inside BLAS
        if single:
            _fused_argmin[float](blk, cc, x[s:e], codes[s:e], sqdist[s:e])
        else:
            _fused_argmin[double](blk, cc, x[s:e], codes[s:e], sqdist[s:e])
    dup = _lowest_duplicate(C)
    return (codes if dup is None else dup[codes]), sqdist
