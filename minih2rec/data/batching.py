"""Padded training batches (and the left padding that evaluation shares).

Glossary: B batch, T columns of this batch, V items, U users.

**Training rows.** A user's training sequence ``s`` gives ``input = s[:-1]`` and
``target = s[1:]`` (the next item at every position), both cut to their last ``max_len``
items (the user's last row; **Windows** below adds rows for the earlier items) and
*left*-padded with 0, so the last column always holds the last real item::

    s = [5, 7, 9, 2], max_len = 5   ->   seq    = [0, 0, 5, 7, 9]
                                         target = [0, 0, 7, 9, 2]

Users with fewer than 2 training items have no target and are left out.

**Windows.** One row holds at most ``max_len`` targets. With ``window_stride`` w > 0
(default 0.5) a sequence gives rows ending at its last item, then ``S``, ``2S``, ... items
before it, ``S = max(1, round(w * max_len))``, as long as a row has a target::

    s = [1, 2, ..., 12], max_len = 6, S = 3   ->   seq [6..11] -> target [7..12]
                                                   seq [3..8]  -> target [4..9]
                                                   seq [1..5]  -> target [2..6]
                                                   seq [1, 2]  -> target [2, 3]

With w = 0.5 every training item is a target about twice per epoch, once near the end of a
row (long context) and once nearer its start (short context); older items of a long
sequence become targets at all. ``window_stride=0`` keeps the last row only (SASRec's
original code; on ML-100K it drops more than half of the training targets).

**Dynamic length.** A batch of short sequences wastes most of its ``max_len`` columns on
padding. With ``dynamic=True`` each batch keeps only its last ``T`` columns (T = its
longest real row) and says where they are with absolute position ids
``positions = arange(max_len - T, max_len)``. Since padded columns never change real
outputs (causal, padding-masked attention), a model gives the same results as with full
padding -- only faster.

**Buckets.** ``bucket=True`` sorts users by length (random tie-break), cuts the sorted
list into batches and shuffles the batch order: batches are homogeneous in length, so
dynamic length saves even more; every row still appears exactly once per epoch.

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
    users : ndarray (B,) int64 -- user id of each row (a user can own several rows).
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
    max_len : int -- longest input of a row.
    rng : np.random.Generator -- drives shuffling and negatives.
    num_items : int or None -- V; needed for negatives when ``data`` is a list.
    dynamic : bool -- cut each batch to its longest real row (absolute positions kept).
    bucket : bool -- batch rows of similar length together; shuffle batch order.
    negatives : bool -- sample ``Batch.neg``.
    window_stride : float in [0, 1] -- rows end every ``window_stride * max_len`` items back
        from a sequence's end (default 0.5); 0: each user's last row only.

    A *row* is one window of one user's sequence. Rows ``0..U-1`` are the users' last
    windows (so ``make_batch([u])`` is user ``u``'s last window); earlier windows follow.
    """

    def __init__(self, data, batch_size, max_len, rng, num_items=None, dynamic=True,
                 bucket=False, negatives=False, window_stride=0.5):
        if hasattr(data, "train"):
            sequences, num_items = data.train, data.num_items
        else:
            sequences = data
        self.sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        if batch_size < 1 or max_len < 1:
            raise ValueError(f"batch_size and max_len must be >= 1, got {batch_size}, {max_len}")
        if not 0 <= window_stride <= 1:
            raise ValueError(f"window_stride must be in [0, 1] (a share of max_len), got {window_stride}")
        self.batch_size, self.max_len, self.rng = int(batch_size), int(max_len), rng
        self.dynamic, self.bucket, self.negatives = dynamic, bucket, negatives
        self.num_items = num_items
        lens = np.array([len(s) for s in self.sequences], dtype=np.int64)
        self.users = np.flatnonzero(lens >= 2).astype(np.int64)   # users with a target
        user, end = np.arange(lens.size, dtype=np.int64), lens          # (U,) last rows
        if window_stride > 0:
            S = max(1, round(window_stride * self.max_len))
            extra = np.maximum((lens - 2) // S, 0)                      # earlier rows ending at >= 2
            more = np.repeat(user, extra)
            back = np.arange(extra.sum()) - np.repeat(np.cumsum(extra) - extra, extra) + 1
            user, end = np.concatenate([user, more]), np.concatenate([lens, lens[more] - back * S])
        self._row_user, self._row_end = user, end                      # row -> its user, its end
        self.rows = np.flatnonzero(end >= 2).astype(np.int64)          # rows with a target
        self._width = np.minimum(end - 1, self.max_len)                # real columns per row
        if negatives:
            if num_items is None:
                raise ValueError("negatives=True needs num_items (or pass a Split)")
            self._seen = [np.unique(s) for s in self.sequences]   # sorted items per user
            for u in self.users:
                if len(self._seen[u]) >= num_items:
                    raise ValueError(f"user {u} has interacted with all {num_items} items: "
                                     "no negative item exists")

    def __len__(self):
        return -(-len(self.rows) // self.batch_size)

    def __iter__(self):
        for chunk in self._epoch_batches():
            yield self.make_batch(chunk)

    def _epoch_batches(self):
        """List of (b,) row-id arrays covering every row with a target exactly once."""
        n, bs = len(self.rows), self.batch_size
        if self.bucket:
            order = np.lexsort((self.rng.random(n), self._width[self.rows]))
            chunks = [self.rows[order[a:a + bs]] for a in range(0, n, bs)]
            return [chunks[j] for j in self.rng.permutation(len(chunks))]
        rows = self.rows[self.rng.permutation(n)]
        return [rows[a:a + bs] for a in range(0, n, bs)]

    def make_batch(self, rows):
        """The :class:`Batch` of the given row ids, in that order (row ``u < U`` = user ``u``'s last window)."""
        rows = np.asarray(rows, dtype=np.int64)
        users = self._row_user[rows]                               # (B,)
        B, L = len(rows), self.max_len
        seq = np.zeros((B, L), dtype=np.int64)                    # (B, max_len)
        target = np.zeros((B, L), dtype=np.int64)
        for b, (u, end) in enumerate(zip(users, self._row_end[rows])):
            s = self.sequences[u][max(end - (L + 1), 0):end]       # max_len + 1 items up to `end`
            n = len(s) - 1
            if n > 0:
                seq[b, L - n:] = s[:-1]
                target[b, L - n:] = s[1:]
        T = int(self._width[rows].max()) if (self.dynamic and B) else L
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
