"""Seeded weight initialisers. Each takes a shape and a ``np.random.Generator`` and returns float32.

Which layer uses what (and why):

* ``Linear.weight``    -- ``xavier_uniform``: keeps the activation variance roughly constant
  through a layer in both directions (Glorot & Bengio, 2010); SASRec's reference code uses the
  Xavier family for all its projections. ``Linear.bias`` starts at zero.
* ``Embedding.weight`` -- ``normal(std = dim ** -0.5)``: a row then has norm ~1, so after
  SASRec's ``x sqrt(d)`` input scaling each component has variance ~1 (the same scale as a
  LayerNorm output), and initial scores ``h . e_i`` with a LayerNorm-ed state ``h`` are
  O(1) logits -- neither saturated nor vanishing. Row ``padding_idx`` is zeroed.
* ``LayerNorm``        -- weight ones, bias zeros (an identity affine map at start).
"""
import numpy as np


def xavier_uniform(shape, rng, gain=1.0):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : tuple (fan_in, fan_out) -- our Linear weights are stored (in, out).
    rng : np.random.Generator
    gain : float

    Returns
    -------
    ndarray float32 of ``shape``.
    """
    if len(shape) != 2:
        raise ValueError(f"xavier_uniform: expected a 2-D shape (fan_in, fan_out), got {shape}")
    fan_in, fan_out = shape
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(np.float32)


def normal(shape, rng, std=0.02):
    """Gaussian N(0, std^2) entries, float32."""
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    return (rng.standard_normal(size=shape) * std).astype(np.float32)


def zeros(shape):
    """All zeros, float32."""
    return np.zeros(shape, dtype=np.float32)


def ones(shape):
    """All ones, float32."""
    return np.ones(shape, dtype=np.float32)
