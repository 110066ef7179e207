"""Sampled softmax with logQ correction: loss, grad wrt user states, grads of touched item rows.

For each of M user states ``s_m`` with positive item ``p_m`` and N shared
sampled negatives ``n_1..n_N`` (drawn from a proposal Q)::

    pos_m    = s_m . W[p_m] - logQ(p_m)
    neg_mj   = s_m . W[n_j] - logQ(n_j)      (-inf when n_j == p_m: an accidental hit)
    loss     = mean_m ( logsumexp(pos_m, neg_m1..neg_mN) - pos_m )

Subtracting ``logQ`` (the log of the expected number of times an id is drawn)
makes the sampled loss an unbiased-in-the-limit estimate of the full softmax
(Bengio & Senecal; Yi et al. 2019). With ``P = softmax([pos, neg])`` per row::

    dL/dpos_m  = (P_pos_m - 1) / M          dL/dneg_mj = P_mj / M
    dL/ds_m    = dL/dpos_m W[p_m] + sum_j dL/dneg_mj W[n_j]
    dL/dW[r]   = sum_{m: p_m = r} dL/dpos_m s_m + sum_{j: n_j = r} sum_m dL/dneg_mj s_m

Every logsumexp is shifted by the row maximum, so logits up to 1e4 are safe.

Versions (same contract, checked against each other in tests/test_kernels_sampled_softmax.py):

* ``sampled_softmax_ref`` -- vectorised NumPy (three matmuls, masks, ``np.add.at``);
* ``sampled_softmax_nb``  -- the three (M,d)x(d,N)-sized matmuls stay on NumPy's
  BLAS (numba cannot call BLAS without SciPy, and a hand loop is several times
  slower than BLAS); everything else -- positive logits, masking, max-shifted
  exp/log and probabilities -- is one Numba pass, parallel over the M rows; the
  positives' gradient terms and the scatter into the touched rows are a second,
  serial pass (ids repeat, so a parallel scatter would race);
* ``sampled_softmax_cy``  -- the Cython twin in ``ext/_sampled_softmax.pyx``, same split.

Because the matmuls are shared, the compiled versions win by fusing the
element-wise passes over the (M, N) logits and by replacing ``np.add.at``; they
can never be much faster than the BLAS time (see bench/bench_sampled_softmax.py).
Measured single-threaded (CPU time, M=25,600, d=128, N=256, float32): the three
matmuls alone ~92 ms; reference ~170-190 ms; Numba ~120-133 ms; Cython ~133 ms.

Contract
--------
``states`` (M, d) and ``table`` (R, d) float32/float64 of one dtype;
``pos_ids`` (M,) and ``neg_ids`` (N,) int64 in ``[0, R)`` (negatives may repeat:
each copy is its own logit); ``log_q_pos`` (M,) and ``log_q_neg`` (N,) of the
states' dtype -- see :func:`log_q`. Returns ``(loss, grad_states, touched,
grad_rows)``: ``loss`` a Python float (mean over M), ``grad_states`` (M, d),
``touched`` (u,) int64 sorted unique ids of ``pos_ids`` and ``neg_ids``,
``grad_rows`` (u, d) the gradient of the table rows ``table[touched]``.
"""
import numpy as np

from ._numba import njit, numba
from ._threads import call_kernel


def log_q(proposal_probs, ids, num_samples):
    """logQ correction for ids drawn ``num_samples`` times from ``proposal_probs``.

    Returns ``log(num_samples * proposal_probs[ids])``, the log expected count of
    each id among the draws. Uniform sampling over V items gives the constant
    ``log(N / V)``; popularity sampling with ``p_i ∝ count_i ** beta`` gives
    ``log(N * p_i)``.

    Parameters
    ----------
    proposal_probs : array-like (R,) -- the sampling distribution over table rows.
    ids : array-like of int (n,) -- ids to correct (positives or negatives).
    num_samples : int -- N, the number of negatives drawn.

    Returns
    -------
    ndarray (n,) float64.

    Raises
    ------
    ValueError if an id has probability <= 0 (its logit would be +inf).
    """
    p = np.asarray(proposal_probs, dtype=np.float64)[np.asarray(ids)]
    if p.size and p.min() <= 0:
        bad = int(np.asarray(ids).ravel()[np.argmin(p.ravel())])
        raise ValueError(f"log_q: id {bad} has proposal probability {p.min()} <= 0")
    return np.log(num_samples * p)


