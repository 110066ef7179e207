"""Item text -> dense content vectors: TF-IDF, then randomized truncated SVD (LSA), from scratch.

Shapes: n documents (items), m vocabulary terms, k output dimensions.

1. **Tokenise** (:func:`tokenize`): lowercase, split on every character that is
   not a letter or digit (Unicode-aware), drop 1-character tokens.
2. **TF-IDF** (:func:`tfidf`): ``tf`` = raw count of a term in a document,
   ``idf(t) = ln((1 + n) / (1 + df(t))) + 1`` ("smooth" idf: as if one extra
   document held every term, so no division by zero), weight ``tf * idf``,
   each row scaled to unit L2 norm. Stored as a :class:`CSR` sparse matrix.
3. **Randomized SVD** (:func:`randomized_svd`, Halko, Martinsson & Tropp, 2011):
   multiply A by a Gaussian test matrix to sample its range, sharpen with a few
   power iterations (re-orthonormalised by QR each time so small singular
   directions are not lost to rounding), project A onto that small basis and
   take the dense SVD of the small (k+p, m) matrix. Only products with A are
   needed, never a dense copy of it.
4. Item vectors are the document coordinates ``U * s`` (= A V), L2-normalised.
"""
import re
import warnings
from dataclasses import dataclass

import numpy as np

_TOKEN = re.compile(r"[^\W_]+")          # runs of letters/digits (\w minus underscore)


def tokenize(text):
    """Lowercase ``text`` and split on non-alphanumerics; drop tokens of one character.

    >>> tokenize("Toy Story (1995): Animation|Children's")
    ['toy', 'story', '1995', 'animation', 'children']
    """
    return [t for t in _TOKEN.findall(text.lower()) if len(t) > 1]


@dataclass
class CSR:
    """Compressed sparse rows: row i holds ``data[indptr[i]:indptr[i+1]]`` at columns ``indices[...]``."""

    indptr: np.ndarray    # (n+1,) int64
    indices: np.ndarray   # (nnz,) int64 column of each stored value
    data: np.ndarray      # (nnz,) float64
    shape: tuple          # (n, m)

    def toarray(self):
        """Dense (n, m) copy (for small matrices and tests)."""
        out = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out

    @property
    def T(self):
        """The transpose, as a new CSR (a stable sort of the entries by column)."""
        order = np.argsort(self.indices, kind="stable")
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        indptr = np.zeros(self.shape[1] + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=self.shape[1]), out=indptr[1:])
        return CSR(indptr, rows[order].astype(np.int64), self.data[order], (self.shape[1], self.shape[0]))

    def __matmul__(self, B):
        """``A @ B`` for a dense B (m, r): row i of the result is ``sum_j data_j * B[indices_j]``."""
        B = np.asarray(B)
        if B.ndim != 2 or B.shape[0] != self.shape[1]:
            raise ValueError(f"CSR @ B: B has shape {B.shape}, expected ({self.shape[1]}, r)")
        out = np.zeros((self.shape[0], B.shape[1]), dtype=np.result_type(self.data, B))
        nonempty = np.flatnonzero(np.diff(self.indptr) > 0)      # reduceat needs non-empty segments
        starts = self.indptr[nonempty]                            # (rows,) first entry of each row
        budget = max(1, (1 << 22) // max(1, B.shape[1]))          # ~4M products per chunk bounds memory
        s = 0
        while s < len(nonempty):
            e = max(s + 1, int(np.searchsorted(starts, starts[s] + budget, side="right")))
            rows = nonempty[s:e]
            lo, hi = starts[s], self.indptr[rows[-1] + 1]
            prod = self.data[lo:hi, None] * B[self.indices[lo:hi]]       # (chunk nnz, r)
            out[rows] = np.add.reduceat(prod, starts[s:e] - lo, axis=0)  # one sum per row
            s = e
        return out


def tfidf(texts, min_df=1):
    """TF-IDF matrix of ``texts`` with smooth idf and unit-L2 rows.

    Parameters
    ----------
    texts : sequence of str (None counts as empty).
    min_df : int -- keep only terms that occur in at least this many documents.

    Returns
    -------
    X : CSR (n, m) float64; an empty document is an all-zero row.
    vocab : list[str] (m,) -- the term of each column, sorted alphabetically.
    """
    docs = [tokenize(t or "") for t in texts]
    vocab_all = sorted({w for d in docs for w in d})
    col = {w: j for j, w in enumerate(vocab_all)}
    # (document, term) pairs with counts
    doc_ids = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    term_ids = np.fromiter((col[w] for d in docs for w in d), dtype=np.int64, count=len(doc_ids))
    pair, tf = np.unique(doc_ids * max(1, len(vocab_all)) + term_ids, return_counts=True)
    rows, cols = np.divmod(pair, max(1, len(vocab_all)))
    df = np.bincount(cols, minlength=len(vocab_all))                   # documents per term
    keep = df >= min_df
    new_col = np.cumsum(keep) - 1                                      # renumber the kept terms
    sel = keep[cols]
    rows, cols, tf = rows[sel], new_col[cols[sel]], tf[sel]
    n = len(docs)
    idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0                   # (m,) smooth idf
    data = tf * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=data ** 2, minlength=n))
    data = data / norms[rows]                                          # unit rows
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    vocab = [w for w, k in zip(vocab_all, keep) if k]
    return CSR(indptr, cols.astype(np.int64), data, (n, len(vocab))), vocab


