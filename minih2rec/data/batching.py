"""Padded training batches (and the left padding that evaluation shares).

Glossary: B batch, T columns of this batch, V items, U users.

**Training rows.** A user's training sequence ``s`` gives ``input = s[:-1]`` and
``target = s[1:]`` (the next item at every position), both cut to their last ``max_len``
items and *left*-padded with 0, so the last column always holds the last real item::

    s = [5, 7, 9, 2], max_len = 5   ->   seq    = [0, 0, 5, 7, 9]
                                         target = [0, 0, 7, 9, 2]

Users with fewer than 2 training items have no target and are left out.

**Dynamic length.** A batch of short sequences wastes most of its ``max_len`` columns on
padding. With ``dynamic=True`` each batch keeps only its last ``T`` columns (T = its
longest real row) and says where they are with absolute position ids
``positions = arange(max_len - T, max_len)``. Since padded columns never change real
outputs (causal, padding-masked attention), a model gives the same results as with full
padding -- only faster.

**Buckets.** ``bucket=True`` sorts users by length (random tie-break), cuts the sorted
list into batches and shuffles the batch order: batches are homogeneous in length, so
dynamic length saves even more; every user still appears exactly once per epoch.

**Negatives.** ``negatives=True`` adds one uniform negative per real target position,
drawn from 1..V minus the user's training items (vectorised rejection sampling against
a sorted key array; an exact fallback after 50 rounds). Padded positions get 0.
"""
from dataclasses import dataclass

import numpy as np

_MAX_REJECTION_ROUNDS = 50


@dataclass
class Batch:
    """One training batch (see the module docstring).

    Attributes
    ----------
    seq : ndarray (B, T) int64 -- left-padded inputs, 0 = pad.
    target : ndarray (B, T) int64 -- next item per position, 0 = no target.
    positions : ndarray (T,) int64 -- absolute position ids, last = max_len - 1.
    users : ndarray (B,) int64 -- user id of each row.
    neg : ndarray (B, T) int64 or None -- sampled negative per position (0 where no target).
    """

    seq: np.ndarray
    target: np.ndarray
    positions: np.ndarray
    users: np.ndarray
    neg: np.ndarray = None

    @property
    def num_targets(self):
        """Number of real (non-zero) targets."""
        return int((self.target > 0).sum())


