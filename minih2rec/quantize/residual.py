"""Residual quantization with k-means codebooks (RQ-KMeans): content vector -> L code indices.

Shapes: n items, D content width, L levels, K codes per level.

Level 1 runs k-means on the vectors themselves; level l runs k-means on what
the earlier levels could not explain, the residual::

    r^1 = x
    c^l = argmin_k ||r^l - C^l[k]||^2        # nearest codeword, the compiled kernel
    r^{l+1} = r^l - C^l[c^l]

so an item's semantic ID is the tuple ``(c^1, ..., c^L)`` and its
reconstruction is ``sum_l C^l[c^l]``. Coarse levels group similar items, finer
levels tell them apart. Each level can only lower the total squared
reconstruction error (k-means centroids are means of their clusters, so they
fit a cluster at least as well as the zero vector does).

Two items can still end up with the same tuple (a *collision*). With
``dedup=True`` an extra level is appended, as in TIGER (Rajput et al., 2023):
the k-th item (in row order) sharing a tuple gets extra code k, so every tuple
is unique.
"""
import numpy as np

from .. import validate
from ..kernels.codebook import nearest_codeword
from .kmeans import kmeans


class RQKMeans:
    """Residual k-means quantizer.

    Parameters
    ----------
    levels : int -- L, code levels (3-4 in the papers).
    codebook_size : int -- K, codes per level (64-256); must not exceed the number of items.
    max_iter, tol : Lloyd stopping rule of every level's k-means (see :func:`kmeans`).
    seed : int -- seeds the k-means++ initialisation (one Generator for all levels).
    dedup : bool -- append the TIGER-style extra level that makes every tuple unique.

    Attributes
    ----------
    codebooks : ndarray (L, K, D) after :meth:`fit`, else None.
    n_iter_ : list[int] -- Lloyd iterations per level.
    """

    method = "rq-kmeans"

    def __init__(self, levels=3, codebook_size=64, max_iter=50, tol=1e-4, seed=0, dedup=False):
        self.levels = validate.whole(levels, "levels", "RQKMeans")
        self.codebook_size = validate.whole(codebook_size, "codebook_size", "RQKMeans")
        self.max_iter = validate.whole(max_iter, "max_iter", "RQKMeans")
        self.tol = float(validate.at_least(tol, 0, "tol", "RQKMeans"))
        self.seed, self.dedup = seed, bool(dedup)
        self.codebooks = None
        self.n_iter_ = []

    def fit(self, x):
        """Learn the L codebooks from item vectors ``x`` (n, D); returns self."""
        x = self._as_matrix(x, "fit")
        n = x.shape[0]
        if self.codebook_size > n:
            raise ValueError(f"RQKMeans.codebook_size={self.codebook_size} is larger than the number of "
                             f"items to quantize ({n}); use codebook_size <= {n}")
        rng = np.random.default_rng(self.seed)
        r = x.copy()                                          # (n, D) residual
        books, self.n_iter_ = [], []
        for _ in range(self.levels):
            res = kmeans(r, self.codebook_size, rng, max_iter=self.max_iter, tol=self.tol)
            books.append(res.centroids)                       # (K, D)
            r -= res.centroids[res.codes]                     # same codes encode() will find
            self.n_iter_.append(res.n_iter)
        self.codebooks = np.stack(books)                      # (L, K, D)
        return self

    def encode(self, x):
        """Codes of ``x`` (n, D): (n, L) int64 in ``[0, K)``; (n, L+1) with the dedup level."""
        self._fitted("encode")
        x = self._as_matrix(x, "encode")
        if x.shape[1] != self.codebooks.shape[2]:
            raise ValueError(f"RQKMeans.encode: x has D={x.shape[1]} but the codebooks have D={self.codebooks.shape[2]}")
        r = x.astype(self.codebooks.dtype)                    # (n, D) residual, a copy
        codes = np.empty((x.shape[0], self.levels), dtype=np.int64)
        for level, book in enumerate(self.codebooks):
            codes[:, level], _ = nearest_codeword(r, book)
            r -= book[codes[:, level]]
        if self.dedup:
            codes = np.column_stack([codes, dedup_level(codes, self.codebook_size)])
        return codes

    def decode(self, codes):
        """Reconstruction ``sum_l C^l[codes[:, l]]`` (n, D) from codes (n, >= L); a dedup column is ignored."""
        self._fitted("decode")
        codes = validate.codes(codes, self.levels, self.codebook_size, "codes", "RQKMeans.decode")   # (n, L)
        out = np.zeros((codes.shape[0], self.codebooks.shape[2]), dtype=self.codebooks.dtype)   # (n, D)
        for level, book in enumerate(self.codebooks):
            out += book[codes[:, level]]
        return out

    def _fitted(self, where):
        """Raise a ValueError naming ``where`` if :meth:`fit` has not run."""
        if self.codebooks is None:
            raise ValueError(f"RQKMeans.{where}: call fit() first")

    @staticmethod
    def _as_matrix(x, where):
        x = validate.matrix(x, "x", f"RQKMeans.{where}")
        return np.ascontiguousarray(x, dtype=np.float64 if x.dtype == np.float64 else np.float32)

    def __repr__(self):
        state = "fitted" if self.codebooks is not None else "not fitted"
        return (f"RQKMeans(levels={self.levels}, codebook_size={self.codebook_size}, max_iter={self.max_iter}, "
                f"tol={self.tol}, seed={self.seed}, dedup={self.dedup}) [{state}]")


def dedup_level(codes, limit):
    """Extra code per row: how many earlier rows share its tuple (0 for the first), as in TIGER.

    Parameters
    ----------
    codes : ndarray (n, L) int -- the tuples.
    limit : int -- the extra code must stay below this (the codebook size K).

    Returns
    -------
    extra : ndarray (n,) int64; ``np.column_stack([codes, extra])`` has unique rows.

    Raises
    ------
    ValueError if more than ``limit`` rows share one tuple.
    """
    codes = np.asarray(codes)
    if codes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, group = np.unique(codes, axis=0, return_inverse=True)
    group = group.reshape(-1)                                 # (n,) tuple id of each row
    order = np.argsort(group, kind="stable")                  # rows grouped, row order kept inside a group
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    extra = np.empty(len(order), dtype=np.int64)
    extra[order] = np.arange(len(order)) - np.repeat(starts, sizes)
    if extra.max() >= limit:
        raise ValueError(f"dedup: {int(extra.max()) + 1} items share one code tuple but the extra level has only "
                         f"{limit} codes; raise codebook_size or levels")
    return extra
