"""Top-K with exclusion: per row, the ``k`` best columns not in that row's excluded set.

This is the inner loop of full-ranking evaluation: score every item for every
user, drop the items the user has already seen, keep the K best.

Versions (same contract, checked against each other in tests/test_kernels_topk.py):

* ``topk_exclude_ref`` -- vectorised NumPy: mask the excluded columns, find the
  k-th best score per row with ``np.partition``, gather the columns that beat it
  (ties at the threshold broken by lowest index), then one ``np.lexsort``;
* ``topk_exclude_nb``  -- Numba, parallel over rows (``prange``): one pass over
  the row keeping a small sorted buffer of the best ``k`` (insertion sort);
* ``topk_exclude_cy``  -- the Cython twin in ``ext/_topk.pyx`` (OpenMP over rows
  when the build found OpenMP).

Contract
--------
``scores`` (B, V1) float32/float64 C-contiguous, no NaN; ``k >= 1``;
``excl_indptr`` (B+1,) int64 non-decreasing with ``excl_indptr[0] == 0`` and
``excl_indptr[B] == len(excl_indices)``; ``excl_indices`` (nnz,) int64 in
``[0, V1)`` (repeats allowed): row ``b`` excludes
``excl_indices[excl_indptr[b]:excl_indptr[b+1]]``.

Returns ``ids`` (B, k) int64: for each row the allowed column ids sorted by
score descending, **ties -> lowest column id first**. Allowed columns scoring
``-inf`` still count (they rank last); when a row has fewer than ``k`` allowed
columns the tail is padded with ``-1``.
"""
import numpy as np

from ._numba import njit, numba
from ._threads import call_kernel


def topk_exclude_ref(scores, k, excl_indptr, excl_indices):
    """NumPy oracle: mask, threshold by ``np.partition``, exact tie rule, ``np.lexsort``."""
    B, V1 = scores.shape
    kk = min(k, V1)                                          # selectable per row at most
    ids = np.full((B, k), -1, dtype=np.int64)                # (B, k) -1 = padding
    if kk == 0:                                              # no columns at all
        return ids
    rows_of = np.repeat(np.arange(B), np.diff(excl_indptr))  # (nnz,) row of each exclusion
    allowed = np.ones((B, V1), dtype=bool)
    allowed[rows_of, excl_indices] = False
    s = np.where(allowed, scores, -np.inf)                   # (B, V1) excluded -> -inf
    # the kk-th largest score per row; every column strictly above it is in the top-kk
    thresh = -np.partition(-s, kk - 1, axis=1)[:, kk - 1]    # (B,)
    above = s > thresh[:, None]                              # (B, V1)
    need = kk - above.sum(axis=1)                            # (B,) slots left for ties
    # ties at the threshold: only allowed ones, lowest column ids first
    tr, tc = np.nonzero((s == thresh[:, None]) & allowed)    # row-major, so columns ascend
    first = np.searchsorted(tr, np.arange(B))                # (B,) start of each row's ties
    rank = np.arange(tr.size) - first[tr]                    # position among the row's ties
    keep = rank < need[tr]
    above[tr[keep], tc[keep]] = True                         # now exactly min(kk, allowed) per row
    r, c = np.nonzero(above)                                 # (sel,) each
    v = s[r, c]
    order = np.lexsort((c, -v, r))                           # by row, score desc, column asc
    r, c = r[order], c[order]
    pos = np.arange(r.size) - np.searchsorted(r, r)          # rank within the row
    ids[r, pos] = c
    return ids


def _insert(vals, ids, i, x, j):
    """Put score ``x`` of column ``j`` into the sorted buffer, starting from free slot ``i``."""
    while i > 0 and vals[i - 1] < x:     # strict: an equal earlier (lower) id stays ahead
        vals[i] = vals[i - 1]
        ids[i] = ids[i - 1]
        i -= 1
    vals[i] = x
    ids[i] = j


