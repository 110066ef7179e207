"""H2Rec's two alignment losses (DESIGN.md §4): code-guided item alignment and masked granularity.

Glossary: B batch (users), n distinct target items of a batch, d width, L SID levels,
V items (ids 1..V, 0 = padding).

* ``L_code`` -- **code-guided item-level alignment.** For the batch's distinct target items
  (``select_code_items``), the SID embedding ``a_k`` and the HID embedding ``p_k`` of the
  same item are pulled together, with extra positives ``W`` (``code_positive_weights``):
  items sharing the full SID tuple and, optionally, behaviour co-occurrence (PPMI)::

      S    = norm(a) norm(p)^T / tau                                   (n, n)
      L_sh = -mean_k log( sum_j W_kj e^{S_kj} / sum_j e^{S_kj} )
      L_hs = the same on S^T with W^T,   L_code = (L_sh + L_hs) / 2

* ``L_msg`` -- **masked sequence granularity alignment.** The user state with the
  ``lowest_gate_levels`` masked (``U_m``) and the full one (``U_f``) are aligned by a
  soft-target contrastive loss (``masked_granularity_loss``).

Every loss is built from autograd primitives plus ``fused.log_softmax``; they are
gradient-checked in tests/test_losses_alignment.py.
"""
import numpy as np

from .. import validate
from ..autograd import Tensor, fused, ops


# ---------------------------------------------------------------- L_code
def select_code_items(targets, cap=1024, rng=None):
    """The distinct real target items of a batch, at most ``cap`` of them.

    Parameters
    ----------
    targets : int ndarray, any shape (e.g. a batch's ``target`` (B, T)); 0 = no target.
    cap : int >= 1 -- keep at most this many (L_code costs O(n^2)).
    rng : np.random.Generator -- picks a uniform subset when there are more than ``cap``;
        needed only then.

    Returns
    -------
    int64 ndarray (n,) of distinct ids, ascending, n <= cap.
    """
    targets = np.asarray(targets)
    validate.ids(targets.reshape(-1), "targets", "select_code_items", 0, np.inf)
    validate.whole(cap, "cap", "select_code_items", low=1)
    items = np.unique(targets[targets > 0]).astype(np.int64)              # (n,) ascending
    if items.size <= cap:
        return items
    if rng is None:
        raise ValueError(f"select_code_items: {items.size} distinct targets exceed cap={cap}; "
                         f"pass rng to subsample them")
    return np.sort(rng.choice(items, size=cap, replace=False))


def code_positive_weights(items, codes, cooc=None, cap=50, rng=None):
    """Positive weights ``W`` (n, n) for ``code_alignment_loss``.

    * ``W_kj = 1`` when ``items[k] == items[j]`` -- the diagonal, and also copies of a repeated
      item (so a repeated item is a positive, never a negative, by construction;
      ``select_code_items`` already returns distinct ids);
    * ``W_kj = 1`` when different items share the **identical full SID tuple**
      ``codes[items[k]] == codes[items[j]]``, at most ``cap`` such positives per row k. When a
      row has more, it keeps the first ``cap`` in batch order (``rng=None``, deterministic) or
      a uniform random ``cap`` of them (``rng`` given). The cap is per row, so ``W`` may then
      be asymmetric (the h->s direction uses ``W^T``, as in the formula);
    * behaviour positives (``cooc`` given): ``W_kj = max(W_kj, ppmi_weight(k, j))`` with the
      scaled PPMI in [0.3, 1] -- the *max*, not the sum, so every weight stays in [0, 1] and a
      pair that is both a code and a behaviour positive is not counted twice. Not capped.

    Parameters
    ----------
    items : int ndarray (n,) -- item ids (normally distinct, from ``select_code_items``).
    codes : int ndarray (V+1, L) -- the SID tuple of every item (row 0 = padding).
    cooc : CoOccurrence or None -- behaviour positives from training sequences.
    cap : int >= 0 -- maximum same-tuple positives per item (besides itself).
    rng : np.random.Generator or None -- see the cap rule above.

    Returns
    -------
    float64 ndarray (n, n), entries in [0, 1], diagonal 1.
    """
    where = "code_positive_weights"
    codes = validate.matrix(codes, "codes (V+1, L)", where)
    items = validate.ids(items, "items", where, 0, codes.shape[0] - 1)
    validate.whole(cap, "cap", where, low=0)
    n = items.size
    same_item = items[:, None] == items[None, :]                          # (n, n), diagonal True
    _, group = np.unique(codes[items], axis=0, return_inverse=True)       # tuple id per item (n,)
    group = group.reshape(-1)
    same_tuple = (group[:, None] == group[None, :]) & ~same_item          # (n, n)
    over = np.flatnonzero(same_tuple.sum(axis=1) > cap)                   # rows beyond the cap
    if over.size:
        rank = (np.broadcast_to(np.arange(n, dtype=np.float64), (over.size, n)) if rng is None
                else rng.random((over.size, n)))                          # (r, n) order of preference
        order = np.argsort(np.where(same_tuple[over], rank, np.inf), axis=1, kind="stable")
        capped = np.zeros((over.size, n), dtype=bool)
        np.put_along_axis(capped, order[:, :cap], True, axis=1)
        same_tuple[over] = capped & same_tuple[over]
    W = (same_item | same_tuple).astype(np.float64)                       # (n, n)
    if cooc is not None:
        W = np.maximum(W, cooc.weights_between(items, items))
    return W


