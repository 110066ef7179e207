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
from dataclasses import dataclass

import numpy as np

from ..autograd import ops
from ..nn import BLOCKS, Dropout, Embedding, SASRecBackbone
from .base import REC_LOSSES, SequentialRecommender, check_sequence_inputs
from .item_side import CODE_INITS, CodeEmbeddings, check_codes, check_field


@dataclass
class SIDConfig:
    """Settings shared by the SID-based models (``SIDRec``, ``FusionRec``; ``H2RecConfig`` extends it)."""
    num_items: int              # V: item ids are 1..V, 0 is padding (required)
    num_levels: int             # L: code levels per item, codes.shape[1] (required; 3 by default
                                # in the builders -- the paper uses 4 on 1536-d text embeddings)
    codebook_size: int          # K: codes per level (required; builders: item_side.default_codebook_size)
    max_len: int = 50           # as SASRec: the last 50 items carry most of the signal
    d: int = 64                 # width: SASRec's best on most datasets, fast on a CPU
    heads: int = 1              # 1 head is as good as more at d = 64 (SASRec)
    blocks: int = 2             # SASRec's default depth
    dropout: float = 0.2        # SASRec's 0.2 (dense data) .. 0.5 (sparse data)
    loss: str = "full_softmax"  # full cross-entropy: best tail accuracy while V is small (DESIGN §4)
    seed: int = 0               # one seed drives init and dropout -> reproducible runs
    code_init: str = "rq"       # "rq": C^l starts from the RQ codebooks (content geometry from step 0);
                                # "random": plain normal init (needs no codebooks)
    sid_projection: bool = False  # a Linear(d, d) after mean_l C^l: off, the plain mean is the paper's e_s
    block: str = "pre_ln"       # transformer block layout: "sasrec" | "pre_ln" | "post_ln" (nn/transformer.py)
    ffn_hidden: int = None      # None = d, SASRec's point-wise FFN keeps the width
    activation: str = "relu"    # SASRec's FFN activation

    def __post_init__(self):
        c = self
        check_field(c.num_items >= 1, c, "num_items", c.num_items, ">= 1")
        check_field(c.num_levels >= 1, c, "num_levels", c.num_levels, ">= 1")
        check_field(1 <= c.codebook_size <= c.num_items, c, "codebook_size", c.codebook_size,
                    f">= 1 and at most the number of items ({c.num_items})")
        check_field(c.max_len >= 1, c, "max_len", c.max_len, ">= 1")
        check_field(c.d >= 1, c, "d", c.d, ">= 1")
        check_field(c.heads >= 1 and c.d % c.heads == 0, c, "heads", c.heads, f"a divisor of d={c.d}")
        check_field(c.blocks >= 1, c, "blocks", c.blocks, ">= 1")
        check_field(0.0 <= c.dropout < 1.0, c, "dropout", c.dropout, "in [0, 1)")
        check_field(c.loss in REC_LOSSES, c, "loss", c.loss, f"one of {REC_LOSSES}")
        check_field(c.code_init in CODE_INITS, c, "code_init", c.code_init, f"one of {CODE_INITS}")
        check_field(c.ffn_hidden is None or c.ffn_hidden >= 1, c, "ffn_hidden", c.ffn_hidden, ">= 1 or None")
        check_field(c.activation in ("relu", "gelu"), c, "activation", c.activation, "'relu' or 'gelu'")
        check_field(c.block in BLOCKS, c, "block", c.block, f"one of {BLOCKS}")

    @classmethod
    def tiny(cls, num_items, num_levels, codebook_size, **overrides):
        """A laptop preset for tests and tutorials: d=16, 1 block, max_len=20, random code init."""
        return cls(num_items=num_items, num_levels=num_levels, codebook_size=codebook_size,
                   **{"max_len": 20, "d": 16, "blocks": 1, "dropout": 0.1, "code_init": "random",
                      **overrides})


class TableRecommender(SequentialRecommender):
    """SASRec on a computed item table: subclasses define ``item_table()`` (V+1, d), row 0 = 0.

    The table is built once per ``loss`` call and used both for the inputs and for scoring.
    """

    name = "table"

    def _setup(self, config, codes, codebooks):
        """Common construction: validated codes, code embeddings, positions, dropout, backbone."""
        c = self.config = config
        self.rng = np.random.default_rng(c.seed)   # one stream: init first, then dropout masks
        codes = check_codes(codes, c.num_items, c.num_levels, c.codebook_size, type(self).__name__)
        self.code_emb = CodeEmbeddings(codes, c.codebook_size, c.d, self.rng, codebooks,
                                       c.code_init, c.sid_projection)
        self.pos_emb = Embedding(c.max_len, c.d, self.rng, padding_idx=None)   # P (max_len, d)
        self.emb_drop = Dropout(c.dropout, self.rng)
        self.backbone = SASRecBackbone(c.d, c.heads, c.blocks, c.dropout, self.rng,
                                       hidden=c.ffn_hidden, block=c.block, activation=c.activation)

    @property
    def codes(self):
        """Semantic IDs (V+1, L) int64."""
        return self.code_emb.codes

    @property
    def needs_negatives(self):
        """The trainer samples ``batch.neg`` only for the BCE loss."""
        return self.config.loss == "bce"

    def extra_arrays(self):
        """Arrays a checkpoint stores besides the weights: the semantic IDs."""
        return {"semantic/codes": self.codes}

    def _states(self, seq, positions, table):
        """``H = Backbone(Drop(table[seq] * sqrt(d) + P))`` (B, T, d)."""
        c = self.config
        seq, positions = check_sequence_inputs(seq, positions, c.num_items, c.max_len, type(self).__name__)
        pad = seq == 0                                                    # (B, T)
        x = ops.embedding(table, seq) * float(np.sqrt(c.d))              # (B, T, d)
        x = self.emb_drop(x + self.pos_emb(positions))                   # (B, T, d) + (T, d)
        if pad.any():
            x = x * (~pad)[..., None].astype(x.dtype)                     # padding rows = 0
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
    """

    name = "sid"

    def __init__(self, config, codes, codebooks=None):
        super().__init__()
        if not isinstance(config, SIDConfig):
            raise ValueError(f"SIDRec: expected a SIDConfig, got {type(config).__name__}")
        self._setup(config, codes, codebooks)

    def item_table(self):
        """``e_s`` of every item (V+1, d), row 0 = 0."""
        return self.code_emb.table()