def _qr(Y):
    """Orthonormal basis of the columns of Y (the Q of a thin QR)."""
    return np.linalg.qr(Y)[0]


def randomized_svd(A, k, rng, oversample=10, power_iters=4):
    """Top-``k`` singular triplets of A (CSR or dense (n, m)) by a randomized range finder.

    Parameters
    ----------
    A : CSR or ndarray (n, m).
    k : int -- number of singular values wanted, ``1 <= k <= min(n, m)``.
    rng : np.random.Generator -- draws the Gaussian test matrix.
    oversample : int -- p extra random directions (accuracy of the top k improves with p).
    power_iters : int -- q passes of (A A^T); each sharpens the gap between kept and dropped values.

    Returns
    -------
    U : (n, k), s : (k,) descending, Vt : (k, m) with ``A ~= U diag(s) Vt``.
    """
    n, m = A.shape
    if not 1 <= k <= min(n, m):
        raise ValueError(f"randomized_svd: k={k} must be between 1 and min(n, m)={min(n, m)}")
    At = A.T                                                 # CSR transpose (or a dense view)
    r = min(k + oversample, min(n, m))
    Q = _qr(A @ rng.standard_normal((m, r)))                 # (n, r) basis of the sampled range
    for _ in range(power_iters):
        Q = _qr(A @ _qr(At @ Q))                             # (n, r), re-orthonormalised each half-step
    Bt = At @ Q                                              # (m, r) = (Q^T A)^T
    Ub, s, Vt = np.linalg.svd(Bt.T, full_matrices=False)     # small dense SVD of (r, m)
    return (Q @ Ub)[:, :k], s[:k], Vt[:k]


def content_vectors_from_text(texts, dim=64, seed=0, min_df=1, power_iters=4):
    """LSA content vectors: TF-IDF -> randomized truncated SVD -> unit rows.

    Parameters
    ----------
    texts : sequence of str, one per item.
    dim : int -- output width D. If the text has fewer than ``dim`` independent directions
        (few documents or terms), the missing columns are zero (with a warning).
    seed : int -- seeds the random test matrix of the SVD.
    min_df : int -- drop terms seen in fewer documents.

    Returns
    -------
    ndarray (n, dim) float32; rows have unit L2 norm, except items with no usable token,
    which get a zero vector (a warning counts them).
    """
    X, vocab = tfidf(texts, min_df=min_df)
    n = X.shape[0]
    empty = np.flatnonzero(np.diff(X.indptr) == 0)
    if empty.size:
        warnings.warn(f"content_vectors_from_text: {empty.size} of {n} items have no usable text "
                      f"(e.g. item rows {empty[:5].tolist()}); they get a zero content vector", RuntimeWarning,
                      stacklevel=2)
    out = np.zeros((n, dim), dtype=np.float32)
    k = min(dim, n, len(vocab))
    if k == 0:
        return out
    if k < dim:
        warnings.warn(f"content_vectors_from_text: only {k} SVD components are possible ({n} documents, "
                      f"{len(vocab)} terms); columns {k}..{dim - 1} are zero", RuntimeWarning, stacklevel=2)
    U, s, _ = randomized_svd(X, k, np.random.default_rng(seed), power_iters=power_iters)
    Z = U * s                                                # (n, k) document coordinates
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    out[:, :k] = np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0)
    out[empty] = 0                                           # exact zeros: rounding in U is not a direction
    return out
