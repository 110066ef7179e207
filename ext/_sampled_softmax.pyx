# cython: language_level=3
"""Cython twin of minih2rec.kernels.sampled_softmax (logQ-corrected sampled softmax, fwd + bwd).

Same split as the Numba version: the three BLAS-sized matmuls stay on NumPy
(numpy exposes no BLAS to Cython, and SciPy is not a dependency); this module
fuses everything else into C loops:

* ``_softmax_rows`` -- per row (OpenMP ``prange`` when the build found it):
  positive logit, logQ, accidental-hit mask, max shift, exp, log-sum and the
  probabilities scaled into dL/dneg, in place over the (M, N) logits;
* ``_finish_rows`` -- the positives' terms (grad_states[m] += dL/dpos_m W[pos_m])
  and the scatter into the touched rows, serial because ids repeat.

Logits stay in the arrays' dtype (expf for float32); sums are double. Inputs
are validated by the Python wrapper (minih2rec.kernels.sampled_softmax.sampled_softmax).
"""
cimport cython
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, INFINITY
from libc.stdint cimport int64_t

import numpy as np

from minih2rec.kernels._threads import default_threads

ctypedef fused floating:
    float
    double


cdef inline floating _exp(floating x) noexcept nogil:
    """exp in the argument's precision (expf for float: about twice as fast)."""
    if floating is float:
        return expf(x)
    else:
        return exp(x)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _softmax_rows(floating[:, ::1] logits,           # IN s.W[n] (M, N) / OUT dL/dneg
                        const floating[:, ::1] states,     # IN  (M, d)
                        const floating[:, ::1] table,      # IN  (R, d)
                        const int64_t[::1] pos_ids,        # IN  (M,)
                        const int64_t[::1] neg_ids,        # IN  (N,)
                        const floating[::1] log_q_pos,     # IN  (M,)
                        const floating[::1] log_q_neg,     # IN  (N,)
                        floating[::1] g_pos,               # OUT (M,) dL/dpos
                        double[::1] loss_m,                # OUT (M,) per-row loss
                        int nthreads                       # IN  OpenMP threads (>= 1)
                        ) noexcept nogil:
    cdef Py_ssize_t M = logits.shape[0], N = logits.shape[1], d = states.shape[1]
    cdef Py_ssize_t m, j, c
    cdef int64_t p
    cdef floating pos, mx, z, e                  # logits in the arrays' dtype
    cdef double acc, e_pos, tot, scale           # sums in double
    cdef floating* row                           # logits[m, :]
    cdef const floating* s                       # states[m, :]
    cdef const floating* w                       # table[p, :]
    for m in prange(M, schedule="static", num_threads=nthreads):
        p = pos_ids[m]
        row = &logits[m, 0] if N > 0 else NULL
        s = &states[m, 0] if d > 0 else NULL
        w = &table[p, 0] if d > 0 else NULL
        acc = 0.0
        for c in range(d):
            acc = acc + s[c] * w[c]
        pos = <floating> (acc - log_q_pos[m])
        mx = pos
        for j in range(N):                       # logQ, mask, row max
            if neg_ids[j] == p:
                row[j] = -INFINITY               # accidental hit
            else:
                z = row[j] - log_q_neg[j]
                row[j] = z
                if z > mx:
                    mx = z
        e_pos = _exp(pos - mx)
        tot = e_pos
        for j in range(N):                       # shifted exp and its sum
            e = _exp(row[j] - mx)
            row[j] = e
            tot = tot + e
        loss_m[m] = mx + log(tot) - pos
        scale = 1.0 / (tot * M)
        for j in range(N):
            row[j] = <floating> (row[j] * scale)
        g_pos[m] = <floating> ((e_pos / tot - 1.0) / M)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _finish_rows(floating[:, ::1] grad_states,       # IN/OUT (M, d) += g_pos[m] W[p_m]
                       floating[:, ::1] grad_rows,         # OUT (u, d), zero on entry
                       const int64_t[::1] inv,             # IN  (M+N,) slot of each pos, then neg
                       const floating[::1] g_pos,          # IN  (M,)
                       const floating[:, ::1] states,      # IN  (M, d)
                       const floating[:, ::1] table,       # IN  (R, d)
                       const int64_t[::1] pos_ids,         # IN  (M,)
                       const floating[:, ::1] grad_neg     # IN  (N, d)
                       ) noexcept nogil:
    cdef Py_ssize_t M = states.shape[0], d = states.shape[1]
    cdef Py_ssize_t m, j, c, r, p
    cdef floating g
    for m in range(M):
        p = pos_ids[m]
        r = inv[m]
        g = g_pos[m]
        for c in range(d):
            grad_states[m, c] += g * table[p, c]
            grad_rows[r, c] += g * states[m, c]
    for j in range(grad_neg.shape[0]):
        r = inv[M + j]
        for c in range(d):
            grad_rows[r, c] += grad_neg[j, c]


def sampled_softmax_cy(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg, num_threads=0):
    """(loss, grad_states, touched, grad_rows); same contract as sampled_softmax_ref.

    ``num_threads``: OpenMP threads for the row loop; 0 = the OpenMP default. The wrapper
    passes 1 for small inputs (thread start-up dominates there on a loaded machine).
    """
    nthreads = num_threads if num_threads > 0 else default_threads()
    M, d = states.shape
    Wn = table[neg_ids]                                   # (N, d)
    g_neg = states @ Wn.T                                 # (M, N) BLAS; becomes dL/dneg
    g_pos = np.empty(M, dtype=states.dtype)               # (M,)
    loss_m = np.empty(M, dtype=np.float64)                # (M,)
    single = states.dtype.itemsize == 4
    if single:
        _softmax_rows[float](g_neg, states, table, pos_ids, neg_ids, log_q_pos, log_q_neg, g_pos, loss_m, nthreads)
    else:
        _softmax_rows[double](g_neg, states, table, pos_ids, neg_ids, log_q_pos, log_q_neg, g_pos, loss_m, nthreads)
    grad_states = g_neg @ Wn                              # (M, d) BLAS
    grad_neg = g_neg.T @ states                           # (N, d) BLAS
    touched, inv = np.unique(np.concatenate([pos_ids, neg_ids]), return_inverse=True)
    inv = np.ascontiguousarray(inv, dtype=np.int64)
    grad_rows = np.zeros((touched.size, d), dtype=states.dtype)  # (u, d)
    if single:
        _finish_rows[float](grad_states, grad_rows, inv, g_pos, states, table, pos_ids, grad_neg)
    else:
        _finish_rows[double](grad_states, grad_rows, inv, g_pos, states, table, pos_ids, grad_neg)
    return float(loss_m.mean()), grad_states, touched, grad_rows
