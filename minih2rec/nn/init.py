"""Seeded weight initialisers. Each takes a shape and a ``np.random.Generator`` and returns float32.

Which layer uses what (and why):

* ``Linear.weight`` and ``Linear.bias`` -- ``fan_in_uniform``, U(-a, a) with
  ``a = 1 / sqrt(fan_in)``: PyTorch's default for ``nn.Linear``, which SASRec's PyTorch code
  keeps. Its variance ``1 / (3 fan_in)`` is a third of Xavier's at d = 64, so attention
  and FFN branches start small next to the residual stream; on ML-100K SASRec learned
  faster per epoch with it than with ``xavier_uniform`` (README, "What was tried").
* ``Embedding.weight`` -- ``xavier_normal``, std ``sqrt(2 / (num + dim))``, as SASRec's
  common PyTorch code does. Its scale follows the table's size: an item table of 1,350 x 64
  starts at std 0.037, the position table (50 x 64) at 0.13, so after the ``x sqrt(d)``
  input scaling positions and items are of similar size and the model can learn order
  from the first epoch; initial scores ``h . e_i`` are small, so the first steps are a
  near-uniform softmax. On ML-100K this learns about twice as fast per epoch as
  ``std = dim ** -0.5`` for every table (README, "What was tried"). Row ``padding_idx``
  is zeroed.
* ``LayerNorm``        -- weight ones, bias zeros (an identity affine map at start).
"""
import numpy as np


def fan_in_uniform(shape, fan_in, rng):
    """U(-a, a) with ``a = 1 / sqrt(fan_in)`` (PyTorch's ``nn.Linear`` default), float32.

    Parameters
    ----------
    shape : tuple -- e.g. (fan_in, fan_out) for a weight, (fan_out,) for its bias.
    fan_in : int -- inputs of the layer the entries belong to.
    rng : np.random.Generator
    """
    if fan_in < 1:
        raise ValueError(f"fan_in_uniform: fan_in must be >= 1, got {fan_in}")
    a = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-a, a, size=shape).astype(np.float32)


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


def xavier_normal(shape, rng, gain=1.0):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``, float32.

    For an embedding table (num, dim) the fans are its two sides, so a big item table
    starts small (std 0.037 for 1,350 x 64) and a position table (50 x 64) at ~0.13.
    """
    if len(shape) != 2:
        raise ValueError(f"xavier_normal: expected a 2-D shape, got {shape}")
    return normal(shape, rng, std=gain * np.sqrt(2.0 / (shape[0] + shape[1])))


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
