"""A hand-made training batch for model tests (the shape contract of ``data.batching.Batch``)."""
from types import SimpleNamespace

import numpy as np


def make_batch(rows, T, num_items, seed=0):
    """Inputs items[:-1], targets items[1:], left-padded to T; one BCE negative per position."""
    B = len(rows)
    seq, target = np.zeros((B, T), np.int64), np.zeros((B, T), np.int64)
    for b, items in enumerate(rows):
        n = len(items) - 1
        seq[b, T - n:], target[b, T - n:] = items[:-1], items[1:]
    neg = np.random.default_rng(seed).integers(1, num_items + 1, size=(B, T)) * (target > 0)
    return SimpleNamespace(seq=seq, target=target, positions=np.arange(T), neg=neg, users=np.arange(B))
