"""SID baseline: SASRec whose items are their semantic IDs (DESIGN.md §5).

Glossary: B batch, T length, d width, L SID levels, K codes per level, V items
(ids 1..V, 0 = padding).

Every item is represented only through its codes ``c_i = (c_i^1 .. c_i^L)``::

    e_s(i) = mean_l C^l[c_i^l]                  (V+1, d)  the item table, row 0 = 0
    X      = Drop(e_s(seq) * sqrt(d) + P[positions]),  zeroed at padding    (B, T, d)
    H      = Backbone(X)                                                   (B, T, d)
    score(t, i) = H[t] . e_s(i)

Items with the same full code tuple are indistinguishable (the SID side of the
head/tail seesaw: tail items borrow strength, head items lose identity).

``TableRecommender`` is the shared skeleton "look items up in a table that is itself
computed each step, run the backbone, score against the same table"; the fusion
baseline (``fusion.py``) only changes the table.
"""
import numpy as np

from ..autograd import ops
from .base import SequentialRecommender, check_sequence_inputs, input_view
from .item_side import CodeEmbeddings, SIDConfig, check_codes


class TableRecommender(SequentialRecommender):
    """SASRec on a computed item table: subclasses define ``item_table()`` (V+1, d), row 0 = 0.

    The table is built once per ``loss`` call and used both for the inputs and for scoring.
    """

    name = "table"

    def _setup(self, config, codes, codebooks, item_counts=None):
        """Common construction: validated codes, code embeddings, then positions, dropout, backbone."""
        c = self.config = config
        self.rng = np.random.default_rng(c.seed)   # one stream: init first, then dropout masks
        codes = check_codes(codes, c.num_items, c.num_levels, c.codebook_size, type(self).__name__)
        self.code_emb = CodeEmbeddings(codes, c.codebook_size, c.d, self.rng, codebooks,
                                       c.code_init, c.sid_projection)
        self._init_backbone(self.rng, item_counts)

    @property
    def codes(self):
        """Semantic IDs (V+1, L) int64."""
        return self.code_emb.codes

    def extra_arrays(self):
        """Arrays a checkpoint stores besides the weights: the semantic IDs."""
        return {"semantic/codes": self.codes}

    def _states(self, seq, positions, table):
        """``H = Backbone(Drop(table[seq] * sqrt(d) + P))`` (B, T, d)."""
        c = self.config
        seq, positions = check_sequence_inputs(seq, positions, c.num_items, c.max_len, type(self).__name__)
        pad = seq == 0                                                    # (B, T)
        x = input_view(ops.embedding(table, seq), self.pos_emb(positions), self.emb_drop, pad)  # (B, T, d)
        return self.backbone(x, pad)                                      # (B, T, d)

    def forward(self, seq, positions):
        """``seq`` int (B, T) left-padded, ``positions`` int (T,) -> H (B, T, d)."""
        return self._states(seq, positions, self.item_table())

    def _last_states(self, seq, positions, tables):
        """Scoring states at the last column (B, d); inputs from the once-built ``tables["items"]``."""
        return self._states(seq, positions, tables["items"]).data[:, -1, :]

    def loss(self, batch):
        """Next-item loss; the item table is computed once and shared by inputs and scores."""
        table = self.item_table()                                         # (V+1, d)
        return self.rec_loss(self._states(batch.seq, batch.positions, table), table, batch)


class SIDRec(TableRecommender):
    """SID-only SASRec: item i is ``e_s(i) = mean_l C^l[c_i^l]``.

    Parameters
    ----------
    config : SIDConfig
    codes : int array (V+1, L) in [0, K).
    codebooks : float array (L, K, D) or None -- needed when ``config.code_init == "rq"``.
    item_counts : int array (V+1,) or None -- training counts, needed by ``proposal="popularity"``.
    """

    name = "sid"

    def __init__(self, config, codes, codebooks=None, item_counts=None):
        super().__init__()
        if not isinstance(config, SIDConfig):
            raise ValueError(f"SIDRec: expected a SIDConfig, got {type(config).__name__}")
        self._setup(config, codes, codebooks, item_counts)

    def item_table(self):
        """``e_s`` of every item (V+1, d), row 0 = 0."""
        return self.code_emb.table()
