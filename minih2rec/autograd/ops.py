"""Structural ops on Tensors: concatenate, stack, where, masked_fill, embedding.

Each op computes its forward with NumPy and defines its backward beside it, as
in ``tensor.py``. Masks and indices are plain ndarrays (they carry no gradient).
"""
import numpy as np

from ..kernels.scatter_add import scatter_add
from ._arrays import _unbroadcast
from .tensor import Tensor


def _as_tensor(x, like=None):
    """Tensors pass through; scalars / ndarrays become constants (dtype of ``like`` if given)."""
    if isinstance(x, Tensor):
        return x
    return Tensor(x, dtype=None if like is None else like.dtype)


def concatenate(tensors, axis=0):
    """Join tensors along an existing ``axis``.

    Parameters
    ----------
    tensors : sequence of Tensor, equal shapes except along ``axis``.
    axis : int.

    Returns
    -------
    Tensor whose ``axis`` length is the sum of the inputs'.
    """
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    out = np.concatenate([t.data for t in ts], axis=axis)
    ax = axis % out.ndim
    cuts = np.cumsum([t.shape[ax] for t in ts])[:-1]

    def backward(g):
        return tuple(np.split(g, cuts, axis=ax))
    return Tensor.from_op(out, tuple(ts), backward, "concatenate")


def stack(tensors, axis=0):
    """Join same-shape tensors along a new ``axis``.

    Parameters
    ----------
    tensors : sequence of Tensor, all the same shape S.
    axis : int, position of the new axis in the result.

    Returns
    -------
    Tensor of shape S with ``len(tensors)`` inserted at ``axis``.
    """
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    out = np.stack([t.data for t in ts], axis=axis)
    ax = axis % out.ndim

    def backward(g):
        return tuple(np.take(g, i, axis=ax) for i in range(len(ts)))
    return Tensor.from_op(out, tuple(ts), backward, "stack")


def where(cond, a, b):
    """Elementwise ``a if cond else b`` (broadcasting); gradient flows to the chosen side.

    Parameters
    ----------
    cond : bool ndarray, broadcastable with ``a`` and ``b``.
    a, b : Tensor or scalar / ndarray (constants).

    Returns
    -------
    Tensor of the broadcast shape.
    """
    cond = np.asarray(cond, dtype=bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a, b = _as_tensor(a, like), _as_tensor(b, like)

    def backward(g):
        zero = np.zeros((), dtype=g.dtype)
        return (_unbroadcast(np.where(cond, g, zero), a.shape) if a.requires_grad else None,
                _unbroadcast(np.where(cond, zero, g), b.shape) if b.requires_grad else None)
    return Tensor.from_op(np.where(cond, a.data, b.data), (a, b), backward, "where")


def masked_fill(x, mask, value):
    """Replace ``x`` by the constant ``value`` where ``mask`` is True; those entries get no gradient.

    Parameters
    ----------
    x : Tensor.
    mask : bool ndarray broadcastable to ``x.shape`` (it must not enlarge ``x``).
    value : float.

    Returns
    -------
    Tensor shaped like ``x``.
    """
    mask = np.asarray(mask, dtype=bool)
    if np.broadcast_shapes(mask.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to x of shape {x.shape}")
    fill = np.asarray(value, dtype=x.dtype)
    zero = np.zeros((), dtype=x.dtype)
    return Tensor.from_op(np.where(mask, fill, x.data), (x,),
                        lambda g: (np.where(mask, zero, g),), "masked_fill")


def embedding(weight, idx):
    """Look up rows of ``weight``: ``out[...] = weight[idx[...]]``.

    Backward adds each output row's gradient into row ``idx`` of a zero matrix with
    the compiled ``scatter_add`` kernel (repeated indices accumulate).

    Parameters
    ----------
    weight : Tensor (R, C).
    idx : int ndarray, any shape, values in ``[0, R)``.

    Returns
    -------
    Tensor (*idx.shape, C).
    """
    idx = np.asarray(idx)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (R, C), got shape {weight.shape}")
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"embedding: idx must be an integer array, got dtype {idx.dtype}")
    rows, cols = weight.shape
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for {rows} rows")
    flat = idx.reshape(-1).astype(np.int64, copy=False)       # (n,)

    def backward(g):
        gw = np.zeros((rows, cols), dtype=weight.dtype)         # (R, C), C-contiguous
        src = np.ascontiguousarray(g, dtype=gw.dtype).reshape(flat.size, cols)   # (n, C)
        return (scatter_add(gw, flat, src),)
    return Tensor.from_op(weight.data[flat].reshape(idx.shape + (cols,)), (weight,), backward, "embedding")
