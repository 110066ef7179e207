"""The two layers H2Rec adds to SASRec: the per-level cross-attention and the granularity gate.

Glossary: B batch, T length, d width, H heads, hs = d / H, L SID levels.

* :class:`LevelCrossAttention` -- ``Z^l = CA_l(query X_s^l, keys/values X_h)`` for every
  level l at once: each level has its own weights, stacked (L, d, d), so the L attentions
  run as one batched op.
* :class:`GranularityGate` -- ``alpha = softmax(g([x ; b]) + b)``, ``b = linspace(1.0, 0.2, L)``
  (a prior that favours coarse levels) and g a 2-layer MLP whose output layer starts at
  zero, so a fresh gate returns exactly ``softmax(b)``. H2Rec mixes the levels with it
  (:func:`mix_levels`): ``Z_h = X_h + sum_l alpha_l Z^l``.
"""
import numpy as np

from ..autograd import Tensor, fused, ops
from ..nn import Linear, Module, Parameter, attention_mask, init


class LevelCrossAttention(Module):
    """L cross-attentions ``CA_l(query_l, keys)``, each with its own weights, run as one batched op.

    Weights are stacked, ``W (L, d, d)``, so each projection is L GEMMs in one ``matmul``
    and the attention is one fused op over (L, B, H, T, T). Causal and key-padding masked.

    Parameters
    ----------
    levels, d, heads : int -- L, width, heads (d % heads == 0).
    dropout : float -- on the attention probabilities, in training.
    rng : np.random.Generator.
    """

    def __init__(self, levels, d, heads, dropout, rng):
        super().__init__()
        self.levels, self.d, self.heads, self.dropout, self.rng = levels, d, heads, float(dropout), rng

        def weight():                                                  # as L nn.Linear(d, d)
            return Parameter(init.fan_in_uniform((levels, d, d), d, rng))
        self.wq, self.wk, self.wv, self.wo = weight(), weight(), weight(), weight()   # (L, d, d) each
        self.bq, self.bk, self.bv, self.bo = (Parameter(init.fan_in_uniform((levels, 1, d), d, rng))
                                              for _ in range(4))

    def forward(self, queries, keys, pad):
        """``queries`` (L, B, T, d), ``keys`` (B, T, d) (also the values), ``pad`` (B, T) -> (L, B, T, d)."""
        L, B, T, d = queries.shape
        H, hs = self.heads, d // self.heads
        x = keys.reshape(1, B * T, d)                                       # (1, B*T, d)
        q = queries.reshape(L, B * T, d) @ self.wq + self.bq                # (L, B*T, d)
        k = x @ self.wk + self.bk                                           # (L, B*T, d)
        v = x @ self.wv + self.bv                                           # (L, B*T, d)

        def split(t):
            return t.reshape(L, B, T, H, hs).transpose(0, 1, 3, 2, 4)       # (L, B, H, T, hs)
        mask = attention_mask(T, T, causal=True, key_padding=pad)           # (B|1, 1, T, T)
        p = self.dropout if self.training else 0.0
        y, _ = fused.scaled_dot_product_attention(split(q), split(k), split(v), mask,
                                                  dropout_p=p, rng=self.rng)  # (L, B, H, T, hs)
        y = y.transpose(0, 1, 3, 2, 4).reshape(L, B * T, d)                 # (L, B*T, d)
        return (y @ self.wo + self.bo).reshape(L, B, T, d)                  # (L, B, T, d)

    def extra_repr(self):
        return f"levels={self.levels}, d={self.d}, heads={self.heads}"


class GranularityGate(Module):
    """Per-position gate over the L levels: ``alpha = softmax(g([x ; b]) + b)``.

    ``b = linspace(1.0, 0.2, L)`` is the prior (coarse levels first) -- both an input to g
    and a bias on its output; ``g = Linear(d + L, hidden) -> ReLU -> Linear(hidden, L)``
    with the last layer's weight and bias at zero, so training starts from ``softmax(b)``.

    Parameters
    ----------
    d, num_levels, hidden : int -- input width, L, MLP width.
    rng : np.random.Generator.
    """

    def __init__(self, d, num_levels, hidden, rng):
        super().__init__()
        self.prior = np.linspace(1.0, 0.2, num_levels).astype(np.float32)   # b (L,)
        self.fc1 = Linear(d + num_levels, hidden, rng)
        self.fc2 = Linear(hidden, num_levels, rng)
        self.fc2.weight.data[...] = 0.0                             # start exactly at the prior
        self.fc2.bias.data[...] = 0.0

    def forward(self, x):
        """``x`` Tensor (..., d) -> alpha Tensor (..., L), rows summing to 1."""
        b = Tensor(np.broadcast_to(self.prior, x.shape[:-1] + self.prior.shape), dtype=x.dtype)
        h = self.fc1(ops.concatenate([x, b], axis=-1)).relu()      # (..., hidden)
        return fused.softmax(self.fc2(h) + self.prior, axis=-1)     # (..., L)


def mix_levels(alpha, levels):
    """``sum_l alpha_l levels^l``: alpha (B, T, L) or (B, L), levels (L, B, T, d) -> (B, T, d)."""
    L, B = levels.shape[:2]
    a = (alpha.transpose(1, 0).reshape(L, B, 1, 1) if alpha.ndim == 2       # (L, B, 1, 1)
         else alpha.transpose(2, 0, 1).reshape(L, B, -1, 1))                 # (L, B, T, 1)
    return (levels * a).sum(axis=0)                                          # (B, T, d)