def _masked_logsumexp(x, keep):
    """``log sum_{j: keep} exp(x_kj)`` per row of Tensor ``x`` (n, n); every row keeps >= 1 entry.

    The shift ``m`` (row max over kept entries) is a constant: ``lse(x) = m + log sum exp(x - m)``
    holds for any m, so it needs no gradient. Dropped entries become -inf before ``exp``.
    """
    m = np.where(keep, x.data, -np.inf).max(axis=1, keepdims=True)        # (n, 1)
    e = (ops.masked_fill(x, ~keep, -np.inf) - m).exp()                    # (n, n), 0 where dropped
    return e.sum(axis=1).log() + m[:, 0]                                   # (n,)


def _multi_positive_nce(S, W):
    """``-mean_k log(sum_j W_kj softmax(S)_kj)`` = ``-mean_k lse_{W>0}(log_softmax(S)_kj + log W_kj)``."""
    keep = W > 0
    log_w = np.log(np.where(keep, W, 1.0)).astype(S.dtype)                # 0 where dropped (unused)
    return -_masked_logsumexp(fused.log_softmax(S, axis=-1) + log_w, keep).mean()


def code_alignment_loss(sid_emb, hid_emb, positive_weights, tau=0.5):
    """Code-guided, multi-positive, symmetric InfoNCE between SID and HID item embeddings.

    ``a = l2_normalize(sid_emb)``, ``p = l2_normalize(hid_emb)``, ``S = a p^T / tau``;
    ``L_sh = -mean_k log( sum_j W_kj e^{S_kj} / sum_j e^{S_kj} )`` computed stably as
    ``-mean_k logsumexp_{j: W_kj > 0}( log_softmax(S)_kj + log W_kj )``;
    ``L_hs`` the same on ``S^T`` with ``W^T``; returns ``(L_sh + L_hs) / 2``.

    Parameters
    ----------
    sid_emb : Tensor (n, d) -- SID embeddings ``e_s(b_k)`` of the distinct target items.
    hid_emb : Tensor (n, d) -- HID embeddings ``E_h[b_k]`` of the same items, same order.
    positive_weights : ndarray (n, n) -- W from ``code_positive_weights``; entries >= 0 and
        every row and every column must hold a positive (the diagonal does).
    tau : float > 0 -- temperature.

    Returns
    -------
    Tensor scalar.
    """
    n, _ = validate.same_shape_2d(sid_emb, hid_emb, "sid_emb and hid_emb", "(n, d)", "code_alignment_loss")
    W = _check_positive_weights(positive_weights, n)
    validate.positive(tau, "tau", "code_alignment_loss")
    a = fused.l2_normalize(sid_emb, axis=-1)                               # (n, d)
    p = fused.l2_normalize(hid_emb, axis=-1)                               # (n, d)
    S = (a @ p.transpose(1, 0)) * (1.0 / tau)                              # (n, n)
    loss_sh = _multi_positive_nce(S, W)
    loss_hs = _multi_positive_nce(S.transpose(1, 0), W.T)
    return (loss_sh + loss_hs) * 0.5


def _check_positive_weights(W, n):
    """W as float64 (n, n): finite, >= 0, a positive in every row and column; n >= 1."""
    if n == 0:
        raise ValueError("code_alignment_loss: no items (n = 0); skip L_code for this batch")
    W = validate.shape_is(np.asarray(W, dtype=np.float64), (n, n), "positive_weights", "code_alignment_loss")
    if not np.all(np.isfinite(W)) or (W < 0).any():
        raise ValueError("code_alignment_loss: positive_weights must be finite and >= 0")
    if not (W > 0).any(axis=1).all() or not (W > 0).any(axis=0).all():
        raise ValueError("code_alignment_loss: every row and column of positive_weights needs a "
                         "positive entry (put 1 on the diagonal)")
    return W


