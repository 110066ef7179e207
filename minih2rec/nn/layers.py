"""Basic layers: Embedding, Linear, LayerNorm, Dropout, FeedForward.

Shapes: B batch, T length, d width; ``...`` any leading dims.
Initialisation is documented in ``nn/init.py``.
"""
import numpy as np

from ..autograd import fused, ops
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """Lookup table ``weight[idx]`` with an optional padding row that stays exactly zero.

    The padding row (``padding_idx``, 0 by default = the item id of padding) is zero at
    init and never receives a gradient: the forward multiplies the looked-up rows by a
    ``idx != padding_idx`` mask, so the backward sends zeros to that row and any optimizer
    (SGD, Adam, AdamW -- decay of 0 is 0) leaves it at zero. Code that uses ``weight``
    directly (e.g. scoring states against the whole table) must leave row 0 out itself,
    as ``losses.rec`` does.

    Parameters
    ----------
    num : int -- rows (for items: V + 1).
    dim : int -- width d.
    rng : np.random.Generator -- for the normal init.
    padding_idx : int or None -- the row kept at zero; None for e.g. position tables.
    std : float or None -- init std; default Xavier-normal, ``sqrt(2 / (num + dim))``
        (see nn/init.py).
    """

    def __init__(self, num, dim, rng, padding_idx=0, std=None):
        super().__init__()
        if num < 1 or dim < 1:
            raise ValueError(f"Embedding: num and dim must be >= 1, got num={num}, dim={dim}")
        if padding_idx is not None and not 0 <= padding_idx < num:
            raise ValueError(f"Embedding: padding_idx={padding_idx} outside [0, {num})")
        self.num, self.dim, self.padding_idx = num, dim, padding_idx
        w = init.xavier_normal((num, dim), rng) if std is None else init.normal((num, dim), rng, std=std)
        if padding_idx is not None:
            w[padding_idx] = 0.0
        self.weight = Parameter(w)

    def forward(self, idx):
        """``idx`` int ndarray of any shape -> Tensor ``(*idx.shape, dim)``."""
        idx = np.asarray(idx)
        if not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise IndexError(f"Embedding: index {bad} out of range for {self.num} rows")
        out = ops.embedding(self.weight, idx)                       # (*idx.shape, dim)
        if self.padding_idx is not None:
            is_pad = idx == self.padding_idx
            if is_pad.any():                                        # no gradient into the pad row
                out = out * (~is_pad)[..., None].astype(out.dtype)
        return out

    def extra_repr(self):
        return f"{self.num}, {self.dim}, padding_idx={self.padding_idx}"


class Linear(Module):
    """``y = x @ W + b`` with ``W`` stored as (in, out) so no transpose is needed.

    Leading dims are flattened into one matrix product ``(N, in) @ (in, out)``, which is
    one BLAS call forward and one per gradient backward.

    Parameters
    ----------
    d_in, d_out : int
    rng : np.random.Generator -- for the ``fan_in_uniform`` init of W and b (nn/init.py).
    bias : bool
    """

    def __init__(self, d_in, d_out, rng, bias=True):
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        self.weight = Parameter(init.fan_in_uniform((d_in, d_out), d_in, rng))
        self.bias = Parameter(init.fan_in_uniform((d_out,), d_in, rng)) if bias else None

    def forward(self, x):
        """``x`` Tensor (..., d_in) -> (..., d_out)."""
        if x.shape[-1] != self.d_in:
            raise ValueError(f"Linear: expected last dim {self.d_in}, got input shape {x.shape}")
        lead = x.shape[:-1]
        flat = x if x.ndim == 2 else x.reshape(int(np.prod(lead)), self.d_in)  # (N, in)
        y = flat @ self.weight                                                # (N, out)
        if self.bias is not None:
            y = y + self.bias
        return y if x.ndim == 2 else y.reshape(*lead, self.d_out)            # (..., out)

    def extra_repr(self):
        return f"{self.d_in}, {self.d_out}, bias={self.bias is not None}"


class LayerNorm(Module):
    """Normalise the last axis to zero mean / unit variance, then scale and shift (fused op)."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = Parameter(init.ones(dim))
        self.bias = Parameter(init.zeros(dim))

    def forward(self, x):
        return fused.layer_norm(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self):
        return f"{self.dim}, eps={self.eps}"


class Dropout(Module):
    """Inverted dropout with its own ``rng``; the identity in eval mode or when ``p == 0``."""

    def __init__(self, p, rng):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p, self.rng = float(p), rng

    def forward(self, x):
        return fused.dropout(x, self.p, self.rng, training=self.training)

    def extra_repr(self):
        return f"p={self.p}"


class FeedForward(Module):
    """Position-wise MLP ``Linear(d, hidden) -> act -> Dropout -> Linear(hidden, d)``.

    SASRec uses ``activation="relu"`` and ``hidden = d`` (its reference code: two 1x1
    convolutions with a ReLU between); ``"gelu"`` (tanh approximation) is the modern
    Transformer choice. The dropout on the block output is applied by the caller
    (TransformerBlock), on the residual branch.

    Parameters
    ----------
    d, hidden : int
    dropout : float in [0, 1)
    rng : np.random.Generator -- init and dropout masks.
    activation : "relu" or "gelu"
    """

    def __init__(self, d, hidden, dropout, rng, activation="relu"):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"FeedForward: activation must be 'relu' or 'gelu', got {activation!r}")
        self.activation = activation
        self.fc1 = Linear(d, hidden, rng)
        self.fc2 = Linear(hidden, d, rng)
        self.drop = Dropout(dropout, rng)

    def forward(self, x):
        h = self.fc1(x)                                            # (..., hidden)
        h = h.relu() if self.activation == "relu" else h.gelu()
        return self.fc2(self.drop(h))                              # (..., d)

    def extra_repr(self):
        return f"activation={self.activation}"
