"""H2Rec: hash IDs and semantic IDs in two branches that teach each other (DESIGN.md §3-§4).

Glossary: B batch, T length, d width, L SID levels, K codes per level, V items (ids 1..V,
0 = padding), R backbone runs per step (2, or 4 with L_msg), n distinct target items (L_code).

Inputs (``input_view``: P = learned positions, dropout in training, zeroed at padding)::

    X_h   = Drop(E_h[seq] sqrt(d) + P)                       (B, T, d)     hash-ID view
    X_s^l = Drop(C^l[codes[seq, l]] sqrt(d) + P)             (L, B, T, d)  one view per level
    X_s   = Drop(e_s(seq) sqrt(d) + P),  e_s = mean_l C^l    (B, T, d)     fused SID view

HID branch:  Z^l = CA_l(query X_s^l, keys/values X_h)  (all L at once, ``nn.LevelCrossAttention``)
             alpha_t = softmax(g([X_h[t] ; b]) + b)    (B, T, L), b = linspace(1.0, 0.2, L)
             Z_h = X_h + sum_l alpha_l Z^l ;  H_h = Backbone(Z_h)
SID branch:  Z_s = X_s + CA(query X_h, keys/values X_s) ;  H_s = Backbone(Z_s)
Score:       s(t, i) = H_h[t] . E_h[i] + H_s[t] . e_s(i) = [H_h ; H_s][t] . [E_h ; e_s][i]

The gate is evaluated **per position** from X_h[t]: the paper's per-user gate reads the last
item, which during training is the target of the position before it -- a leak. At the last
position (inference, ``gate_weights``, L_msg) the two are the same thing. Every attention is
causal and padding-masked; ``residual=False`` drops the ``X_h +`` / ``X_s +`` (public code).

Loss: ``L_rec + lambda_code L_code + lambda_msg L_msg`` (``losses/alignment.py``). One step::

    e_s = code_emb.table()                       # (V+1, d), once per step
    out = encode(seq, positions, e_s)            # Encoded: states [H_h ; H_s], U_m, U_f
    loss = loss_from(out, batch, e_s)            # the three terms, weighted

(``minih2rec/recompute.py``, an opt-in of the trainer, runs ``encode`` in row chunks to
bound memory on long sequences; the model itself always computes in one shot.)
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..autograd import Tensor, fused, no_grad, ops
from ..losses.alignment import (code_alignment_loss, code_positive_weights, lowest_gate_levels,
                                masked_granularity_loss, select_code_items)
from ..nn import (Embedding, LevelCrossAttention, Linear, Module, MultiHeadAttention, Parameter,
                  SASRecBackbone)
from .base import SequentialRecommender, check_field, check_sequence_inputs, input_view
from .item_side import CodeEmbeddings, SIDConfig, check_codes, init_normal, mean_row_norm, pca_rows


@dataclass
class H2RecConfig(SIDConfig):
    """H2Rec settings: ``SIDConfig`` (sizes, backbone, rec loss, code init) plus the fields below."""
    lambda_code: float = 0.1    # weight of L_code (paper: 0.1); 0 skips the term entirely
    lambda_msg: float = 0.1     # weight of L_msg (paper: 0.1); 0 skips it (and its 2 backbone passes)
    tau_code: float = 0.5       # L_code temperature (paper); lower = sharper item matching
    tau_msg: float = 1.0        # L_msg temperature tau' (paper)
    code_items_cap: int = 1024  # at most this many distinct targets in L_code (cost O(n^2))
    code_positive_cap: int = 50  # at most 50 same-tuple positives per item (DESIGN §4)
    behaviour_positives: bool = False  # co-occurrence positives in L_code (needs a CoOccurrence)
    cooc_window: int = 3        # +-3 positions count as co-occurring (the builder uses it)
    cross_attention: bool = True  # False: Z_h = X_h, Z_s = X_s (ablation "no cross-attention")
    gate: bool = True           # False: alpha = 1/L for every level (ablation "no gate")
    residual: bool = True       # the X_h + / X_s + around the cross-attentions; False = public code
    shared_backbone: bool = True  # one backbone for both branches (paper); False: one each, and the
                                  # SID one also encodes the L_msg views (they are SID views)
    hot_start: bool = False     # True: E_h starts from the PCA of the content vectors
    gate_hidden: int = None     # width of the gate MLP; None = d
    mask_levels: int = None     # levels masked in L_msg; None = max(1, L // 2) (DESIGN §4)
    hid_dropout: float = 0.0    # training only: each item's E_h row leaves the score table with this
                                # probability per step (item-ID dropout, as DropoutNet does for cold
                                # start), so the model also learns to score an item from e_s alone --
                                # all a rare item, whose E_h sees few updates, really has. 0 = off (paper)

    def __post_init__(self):
        super().__post_init__()
        c = self
        for name in ("lambda_code", "lambda_msg"):
            check_field(getattr(c, name) >= 0, c, name, getattr(c, name), ">= 0")
        for name in ("tau_code", "tau_msg"):
            check_field(getattr(c, name) > 0, c, name, getattr(c, name), "> 0")
        check_field(0 <= c.hid_dropout < 1, c, "hid_dropout", c.hid_dropout, "in [0, 1)")
        check_field(c.code_items_cap >= 1, c, "code_items_cap", c.code_items_cap, ">= 1")
        check_field(c.code_positive_cap >= 0, c, "code_positive_cap", c.code_positive_cap, ">= 0")
        check_field(c.cooc_window >= 1, c, "cooc_window", c.cooc_window, ">= 1")
        check_field(c.gate_hidden is None or c.gate_hidden >= 1, c, "gate_hidden", c.gate_hidden,
                    ">= 1 or None")
        check_field(c.mask_levels is None or 1 <= c.mask_levels <= c.num_levels, c, "mask_levels",
                    c.mask_levels, f"None or in [1, num_levels={c.num_levels}]")
        for name in ("behaviour_positives", "cross_attention", "gate", "residual", "shared_backbone",
                     "hot_start", "sid_projection"):
            check_field(isinstance(getattr(c, name), bool), c, name, getattr(c, name), "a bool")


class Views(NamedTuple):
    """The inputs of one pass (module docstring): what the branches and L_msg read."""
    pad: np.ndarray             # (B, T) bool, True at padding
    P: Tensor                   # (T, d) positions
    x_h: Tensor                 # (B, T, d) X_h
    levels: Tensor              # (L, B, T, d) X_s^l
    x_s: Tensor                 # (B, T, d) X_s
    alpha: Tensor               # (B, T, L) gate weights


class Encoded(NamedTuple):
    """What ``encode`` returns: the scoring states and, with L_msg, the two user states it compares."""
    states: Tensor              # (B, T, 2d) [H_h ; H_s]
    masked: Tensor = None       # (B, d) U_m: last position of Backbone(sum_l alpha_l X~_s^l), levels masked
    full: Tensor = None         # (B, d) U_f: last position of Backbone(sum_l alpha_l X_s^l)


class H2Rec(SequentialRecommender):
    """The H2Rec model (see the module docstring).

    Parameters
    ----------
    config : H2RecConfig
    codes : int array (V+1, L) in [0, K) -- semantic IDs (row 0 = padding, unused).
    codebooks : float array (L, K, D) or None -- RQ codebooks, needed by ``code_init="rq"``.
    content : float array (V+1, D) or None -- content vectors, needed by ``hot_start``.
    cooc : losses.cooccurrence.CoOccurrence or None -- needed by ``behaviour_positives``.
    item_counts : int array (V+1,) or None -- training counts, needed by ``proposal="popularity"``.
    """

    name = "h2rec"

    def __init__(self, config, codes, codebooks=None, content=None, cooc=None, item_counts=None):
        super().__init__()
        if not isinstance(config, H2RecConfig):
            raise ValueError(f"H2Rec: expected an H2RecConfig, got {type(config).__name__}")
        c = self.config = config
        if c.behaviour_positives and cooc is None:
            raise ValueError("H2Rec: behaviour_positives=True needs cooc (a CoOccurrence built from "
                             "the training sequences)")
        rng = self.rng = np.random.default_rng(c.seed)   # one stream: init first, then dropout masks
        codes = check_codes(codes, c.num_items, c.num_levels, c.codebook_size, "H2Rec")
        self.code_emb = CodeEmbeddings(codes, c.codebook_size, c.d, rng, codebooks,   # C, e_s
                                       c.code_init, c.sid_projection)
        self._init_backbone(rng, item_counts)                                  # P, dropout, backbone
        self.item_emb = Embedding(c.num_items + 1, c.d, rng, padding_idx=0)    # E_h (V+1, d)
        if c.hot_start:
            if content is None or np.shape(content)[0] != c.num_items + 1:
                got = None if content is None else np.shape(content)
                raise ValueError(f"H2Rec: hot_start=True needs content of shape (V+1, D) = "
                                 f"({c.num_items + 1}, D), got {got}")
            fresh = mean_row_norm(self.item_emb.weight.data)        # keep the init's scale
            self.item_emb.weight.data[...] = pca_rows(content, c.d, rng, fresh)
        L = c.num_levels
        self.level_attn = LevelCrossAttention(L, c.d, c.heads, c.dropout, rng) if c.cross_attention else None
        self.sid_attn = MultiHeadAttention(c.d, c.heads, c.dropout, rng) if c.cross_attention else None
        self.gate = GranularityGate(c.d, L, c.gate_hidden or c.d, rng) if c.gate else None
        self.mask_emb = Parameter(init_normal((L, c.d), rng)) if c.lambda_msg > 0 else None  # (L, d)
        self.sid_backbone = self.backbone if c.shared_backbone else SASRecBackbone(
            c.d, c.heads, c.blocks, c.dropout, rng, hidden=c.ffn_hidden, block=c.block,
            activation=c.activation)
        self.cooc = cooc
        self.last_losses = {}                      # float value of each loss term of the last loss()

    # ---- training: one step ------------------------------------------------------------------
    def loss(self, batch):
        """``L_rec + lambda_code L_code + lambda_msg L_msg`` for a Batch -> scalar Tensor.

        Terms with lambda = 0 are not computed. ``self.last_losses`` keeps each term's value.
        """
        es_table = self.code_emb.table()                                      # (V+1, d), once per step
        out = self.encode(batch.seq, batch.positions, es_table, with_msg=self.config.lambda_msg > 0)
        return self.loss_from(out, batch, es_table)

    def loss_from(self, out, batch, es_table):
        """The weighted loss terms from ``encode``'s output ``out`` (an :class:`Encoded`)."""
        c = self.config
        terms = {"rec": self.rec_loss(out.states, self.score_table(es_table), batch)}
        if out.masked is not None:
            terms["msg"] = masked_granularity_loss(out.masked, out.full, tau=c.tau_msg)
        if c.lambda_code > 0:
            terms["code"] = self.code_loss(batch.target, es_table)
        self.last_losses = {name: term.item() for name, term in terms.items()}
        total = terms["rec"]
        if "msg" in terms:
            total = total + c.lambda_msg * terms["msg"]
        if "code" in terms:
            total = total + c.lambda_code * terms["code"]
        return total

    def encode(self, seq, positions, es_table, with_msg=False):
        """Run both branches (and, ``with_msg``, the two L_msg views) through the backbone(s).

        Parameters
        ----------
        seq : int ndarray (B, T) left-padded; positions : int ndarray (T,).
        es_table : Tensor (V+1, d) -- ``e_s`` of this step (``code_emb.table()``).
        with_msg : bool -- also compute the L_msg user states.

        Returns
        -------
        Encoded -- ``states`` (B, T, 2d); ``masked``, ``full`` (B, d) or None.
        Random draws: dropout masks from ``self.rng`` only.
        """
        v = self._views(seq, positions, es_table)
        z_h, z_s = self._branch_inputs(v)
        sid_inputs = [z_s] + (list(self._msg_inputs(v)) if with_msg else [])
        runs = self._backbones(z_h, sid_inputs, v.pad)                        # (R, B, T, d)
        R, B, T, d = runs.shape
        states = runs[0:2].transpose(1, 2, 0, 3).reshape(B, T, 2 * d)         # (B, T, 2d) [H_h ; H_s]
        if not with_msg:
            return Encoded(states)
        return Encoded(states, masked=runs[2, :, -1, :], full=runs[3, :, -1, :])   # (B, d) each

    def score_table(self, es_table):
        """``[E_h ; e_s]`` (V+1, 2d) from this step's ``e_s``; hid_dropout drops E_h rows in training."""
        E_h = self.item_emb.weight                                            # (V+1, d)
        p = self.config.hid_dropout
        if self.training and p > 0:       # whole rows, not rescaled: a kept row scores as at eval
            keep = self.rng.random(E_h.shape[0]) >= p                         # (V+1,)
            E_h = E_h * Tensor(keep[:, None].astype(E_h.dtype))
        return ops.concatenate([E_h, es_table], axis=-1)                      # (V+1, 2d)

    def code_loss(self, target, es_table=None):
        """L_code over the distinct targets of ``target`` (B, T): e_s vs E_h, multi-positive InfoNCE."""
        c = self.config
        es_table = self.code_emb.table() if es_table is None else es_table
        items = select_code_items(target, cap=c.code_items_cap, rng=self.rng)       # (n,)
        W = code_positive_weights(items, self.codes, self.cooc if c.behaviour_positives else None,
                                  cap=c.code_positive_cap, rng=self.rng)           # (n, n)
        sid = ops.embedding(es_table, items)                                        # (n, d)
        hid = ops.embedding(self.item_emb.weight, items)                            # (n, d)
        return code_alignment_loss(sid, hid, W, tau=c.tau_code)

    # ---- the pieces of encode ------------------------------------------------------------------
    def _views(self, seq, positions, es_table):
        """The three input views and the gate (:class:`Views`)."""
        c = self.config
        seq, positions = check_sequence_inputs(seq, positions, c.num_items, c.max_len, "H2Rec")
        pad = seq == 0                                                        # (B, T)
        P = self.pos_emb(positions)                                           # (T, d)
        x_h = input_view(self.item_emb(seq), P, self.emb_drop, pad)          # (B, T, d)
        levels = input_view(self.code_emb.level_embeddings(seq), P, self.emb_drop, pad)  # (L, B, T, d)
        x_s = input_view(ops.embedding(es_table, seq), P, self.emb_drop, pad)  # (B, T, d)
        B, T, L = seq.shape + (c.num_levels,)
        alpha = (self.gate(x_h) if self.gate is not None                      # (B, T, L)
                 else Tensor(np.full((B, T, L), 1.0 / L), dtype=x_h.dtype))
        return Views(pad, P, x_h, levels, x_s, alpha)

    def _branch_inputs(self, v):
        """``Z_h`` and ``Z_s`` (B, T, d) from the views ``v``."""
        if not self.config.cross_attention:
            return v.x_h, v.x_s
        z_h = mix_levels(v.alpha, self.level_attn(v.levels, v.x_h, v.pad))  # (B, T, d)
        z_s = self.sid_attn(v.x_h, v.x_s, v.x_s, causal=True, key_padding=v.pad)   # (B, T, d)
        if self.config.residual:
            z_h, z_s = v.x_h + z_h, v.x_s + z_s
        if v.pad.any():
            keep = (~v.pad)[..., None].astype(z_h.dtype)                      # (B, T, 1)
            z_h, z_s = z_h * keep, z_s * keep
        return z_h, z_s

    def _msg_inputs(self, v):
        """L_msg inputs (B, T, d): ``sum_l alpha_l X~_s^l`` (lowest-gate levels masked), ``sum_l alpha_l X_s^l``."""
        c = self.config
        alpha = v.alpha[:, -1, :]                                             # (B, L) per user
        masked = lowest_gate_levels(alpha.data, c.mask_levels)                # (B, L) bool
        L, d = c.num_levels, c.d
        mask_views = input_view(self.mask_emb.reshape(L, 1, 1, d), v.P, self.emb_drop, v.pad)  # (L, B|1, T, d)
        levels_masked = ops.where(masked.T[:, :, None, None], mask_views, v.levels)    # (L, B, T, d)
        return mix_levels(alpha, levels_masked), mix_levels(alpha, v.levels)

    def _backbones(self, z_h, sid_inputs, pad):
        """Run ``z_h`` and each of ``sid_inputs`` (B, T, d) through the backbone(s) -> (R, B, T, d).

        Run 0 is the HID branch; a shared backbone runs all R inputs as one (R*B)-row batch.
        """
        B, T, d = z_h.shape
        if self.config.shared_backbone:
            R = 1 + len(sid_inputs)
            x = ops.concatenate([z_h] + sid_inputs, axis=0)                    # (R*B, T, d)
            return self.backbone(x, np.tile(pad, (R, 1))).reshape(R, B, T, d)  # (R, B, T, d)
        S = len(sid_inputs)                                                    # SID-side runs, R - 1
        x = ops.concatenate(sid_inputs, axis=0) if S > 1 else sid_inputs[0]    # (S*B, T, d)
        h_s = self.sid_backbone(x, np.tile(pad, (S, 1)))                       # (S*B, T, d)
        return ops.concatenate([self.backbone(z_h, pad), h_s], axis=0).reshape(S + 1, B, T, d)

    # ---- the model contract ----------------------------------------------------------------------
    @property
    def codes(self):
        """Semantic IDs (V+1, L) int64."""
        return self.code_emb.codes

    def extra_arrays(self):
        """Arrays a checkpoint stores besides the weights: the semantic IDs."""
        return {"semantic/codes": self.codes}

    def forward(self, seq, positions):
        """``seq`` int (B, T) left-padded, ``positions`` int (T,) -> ``[H_h ; H_s]`` (B, T, 2d)."""
        return self.encode(seq, positions, self.code_emb.table()).states

    def item_table(self):
        """``[E_h ; e_s]`` (V+1, 2d), row 0 = 0."""
        return self.score_table(self.code_emb.table())

    def _score_tables(self):
        """``[E_h ; e_s]`` and ``e_s`` itself: evaluation builds them once per pass (``score_tables``)."""
        es_table = self.code_emb.table()                                      # (V+1, d)
        return {"items": self.score_table(es_table), "es": es_table}

    def _last_states(self, seq, positions, tables):
        """``[H_h ; H_s]`` at the last column (B, 2d); the SID inputs read the shared ``tables["es"]``."""
        return self.encode(seq, positions, tables["es"]).states.data[:, -1, :]

    def gate_weights(self, seq, positions):
        """Gate weights alpha (B, L) ndarray at the last position (eval mode, no graph)."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                return self._views(seq, positions, self.code_emb.table()).alpha.data[:, -1, :].copy()
        finally:
            self.train(was_training)


class GranularityGate(Module):
    """Per-position gate over the L levels: ``alpha = softmax(g([x ; b]) + b)``.

    ``b = linspace(1.0, 0.2, L)`` is the prior (coarse levels first) -- both an input to g
    and a bias on its output; ``g = Linear(d + L, hidden) -> ReLU -> Linear(hidden, L)``
    with the last layer's weight and bias at zero, so training starts from ``softmax(b)``.

    Parameters
    ----------
    d, num_levels, hidden : int -- input width, L, MLP width.
    rng : np.random.Generator.
    """

    def __init__(self, d, num_levels, hidden, rng):
        super().__init__()
        self.prior = np.linspace(1.0, 0.2, num_levels).astype(np.float32)   # b (L,)
        self.fc1 = Linear(d + num_levels, hidden, rng)
        self.fc2 = Linear(hidden, num_levels, rng)
        self.fc2.weight.data[...] = 0.0                             # start exactly at the prior
        self.fc2.bias.data[...] = 0.0

    def forward(self, x):
        """``x`` Tensor (..., d) -> alpha Tensor (..., L), rows summing to 1."""
        b = Tensor(np.broadcast_to(self.prior, x.shape[:-1] + self.prior.shape), dtype=x.dtype)
        h = self.fc1(ops.concatenate([x, b], axis=-1)).relu()      # (..., hidden)
        return fused.softmax(self.fc2(h) + self.prior, axis=-1)     # (..., L)


def mix_levels(alpha, levels):
    """``sum_l alpha_l levels^l``: alpha (B, T, L) or (B, L), levels (L, B, T, d) -> (B, T, d)."""
    L, B = levels.shape[:2]
    a = (alpha.transpose(1, 0).reshape(L, B, 1, 1) if alpha.ndim == 2       # (L, B, 1, 1)
         else alpha.transpose(2, 0, 1).reshape(L, B, -1, 1))                 # (L, B, T, 1)
    return (levels * a).sum(axis=0)                                          # (B, T, d)
