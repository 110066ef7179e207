"""Fused ops: forward and a hand-derived backward in ONE graph node.

Fusing saves memory and time (one node instead of five or six) and lets each op
be numerically careful (max-shift before ``exp``, stable log-sigmoid, no NaN on
fully masked attention rows). ``tests/test_autograd_fused.py`` checks each one
against finite differences and against the same formula built from primitives.
The loss ops (``bce_with_logits``, ``cross_entropy``, ``linear_cross_entropy``) live in
``fused_losses.py`` and are re-exported here.

Shapes: x (..., C) with the op acting on ``axis`` (default: last); M rows, C classes;
attention q (..., Tq, h), k and v (..., Tk, h).
"""
import numpy as np

from ..kernels.layer_norm import layer_norm_backward, layer_norm_forward
from ._arrays import _unbroadcast
from .fused_losses import bce_with_logits, cross_entropy, linear_cross_entropy  # noqa: F401
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
