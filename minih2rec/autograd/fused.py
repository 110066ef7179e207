"""Fused ops: forward and a hand-derived backward in ONE graph node.

Fusing saves memory and time (one node instead of five or six) and lets each op
be numerically careful (max-shift before ``exp``, stable log-sigmoid, no NaN on
fully masked attention rows). ``tests/test_autograd_fused.py`` checks each one
against finite differences and against the same formula built from primitives.
The second half holds the loss ops (``bce_with_logits``, ``cross_entropy``,
``linear_cross_entropy``: the full-softmax loss of a linear layer).

Shapes: x (..., C) with the op acting on ``axis`` (default: last); M rows, C classes;
attention q (..., Tq, h), k and v (..., Tk, h).
"""
import numpy as np

from ..kernels.layer_norm import layer_norm_backward, layer_norm_forward
from ..kernels.softmax_xent import softmax_xent
from . import grad_mode
from ._arrays import _unbroadcast
from .tensor import Tensor


def softmax(x, axis=-1):
    """``y = exp(x - max x) / sum exp(x - max x)`` along ``axis``.

    Backward: ``dx = y * (g - sum(g * y))`` (the Jacobian-vector product without the Jacobian).
    """
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)

    def backward(g):
        return (y * (g - (g * y).sum(axis=axis, keepdims=True)),)
    return Tensor.from_op(y, (x,), backward, "softmax")


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, with the max shifted out (finite for logits of +-1e4).

    Backward: ``dx = g - softmax(x) * sum(g)``.
    """
    z = x.data - x.data.max(axis=axis, keepdims=True)
    out = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
    return Tensor.from_op(out, (x,), backward, "log_softmax")


def layer_norm(x, weight, bias, eps=1e-5):
    """Normalise the last axis to zero mean / unit variance, then scale and shift.

    ``xhat = (x - mean) / sqrt(var + eps)`` (population variance), ``y = xhat * weight + bias``.
    Backward (per row, gh = g * weight):
    ``dx = (gh - mean(gh) - xhat * mean(gh * xhat)) / sqrt(var + eps)``,
    ``dweight = sum(g * xhat)``, ``dbias = sum(g)`` over all leading axes.
    Both run as the row kernels of ``kernels/layer_norm.py`` on x as (N, C).

    Parameters
    ----------
    x : Tensor (..., C).
    weight, bias : Tensor (C,) or None (None = no scale / no shift).
    eps : float added to the variance.
    """
    C = x.shape[-1]
    w = np.ones(C, dtype=x.dtype) if weight is None else weight.data
    b = np.zeros(C, dtype=x.dtype) if bias is None else bias.data
    y, xhat, rstd = layer_norm_forward(x.data.reshape(-1, C), w, b, eps)   # (N, C), (N, C), (N,)
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def backward(g):
        dx, dw, db = layer_norm_backward(g.reshape(-1, C), xhat, rstd, w)  # (N, C), (C,), (C,)
        grads = [dx.reshape(x.shape) if x.requires_grad else None]
        if weight is not None:
            grads.append(dw if weight.requires_grad else None)
        if bias is not None:
            grads.append(db if bias.requires_grad else None)
        return grads
    return Tensor.from_op(y.reshape(x.shape), parents, backward, "layer_norm")


def dropout(x, p, rng, training=True):
    """Inverted dropout: zero each entry with probability ``p``, scale survivors by ``1/(1-p)``.

    Returns ``x`` itself when ``training`` is False or ``p == 0``. Backward: ``g * mask * scale``.
    The mask is kept as a bool array (a quarter of a float32 mask's memory).

    Parameters
    ----------
    x : Tensor.
    p : float in [0, 1).
    rng : np.random.Generator (the only source of randomness; same seed, same mask).
    training : bool.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = rng.random(x.shape, dtype=np.float32) >= p   # bool mask: 1 byte per entry, not 4
    scale = x.dtype.type(1.0 / (1.0 - p))

    def backward(g):
        out = np.multiply(g, keep, dtype=g.dtype)
        out *= scale
        return (out,)
    out = np.multiply(x.data, keep, dtype=x.dtype)
    out *= scale                                         # (x * 1) * s == x * s: same bits as x * (1 * s)
    return Tensor.from_op(out, (x,), backward, "dropout")


def l2_normalize(x, axis=-1, eps=1e-12):
    """``y = x / max(||x||, eps)`` along ``axis``.

    Backward: ``dx = (g - y * sum(g * y)) / ||x||`` where ``||x|| > eps``, else ``g / eps``.
    """
    norm = np.sqrt((x.data * x.data).sum(axis=axis, keepdims=True))
    denom = np.maximum(norm, eps)
    y = x.data / denom

    def backward(g):
        proj = (g * y).sum(axis=axis, keepdims=True) * (norm > eps)
        return ((g - y * proj) / denom,)
    return Tensor.from_op(y, (x,), backward, "l2_normalize")


def scaled_dot_product_attention(q, k, v, mask=None, dropout_p=0.0, rng=None):
    """``softmax(q k^T / sqrt(h), masked) v`` as one node.

    Entries where ``mask`` is False get probability exactly 0; a row with no allowed
    key gets all-zero probabilities (so a zero output and zero gradient, never NaN).

    Parameters
    ----------
    q : Tensor (..., Tq, h); k, v : Tensor (..., Tk, h). Batch dims broadcast.
    mask : bool ndarray broadcastable to (..., Tq, Tk), True = may attend; or None.
    dropout_p : float, dropout on the probabilities (needs ``rng``); 0 = off.
    rng : np.random.Generator, used only when ``dropout_p > 0``.

    Returns
    -------
    out : Tensor (..., Tq, h).
    probs : ndarray (..., Tq, Tk), the attention weights before dropout (for inspection).

    Memory: the node keeps ``probs`` (float32) and the dropout mask as bools; the dropped
    probabilities are rebuilt in backward rather than stored. Scores are masked and
    exponentiated in place, so forward holds one (..., Tq, Tk) float array, not four.
    """
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    probs = np.matmul(q.data, np.swapaxes(k.data, -1, -2))              # (..., Tq, Tk) scores
    probs *= scale
    if mask is not None:                                                # in place, no second copy
        np.copyto(probs, -np.inf, where=~np.asarray(mask, dtype=bool))
    m = probs.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0                                              # fully masked rows
    probs -= m
    np.exp(probs, out=probs)
    denom = probs.sum(axis=-1, keepdims=True)
    denom[denom == 0] = 1
    probs /= denom
    keep, p_scale = None, None
    if dropout_p > 0:
        if rng is None:
            raise ValueError("scaled_dot_product_attention: dropout_p > 0 needs an rng")
        keep = rng.random(probs.shape, dtype=np.float32) >= dropout_p  # bool, 1 byte per entry
        p_scale = probs.dtype.type(1.0 / (1.0 - dropout_p))

    def dropped():
        """``probs * keep / (1 - p)``, rebuilt when needed instead of kept alive in the graph."""
        if keep is None:
            return probs
        pd = np.multiply(probs, keep, dtype=probs.dtype)
        pd *= p_scale
        return pd

    def backward(g):
        gq = gk = gv = None
        if v.requires_grad:
            gv = _unbroadcast(np.matmul(np.swapaxes(dropped(), -1, -2), g), v.shape)
        if q.requires_grad or k.requires_grad:
            gs = np.matmul(g, np.swapaxes(v.data, -1, -2))              # (..., Tq, Tk) d/d probs_dropped
            if keep is not None:
                gs *= keep
                gs *= p_scale
            gs -= (gs * probs).sum(axis=-1, keepdims=True)              # softmax backward, in place
            gs *= probs
            gs *= scale
            if q.requires_grad:
                gq = _unbroadcast(np.matmul(gs, k.data), q.shape)
            if k.requires_grad:
                gk = _unbroadcast(np.matmul(np.swapaxes(gs, -1, -2), q.data), k.shape)
        return gq, gk, gv
    out = np.matmul(dropped(), v.data)                                  # (..., Tq, h)
    return Tensor.from_op(out, (q, k, v), backward, "attention"), probs


# ---- loss ops ------------------------------------------------------------------------------

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
