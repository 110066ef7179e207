"""Behaviour co-occurrence: which items appear near each other in users' TRAINING sequences.

L_code (``alignment.py``) may treat items that co-occur as extra, down-weighted positives.
This module turns training sequences into a sparse, per-item list of such neighbours.

Glossary: V items (ids 1..V, 0 = padding), w window, nnz stored pairs.

Counting. For every training sequence ``s`` and every offset ``o = 1..w``, the pairs
``(s[t], s[t+o])`` and ``(s[t+o], s[t])`` are counted once each; so ``n(i, j)`` is the
number of times ``j`` appears within ``+-w`` positions of an occurrence of ``i`` in the same
user's sequence. Pairs never cross users, pairs of an item with itself are not counted
(an item is already its own positive), padding 0 is ignored. Only training data goes in:
the caller passes ``split.train``, never validation or test items (DESIGN.md §3, a
deliberate correction of the public code).

PPMI. With ``N = sum_ij n(i, j)`` and the marginals ``n(i) = sum_j n(i, j)``::

    PMI(i, j)  = log( p(i, j) / (p(i) p(j)) ) = log( n(i, j) N / (n(i) n(j)) )
    PPMI(i, j) = max(0, PMI(i, j))

Only pairs with PPMI > 0 are kept; their weights are PPMI min-max scaled to [0.3, 1]
(all 1.0 when every kept PPMI is equal), so the weakest behaviour positive still counts
0.3 of a real one and the strongest counts as much as the item itself.

Never dense. Pair keys ``i * (V + 1) + j`` (int64; fine up to V ~ 3e9) are counted with
``np.unique``, and the result is stored as CSR (``indptr`` (V+2,), ``indices`` (nnz,),
``weights`` (nnz,)): memory is O(V + nnz), never O(V^2).
"""
import numpy as np

from .. import validate

W_MIN, W_MAX = 0.3, 1.0   # range of the scaled behaviour-positive weights


def _flatten(train_seqs, num_items):
    """All sequences end to end: items (n,) int64 and the sequence each one came from (n,)."""
    seqs = [validate.ids(s, f"sequence {u}", "cooccurrence", 0, num_items) for u, s in enumerate(train_seqs)]
    if not seqs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    items = np.concatenate(seqs).astype(np.int64, copy=False)              # (n,)
    owner = np.repeat(np.arange(len(seqs)), [s.size for s in seqs])         # (n,)
    return items, owner


def cooccurrence_counts(train_seqs, num_items, window=3):
    """Count ordered item pairs within ``+-window`` positions of the same sequence.

    Parameters
    ----------
    train_seqs : list of int arrays -- training sequences (items 1..V, 0 = padding, ignored).
    num_items : int -- V.
    window : int >= 1 -- w.

    Returns
    -------
    keys : int64 ndarray (nnz,) -- sorted pair keys ``i * (V + 1) + j``, both (i, j) and (j, i).
    counts : int64 ndarray (nnz,) -- n(i, j) for each key.
    """
    window = validate.whole(window, "window", "cooccurrence")
    items, owner = _flatten(train_seqs, num_items)
    width = np.int64(num_items + 1)
    parts = []
    for o in range(1, int(window) + 1):                                    # w vectorised passes
        a, b = items[:-o], items[o:]                                       # (n - o,) each
        ok = (owner[:-o] == owner[o:]) & (a != b) & (a > 0) & (b > 0)      # same user, no self/pad
        a, b = a[ok], b[ok]
        parts += [a * width + b, b * width + a]                            # both directions
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys, counts = np.unique(np.concatenate(parts), return_counts=True)
    return keys, counts.astype(np.int64)


