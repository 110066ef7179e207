"""Fusion baseline: the naive way to use both IDs -- add them (DESIGN.md §5).

Glossary: B batch, T length, d width, L SID levels, V items (ids 1..V, 0 = padding).

    e(i) = E_h[i] + e_s(i),   e_s(i) = mean_l C^l[c_i^l]    (V+1, d) one item table
    H    = Backbone(Drop(e(seq) * sqrt(d) + P))             (B, T, d) one backbone
    score(t, i) = H[t] . e(i)

The two signals share one vector and one backbone, so neither can specialise: the
baseline H2Rec has to beat by keeping the branches apart and letting them teach each
other (cross-attention, gate, alignment losses).
"""
from dataclasses import dataclass

import numpy as np

from ..nn import Embedding
from .base import check_field
from .item_side import SIDConfig, mean_row_norm, pca_rows
from .sid import TableRecommender


@dataclass
class FusionConfig(SIDConfig):
    """``SIDConfig`` plus the hash table's initialisation."""
    hot_start: bool = False     # True: E_h starts from the PCA of the content vectors (needs content)

    def __post_init__(self):
        super().__post_init__()
        check_field(isinstance(self.hot_start, bool), self, "hot_start", self.hot_start, "a bool")


class FusionRec(TableRecommender):
    """Item = HID embedding + SID embedding, one SASRec backbone.

    Parameters
    ----------
    config : FusionConfig
    codes : int array (V+1, L) in [0, K).
    codebooks : float array (L, K, D) or None -- needed when ``config.code_init == "rq"``.
    content : float array (V+1, D) or None -- needed when ``config.hot_start``.
    item_counts : int array (V+1,) or None -- training counts, needed by ``proposal="popularity"``.
    """

    name = "fusion"

    def __init__(self, config, codes, codebooks=None, content=None, item_counts=None):
        super().__init__()
        if not isinstance(config, FusionConfig):
            raise ValueError(f"FusionRec: expected a FusionConfig, got {type(config).__name__}")
        self._setup(config, codes, codebooks, item_counts)
        c = config
        self.item_emb = Embedding(c.num_items + 1, c.d, self.rng, padding_idx=0)   # E_h (V+1, d)
        if c.hot_start:
            if content is None or np.shape(content)[0] != c.num_items + 1:
                got = None if content is None else np.shape(content)
                raise ValueError(f"FusionRec: hot_start=True needs content of shape (V+1, D) = "
                                 f"({c.num_items + 1}, D), got {got}")
            fresh = mean_row_norm(self.item_emb.weight.data)        # keep the init's scale
            self.item_emb.weight.data[...] = pca_rows(content, c.d, self.rng, fresh)

    def item_table(self):
        """``E_h + e_s`` (V+1, d), row 0 = 0."""
        return self.item_emb.weight + self.code_emb.table()