def sampled_softmax_ref(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg):
    """NumPy oracle: dense (M, N) logits, masked accidental hits, ``np.add.at`` for the rows."""
    M = states.shape[0]
    Wp = table[pos_ids]                                   # (M, d)
    Wn = table[neg_ids]                                   # (N, d)
    pos = np.einsum("md,md->m", states, Wp) - log_q_pos   # (M,)
    neg = states @ Wn.T - log_q_neg                       # (M, N)
    neg[pos_ids[:, None] == neg_ids[None, :]] = -np.inf   # accidental hits
    mx = np.maximum(pos, neg.max(axis=1, initial=-np.inf))  # (M,) max shift
    e_pos = np.exp(pos - mx)                              # (M,)
    e_neg = np.exp(neg - mx[:, None])                     # (M, N)
    Z = e_pos + e_neg.sum(axis=1)                         # (M,)
    loss = np.mean(mx + np.log(Z) - pos, dtype=np.float64)
    g_pos = (e_pos / Z - 1) / M                           # (M,)   dL/dpos
    g_neg = e_neg / (Z[:, None] * M)                      # (M, N) dL/dneg
    grad_states = g_pos[:, None] * Wp + g_neg @ Wn        # (M, d)
    rows = np.concatenate([g_pos[:, None] * states,       # (M, d) positives' rows
                           g_neg.T @ states])             # (N, d) negatives' rows
    touched, inv = np.unique(np.concatenate([pos_ids, neg_ids]), return_inverse=True)
    grad_rows = np.zeros((touched.size, states.shape[1]), dtype=states.dtype)  # (u, d)
    np.add.at(grad_rows, inv, rows)
    return float(loss), grad_states, touched, grad_rows


def _softmax_rows(logits, states, table, pos_ids, neg_ids, log_q_pos, log_q_neg, g_pos, loss_m):
    """In place: logits (M, N) s.W[n] -> dL/dneg; fills g_pos (M,) = dL/dpos and loss_m (M,).

    Logits stay in the arrays' dtype (so float32 runs single-precision exp);
    sums are float64.
    """
    M, N = logits.shape
    d = states.shape[1]
    for m in numba.prange(M):
        p = pos_ids[m]
        acc = 0.0
        for c in range(d):
            acc += states[m, c] * table[p, c]
        g_pos[m] = acc - log_q_pos[m]            # the positive logit, in the arrays' dtype
        pos = g_pos[m]
        mx = pos
        for j in range(N):                       # logQ, mask, row max
            if neg_ids[j] == p:
                logits[m, j] = -np.inf           # accidental hit
            else:
                z = logits[m, j] - log_q_neg[j]
                logits[m, j] = z
                if z > mx:
                    mx = z
        e_pos = np.exp(pos - mx)
        tot = 0.0 + e_pos                        # float64 sum
        for j in range(N):                       # shifted exp and its sum
            e = np.exp(logits[m, j] - mx)
            logits[m, j] = e
            tot += e
        loss_m[m] = mx + np.log(tot) - pos
        scale = 1.0 / (tot * M)
        for j in range(N):
            logits[m, j] *= scale
        g_pos[m] = (e_pos / tot - 1.0) / M


def _finish_rows(grad_states, grad_rows, inv, g_pos, states, table, pos_ids, grad_neg):
    """Serial (ids repeat): the positives' terms and the scatter into the touched rows.

    grad_states[m] += g_pos[m] W[p_m];  grad_rows[inv[m]] += g_pos[m] s_m;
    grad_rows[inv[M + j]] += grad_neg[j].
    """
    M, d = states.shape
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


def _sampled_softmax_hybrid(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg):
    """Numba version: BLAS matmuls via NumPy, every other pass compiled."""
    M, d = states.shape
    Wn = table[neg_ids]                                   # (N, d)
    g_neg = states @ Wn.T                                 # (M, N) BLAS; becomes dL/dneg
    g_pos = np.empty(M, dtype=states.dtype)               # (M,)
    loss_m = np.empty(M, dtype=np.float64)                # (M,)
    _softmax_rows_nb(g_neg, states, table, pos_ids, neg_ids, log_q_pos, log_q_neg, g_pos, loss_m)
    grad_states = g_neg @ Wn                              # (M, d) BLAS, negatives' term
    grad_neg = g_neg.T @ states                           # (N, d) BLAS
    touched, inv = np.unique(np.concatenate([pos_ids, neg_ids]), return_inverse=True)
    grad_rows = np.zeros((touched.size, d), dtype=states.dtype)  # (u, d)
    _finish_rows_nb(grad_states, grad_rows, inv, g_pos, states, table, pos_ids, grad_neg)
    return float(loss_m.mean()), grad_states, touched, grad_rows


