"""Evaluation: leave-one-out ranking metrics, overall and by head/tail, popularity and length groups.

* :func:`evaluate` -- full ranking (default) or sampled negatives, returns an :class:`EvalResult`;
* :mod:`.metrics` -- HR@K / NDCG@K from 0-based ranks;
* :mod:`.groups` -- head/tail split, popularity buckets, sequence-length groups;
* :func:`plot_bucket_ndcg` -- the head/tail seesaw as a figure.
"""
from .metrics import hit_rate, metrics_from_ranks, ndcg, rank_among_candidates, rank_in_topk
from .plots import plot_bucket_ndcg
from .protocols import evaluate
from .result import EvalResult

__all__ = ["evaluate", "EvalResult", "plot_bucket_ndcg", "hit_rate", "ndcg", "metrics_from_ranks",
           "rank_in_topk", "rank_among_candidates"]
