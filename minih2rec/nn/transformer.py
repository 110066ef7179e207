"""Transformer block and the SASRec backbone (a stack of causal self-attention blocks).

Glossary: B batch, T length, d width, H heads.

Pre-LN block (default; stable without warm-up):
    x = x + Drop(Attn(LN1(x)))
    x = x + Drop(FFN(LN2(x)))
Post-LN block (``pre_ln=False``, the original Transformer):
    x = LN1(x + Drop(Attn(x)))
    x = LN2(x + Drop(FFN(x)))
"""
import numpy as np

from .attention import MultiHeadAttention
from .layers import Dropout, FeedForward, LayerNorm
from .module import Module, ModuleList


class TransformerBlock(Module):
    """Self-attention + position-wise feed-forward, each on a residual branch.

    Parameters
    ----------
    d : int -- width.
    heads : int -- attention heads (d % heads == 0).
    dropout : float -- on attention head outputs, inside the FFN, and on both residual branches.
    rng : np.random.Generator
    hidden : int or None -- FFN width; None = d (SASRec's choice).
    pre_ln : bool -- LayerNorm before each sub-layer (True) or after the residual add (False).
    activation : "relu" (SASRec) or "gelu".
    """

    def __init__(self, d, heads, dropout, rng, hidden=None, pre_ln=True, activation="relu"):
        super().__init__()
        self.pre_ln = pre_ln
        self.ln1 = LayerNorm(d)
        self.attn = MultiHeadAttention(d, heads, dropout, rng)
        self.ln2 = LayerNorm(d)
        self.ffn = FeedForward(d, d if hidden is None else hidden, dropout, rng, activation)
        self.drop = Dropout(dropout, rng)

    def forward(self, x, pad=None, causal=True):
        """``x`` (B, T, d), ``pad`` bool (B, T) True = padding (used as the key mask) -> (B, T, d)."""
        if self.pre_ln:
            x = x + self.drop(self.attn(self.ln1(x), causal=causal, key_padding=pad))
            return x + self.drop(self.ffn(self.ln2(x)))
        x = self.ln1(x + self.drop(self.attn(x, causal=causal, key_padding=pad)))
        return self.ln2(x + self.drop(self.ffn(x)))

    def extra_repr(self):
        return f"pre_ln={self.pre_ln}"


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
    hidden, pre_ln, activation : passed to every TransformerBlock.
    """

    def __init__(self, d, heads, blocks, dropout, rng, hidden=None, pre_ln=True, activation="relu"):
        super().__init__()
        if blocks < 1:
            raise ValueError(f"SASRecBackbone: blocks must be >= 1, got {blocks}")
        self.d = d
        self.blocks = ModuleList(TransformerBlock(d, heads, dropout, rng, hidden, pre_ln, activation)
                                 for _ in range(blocks))
        self.ln_final = LayerNorm(d)

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
