"""k-means with k-means++ seeding and Lloyd iterations (one level of RQ-KMeans).

Shapes: n points, D features, K clusters.

Lloyd's algorithm alternates

* **assign**: ``codes[n] = argmin_k ||x_n - c_k||^2`` -- the compiled
  :func:`~minih2rec.kernels.codebook.nearest_codeword` kernel;
* **update**: ``c_k = mean{x_n : codes[n] = k}`` (sums with the compiled
  :func:`~minih2rec.kernels.scatter_add.scatter_add`, in float64);

until the centroids move less than ``tol`` (relative to the data's variance)
or ``max_iter`` is reached. Every update can only lower the inertia
``sum_n ||x_n - c_{codes[n]}||^2``: the mean is the point that minimises the
squared distance to a set, and the nearest centroid is the best assignment.

A cluster that ends up with no points is re-seeded at the point that is
currently worst served (largest squared distance to its centroid): that is the
move that lowers the inertia the most, and it keeps all K codes in use.
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.codebook import nearest_codeword
from ..kernels.scatter_add import scatter_add


@dataclass
class KMeansResult:
    """Output of :func:`kmeans`."""

    centroids: np.ndarray   # (K, D), dtype of x
    codes: np.ndarray       # (n,) int64: nearest centroid of each point (w.r.t. the final centroids)
    sqdist: np.ndarray      # (n,) squared distance of each point to its centroid
    inertia: float          # sum of sqdist
    n_iter: int             # Lloyd iterations run
    converged: bool         # True if the centroid shift fell below tol before max_iter


def kmeans_plus_plus(x, k, rng):
    """Pick ``k`` initial centroids by k-means++ (Arthur & Vassilvitskii, 2007).

    The first centroid is a uniformly random point; each next one is a point
    drawn with probability proportional to its squared distance to the nearest
    centroid chosen so far (so far-away regions get seeded). When every point
    already coincides with a centroid (fewer distinct points than ``k``), the
    next one is drawn uniformly among the points not chosen yet.

    Parameters
    ----------
    x : ndarray (n, D) float.
    k : int, ``1 <= k <= n``.
    rng : np.random.Generator.

    Returns
    -------
    centroids : ndarray (k, D), rows copied from ``x``.
    """
    n = x.shape[0]
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rng.integers(n)
    d2 = _sqdist_to(x, x[chosen[0]])                          # (n,) distance to the nearest chosen centroid
    for j in range(1, k):
        total = d2.sum()
        if total > 0 and np.isfinite(total):
            chosen[j] = rng.choice(n, p=d2 / total)
        else:
            free = np.setdiff1d(np.arange(n), chosen[:j])
            chosen[j] = rng.choice(free)
        np.minimum(d2, _sqdist_to(x, x[chosen[j]]), out=d2)
    return x[chosen].copy()


def _sqdist_to(x, c):
    """(n,) float64 squared distances from the rows of x to one point c."""
    diff = x - c                                              # (n, D)
    return np.einsum("nd,nd->n", diff, diff, dtype=np.float64)


def kmeans(x, k, rng, max_iter=50, tol=1e-4, init=None):
    """Cluster the rows of ``x`` into ``k`` groups with Lloyd's algorithm.

    Parameters
    ----------
    x : ndarray (n, D) float32 or float64, finite.
    k : int, ``1 <= k <= n``.
    rng : np.random.Generator -- drives the k-means++ seeding (pass a seeded one).
    max_iter : int -- at most this many assign/update rounds.
    tol : float -- stop when ``sum_k ||c_k^new - c_k^old||^2 <= tol * sum_d var(x[:, d])``,
        i.e. the centroids moved less than ``tol`` times the data's total variance.
    init : ndarray (k, D) or None -- starting centroids; None = k-means++.

    Returns
    -------
    KMeansResult -- centroids (k, D) in the dtype of ``x``, final codes and distances.

    Raises
    ------
    ValueError if ``x`` is not 2-D float or ``k`` is not in ``[1, n]``.
    """
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"kmeans: x must be a 2-D float array, got shape {x.shape} dtype {x.dtype}")
    n, D = x.shape
    if not 1 <= k <= n:
        raise ValueError(f"kmeans: k={k} must be between 1 and the number of points n={n}")
    x = np.ascontiguousarray(x, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    x64 = x.astype(np.float64)                                # for exact-enough centroid sums
    C = kmeans_plus_plus(x, k, rng) if init is None else np.array(init, dtype=x.dtype)
    if C.shape != (k, D):
        raise ValueError(f"kmeans: init has shape {C.shape}, expected {(k, D)}")
    threshold = tol * float(x64.var(axis=0).sum())
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        codes, sqdist = nearest_codeword(x, C)                # assign
        C_new = _update(x64, codes, sqdist, k).astype(x.dtype)  # update (+ re-seed empty clusters)
        shift = float(((C_new.astype(np.float64) - C) ** 2).sum())
        C = C_new
        if shift <= threshold:
            converged = True
            break
    codes, sqdist = nearest_codeword(x, C)                    # codes that match the returned centroids
    return KMeansResult(C, codes, sqdist, float(sqdist.sum(dtype=np.float64)), it, converged)


def _update(x64, codes, sqdist, k):
    """Return (k, D) float64 cluster means; empty clusters move to the worst-served points."""
    sums = np.zeros((k, x64.shape[1]), dtype=np.float64)      # (K, D)
    scatter_add(sums, codes, x64)
    counts = np.bincount(codes, minlength=k)                  # (K,)
    C = sums / np.maximum(counts, 1)[:, None]
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        farthest = np.argsort(-sqdist, kind="stable")[:empty.size]   # worst-served points first
        C[empty] = x64[farthest]
    return C
