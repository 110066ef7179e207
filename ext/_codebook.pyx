# cython: language_level=3
"""Cython twin of minih2rec.kernels.codebook.nearest_codeword_ref.

Design: one fused, register-blocked pass -- no (n, K) score matrix anywhere.

The rows are cut into tiles of 16 (float32) or 8 (float64) rows. For one tile,
``nearest_tile_f32/f64`` (C, ``_nearest_tile.h``) copies the rows transposed
into its thread's row of a scratch array (D x tile, in L1 for the usual D),
then sweeps the codebook six codes at a time: the dot products of the whole
tile with the six codes accumulate in 12 SIMD registers, become scores
``||c_k||^2 - 2 x.c_k`` and update the running best score and code of every
row of the tile, all in registers. The codebook (K x D) is read once per tile and stays in L1/L2, which
is the "blocked over rows and codes" of the contract; the only memory traffic
is x once and the codebook from cache.

Why not BLAS: at small D (the usual 32) a GEMM writes n x K scores and reads
them back, and that traffic -- not the arithmetic -- is what the NumPy
reference spends most of its time on.

Threads: tiles are independent, so they run in parallel (OpenMP ``prange``,
each thread with its own scratch) when the build found OpenMP; small calls run
on one thread (the wrapper picks ``num_threads``, kernels/_threads.py).

``sqdist = max(||x||^2 + best, 0)`` per row. Duplicated codewords are mapped to
the lowest identical index afterwards, as in the reference. Inputs are
validated by the Python wrapper (minih2rec.kernels.codebook.nearest_codeword).
"""
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t, uint8_t

import numpy as np

from minih2rec.kernels._threads import default_threads
from minih2rec.kernels.codebook import _lowest_duplicate

cdef extern from "_nearest_tile.h" nogil:
    enum: TILE_VECS
    size_t TILE_BUF_BYTES(Py_ssize_t D)
    void nearest_tile_f32(const float* x, Py_ssize_t rows, Py_ssize_t D, const float* C2,
                          const float* cc, Py_ssize_t K, void* scratch, float* best, int64_t* code)
    void nearest_tile_f64(const double* x, Py_ssize_t rows, Py_ssize_t D, const double* C2,
                          const double* cc, Py_ssize_t K, void* scratch, double* best, int64_t* code)

ctypedef fused floating:
    float
    double


cdef void _nearest(const floating[:, ::1] x,    # IN  (n, D) rows
                   const floating[:, ::1] C2,   # IN  (K, D) -2 * codebook
                   const floating[::1] cc,      # IN  (K,)   ||c_k||^2
                   floating[::1] best,          # OUT (n,)   best score per row
                   int64_t[::1] codes,          # OUT (n,)   its code
                   uint8_t[:, ::1] scratch,     # TMP (threads, TILE_BUF_BYTES(D)) one row per thread
                   int nthreads) noexcept nogil:
    cdef Py_ssize_t n = x.shape[0], D = x.shape[1], K = C2.shape[0], t, s
    cdef Py_ssize_t R = TILE_VECS * 32 // sizeof(floating)          # rows per tile
    cdef Py_ssize_t ntiles = (n + R - 1) // R
    # dynamic: a thread that starts late (its core still busy with another pool's
    # spin-wait, or a descheduled virtual CPU) takes fewer chunks instead of finishing last
    for t in prange(ntiles, schedule="dynamic", chunksize=64, num_threads=nthreads):
        s = t * R
        if floating is float:
            nearest_tile_f32(&x[s, 0], min(R, n - s), D, &C2[0, 0], &cc[0], K,
                             &scratch[threadid(), 0], &best[s], &codes[s])
        else:
            nearest_tile_f64(&x[s, 0], min(R, n - s), D, &C2[0, 0], &cc[0], K,
                             &scratch[threadid(), 0], &best[s], &codes[s])


def nearest_codeword_cy(x, C, num_threads=0):
    """(codes int64 (n,), sqdist (n,)); same contract as nearest_codeword_ref.

    ``num_threads``: OpenMP threads over row tiles; 0 = the OpenMP default.
    """
    n = x.shape[0]
    nthreads = num_threads if num_threads > 0 else default_threads()
    cc = np.einsum("kd,kd->k", C, C)                  # (K,) ||c_k||^2, once per call
    C2 = -2 * C                                       # (K, D), exact scaling
    pad = (-C.shape[0]) % 6                           # tiles take codes six at a time: pad with
    if pad:                                           # codes that never win (score +inf)
        C2 = np.vstack([C2, np.zeros((pad, C2.shape[1]), C2.dtype)])
        cc = np.append(cc, np.full(pad, np.inf, dtype=cc.dtype))
    K6 = C2.shape[0]                                  # (K6/6, D, 6): a group's six values per d adjacent
    C2 = np.ascontiguousarray(C2.reshape(K6 // 6, 6, -1).transpose(0, 2, 1)).reshape(K6, -1)
    best = np.empty(n, dtype=x.dtype)
    codes = np.empty(n, dtype=np.int64)
    scratch = np.empty((nthreads, TILE_BUF_BYTES(x.shape[1])), dtype=np.uint8)
    if n:
        if x.dtype == np.float32:
            _nearest[float](x, C2, cc, best, codes, scratch, nthreads)
        else:
            _nearest[double](x, C2, cc, best, codes, scratch, nthreads)
    sqdist = np.maximum(np.einsum("nd,nd->n", x, x) + best, 0)
    dup = _lowest_duplicate(C)
    return (codes if dup is None else dup[codes]), sqdist
