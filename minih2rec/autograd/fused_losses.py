"""Fused loss ops: binary and softmax cross-entropy, and the full-softmax loss of a linear layer.

Each is one graph node with a hand-derived backward (re-exported by ``fused.py``);
``tests/test_autograd_fused.py`` checks each against finite differences and against
the same formula built from primitives.

Shapes: M rows, C classes, d width.
"""
import numpy as np

from ..kernels.softmax_xent import softmax_xent
from . import grad_mode
from .tensor import Tensor


def _const(x, dtype):
    """Targets / masks given as ndarrays (never differentiated)."""
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype)


def _mask_weights(mask, shape, dtype, name):
    """Per-entry weights 1/count on kept entries (all entries if mask is None), and the count."""
    if mask is None:
        count = int(np.prod(shape))
        return np.full(shape, 1.0 / max(count, 1), dtype=dtype), count
    mask = np.asarray(mask, dtype=bool)
    if np.broadcast_shapes(mask.shape, shape) != tuple(shape):
        raise ValueError(f"{name}: mask of shape {mask.shape} does not broadcast to {tuple(shape)}")
    mask = np.broadcast_to(mask, shape)
    count = int(mask.sum())
    return mask * np.asarray(1.0 / max(count, 1), dtype=dtype), count


def bce_with_logits(logits, targets, mask=None):
    """Binary cross-entropy on logits, mean over the kept entries (0.0 if none is kept).

    ``loss = max(x, 0) - x * t + log1p(exp(-|x|))`` (stable for any x); ``dx = (sigmoid(x) - t) / count``.

    Parameters
    ----------
    logits : Tensor, any shape.
    targets : ndarray in [0, 1] broadcastable to ``logits``.
    mask : bool ndarray broadcastable to ``logits`` (True = counted), or None.
    """
    x = logits.data
    t = _const(targets, x.dtype)
    w, _ = _mask_weights(mask, x.shape, x.dtype, "bce_with_logits")
    elem = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    loss = np.asarray((elem * w).sum(), dtype=x.dtype)

    def backward(g):
        return (g * w * (0.5 * (np.tanh(0.5 * x) + 1) - t),)
    return Tensor.from_op(loss, (logits,), backward, "bce_with_logits")


def cross_entropy(logits, targets, mask=None):
    """Softmax cross-entropy ``-log softmax(logits)[target]``, mean over kept rows (0.0 if none).

    Rows where ``mask`` is False may hold any target value (e.g. 0 for padding).
    Backward: ``dlogits = (softmax - onehot(target)) / count`` on kept rows.

    Parameters
    ----------
    logits : Tensor (M, C) -- or (..., C) in general.
    targets : int ndarray (M,) -- or (...), values in ``[0, C)`` on kept rows.
    mask : bool ndarray (M,) (True = counted), or None.
    """
    x = logits.data
    c = x.shape[-1]
    t = np.asarray(targets)
    if t.shape != x.shape[:-1] or (t.size and not np.issubdtype(t.dtype, np.integer)):
        raise ValueError(f"cross_entropy: targets must be integers of shape {x.shape[:-1]}, "
                         f"got {t.dtype} {t.shape}")
    w, _ = _mask_weights(mask, t.shape, x.dtype, "cross_entropy")   # (M,)
    kept = w > 0 if mask is not None else np.ones(t.shape, dtype=bool)
    if t.size and kept.any() and (t[kept].min() < 0 or t[kept].max() >= c):
        bad = t[kept][(t[kept] < 0) | (t[kept] >= c)][0]
        raise IndexError(f"cross_entropy: target {bad} is out of range for {c} classes")
    t = np.where(kept, t, 0).reshape(-1)                                  # (M,)
    rows, wf = np.arange(t.size), w.reshape(-1)
    e = x.reshape(-1, c) - x.reshape(-1, c).max(axis=-1, keepdims=True)  # (M, C) shifted logits
    picked = e[rows, t]                                                   # (M,)
    np.exp(e, out=e)                                                      # e is ours: reuse it
    total = e.sum(axis=-1)                                                # (M,) >= 1
    loss = np.asarray(-((picked - np.log(total)) * wf).sum(), dtype=x.dtype)

    def backward(g):
        gw = g * wf                                                       # (M,)
        d = e * (gw / total)[:, None]                                     # softmax * weight
        d[rows, t] -= gw
        return (d.reshape(x.shape),)
    return Tensor.from_op(loss, (logits,), backward, "cross_entropy")


def linear_cross_entropy(h, table, targets, chunk=256):
    """``cross_entropy(h @ table.T, targets)`` (mean over rows) in one pass over the logits.

    The full-softmax next-item loss scores M positions against C items; the logits
    matrix is M x C floats (hundreds of MB for a batch of long sequences). This node
    walks over ``chunk`` rows at a time, and since the loss is a scalar it computes the
    gradients in the same pass, while the chunk's logits are still in cache::

        z = h_c W^T                      (m, C) -- the only (rows x C) buffer, reused in place
        loss += sum(logsumexp(z) - z[t])   } the softmax_xent kernel, one row
        P = softmax(z) - onehot(t)         } at a time (P in place, scaled by 1/M)
        dh_c = P W,  dW += P^T h_c

    Backward then only scales ``dh`` and ``dW`` by the incoming (scalar) gradient. Three
    GEMMs and one ``exp`` per logit in all -- no recomputation, no (M, C) matrix. When no
    gradient is wanted (``no_grad``, or neither input requires one) only the loss is
    computed. The composed oracle is ``cross_entropy(h @ table.T, targets)``.

    Parameters
    ----------
    h : Tensor (M, d)
    table : Tensor (C, d)
    targets : int ndarray (M,), values in ``[0, C)``.
    chunk : int -- rows per pass; ~256 keeps a chunk of a few thousand classes in L2.
    """
    H, W = h.data, table.data
    t = np.asarray(targets)
    if H.ndim != 2 or W.ndim != 2 or H.shape[1] != W.shape[1] or t.shape != (H.shape[0],):
        raise ValueError(f"linear_cross_entropy: need h (M, d), table (C, d), targets (M,); got "
                         f"{H.shape}, {W.shape}, {t.shape}")
    M, C = H.shape[0], W.shape[0]
    if M and (t.min() < 0 or t.max() >= C):
        raise IndexError(f"linear_cross_entropy: target {t.min() if t.min() < 0 else t.max()} "
                         f"is out of range for {C} classes")
    want = grad_mode._enabled and (h.requires_grad or table.requires_grad)
    gh = np.empty_like(H) if want and h.requires_grad else None          # (M, d)
    gw = np.zeros_like(W) if want and table.requires_grad else None      # (C, d)
    inv_m = H.dtype.type(1.0 / max(M, 1))
    WT = W.T                                                              # (d, C) view
    total = 0.0
    for s in range(0, M, chunk):
        hc, tc = H[s:s + chunk], t[s:s + chunk]                           # (m, d), (m,)
        z = hc @ WT                                                       # (m, C) logits
        total += float(softmax_xent(z, tc, inv_m, grad=want).sum())       # z <- (softmax - onehot) / M
        if not want:
            continue
        if gh is not None:
            np.matmul(z, W, out=gh[s:s + chunk])                          # (m, d)
        if gw is not None:
            gw += z.T @ hc                                                # (C, d)
    loss = np.asarray(total / M if M else 0.0, dtype=H.dtype)

    def backward(g):
        if g == 1:                                                        # the usual case: no copy
            return gh, gw
        return (None if gh is None else gh * g), (None if gw is None else gw * g)
    return Tensor.from_op(loss, (h, table), backward, "linear_cross_entropy")