class TrainBatches:
    """Iterable over the training batches of one epoch (a new shuffle each ``iter()``).

    Parameters
    ----------
    data : Split (uses ``data.train`` and ``data.num_items``) or list of int sequences.
    batch_size : int -- rows per batch (the last batch may be smaller).
    max_len : int -- longest input kept (the last ``max_len`` items).
    rng : np.random.Generator -- drives shuffling and negatives.
    num_items : int or None -- V; needed for negatives when ``data`` is a list.
    dynamic : bool -- cut each batch to its longest real row (absolute positions kept).
    bucket : bool -- batch users of similar length together; shuffle batch order.
    negatives : bool -- sample ``Batch.neg``.
    """

    def __init__(self, data, batch_size, max_len, rng, num_items=None, dynamic=True,
                 bucket=False, negatives=False):
        if hasattr(data, "train"):
            sequences, num_items = data.train, data.num_items
        else:
            sequences = data
        self.sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        if batch_size < 1 or max_len < 1:
            raise ValueError(f"batch_size and max_len must be >= 1, got {batch_size}, {max_len}")
        self.batch_size, self.max_len, self.rng = int(batch_size), int(max_len), rng
        self.dynamic, self.bucket, self.negatives = dynamic, bucket, negatives
        self.num_items = num_items
        lens = np.array([len(s) for s in self.sequences], dtype=np.int64)
        self.users = np.flatnonzero(lens >= 2).astype(np.int64)   # users with a target
        self._rows = np.minimum(lens - 1, self.max_len)             # real columns per user
        if negatives:
            if num_items is None:
                raise ValueError("negatives=True needs num_items (or pass a Split)")
            self._seen = [np.unique(s) for s in self.sequences]   # sorted items per user
            for u in self.users:
                if len(self._seen[u]) >= num_items:
                    raise ValueError(f"user {u} has interacted with all {num_items} items: "
                                     "no negative item exists")

    def __len__(self):
        return -(-len(self.users) // self.batch_size)

    def __iter__(self):
        for chunk in self._epoch_batches():
            yield self.make_batch(chunk)

    def _epoch_batches(self):
        """List of (b,) user-id arrays covering every user with a target exactly once."""
        n, bs = len(self.users), self.batch_size
        if self.bucket:
            order = np.lexsort((self.rng.random(n), self._rows[self.users]))
            chunks = [self.users[order[a:a + bs]] for a in range(0, n, bs)]
            return [chunks[j] for j in self.rng.permutation(len(chunks))]
        users = self.users[self.rng.permutation(n)]
        return [users[a:a + bs] for a in range(0, n, bs)]

    def make_batch(self, users):
        """The :class:`Batch` of the given user ids (in that row order)."""
        users = np.asarray(users, dtype=np.int64)
        B, L = len(users), self.max_len
        seq = np.zeros((B, L), dtype=np.int64)                    # (B, max_len)
        target = np.zeros((B, L), dtype=np.int64)
        for b, u in enumerate(users):
            s = self.sequences[u][-(L + 1):]                       # last max_len + 1 items
            n = len(s) - 1
            if n > 0:
                seq[b, L - n:] = s[:-1]
                target[b, L - n:] = s[1:]
        T = int(self._rows[users].max()) if (self.dynamic and B) else L
        T = max(T, 1)
        seq, target = seq[:, L - T:], target[:, L - T:]            # (B, T)
        positions = np.arange(L - T, L, dtype=np.int64)            # (T,)
        neg = self._sample_negatives(users, target) if self.negatives else None
        return Batch(seq=seq, target=target, positions=positions, users=users, neg=neg)

    def _sample_negatives(self, users, target):
        """(B, T) uniform negatives outside each row's user items; 0 where target is 0."""
        V, rng = self.num_items, self.rng
        neg = np.zeros_like(target)
        rows, cols = np.nonzero(target)
        if len(rows) == 0:
            return neg
        own = np.concatenate([b * (V + 1) + self._seen[u] for b, u in enumerate(users)])
        cand = rng.integers(1, V + 1, size=len(rows))              # (n,) first proposals
        todo = np.arange(len(rows))
        for _ in range(_MAX_REJECTION_ROUNDS):
            key = rows[todo] * (V + 1) + cand[todo]
            pos = np.minimum(np.searchsorted(own, key), len(own) - 1)
            todo = todo[own[pos] == key]                            # proposals to redraw
            if len(todo) == 0:
                break
            cand[todo] = rng.integers(1, V + 1, size=len(todo))
        else:
            for j in todo:                                          # exact, rarely needed
                allowed = np.setdiff1d(np.arange(1, V + 1), self._seen[users[rows[j]]])
                cand[j] = rng.choice(allowed)
        neg[rows, cols] = cand
        return neg


def left_pad(seqs, max_len, dynamic=True):
    """Left-pad the last ``max_len`` items of each sequence -> (seq (B, T), positions (T,)).

    With ``dynamic`` T is the longest real row (at least 1), else ``max_len``; positions are
    ``arange(max_len - T, max_len)`` either way, so the last column is always ``max_len - 1``.
    """
    B = len(seqs)
    seq = np.zeros((B, max_len), dtype=np.int64)
    longest = 1
    for b, s in enumerate(seqs):
        s = s[-max_len:]
        if len(s):
            seq[b, max_len - len(s):] = s
        longest = max(longest, len(s))
    T = longest if dynamic else max_len
    return seq[:, max_len - T:], np.arange(max_len - T, max_len, dtype=np.int64)
