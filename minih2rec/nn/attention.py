"""Multi-head attention (self- and cross-), causal and key-padding masks.

Glossary: B batch, Tq query length, Tk key length, d width, H heads, hs = d / H head size.

For each head h: ``out_h = softmax(q_h k_h^T / sqrt(hs) + mask) v_h`` (the fused
``scaled_dot_product_attention`` op); heads are concatenated and projected by ``W_o``.

Masks (True = the query may look at the key):

* causal -- query t sees keys j <= t. When Tq != Tk the two sequences are aligned at
  their *last* position (both are left-padded, so the last column is the most recent
  item): query t sees key j iff ``j - Tk <= t - Tq``.
* key padding -- ``key_padding`` (B, Tk), True where the key is padding; never attended.

A query with no allowed key (a padding query whose past is all padding, in a left-padded
causal sequence) gets an all-zero output -- the fused op guarantees zeros, never NaN.
"""
import numpy as np

from ..autograd import fused
from .layers import Linear
from .module import Module


def attention_mask(Tq, Tk, causal=True, key_padding=None):
    """Boolean mask of allowed (query, key) pairs, True = allowed.

    Parameters
    ----------
    Tq, Tk : int
    causal : bool -- see the module docstring for Tq != Tk.
    key_padding : bool ndarray (B, Tk) or None -- True = padding key.

    Returns
    -------
    ndarray bool broadcastable to (B, H, Tq, Tk): (B, 1, Tq, Tk) with both masks,
    (1, 1, Tq, Tk) causal only, (B, 1, 1, Tk) padding only; None when nothing is masked.
    """
    mask = None
    if causal:
        t = np.arange(Tq)[:, None]
        j = np.arange(Tk)[None, :]
        mask = (j - Tk <= t - Tq)[None, None]                       # (1, 1, Tq, Tk)
    if key_padding is not None:
        keep = ~np.asarray(key_padding, dtype=bool)[:, None, None, :]  # (B, 1, 1, Tk)
        mask = keep if mask is None else mask & keep                # (B, 1, Tq, Tk)
    return mask


class MultiHeadAttention(Module):
    """Multi-head attention usable as self-attention (``key = value = query``) or cross-attention.

    Parameters
    ----------
    d : int -- model width; must be divisible by ``heads``.
    heads : int
    dropout : float in [0, 1) -- on the attention probabilities (inside the fused op, as in
        SASRec's ``nn.MultiheadAttention``), in training mode only.
    rng : np.random.Generator -- init and dropout.
    """

    def __init__(self, d, heads, dropout, rng):
        super().__init__()
        if heads < 1 or d % heads:
            raise ValueError(f"MultiHeadAttention: d={d} must be divisible by heads={heads}")
        self.d, self.heads, self.head_size = d, heads, d // heads
        self.q = Linear(d, d, rng)
        self.k = Linear(d, d, rng)
        self.v = Linear(d, d, rng)
        self.o = Linear(d, d, rng)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout}")
        self.dropout, self.rng = float(dropout), rng

    def forward(self, query, key=None, value=None, causal=True, key_padding=None, return_probs=False):
        """Attend from ``query`` to ``key``/``value``.

        Parameters
        ----------
        query : Tensor (B, Tq, d)
        key : Tensor (B, Tk, d) or None (self-attention: key = query)
        value : Tensor (B, Tk, d) or None (value = key)
        causal : bool
        key_padding : bool ndarray (B, Tk) or None -- True = padding key.
        return_probs : bool -- also return the attention probabilities (B, H, Tq, Tk) ndarray.

        Returns
        -------
        Tensor (B, Tq, d), or ``(Tensor, probs)`` when ``return_probs``.
        """
        key = query if key is None else key
        value = key if value is None else value
        B, Tq, d = query.shape
        Tk = key.shape[1]
        if d != self.d or key.shape != (B, Tk, d) or value.shape != (B, Tk, d):
            raise ValueError(f"MultiHeadAttention(d={self.d}): got query {query.shape}, "
                             f"key {key.shape}, value {value.shape}")
        if key_padding is not None and np.shape(key_padding) != (B, Tk):
            raise ValueError(f"MultiHeadAttention: key_padding shape {np.shape(key_padding)}, "
                             f"expected {(B, Tk)}")
        H, hs = self.heads, self.head_size
        q = self.q(query).reshape(B, Tq, H, hs).transpose(0, 2, 1, 3)  # (B, H, Tq, hs)
        k = self.k(key).reshape(B, Tk, H, hs).transpose(0, 2, 1, 3)    # (B, H, Tk, hs)
        v = self.v(value).reshape(B, Tk, H, hs).transpose(0, 2, 1, 3)  # (B, H, Tk, hs)
        mask = attention_mask(Tq, Tk, causal, key_padding)             # (B|1, 1, Tq, Tk)
        p = self.dropout if self.training else 0.0
        # y: (B, H, Tq, hs), probs: (B, H, Tq, Tk) ndarray
        y, probs = fused.scaled_dot_product_attention(q, k, v, mask, dropout_p=p, rng=self.rng)
        y = y.transpose(0, 2, 1, 3).reshape(B, Tq, d)                  # (B, Tq, d)
        y = self.o(y)                                                  # (B, Tq, d)
        return (y, probs) if return_probs else y

    def extra_repr(self):
        return f"d={self.d}, heads={self.heads}, dropout={self.dropout}"
