# cython: language_level=3
"""Cython twin of minih2rec.kernels.topk.topk_exclude_ref (top-K with exclusion).

Rows are independent, so they run in parallel (OpenMP ``prange``) when the build
found OpenMP, serially otherwise -- the same source compiles both ways. Each
thread owns two scratch buffers, allocated once per thread: an ``excluded`` flag
per column (set and cleared only at the row's excluded ids, so clearing is
O(nnz) not O(V1)) and the sorted values of the current best ``k``.

Per row: the first k allowed columns fill a sorted buffer; after that a column
enters only if its score beats the worst kept one (an equal score never does,
because its column id is higher), tested before the exclusion flag so the common
path is one comparison against a register. An insertion step keeps the buffer
sorted, ties in ascending id order. Inputs are validated by the Python wrapper
(minih2rec.kernels.topk.topk_exclude).
"""
cimport cython
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free, malloc

import numpy as np

from minih2rec.kernels._threads import default_threads

ctypedef fused floating:
    float
    double


cdef inline void _insert(floating* vals, int64_t* ids, Py_ssize_t i,
                         floating x, Py_ssize_t j) noexcept nogil:
    """Put score x of column j into the sorted buffer, starting from free slot i."""
    while i > 0 and vals[i - 1] < x:     # strict: an equal earlier (lower) id stays ahead
        vals[i] = vals[i - 1]
        ids[i] = ids[i - 1]
        i -= 1
    vals[i] = x
    ids[i] = j


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _topk(const floating[:, ::1] scores,    # IN  (B, V1)
                Py_ssize_t kk,                    # IN  k clipped to V1
                const int64_t[::1] indptr,        # IN  (B+1,)
                const int64_t[::1] indices,       # IN  (nnz,)
                int64_t[:, ::1] ids,              # OUT (B, k), pre-filled with -1
                int nthreads                      # IN  OpenMP threads (>= 1)
                ) noexcept nogil:
    cdef Py_ssize_t B = scores.shape[0], V1 = scores.shape[1]
    cdef Py_ssize_t b, j, n, e
    cdef floating x, worst
    cdef const floating* row
    cdef char* excluded = NULL
    cdef floating* vals = NULL
    with parallel(num_threads=nthreads):
        excluded = <char*> calloc(V1, sizeof(char))          # per-thread scratch
        vals = <floating*> malloc(kk * sizeof(floating))
        for b in prange(B, schedule="static"):
            row = &scores[b, 0]
            for e in range(indptr[b], indptr[b + 1]):
                excluded[indices[e]] = 1
            n = 0                                # phase 1: first kk allowed columns, sorted
            j = 0
            while n < kk and j < V1:
                if not excluded[j]:
                    _insert(vals, &ids[b, 0], n, row[j], j)
                    n = n + 1
                j = j + 1
            if n == kk:                          # phase 2: only a strictly better score gets in
                worst = vals[kk - 1]
                while j < V1:
                    x = row[j]
                    if x > worst and not excluded[j]:
                        _insert(vals, &ids[b, 0], kk - 1, x, j)
                        worst = vals[kk - 1]
                    j = j + 1
            for e in range(indptr[b], indptr[b + 1]):
                excluded[indices[e]] = 0
        free(vals)
        free(excluded)


def topk_exclude_cy(scores, k, excl_indptr, excl_indices, num_threads=0):
    """Per-row top-``k`` ids with exclusion; same contract as topk_exclude_ref.

    ``num_threads``: OpenMP threads for the row loop; 0 = the OpenMP default
    (``OMP_NUM_THREADS`` or the usable cores). The wrapper passes 1 for small inputs,
    where starting a thread team costs more than the work on a loaded machine.
    """
    nthreads = num_threads if num_threads > 0 else default_threads()
    B, V1 = scores.shape
    ids = np.full((B, k), -1, dtype=np.int64)
    kk = min(k, V1)
    if B == 0 or kk == 0:
        return ids
    if scores.dtype.itemsize == 4:
        _topk[float](scores, kk, excl_indptr, excl_indices, ids, nthreads)
    else:
        _topk[double](scores, kk, excl_indptr, excl_indices, ids, nthreads)
    return ids
