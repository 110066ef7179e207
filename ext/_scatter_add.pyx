# cython: language_level=3
"""Cython twin of minih2rec.kernels.scatter_add.scatter_add_ref (np.add.at).

Serial over n because rows of ``idx`` may repeat; the inner loop over columns
is contiguous so the C compiler vectorises it. Inputs are validated by the
Python wrapper (minih2rec.kernels.scatter_add.scatter_add).
"""
cimport cython
from libc.stdint cimport int64_t

ctypedef fused floating:
    float
    double


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _scatter(floating[:, ::1] out,        # OUT (R, C), updated in place
                   const int64_t[::1] idx,     # IN  (n,)
                   const floating[:, ::1] src    # IN  (n, C)
                   ) noexcept nogil:
    cdef Py_ssize_t i, j, r
    cdef Py_ssize_t n = src.shape[0], c = src.shape[1]
    for i in range(n):
        r = idx[i]
        for j in range(c):
            out[r, j] += src[i, j]


def scatter_add_cy(out, idx, src):
    """out[idx[n]] += src[n]; same contract as scatter_add_ref."""
    if out.dtype.itemsize == 4:
        _scatter[float](out, idx, src)
    else:
        _scatter[double](out, idx, src)
    return out
