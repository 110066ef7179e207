"""Next-item (recommendation) losses on user states.

Glossary: B batch, T length, d width, V items (ids 1..V; row/column 0 of every item table
is padding), M real positions in the batch (``target > 0``).

Both losses first gather the M real positions of ``H`` (B, T, d) -> ``h`` (M, d), so
padding costs nothing in the score computation.

* ``full_softmax_loss`` -- cross-entropy over all V items:
  ``loss = mean_m [ logsumexp_{i=1..V} h_m . E_i  -  h_m . E_{y_m} ]``.
  Column 0 (padding) is left out of the softmax by scoring against ``E[1:]`` only, so the
  padding row never competes with real items and gets no gradient.
* ``bce_loss`` -- SASRec's loss: one sampled negative n_m per position,
  ``loss = mean_m softplus(-h_m . E_{y_m}) + mean_m softplus(h_m . E_{n_m})``
  (a positive term plus a negative term, each averaged over the M real positions, as in
  SASRec's reference code).
"""
import numpy as np

from ..autograd import fused, ops


def gather_real(H, target):
    """Rows of ``H`` at real positions.

    Parameters
    ----------
    H : Tensor (B, T, d)
    target : int ndarray (B, T), 0 = no target.

    Returns
    -------
    h : Tensor (M, d), in row-major (b, t) order.
    flat : int64 ndarray (M,) -- the flat indices ``b * T + t`` of the real positions.
    """
    target = np.asarray(target)
    if H.ndim != 3 or target.shape != tuple(H.shape[:2]):
        raise ValueError(f"rec loss: H must be (B, T, d) and target (B, T); got H {H.shape}, "
                         f"target {target.shape}")
    B, T, d = H.shape
    flat = np.flatnonzero(target.reshape(-1) > 0)               # (M,)
    if flat.size == 0:
        raise ValueError("rec loss: the batch has no real position (every target is 0)")
    if flat.size == B * T:                                      # no padding: no gather, no scatter back
        return H.reshape(B * T, d), flat                        # (M, d)
    return H.reshape(B * T, d)[flat], flat                      # (M, d)


def _check_ids(name, ids, num_rows):
    if ids.size and (ids.min() < 1 or ids.max() >= num_rows):
        bad = ids.min() if ids.min() < 1 else ids.max()
        raise IndexError(f"rec loss: {name} id {bad} outside [1, {num_rows - 1}] at a real position")


def full_softmax_loss(H, item_table, target):
    """Cross-entropy of the next item over the whole catalogue, mean over real positions.

    Parameters
    ----------
    H : Tensor (B, T, d) -- user states.
    item_table : Tensor (V+1, d) -- row i scores item i; row 0 (padding) is excluded.
    target : int ndarray (B, T) -- next item at each position, 0 = none.

    Returns
    -------
    Tensor scalar.
    """
    h, flat = gather_real(H, target)                            # (M, d)
    y = np.asarray(target).reshape(-1)[flat]                    # (M,) in 1..V
    _check_ids("target", y, item_table.shape[0])
    # logits h @ E[1:]^T (M, V), column c = item c + 1: one pass, chunk by chunk, gradients included
    return fused.linear_cross_entropy(h, item_table[1:], y - 1)


def bce_loss(H, item_table, target, neg):
    """Binary cross-entropy with one sampled negative per real position (SASRec's loss).

    Parameters
    ----------
    H : Tensor (B, T, d)
    item_table : Tensor (V+1, d)
    target : int ndarray (B, T), 0 = none.
    neg : int ndarray (B, T) -- a negative item for each position (read at real positions only).

    Returns
    -------
    Tensor scalar: mean positive term + mean negative term.
    """
    neg = np.asarray(neg)
    if neg.shape != np.shape(target):
        raise ValueError(f"bce_loss: neg shape {neg.shape} differs from target shape {np.shape(target)}")
    h, flat = gather_real(H, target)                            # (M, d)
    y = np.asarray(target).reshape(-1)[flat]                    # (M,)
    n = neg.reshape(-1)[flat]                                   # (M,)
    _check_ids("target", y, item_table.shape[0])
    _check_ids("negative", n, item_table.shape[0])
    pos_logit = (h * ops.embedding(item_table, y)).sum(axis=-1)  # (M,)
    neg_logit = (h * ops.embedding(item_table, n)).sum(axis=-1)  # (M,)
    ones, zeros = np.ones(y.shape), np.zeros(n.shape)
    return fused.bce_with_logits(pos_logit, ones) + fused.bce_with_logits(neg_logit, zeros)
