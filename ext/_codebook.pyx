# cython: language_level=3
"""Cython twin of minih2rec.kernels.codebook.nearest_codeword_ref.

Design: "blocked GEMM + fused, vectorised argmin" (the split fast k-means codes use).

1. Rows are processed in blocks of ``b`` rows, ``b * K ~ _BLOCK_ELEMS``, so one
   block of scores stays in cache.
2. ``dots = (-2 C) @ x_block^T`` (K, b) comes from one BLAS GEMM per block
   (through NumPy's ``matmul`` into a reused buffer). BLAS is far better at
   dense dot products than portable C; scaling C by -2 is exact, so these are
   exactly ``-2 (x . c_k)``.
3. ``_argmin_block`` (compiled) walks the codes in order and keeps, for every
   row, the best score ``||c_k||^2 - 2 x.c_k`` and its code. The rows are the
   contiguous axis, so the update is a branch-free select the C compiler
   vectorises (SSE2 is enough); strict ``<`` keeps the lower index on ties.
   No (n, K) distance matrix, no temporaries, one pass over the block.
4. ``sqdist = max(||x||^2 + best, 0)`` per row.

Threads: the GEMM runs on BLAS's own threads; the argmin pass is deliberately
serial. An OpenMP ``prange`` here alternates two thread pools (BLAS's and
OpenMP's) once per block, and their spin-waiting threads starve each other:
measured on a busy 2-core machine, that made this kernel 20-50x slower than
the NumPy reference, while the serial pass costs ~0.3 ns per (row, code).
(The Numba version is the fully parallel, BLAS-free one.)

Duplicated codewords are mapped to the lowest identical index afterwards, as
in the reference (BLAS does not promise bit-identical results for identical
columns). Inputs are validated by the Python wrapper
(minih2rec.kernels.codebook.nearest_codeword).
"""
cimport cython
from libc.stdint cimport int64_t

import numpy as np

ctypedef fused floating:
    float
    double

cdef enum:
    _BLOCK_ELEMS = 1 << 18   # (K, b) score buffer: 1 MB float32, 2 MB float64 (as many GEMM calls as the reference)
    _MIN_ROWS = 256          # at least this many rows per block (GEMM efficiency for large K)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _argmin_block(const floating[:, ::1] dots,   # IN  (K, b) -2 x_i . c_k
                        const floating[::1] cc,        # IN  (K,)   ||c_k||^2
                        floating[::1] best,            # OUT (b,)   best score per row
                        int64_t[::1] idx               # OUT (b,)   its code
                        ) noexcept nogil:
    cdef Py_ssize_t i, k, K = dots.shape[0], b = dots.shape[1]
    cdef floating s, cur, ck
    cdef int64_t m, old
    cdef const floating* row = &dots[0, 0]
    for i in range(b):
        best[i] = cc[0] + row[i]
        idx[i] = 0
    for k in range(1, K):
        row = &dots[k, 0]
        ck = cc[k]
        for i in range(b):                      # rows are contiguous: a vectorisable select
            s = ck + row[i]
            cur = best[i]
            old = idx[i]
            m = -<int64_t>(s < cur)             # all ones where code k is strictly better
            idx[i] = (k & m) | (old & ~m)
            best[i] = s if s < cur else cur


def _lowest_duplicate(C):
    """(K,) map from each code to the lowest index of an identical codeword, or None."""
    _, first, inverse = np.unique(C, axis=0, return_index=True, return_inverse=True)
    if first.shape[0] == C.shape[0]:
        return None
    return first[inverse.reshape(-1)].astype(np.int64)


def nearest_codeword_cy(x, C):
    """(codes int64 (n,), sqdist (n,)); same contract as nearest_codeword_ref."""
    cdef Py_ssize_t n = x.shape[0], K = C.shape[0], s, e
    cdef Py_ssize_t b = max(_MIN_ROWS, min(n, _BLOCK_ELEMS // K))
    cc = np.einsum("kd,kd->k", C, C)                  # (K,) ||c_k||^2, once per call
    C2 = -2 * C                                       # (K, D), exact scaling
    xx = np.einsum("nd,nd->n", x, x)                  # (n,) ||x||^2
    buf = np.empty(K * b, dtype=x.dtype)              # reused GEMM output
    best = np.empty(b, dtype=x.dtype)
    codes = np.empty(n, dtype=np.int64)
    single = x.dtype == np.float32
    for s in range(0, n, b):
        e = min(n, s + b)
        blk = buf[:K * (e - s)].reshape(K, e - s)     # (K, e-s), C-contiguous
        np.matmul(C2, x[s:e].T, out=blk)              # BLAS; releases the GIL
        if single:
            _argmin_block[float](blk, cc, best, codes[s:e])
        else:
            _argmin_block[double](blk, cc, best, codes[s:e])
        xx[s:e] += best[:e - s]                       # ||x||^2 + best score
    sqdist = np.maximum(xx, 0, out=xx)
    dup = _lowest_duplicate(C)
    return (codes if dup is None else dup[codes]), sqdist