class CoOccurrence:
    """Sparse behaviour-positive weights between items, from training co-occurrence.

    Attributes
    ----------
    num_items : int -- V.
    window : int -- w used for counting.
    indptr : int64 ndarray (V+2,) -- row ``i`` is ``indices/weights[indptr[i]:indptr[i+1]]``.
    indices : int64 ndarray (nnz,) -- neighbour ids, ascending within a row.
    weights : float64 ndarray (nnz,) -- scaled PPMI in [0.3, 1].
    ppmi : float64 ndarray (nnz,) -- the unscaled PPMI (> 0) of each stored pair.
    """

    def __init__(self, num_items, window, indptr, indices, weights, ppmi):
        self.num_items, self.window = int(num_items), int(window)
        self.indptr, self.indices, self.weights, self.ppmi = indptr, indices, weights, ppmi
        rows = np.repeat(np.arange(self.num_items + 1, dtype=np.int64), np.diff(indptr))
        self._keys = rows * (self.num_items + 1) + indices                # (nnz,) sorted

    @classmethod
    def from_sequences(cls, train_seqs, num_items, window=3):
        """Build from training sequences (pass ``split.train`` -- never validation/test items).

        Parameters
        ----------
        train_seqs : list of int arrays (items 1..V).
        num_items : int -- V.
        window : int -- pairs within ``+-window`` positions count (default 3).

        Returns
        -------
        CoOccurrence
        """
        keys, counts = cooccurrence_counts(train_seqs, num_items, window)
        width = num_items + 1
        i, j = keys // width, keys % width                                 # (nnz,) each
        n = counts.astype(np.float64)
        marg = np.bincount(i, weights=n, minlength=width)                  # n(i) (V+1,)
        total = max(n.sum(), 1.0)                                          # N
        pmi = np.log(n) + np.log(total) - np.log(marg[i]) - np.log(marg[j])  # (nnz,)
        keep = pmi > 1e-12                                                 # PPMI > 0 (round-off safe)
        i, j, ppmi = i[keep], j[keep], pmi[keep]
        weights = _scale(ppmi)
        indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(np.bincount(i, minlength=width), out=indptr[1:])
        return cls(num_items, window, indptr, j.astype(np.int64), weights, ppmi)

    @property
    def nnz(self):
        """Number of stored (ordered) pairs."""
        return int(self.indices.size)

    def nbytes(self):
        """Bytes held by the sparse arrays (O(V + nnz))."""
        return sum(a.nbytes for a in (self.indptr, self.indices, self.weights, self.ppmi, self._keys))

    def neighbors(self, item):
        """Behaviour positives of ``item``.

        Returns
        -------
        ids : int64 ndarray (k,) ascending; weights : float64 ndarray (k,) in [0.3, 1].
        """
        item = int(item)
        if not 0 <= item <= self.num_items:
            raise IndexError(f"CoOccurrence.neighbors: item {item} outside [0, {self.num_items}]")
        lo, hi = self.indptr[item], self.indptr[item + 1]
        return self.indices[lo:hi], self.weights[lo:hi]

    def weights_between(self, items_a, items_b=None):
        """Dense behaviour weights between two (small) item lists, e.g. a batch's distinct targets.

        Parameters
        ----------
        items_a : int array (n,); items_b : int array (m,), default ``items_a``.

        Returns
        -------
        float64 ndarray (n, m): scaled PPMI of each pair, 0 where the pair is not a positive
        (including an item with itself).
        """
        where = "CoOccurrence.weights_between"
        a = validate.ids(items_a, "items_a", where, 0, self.num_items)
        b = a if items_b is None else validate.ids(items_b, "items_b", where, 0, self.num_items)
        out = np.zeros((a.size, b.size))
        if self.nnz == 0 or out.size == 0:
            return out
        q = a[:, None] * (self.num_items + 1) + b[None, :]                 # (n, m) query keys
        pos = np.minimum(np.searchsorted(self._keys, q), self.nnz - 1)
        hit = self._keys[pos] == q
        out[hit] = self.weights[pos[hit]]
        return out

    def __repr__(self):
        return (f"CoOccurrence(V={self.num_items:,}, window={self.window}, "
                f"{self.nnz:,} positive pairs, {self.nbytes() / 1e6:.1f} MB)")


def _scale(ppmi):
    """Min-max scale positive PPMI values to [W_MIN, W_MAX] (all W_MAX if they are equal)."""
    if ppmi.size == 0:
        return ppmi.astype(np.float64)
    lo, hi = ppmi.min(), ppmi.max()
    if hi - lo <= 1e-12 * max(1.0, hi):
        return np.full(ppmi.shape, W_MAX)
    return W_MIN + (W_MAX - W_MIN) * (ppmi - lo) / (hi - lo)
