"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018) -- the HID-only baseline.

Glossary: B batch, T length, d width, H heads, V items (ids 1..V, 0 = padding).

    X = Drop(E[seq] * sqrt(d) + P[positions]),  zeroed at padding     # (B, T, d)
    H = Backbone(X)      n causal self-attention blocks + final LayerNorm # (B, T, d)
    score(t, i) = H[t] . E[i]                   (the item table is shared)

Sequences are left-padded, so the user state for the next item is ``H[:, -1]``.
"""
from dataclasses import dataclass

import numpy as np

from ..nn import Embedding
from .base import BackboneConfig, SequentialRecommender, check_sequence_inputs, input_view


@dataclass
class SASRecConfig(BackboneConfig):
    """Settings of SASRec: exactly ``BackboneConfig`` (sizes, backbone, rec loss, seed)."""

    @classmethod
    def tiny(cls, num_items, **overrides):
        """A laptop preset for tests and tutorials: d=16, 1 block, max_len=20."""
        return cls(num_items=num_items, **{"max_len": 20, "d": 16, "blocks": 1, "dropout": 0.1,
                                           **overrides})


class SASRec(SequentialRecommender):
    """SASRec model.

    Parameters
    ----------
    config : SASRecConfig
    item_counts : int array (V+1,) or None -- training counts, needed by ``proposal="popularity"``.
    """

    name = "sasrec"

    def __init__(self, config, item_counts=None):
        super().__init__()
        if not isinstance(config, SASRecConfig):
            raise ValueError(f"SASRec: expected a SASRecConfig, got {type(config).__name__}")
        self.config = c = config
        rng = np.random.default_rng(c.seed)        # one stream: init draws first, then dropout masks
        self.item_emb = Embedding(c.num_items + 1, c.d, rng, padding_idx=0)   # E (V+1, d)
        self._init_backbone(rng, item_counts)                                  # P, dropout, backbone

    def forward(self, seq, positions):
        """``seq`` int (B, T) left-padded, ``positions`` int (T,) in [0, max_len) -> H (B, T, d)."""
        c = self.config
        seq, positions = check_sequence_inputs(seq, positions, c.num_items, c.max_len, "SASRec")
        pad = seq == 0                                                   # (B, T)
        x = input_view(self.item_emb(seq), self.pos_emb(positions), self.emb_drop, pad)  # (B, T, d)
        return self.backbone(x, pad)                                     # (B, T, d)

    def item_table(self):
        """The item embedding ``E`` (V+1, d), shared between input and scoring."""
        return self.item_emb.weight