if numba is not None:
    _softmax_rows_nb = njit(_softmax_rows, parallel=True)
    _finish_rows_nb = njit(_finish_rows)
    sampled_softmax_nb = _sampled_softmax_hybrid
else:  # pragma: no cover - numba missing: only the NumPy reference exists
    sampled_softmax_nb = None


def sampled_softmax(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg):
    """logQ-corrected sampled-softmax loss and its gradients (forward + backward in one call).

    Parameters
    ----------
    states : ndarray (M, d), float32 or float64 -- user states.
    pos_ids : array-like of int (M,) -- positive item per state, in ``[0, R)``.
    neg_ids : array-like of int (N,) -- shared sampled negatives, in ``[0, R)``.
    table : ndarray (R, d), same dtype as ``states`` -- item embedding table.
    log_q_pos : array-like (M,) -- logQ of each positive (see :func:`log_q`).
    log_q_neg : array-like (N,) -- logQ of each negative.

    Returns
    -------
    loss : float -- mean over the M rows.
    grad_states : ndarray (M, d) -- dloss/dstates.
    touched : ndarray (u,) int64 -- sorted unique ids of ``pos_ids`` and ``neg_ids``.
    grad_rows : ndarray (u, d) -- dloss/dtable[touched].

    Raises
    ------
    ValueError on a shape/dtype mismatch, M == 0 or a non-finite logQ;
    IndexError if an id is outside ``[0, R)``.
    """
    args = _check(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg)
    work = args[0].shape[0] * (len(args[2]) + args[0].shape[1])   # M x (N + d)
    return call_kernel("sampled_softmax", work, *args)


def _check(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg):
    where = "sampled_softmax"
    if not isinstance(states, np.ndarray) or states.ndim != 2 or states.dtype not in (np.float32, np.float64):
        raise ValueError(f"{where}: states must be a 2-D float32/float64 ndarray, got "
                         f"{getattr(states, 'dtype', type(states).__name__)} shape {getattr(states, 'shape', None)}")
    if not isinstance(table, np.ndarray) or table.ndim != 2 or table.dtype != states.dtype:
        raise ValueError(f"{where}: table must be a 2-D ndarray of the states' dtype {states.dtype}, got "
                         f"{getattr(table, 'dtype', type(table).__name__)} shape {getattr(table, 'shape', None)}")
    M, d = states.shape
    R = table.shape[0]
    if table.shape[1] != d:
        raise ValueError(f"{where}: table has width {table.shape[1]}, states have width {d}")
    if M == 0:
        raise ValueError(f"{where}: states has no rows (M == 0); the mean loss is undefined")
    ids = []
    for name, a, n in (("pos_ids", pos_ids, M), ("neg_ids", neg_ids, None)):
        a = np.asarray(a)
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)) or (n is not None and a.size != n):
            raise ValueError(f"{where}: {name} must be a 1-D integer array"
                             f"{f' of length {n}' if n is not None else ''}, got dtype {a.dtype} shape {a.shape}")
        a = np.ascontiguousarray(a, dtype=np.int64)
        if a.size and (a.min() < 0 or a.max() >= R):
            bad = int(a.min()) if a.min() < 0 else int(a.max())
            raise IndexError(f"{where}: {name} contains id {bad}, out of range for a table of {R} rows")
        ids.append(a)
    lq = []
    for name, a, n in (("log_q_pos", log_q_pos, M), ("log_q_neg", log_q_neg, ids[1].size)):
        a = np.ascontiguousarray(a, dtype=states.dtype)
        if a.shape != (n,):
            raise ValueError(f"{where}: {name} has shape {a.shape}, expected {(n,)}")
        if not np.isfinite(a).all():
            raise ValueError(f"{where}: {name}[{int(np.argmin(np.isfinite(a)))}] is not finite")
        lq.append(a)
    return (np.ascontiguousarray(states), ids[0], ids[1], np.ascontiguousarray(table), lq[0], lq[1])
