"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018) -- the HID-only baseline.

Glossary: B batch, T length, d width, H heads, V items (ids 1..V, 0 = padding).

    X = Drop(E[seq] * sqrt(d) + P[positions]),  zeroed at padding     # (B, T, d)
    H = Backbone(X)      n causal self-attention blocks + final LayerNorm # (B, T, d)
    score(t, i) = H[t] . E[i]                   (the item table is shared)

Sequences are left-padded, so the user state for the next item is ``H[:, -1]``.
"""
from dataclasses import dataclass

import numpy as np

from ..nn import BLOCKS, Dropout, Embedding, SASRecBackbone
from .base import REC_LOSSES, SequentialRecommender, check_sequence_inputs


@dataclass
class SASRecConfig:
    """Settings of SASRec; every default is the usual choice for ML-1M-sized data."""
    num_items: int              # V: item ids are 1..V, 0 is padding (required)
    max_len: int = 50           # the last 50 items carry most of the signal (SASRec's setting
                                # for sparse data); use 200 for dense data such as ML-1M
    d: int = 64                 # width: SASRec's best on most datasets, fast on a CPU
    heads: int = 1              # SASRec found 1 head as good as more at d = 64
    blocks: int = 2             # 2 blocks: SASRec's default; deeper barely helps at this size
    dropout: float = 0.2        # SASRec uses 0.2 (ML-1M) to 0.5 (sparse Amazon data)
    loss: str = "full_softmax"  # full cross-entropy: much better tail accuracy than BCE
                                # while V is small enough to score all items (DESIGN.md §4)
    seed: int = 0               # one seed drives init and dropout -> runs are reproducible
    block: str = "pre_ln"       # transformer block layout: "sasrec" | "pre_ln" | "post_ln" (nn/transformer.py)
    ffn_hidden: int = None      # None = d, SASRec's point-wise FFN keeps the width
    activation: str = "relu"    # SASRec's FFN uses ReLU ("gelu" is the modern alternative)

    def __post_init__(self):
        _check(self.num_items >= 1, "num_items", self.num_items, ">= 1")
        _check(self.max_len >= 1, "max_len", self.max_len, ">= 1")
        _check(self.d >= 1, "d", self.d, ">= 1")
        _check(self.heads >= 1 and self.d % self.heads == 0, "heads", self.heads,
               f"a divisor of d={self.d}")
        _check(self.blocks >= 1, "blocks", self.blocks, ">= 1")
        _check(0.0 <= self.dropout < 1.0, "dropout", self.dropout, "in [0, 1)")
        _check(self.loss in REC_LOSSES, "loss", self.loss, f"one of {REC_LOSSES}")
        _check(self.ffn_hidden is None or self.ffn_hidden >= 1, "ffn_hidden", self.ffn_hidden,
               ">= 1 or None")
        _check(self.activation in ("relu", "gelu"), "activation", self.activation, "'relu' or 'gelu'")
        _check(self.block in BLOCKS, "block", self.block, f"one of {BLOCKS}")

    @classmethod
    def tiny(cls, num_items, **overrides):
        """A laptop preset for tests and tutorials: d=16, 1 block, max_len=20."""
        return cls(num_items=num_items, **{"max_len": 20, "d": 16, "blocks": 1, "dropout": 0.1,
                                           **overrides})


def _check(ok, field, value, expected):
    if not ok:
        raise ValueError(f"SASRecConfig.{field}={value!r} is invalid: must be {expected}")


class SASRec(SequentialRecommender):
    """SASRec model.

    Parameters
    ----------
    config : SASRecConfig
    """

    name = "sasrec"

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, SASRecConfig):
            raise ValueError(f"SASRec: expected a SASRecConfig, got {type(config).__name__}")
        self.config = config
        c = config
        rng = np.random.default_rng(c.seed)        # one stream: init draws first, then dropout masks
        self.item_emb = Embedding(c.num_items + 1, c.d, rng, padding_idx=0)   # E (V+1, d)
        self.pos_emb = Embedding(c.max_len, c.d, rng, padding_idx=None)       # P (max_len, d)
        self.emb_drop = Dropout(c.dropout, rng)
        self.backbone = SASRecBackbone(c.d, c.heads, c.blocks, c.dropout, rng,
                                       hidden=c.ffn_hidden, block=c.block, activation=c.activation)

    def forward(self, seq, positions):
        """``seq`` int (B, T) left-padded, ``positions`` int (T,) in [0, max_len) -> H (B, T, d)."""
        seq, positions = self._check_inputs(seq, positions)
        pad = seq == 0                                                   # (B, T)
        x = self.item_emb(seq) * float(np.sqrt(self.config.d))          # (B, T, d)
        x = x + self.pos_emb(positions)                                  # (B, T, d) + (T, d)
        x = self.emb_drop(x)
        if pad.any():
            x = x * (~pad)[..., None].astype(x.dtype)                    # padding rows = 0
        return self.backbone(x, pad)                                     # (B, T, d)

    def item_table(self):
        """The item embedding ``E`` (V+1, d), shared between input and scoring."""
        return self.item_emb.weight

    def _check_inputs(self, seq, positions):
        return check_sequence_inputs(seq, positions, self.config.num_items, self.config.max_len, "SASRec")
