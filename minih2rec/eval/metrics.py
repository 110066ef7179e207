"""Ranking metrics from the 0-based rank of each user's target item.

Every metric here is a function of one integer per user: the **rank** of the
held-out target among the candidates, counted from 0 (rank 0 = the model put
the target first).

* ``HR@K   = 1            if rank < K else 0``  (hit rate / recall with one target)
* ``NDCG@K = 1/log2(rank + 2) if rank < K else 0``
  (with a single relevant item the ideal DCG is 1, so NDCG = DCG)

Two ways to get a rank, one per protocol (see :mod:`minih2rec.eval.protocols`):

* :func:`rank_in_topk` -- full ranking: the position of the target in a top-K id
  list; a target that is not in the list gets rank ``K`` (meaning "K or worse",
  which scores 0 for every cutoff <= K);
* :func:`rank_among_candidates` -- sampled ranking: the number of negatives that
  score **at least** as high as the target (ties count against the target).

Shapes: B users, K list length, N negatives per user.
"""
import numpy as np


def hit_rate(ranks, k):
    """HR@k per user.

    Parameters
    ----------
    ranks : array-like of int (B,) -- 0-based rank of each target.
    k : int >= 1 -- cutoff.

    Returns
    -------
    ndarray float64 (B,) -- 1.0 where ``rank < k``, else 0.0.
    """
    ranks = _check_ranks(ranks)
    k = _check_k(k)
    return (ranks < k).astype(np.float64)


def ndcg(ranks, k):
    """NDCG@k per user with one relevant item: ``1 / log2(rank + 2)`` if ``rank < k`` else 0.

    Parameters
    ----------
    ranks : array-like of int (B,) -- 0-based rank of each target.
    k : int >= 1 -- cutoff.

    Returns
    -------
    ndarray float64 (B,).
    """
    ranks = _check_ranks(ranks)
    k = _check_k(k)
    gain = 1.0 / np.log2(ranks.astype(np.float64) + 2.0)   # (B,)
    return np.where(ranks < k, gain, 0.0)


def metric_names(ks):
    """Names in report order: ``["HR@5", "NDCG@5", "HR@10", ...]`` for ``ks = (5, 10, ...)``."""
    return [f"{m}@{k}" for k in ks for m in ("HR", "NDCG")]


def metrics_from_ranks(ranks, ks):
    """Per-user HR@k and NDCG@k for every k in ``ks``.

    Parameters
    ----------
    ranks : array-like of int (B,) -- 0-based ranks.
    ks : iterable of int -- cutoffs, e.g. ``(5, 10, 20)``.

    Returns
    -------
    dict ``{"HR@5": (B,), "NDCG@5": (B,), ...}`` of float64 arrays, in :func:`metric_names` order.
    """
    out = {}
    for k in ks:
        out[f"HR@{k}"] = hit_rate(ranks, k)
        out[f"NDCG@{k}"] = ndcg(ranks, k)
    return out


def rank_in_topk(topk_ids, targets):
    """Rank of each target inside its top-K list (full-ranking protocol).

    Parameters
    ----------
    topk_ids : ndarray int (B, K) -- item ids, best first (``-1`` = padding).
    targets : array-like of int (B,) -- target item id per row (>= 1).

    Returns
    -------
    ndarray int64 (B,) -- the column where ``topk_ids[b] == targets[b]``, or ``K`` when the
    target is not in the list (its true rank is K or worse; every metric@k<=K is then 0).
    """
    topk_ids = np.asarray(topk_ids)
    targets = np.asarray(targets, dtype=np.int64)
    if topk_ids.ndim != 2 or targets.shape != (topk_ids.shape[0],):
        raise ValueError(f"rank_in_topk: topk_ids must be (B, K) and targets (B,), got "
                         f"{topk_ids.shape} and {targets.shape}")
    B, K = topk_ids.shape
    found = topk_ids == targets[:, None]                    # (B, K) at most one True per row
    return np.where(found.any(axis=1), found.argmax(axis=1), K).astype(np.int64)


def rank_among_candidates(target_scores, negative_scores):
    """Rank of the target among itself and N negatives (sampled protocol), ties pessimistic.

    ``rank = #{j : negative_scores[b, j] >= target_scores[b]}`` -- a negative that ties
    with the target is counted as ranked above it, so a model that gives every item
    the same score gets rank N (the worst), not 0.

    Parameters
    ----------
    target_scores : array-like float (B,).
    negative_scores : array-like float (B, N).

    Returns
    -------
    ndarray int64 (B,) in ``[0, N]``.

    Raises
    ------
    ValueError on NaN scores or mismatched shapes.
    """
    t = np.asarray(target_scores, dtype=np.float64)
    n = np.asarray(negative_scores, dtype=np.float64)
    if n.ndim != 2 or t.shape != (n.shape[0],):
        raise ValueError(f"rank_among_candidates: expected target (B,) and negatives (B, N), got "
                         f"{t.shape} and {n.shape}")
    if np.isnan(t).any() or np.isnan(n).any():
        bad = int(np.flatnonzero(np.isnan(t) | np.isnan(n).any(axis=1))[0])
        raise ValueError(f"rank_among_candidates: NaN score in row {bad}")
    return (n >= t[:, None]).sum(axis=1).astype(np.int64)


def _check_ranks(ranks):
    """Ranks as an int64 array of non-negative values."""
    ranks = np.asarray(ranks)
    if ranks.size and not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"ranks must be integers, got dtype {ranks.dtype}")
    ranks = ranks.astype(np.int64)
    if ranks.size and ranks.min() < 0:
        raise ValueError(f"ranks must be >= 0 (0 = first place), got {int(ranks.min())}")
    return ranks


def _check_k(k):
    """A cutoff must be a positive integer."""
    if int(k) != k or k < 1:
        raise ValueError(f"cutoff k must be a positive integer, got {k!r}")
    return int(k)
