"""Attention and the Transformer: multi-head attention (self- and cross-), the block, the SASRec backbone.

Glossary: B batch, T length (Tq query, Tk key), d width, H heads, hs = d / H head size,
L SID levels.

**Attention.** For each head h: ``out_h = softmax(q_h k_h^T / sqrt(hs) + mask) v_h`` (the
fused ``scaled_dot_product_attention`` op); heads are concatenated and projected by ``W_o``.
Masks (True = the query may look at the key):

* causal -- query t sees keys j <= t. When Tq != Tk the two sequences are aligned at
  their *last* position (both are left-padded, so the last column is the most recent
  item): query t sees key j iff ``j - Tk <= t - Tq``.
* key padding -- ``key_padding`` (B, Tk), True where the key is padding; never attended.

A query with no allowed key (a padding query whose past is all padding, in a left-padded
causal sequence) gets an all-zero output -- the fused op guarantees zeros, never NaN.
``LevelCrossAttention`` runs L such cross-attentions, each with its own weights, as one
batched op (H2Rec's per-level ``Z^l = CA_l(X_s^l, X_h)``).

**Blocks** (``block=``):

``"sasrec"`` (default) -- SASRec's own block (Kang & McAuley's code): only the query is
normalised, keys/values read the raw stream, and the residual starts from the
normalised query; LayerNorm eps 1e-8 as in that code::

    q = LN1(x);  x = q + Attn(q, x, x);  x = LN2(x);  x = x + Drop(FFN(x))

``"pre_ln"`` -- the modern pre-LayerNorm block::

    x = x + Drop(Attn(LN1(x)));  x = x + Drop(FFN(LN2(x)))

``"post_ln"`` -- the original Transformer::

    x = LN1(x + Drop(Attn(x)));  x = LN2(x + Drop(FFN(x)))

Attention dropout acts on the attention probabilities in all three; the FFN has a
dropout inside (after the activation). The "sasrec" block is the one PyTorch SASRec code
uses; on ML-100K it alone changed little against pre-LN -- the initialisation did
(README, "What was tried").
"""
import numpy as np

from ..autograd import fused
from . import init
from .layers import Dropout, FeedForward, LayerNorm, Linear
from .module import Module, ModuleList, Parameter


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


BLOCKS = ("sasrec", "pre_ln", "post_ln")   # accepted values of ``block``


class TransformerBlock(Module):
    """Self-attention + position-wise feed-forward, each on a residual branch.

    Parameters
    ----------
    d : int -- width.
    heads : int -- attention heads (d % heads == 0).
    dropout : float -- on the attention probabilities, inside the FFN and on the FFN's residual
        branch (and, in the pre/post-LN layouts, on the attention's residual branch too).
    rng : np.random.Generator
    hidden : int or None -- FFN width; None = d (SASRec's choice).
    block : "sasrec", "pre_ln" or "post_ln" -- the layout (module docstring).
    activation : "relu" (SASRec) or "gelu".
    """

    def __init__(self, d, heads, dropout, rng, hidden=None, block="sasrec", activation="relu"):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"TransformerBlock: block must be one of {BLOCKS}, got {block!r}")
        self.block = block
        eps = 1e-8 if block == "sasrec" else 1e-5
        self.ln1 = LayerNorm(d, eps=eps)
        self.attn = MultiHeadAttention(d, heads, dropout, rng)
        self.ln2 = LayerNorm(d, eps=eps)
        self.ffn = FeedForward(d, d if hidden is None else hidden, dropout, rng, activation)
        self.drop = Dropout(dropout, rng)

    def forward(self, x, pad=None, causal=True):
        """``x`` (B, T, d), ``pad`` bool (B, T) True = padding (used as the key mask) -> (B, T, d)."""
        if self.block == "sasrec":
            q = self.ln1(x)
            x = self.ln2(q + self.attn(q, x, x, causal=causal, key_padding=pad))
            return x + self.drop(self.ffn(x))
        if self.block == "pre_ln":
            x = x + self.drop(self.attn(self.ln1(x), causal=causal, key_padding=pad))
            return x + self.drop(self.ffn(self.ln2(x)))
        x = self.ln1(x + self.drop(self.attn(x, causal=causal, key_padding=pad)))
        return self.ln2(x + self.drop(self.ffn(x)))

    def extra_repr(self):
        return f"block={self.block!r}"


class SASRecBackbone(Module):
    """``blocks`` causal TransformerBlocks, then a final LayerNorm.

    As in SASRec's reference code, padding positions are reset to zero after every block
    (its "timeline mask"), so padding never accumulates content through the residual
    stream; they are zeroed once more after the final LayerNorm, so the output is exactly
    zero at padding and real positions never depend on what the padding held.

    Parameters
    ----------
    d, heads, blocks : int
    dropout : float in [0, 1)
    rng : np.random.Generator
    hidden, block, activation : passed to every TransformerBlock.
    """

    def __init__(self, d, heads, blocks, dropout, rng, hidden=None, block="sasrec", activation="relu"):
        super().__init__()
        if blocks < 1:
            raise ValueError(f"SASRecBackbone: blocks must be >= 1, got {blocks}")
        self.d = d
        self.blocks = ModuleList(TransformerBlock(d, heads, dropout, rng, hidden, block, activation)
                                 for _ in range(blocks))
        self.ln_final = LayerNorm(d, eps=1e-8 if block == "sasrec" else 1e-5)

    def forward(self, x, pad):
        """``x`` Tensor (B, T, d), ``pad`` bool ndarray (B, T) True = padding -> Tensor (B, T, d)."""
        pad = np.asarray(pad, dtype=bool)
        if pad.shape != tuple(x.shape[:2]) or x.shape[2] != self.d:
            raise ValueError(f"SASRecBackbone: x {x.shape} and pad {pad.shape} must be (B, T, {self.d}) and (B, T)")
        keep = (~pad)[..., None].astype(x.dtype)          # (B, T, 1), 0 at padding
        any_pad = not keep.all()
        for block in self.blocks:
            x = block(x, pad, causal=True)
            if any_pad:
                x = x * keep                              # timeline mask
        x = self.ln_final(x)
        return x * keep if any_pad else x
