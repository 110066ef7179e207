"""SequentialRecommender: the contract every trained model follows, its config and its input view.

Glossary: B batch, T length, d width, V items (ids 1..V, 0 = padding), N negatives.

A model maps left-padded item sequences ``seq`` (B, T) and absolute ``positions`` (T,)
to user states and scores items by a dot product with an item table:

    H = user_states(seq, positions)          # (B, T, d')  d' = d for SASRec, 2d for H2Rec
    E = item_table()                         # (V+1, d')   row 0 = padding
    score(b, t, i) = H[b, t] . E[i]

Every model reads its sequence the same way (:func:`input_view`)::

    X = Drop(E[seq] sqrt(d) + P[positions]),  zeroed at padding        # (B, T, d)

and runs it through a SASRec backbone built from :class:`BackboneConfig`, the settings
every model config extends.

A subclass defines ``forward``, ``item_table`` and (if its scoring states are not what
``forward`` returns) ``user_states``; ``loss`` and ``score_users`` then come for free.
A model whose ``forward`` rebuilds a table from the weights (the SID-based ones) may also
override ``_score_tables``/``_last_states``, so evaluation builds that table once per pass.
The training loss is chosen by ``config.loss``:

* ``"full_softmax"`` -- cross-entropy over all V items (default; exact, O(M V d));
* ``"bce"``          -- one sampled negative per position (needs ``batch.neg``);
* ``"sampled_softmax"`` -- ``config.num_negatives`` shared negatives from ``config.proposal``
  with logQ correction, for large catalogues (the compiled kernel does forward and backward).
"""
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from ..losses.rec import bce_loss, full_softmax_loss
from ..losses.sampled import Proposal, sampled_softmax_next_item
from ..nn import BLOCKS, Dropout, Embedding, Module, SASRecBackbone

REC_LOSSES = ("full_softmax", "bce", "sampled_softmax")  # accepted values of config.loss
PROPOSALS = ("uniform", "popularity")                     # accepted values of config.proposal