# ---------------------------------------------------------------- L_msg
def lowest_gate_levels(alpha, n_mask=None):
    """Which SID levels to mask for each user: the ``n_mask`` levels with the lowest gate weight.

    Ties: the higher level index is masked first (finer levels are the less trusted ones,
    as the gate's prior ``linspace(1.0, 0.2, L)`` says).

    Parameters
    ----------
    alpha : float ndarray (B, L) -- gate weights per user (a Tensor's ``.data`` is fine).
    n_mask : int in [1, L], default ``max(1, L // 2)``.

    Returns
    -------
    bool ndarray (B, L), True = masked; exactly ``n_mask`` True per row.
    """
    alpha = np.asarray(alpha.data if isinstance(alpha, Tensor) else alpha)
    if alpha.ndim != 2 or np.isnan(alpha).any():
        raise ValueError(f"lowest_gate_levels: alpha must be (B, L) without NaN, got shape {alpha.shape}")
    B, L = alpha.shape
    n_mask = validate.in_range(max(1, L // 2) if n_mask is None else int(n_mask), 1, L, "n_mask",
                               "lowest_gate_levels")
    reversed_order = np.argsort(alpha[:, ::-1], axis=1, kind="stable")     # (B, L); stable on the
    lowest = L - 1 - reversed_order[:, :n_mask]                            # reversed levels -> ties
    mask = np.zeros((B, L), dtype=bool)                                    # pick higher index first
    np.put_along_axis(mask, lowest, True, axis=1)
    return mask


def granularity_targets(U_m, U_f):
    """Soft targets ``softmax((U_m U_m^T + U_f U_f^T) / 2)`` row-wise, as a constant ndarray (B, B).

    Parameters
    ----------
    U_m, U_f : Tensor or ndarray (B, d).
    """
    um = np.asarray(U_m.data if isinstance(U_m, Tensor) else U_m)
    uf = np.asarray(U_f.data if isinstance(U_f, Tensor) else U_f)
    sim = (um @ um.T + uf @ uf.T) / 2                                      # (B, B), symmetric
    e = np.exp(sim - sim.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_granularity_loss(U_m, U_f, tau=1.0, targets=None):
    """Soft-target contrastive loss between masked-view and full-view user states.

    ``logits = U_m U_f^T / tau`` (B, B); targets ``T = softmax((U_m U_m^T + U_f U_f^T) / 2)``
    row-wise (:func:`granularity_targets`); ``L = (CE(logits, T) + CE(logits^T, T)) / 2`` with
    ``CE(X, T) = -mean_b sum_j T_bj log_softmax(X)_bj``. The target similarity matrix is
    symmetric, so the same row-wise ``T`` serves both directions.

    The targets are **constants** (computed from ``.data``, no gradient -- a stop-gradient):
    they say which users are alike; letting the gradient move them would let the loss shrink
    by reshaping the targets toward the predictions instead of aligning the two views.
    (So a finite-difference check must hold them fixed: pass ``targets``.)

    Parameters
    ----------
    U_m : Tensor (B, d) -- user states at the last real position with the lowest-gate levels masked.
    U_f : Tensor (B, d) -- the same users without masking.
    tau : float > 0 -- temperature of the logits (tau' = 1 in the paper).
    targets : ndarray (B, B) or None -- precomputed soft targets; None = from ``U_m``, ``U_f``.

    Returns
    -------
    Tensor scalar. With ``U_m == U_f`` and ``tau = 1`` the logits equal the target logits,
    so the loss is its minimum for those targets: the mean entropy of ``T``.
    """
    where = "masked_granularity_loss"
    B, _ = validate.same_shape_2d(U_m, U_f, "U_m and U_f", "(B, d)", where)
    validate.positive(tau, "tau", where)
    targets = granularity_targets(U_m, U_f) if targets is None else np.asarray(targets)
    validate.shape_is(targets, (B, B), "targets", where)
    targets = targets.astype(U_m.dtype, copy=False)                        # (B, B) constants
    logits = (U_m @ U_f.transpose(1, 0)) * (1.0 / tau)                     # (B, B)
    ce_rows = -(fused.log_softmax(logits, axis=-1) * targets).sum(axis=1).mean()
    ce_cols = -(fused.log_softmax(logits.transpose(1, 0), axis=-1) * targets).sum(axis=1).mean()
    return (ce_rows + ce_cols) * 0.5
