"""Transformer block and the SASRec backbone (a stack of causal self-attention blocks).

Glossary: B batch, T length, d width, H heads.

Three block layouts (``block=``):

``"sasrec"`` (default) -- SASRec's own block (Kang & McAuley's code): only the query is
normalised, keys/values read the raw stream, and the residual starts from the
normalised query; LayerNorm eps 1e-8 as in that code::

    q = LN1(x);  x = q + Attn(q, x, x);  x = LN2(x);  x = x + Drop(FFN(x))

``"pre_ln"`` -- the modern pre-LayerNorm block::

    x = x + Drop(Attn(LN1(x)));  x = x + Drop(FFN(LN2(x)))

``"post_ln"`` -- the original Transformer::

    x = LN1(x + Drop(Attn(x)));  x = LN2(x + Drop(FFN(x)))

Attention dropout acts on the attention probabilities in all three; the FFN has a
dropout inside (after the activation). On ML-100K SASRec learns markedly faster with
the "sasrec" block than with pre-LN (README, "What was tried").
"""
import numpy as np

from .attention import MultiHeadAttention
from .layers import Dropout, FeedForward, LayerNorm
from .module import Module, ModuleList

BLOCKS = ("sasrec", "pre_ln", "post_ln")   # accepted values of ``block``


class TransformerBlock(Module):
    """Self-attention + position-wise feed-forward, each on a residual branch.

    Parameters
    ----------
    d : int -- width.
    heads : int -- attention heads (d % heads == 0).
    dropout : float -- on attention head outputs, inside the FFN, and on both residual branches.
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