def check_field(ok, cfg, field, value, expected):
    """Raise ``ValueError('<Config>.<field>=<value> is invalid: must be <expected>')`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{type(cfg).__name__}.{field}={value!r} is invalid: must be {expected}")


@dataclass
class BackboneConfig:
    """Settings every model shares: sizes, the SASRec backbone, the rec loss, the seed.

    ``SASRecConfig`` is exactly this; ``SIDConfig`` (and through it ``FusionConfig`` and
    ``H2RecConfig``) adds the semantic-ID fields. Every default is the usual choice for
    ML-1M-sized data.
    """
    num_items: int              # V: item ids are 1..V, 0 is padding (required)
    max_len: int = 50           # the last 50 items carry most of the signal (SASRec's setting
                                # for sparse data); use 200 for dense data such as ML-1M
    d: int = 64                 # width: SASRec's best on most datasets, fast on a CPU
    heads: int = 1              # SASRec found 1 head as good as more at d = 64
    blocks: int = 2             # 2 blocks: SASRec's default; deeper barely helps at this size
    dropout: float = 0.2        # SASRec uses 0.2 (ML-1M) to 0.5 (sparse Amazon data)
    loss: str = "full_softmax"  # full cross-entropy: much better tail accuracy than BCE
                                # while V is small enough to score all items (DESIGN.md §4)
    num_negatives: int = 256    # N shared negatives per batch for loss="sampled_softmax": with logQ
                                # correction a few hundred already track the full softmax closely
    proposal: str = "uniform"   # what sampled_softmax draws from: "uniform", or "popularity"
                                # (q_i ~ count_i ** proposal_beta; the model needs item_counts)
    proposal_beta: float = 0.5  # flattens the popularity proposal (0 = uniform, 1 = raw counts)
    seed: int = 0               # one seed drives init and dropout -> runs are reproducible
    block: str = "sasrec"       # SASRec's own block (nn/transformer.py; "pre_ln" | "post_ln" also work):
                                # as good as pre-LN alone, and part of the set that matches PyTorch SASRec
    ffn_hidden: int = None      # None = d, SASRec's point-wise FFN keeps the width
    activation: str = "relu"    # SASRec's FFN uses ReLU ("gelu" is the modern alternative)

    def __post_init__(self):
        c = self
        check_field(c.num_items >= 1, c, "num_items", c.num_items, ">= 1")
        check_field(c.max_len >= 1, c, "max_len", c.max_len, ">= 1")
        check_field(c.d >= 1, c, "d", c.d, ">= 1")
        check_field(c.heads >= 1 and c.d % c.heads == 0, c, "heads", c.heads, f"a divisor of d={c.d}")
        check_field(c.blocks >= 1, c, "blocks", c.blocks, ">= 1")
        check_field(0.0 <= c.dropout < 1.0, c, "dropout", c.dropout, "in [0, 1)")
        check_field(c.loss in REC_LOSSES, c, "loss", c.loss, f"one of {REC_LOSSES}")
        check_field(isinstance(c.num_negatives, (int, np.integer)) and c.num_negatives >= 1, c,
                    "num_negatives", c.num_negatives, "an integer >= 1")
        check_field(c.proposal in PROPOSALS, c, "proposal", c.proposal, f"one of {PROPOSALS}")
        check_field(c.proposal_beta >= 0, c, "proposal_beta", c.proposal_beta, ">= 0")
        check_field(c.ffn_hidden is None or c.ffn_hidden >= 1, c, "ffn_hidden", c.ffn_hidden, ">= 1 or None")
        check_field(c.activation in ("relu", "gelu"), c, "activation", c.activation, "'relu' or 'gelu'")
        check_field(c.block in BLOCKS, c, "block", c.block, f"one of {BLOCKS}")


def input_view(raw, P, dropout, pad):
    """The input view of a sequence: ``Drop(raw sqrt(d) + P)``, zeroed at padding.

    ``sqrt(d)`` lifts embeddings of norm ~1 above the positions (as SASRec does); the
    padding rows are zeroed *after* dropout so they carry nothing into attention.

    Parameters
    ----------
    raw : Tensor (..., B, T, d) -- item (or code) embeddings of ``seq``; leading axes (e.g.
        one per SID level) and size-1 axes broadcast.
    P : Tensor (T, d) -- position embeddings.
    dropout : nn.Dropout.
    pad : bool ndarray (B, T) -- True at padding.

    Returns
    -------
    Tensor (..., B, T, d).
    """
    x = dropout(raw * float(np.sqrt(raw.shape[-1])) + P)                   # (..., B, T, d)
    if pad.any():
        x = x * (~pad)[..., None].astype(x.dtype)                           # padding rows = 0
    return x


class SequentialRecommender(Module):
    """Base class: ``forward``, ``item_table``, ``user_states``, ``loss``, ``score_users``.

    Subclasses set ``self.config`` (a :class:`BackboneConfig`) and call :meth:`_init_backbone`
    after creating their item tables.
    """

    config = None

    def _init_backbone(self, rng, item_counts=None):
        """Positions ``P``, the input dropout, the backbone, and the sampled-softmax proposal.

        Parameters
        ----------
        rng : np.random.Generator -- the model's one stream (init draws, then dropout masks).
        item_counts : int array (V+1,) or None -- training counts, for ``proposal="popularity"``.
        """
        c = self.config
        self.pos_emb = Embedding(c.max_len, c.d, rng, padding_idx=None)    # P (max_len, d)
        self.emb_drop = Dropout(c.dropout, rng)
        self.backbone = SASRecBackbone(c.d, c.heads, c.blocks, c.dropout, rng, hidden=c.ffn_hidden,
                                       block=c.block, activation=c.activation)
        if c.proposal == "popularity":
            if item_counts is None or np.shape(item_counts) != (c.num_items + 1,):
                got = None if item_counts is None else np.shape(item_counts)
                raise ValueError(f"{type(self).__name__}: proposal='popularity' needs item_counts of "
                                 f"shape (V+1,) = ({c.num_items + 1},), got {got}")
            self.proposal = Proposal.popularity(item_counts, beta=c.proposal_beta)
        else:
            self.proposal = Proposal.uniform(c.num_items)
        # its own stream, so the negatives do not shift the dropout masks of the main one
        self.sampling_rng = np.random.default_rng([c.seed, 1])

    @property
    def needs_negatives(self):
        """True when the loss samples one negative per position (the Trainer then draws them)."""
        return self.config.loss == "bce"

    def forward(self, seq, positions):
        """User states ``H`` (B, T, d) for ``seq`` (B, T) and ``positions`` (T,)."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(seq, positions)")

    def item_table(self):
        """The (V+1, d') Tensor that states are scored against (row 0 = padding)."""
        raise NotImplementedError(f"{type(self).__name__} must define item_table()")

    def user_states(self, seq, positions):
        """States used for scoring, (B, T, d'); by default ``forward``'s output."""
        return self.forward(seq, positions)

    # ---- training --------------------------------------------------------------------------

    def loss(self, batch):
        """Next-item loss of a ``Batch`` (``seq``, ``positions``, ``target``, ``neg``) -> scalar Tensor."""
        H = self.user_states(batch.seq, batch.positions)      # (B, T, d')
        return self.rec_loss(H, self.item_table(), batch)

    def rec_loss(self, H, table, batch):
        """The next-item loss ``config.loss`` of states ``H`` (B, T, d') against ``table`` (V+1, d')."""
        c = self.config
        if c.loss == "full_softmax":
            return full_softmax_loss(H, table, batch.target)
        if c.loss == "bce":
            if batch.neg is None:
                raise ValueError("loss='bce' needs batch.neg (sampled negatives); "
                                 "build the batches with negatives")
            return bce_loss(H, table, batch.target, batch.neg)
        if c.loss == "sampled_softmax":       # N shared negatives, logQ-corrected (DESIGN §4)
            return sampled_softmax_next_item(H, table, batch.target, self.proposal, c.num_negatives,
                                             self.sampling_rng)
        raise ValueError(f"config.loss={c.loss!r} is not one of {REC_LOSSES}")

    # ---- inference -------------------------------------------------------------------------

    def score_users(self, seq, positions, tables=None):
        """Scores of every item for each user's next item, ``H[:, -1] @ E^T``.

        Sequences are left-padded, so the last real item of every row sits in the last
        column: the state at ``t = T - 1`` is the user state. Runs in eval mode (no
        dropout) without recording a graph; the previous train/eval mode is restored.

        Parameters
        ----------
        seq : int ndarray (B, T), left-padded (0 = pad); each row needs a real last item.
        positions : int ndarray (T,)
        tables : dict or None -- :meth:`score_tables` of the current weights, shared by many
            calls (evaluation); None computes it for this call.

        Returns
        -------
        ndarray (B, V+1) float32; column 0 is padding (the caller excludes it).
        """
        seq = np.asarray(seq)
        if seq.ndim != 2:
            raise ValueError(f"score_users: seq must be (B, T), got shape {seq.shape}")
        with self._inference():
            tables = self._score_tables() if tables is None else tables
            h = self._last_states(seq, positions, tables)          # (B, d')
            return h @ tables["items"].data.T                      # (B, V+1)

    def score_tables(self):
        """The user-independent part of :meth:`score_users`, computed once for many calls.

        Evaluation calls it once per pass and hands it to every ``score_users`` call (the
        weights do not change in between), so the item table -- and whatever else a model
        builds per call from the weights alone -- is not rebuilt for every batch.
        Eval mode, no graph.

        Returns
        -------
        dict -- ``"items"``: the scoring table ``E`` (V+1, d') Tensor; a subclass may add
        entries its ``_last_states`` reads.
        """
        with self._inference():
            return self._score_tables()

    def _score_tables(self):
        """``score_tables`` without the mode switch (called in eval mode, no graph)."""
        return {"items": self.item_table()}

    def _last_states(self, seq, positions, tables):
        """User states at the last column, (B, d') ndarray; ``tables`` from ``_score_tables``."""
        return self.user_states(seq, positions).data[:, -1, :]

    @contextmanager
    def _inference(self):
        """Eval mode (no dropout) and no graph inside; the previous train/eval mode is restored."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                yield
        finally:
            self.train(was_training)


def check_sequence_inputs(seq, positions, num_items, max_len, who):
    """Validate ``seq`` (B, T) item ids in [0, V] and ``positions`` (T,) in [0, max_len); return arrays."""
    seq, positions = np.asarray(seq), np.asarray(positions)
    if seq.ndim != 2 or not np.issubdtype(seq.dtype, np.integer):
        raise ValueError(f"{who}: seq must be an integer (B, T) array, got {seq.dtype} {seq.shape}")
    if positions.shape != (seq.shape[1],) or not np.issubdtype(positions.dtype, np.integer):
        raise ValueError(f"{who}: positions must be integers of shape ({seq.shape[1]},), "
                         f"got {positions.dtype} {positions.shape}")
    if seq.size and (seq.min() < 0 or seq.max() > num_items):
        bad = seq.min() if seq.min() < 0 else seq.max()
        raise IndexError(f"{who}: item id {bad} outside [0, {num_items}]")
    if positions.size and (positions.min() < 0 or positions.max() >= max_len):
        bad = positions.min() if positions.min() < 0 else positions.max()
        raise IndexError(f"{who}: position {bad} outside [0, {max_len}) (config.max_len={max_len})")
    return seq, positions