def _topk_row(s, k, excl, excluded, ids, vals):
    """Best ``k`` of one row into ``ids``/``vals`` (sorted); returns how many were found."""
    for e in excl:
        excluded[e] = True
    V1 = s.shape[0]
    n = 0                                # phase 1: the first k allowed columns, kept sorted
    j = 0
    while n < k and j < V1:
        if not excluded[j]:
            _insert_nb(vals, ids, n, s[j], j)
            n += 1
        j += 1
    if n == k:                           # phase 2: only a strictly better score gets in
        worst = vals[k - 1]              # (an equal one has a higher id, so it loses the tie)
        for jj in range(j, V1):
            x = s[jj]
            if x > worst and not excluded[jj]:
                _insert_nb(vals, ids, k - 1, x, jj)
                worst = vals[k - 1]
    for e in excl:
        excluded[e] = False
    return n


def _topk_exclude_loop(scores, k, excl_indptr, excl_indices):
    B, V1 = scores.shape
    kk = min(k, V1)
    ids = np.full((B, k), -1, dtype=np.int64)   # (B, k)
    if kk == 0:                                 # no columns at all
        return ids
    for b in numba.prange(B):
        excluded = np.zeros(V1, dtype=np.bool_)  # per-row scratch (small: V1 bytes)
        vals = np.empty(kk, dtype=scores.dtype)
        _topk_row_nb(scores[b], kk, excl_indices[excl_indptr[b]:excl_indptr[b + 1]],
                     excluded, ids[b], vals)
    return ids


_insert_nb = njit(_insert)
_topk_row_nb = njit(_topk_row)
if numba is not None:
    topk_exclude_nb = njit(_topk_exclude_loop, parallel=True)
else:  # pragma: no cover - numba missing: only the NumPy reference exists
    topk_exclude_nb = None


def topk_exclude(scores, k, excl_indptr, excl_indices):
    """Per row, the ``k`` highest-scoring column ids that are not excluded.

    Parameters
    ----------
    scores : ndarray (B, V1), float32 or float64, no NaN.
    k : int >= 1 -- how many ids per row.
    excl_indptr : array-like of int (B+1,) -- CSR row pointers into ``excl_indices``.
    excl_indices : array-like of int (nnz,) -- excluded column ids, each in ``[0, V1)``.

    Returns
    -------
    ids : ndarray (B, k) int64 -- sorted by score descending, ties -> lowest id first,
        padded with ``-1`` when a row has fewer than ``k`` allowed columns.

    Raises
    ------
    ValueError on bad shapes, ``k < 1``, a NaN score (naming the row) or a bad ``excl_indptr``;
    IndexError if an excluded id is outside ``[0, V1)``.
    """
    scores, k, indptr, indices = _check(scores, k, excl_indptr, excl_indices)
    return call_kernel("topk_exclude", scores.shape[0] * scores.shape[1], scores, k, indptr, indices)


def _check(scores, k, excl_indptr, excl_indices):
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.dtype not in (np.float32, np.float64):
        raise ValueError(f"topk_exclude: scores must be a 2-D float32/float64 array, "
                         f"got dtype {scores.dtype} shape {scores.shape}")
    scores = np.ascontiguousarray(scores)
    B, V1 = scores.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"topk_exclude: k must be an integer >= 1, got {k!r}")
    nan_rows = np.flatnonzero(np.isnan(scores).any(axis=1))
    if nan_rows.size:
        raise ValueError(f"topk_exclude: scores row {int(nan_rows[0])} contains NaN "
                         f"({nan_rows.size} row(s) with NaN)")
    indptr = np.asarray(excl_indptr)
    indices = np.asarray(excl_indices)
    for name, a in (("excl_indptr", indptr), ("excl_indices", indices)):
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"topk_exclude: {name} must be a 1-D integer array, "
                             f"got dtype {a.dtype} shape {a.shape}")
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    if indptr.shape != (B + 1,):
        raise ValueError(f"topk_exclude: excl_indptr has shape {indptr.shape}, expected {(B + 1,)}")
    steps = np.diff(indptr)
    if indptr[0] != 0 or indptr[-1] != indices.size or (steps.size and steps.min() < 0):
        bad = int(np.argmax(steps < 0)) if steps.size and steps.min() < 0 else None
        raise ValueError(f"topk_exclude: excl_indptr must start at 0, never decrease and end at "
                         f"len(excl_indices)={indices.size}; got start {int(indptr[0])}, "
                         f"end {int(indptr[-1])}" + (f", decrease after row {bad}" if bad is not None else ""))
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= V1:
            bad = lo if lo < 0 else hi
            raise IndexError(f"topk_exclude: excluded id {bad} is out of range for {V1} columns")
    return scores, int(k), indptr, indices
