"""H2Rec: hash IDs and semantic IDs in two branches that teach each other (DESIGN.md §3-§4).

Glossary: B batch, T length, d width, H heads, hs = d / H, L SID levels, K codes per level,
V items (ids 1..V, 0 = padding), n distinct target items of a batch.

Inputs (P = learned positions, zeroed at padding, dropout in training)::

    X_h   = Drop(E_h[seq] sqrt(d) + P)                       (B, T, d)     hash-ID view
    X_s^l = Drop(C^l[codes[seq, l]] sqrt(d) + P)             (L, B, T, d)  one view per level
    X_s   = Drop(e_s(seq) sqrt(d) + P),  e_s = mean_l C^l    (B, T, d)     fused SID view

HID branch:  Z^l = CA_l(query X_s^l, keys/values X_h)  (all L at once, ``LevelCrossAttention``)
             alpha_t = softmax(g([X_h[t] ; b]) + b)    (B, T, L), b = linspace(1.0, 0.2, L)
             Z_h = X_h + sum_l alpha_l Z^l ;  H_h = Backbone(Z_h)
SID branch:  Z_s = X_s + CA(query X_h, keys/values X_s) ;  H_s = Backbone(Z_s)
Score:       s(t, i) = H_h[t] . E_h[i] + H_s[t] . e_s(i) = [H_h ; H_s][t] . [E_h ; e_s][i]

The gate is evaluated **per position** from X_h[t]: the paper's per-user gate reads the last
item, which during training is the target of the position before it -- a leak. At the last
position (inference, ``gate_weights``, L_msg) the two are the same thing. Every attention is
causal and padding-masked; ``residual=False`` drops the ``X_h +`` / ``X_s +`` (public code).

Loss: ``L_rec + lambda_code L_code + lambda_msg L_msg`` (``losses/alignment.py``).
"""
from dataclasses import dataclass

import numpy as np

from ..autograd import Tensor, fused, is_grad_enabled, no_grad, ops
from ..losses.alignment import (code_alignment_loss, code_positive_weights, lowest_gate_levels,
                                masked_granularity_loss, select_code_items)
from ..nn import Embedding, Module, MultiHeadAttention, Parameter, SASRecBackbone, attention_mask, init
from .item_side import GranularityGate, check_field, init_normal, pca_rows
from .recompute import chunked_loss
from .base import check_sequence_inputs
from .sid import SIDConfig, TableRecommender


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

        def weight():
            return Parameter(np.stack([init.xavier_uniform((d, d), rng) for _ in range(levels)]))
        self.wq, self.wk, self.wv, self.wo = weight(), weight(), weight(), weight()   # (L, d, d) each
        self.bq, self.bk, self.bv, self.bo = (Parameter(init.zeros((levels, 1, d))) for _ in range(4))

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


class H2Rec(TableRecommender):
    """The H2Rec model (see the module docstring).

    Parameters
    ----------
    config : H2RecConfig
    codes : int array (V+1, L) in [0, K) -- semantic IDs (row 0 = padding, unused).
    codebooks : float array (L, K, D) or None -- RQ codebooks, needed by ``code_init="rq"``.
    content : float array (V+1, D) or None -- content vectors, needed by ``hot_start``.
    cooc : losses.cooccurrence.CoOccurrence or None -- needed by ``behaviour_positives``.
    """

    name = "h2rec"
    chunk_tokens = 12288   # row-tokens (B x T x passes) above which loss() chunks and recomputes

    def __init__(self, config, codes, codebooks=None, content=None, cooc=None):
        super().__init__()
        if not isinstance(config, H2RecConfig):
            raise ValueError(f"H2Rec: expected an H2RecConfig, got {type(config).__name__}")
        c = config
        if c.behaviour_positives and cooc is None:
            raise ValueError("H2Rec: behaviour_positives=True needs cooc (a CoOccurrence built from "
                             "the training sequences)")
        self._setup(c, codes, codebooks)           # rng, code_emb (C, e_s), pos_emb, emb_drop, backbone
        rng, L = self.rng, c.num_levels
        self.item_emb = Embedding(c.num_items + 1, c.d, rng, padding_idx=0)      # E_h (V+1, d)
        if c.hot_start:
            if content is None or np.shape(content)[0] != c.num_items + 1:
                got = None if content is None else np.shape(content)
                raise ValueError(f"H2Rec: hot_start=True needs content of shape (V+1, D) = "
                                 f"({c.num_items + 1}, D), got {got}")
            self.item_emb.weight.data[...] = pca_rows(content, c.d, rng)
        self.level_attn = LevelCrossAttention(L, c.d, c.heads, c.dropout, rng) if c.cross_attention else None
        self.sid_attn = MultiHeadAttention(c.d, c.heads, c.dropout, rng) if c.cross_attention else None
        self.gate = GranularityGate(c.d, L, c.gate_hidden or c.d, rng) if c.gate else None
        self.mask_emb = Parameter(init_normal((L, c.d), rng)) if c.lambda_msg > 0 else None  # (L, d)
        self.sid_backbone = self.backbone if c.shared_backbone else SASRecBackbone(
            c.d, c.heads, c.blocks, c.dropout, rng, hidden=c.ffn_hidden, block=c.block,
            activation=c.activation)
        self.cooc = cooc
        self.last_losses = {}                      # float value of each loss term of the last loss()

    # ---- inputs --------------------------------------------------------------------------------
    def _view(self, raw, P, keep):
        """``Drop(raw sqrt(d) + P)``, zeroed at padding: (..., B, T, d)."""
        x = self.emb_drop(raw * float(np.sqrt(self.config.d)) + P)
        return x if keep is None else x * keep

    def _inputs(self, seq, positions, es_table):
        """The three input views, the gate and the masks, as a dict."""
        c = self.config
        seq, positions = self._check(seq, positions)
        pad = seq == 0                                                        # (B, T)
        keep = (~pad)[..., None].astype(np.float32) if pad.any() else None    # (B, T, 1)
        P = self.pos_emb(positions)                                           # (T, d)
        x_h = self._view(self.item_emb(seq), P, keep)                         # (B, T, d)
        levels = self._view(self.code_emb.level_embeddings(seq), P, keep)     # (L, B, T, d)
        x_s = self._view(ops.embedding(es_table, seq), P, keep)               # (B, T, d)
        B, T, L = seq.shape + (c.num_levels,)
        alpha = (self.gate(x_h) if self.gate is not None                      # (B, T, L)
                 else Tensor(np.full((B, T, L), 1.0 / L), dtype=x_h.dtype))
        return dict(pad=pad, keep=keep, P=P, x_h=x_h, levels=levels, x_s=x_s, alpha=alpha)

    def _check(self, seq, positions):
        c = self.config
        return check_sequence_inputs(seq, positions, c.num_items, c.max_len, "H2Rec")

    @staticmethod
    def _mix(alpha, levels):
        """``sum_l alpha_l levels^l``: alpha (B, T, L) or (B, L), levels (L, B, T, d) -> (B, T, d)."""
        L, B = levels.shape[:2]
        a = (alpha.transpose(1, 0).reshape(L, B, 1, 1) if alpha.ndim == 2       # (L, B, 1, 1)
             else alpha.transpose(2, 0, 1).reshape(L, B, -1, 1))                 # (L, B, T, 1)
        return (levels * a).sum(axis=0)                                          # (B, T, d)

    def _branch_inputs(self, v):
        """``Z_h`` and ``Z_s`` (B, T, d) from the input views ``v``."""
        if not self.config.cross_attention:
            return v["x_h"], v["x_s"]
        z_h = self._mix(v["alpha"], self.level_attn(v["levels"], v["x_h"], v["pad"]))     # (B, T, d)
        z_s = self.sid_attn(v["x_h"], v["x_s"], v["x_s"], causal=True, key_padding=v["pad"])
        if self.config.residual:
            z_h, z_s = v["x_h"] + z_h, v["x_s"] + z_s
        if v["keep"] is not None:
            z_h, z_s = z_h * v["keep"], z_s * v["keep"]
        return z_h, z_s

    def _msg_inputs(self, v):
        """L_msg inputs: ``sum_l alpha_l X~_s^l`` (lowest-gate levels masked) and ``sum_l alpha_l X_s^l``."""
        c = self.config
        alpha = v["alpha"][:, -1, :]                                          # (B, L) per user
        masked = lowest_gate_levels(alpha.data, c.mask_levels)                # (B, L) bool
        L, d = c.num_levels, c.d
        mask_views = self._view(self.mask_emb.reshape(L, 1, 1, d), v["P"], v["keep"])  # (L, B|1, T, d)
        levels_masked = ops.where(masked.T[:, :, None, None], mask_views, v["levels"])  # (L, B, T, d)
        return self._mix(alpha, levels_masked), self._mix(alpha, v["levels"])

    def _backbones(self, z_h, sid_inputs, pad):
        """Run ``z_h`` and each of ``sid_inputs`` (B, T, d) through the backbone(s) -> (n, B, T, d).

        Output 0 is the HID branch; a shared backbone runs all n inputs as one (n*B)-row batch.
        """
        B, T, d = z_h.shape
        if self.config.shared_backbone:
            inputs, n = [z_h] + sid_inputs, 1 + len(sid_inputs)
            x = ops.concatenate(inputs, axis=0)                                # (n*B, T, d)
            return self.backbone(x, np.tile(pad, (n, 1))).reshape(n, B, T, d)  # (n, B, T, d)
        n = len(sid_inputs)
        x = ops.concatenate(sid_inputs, axis=0) if n > 1 else sid_inputs[0]    # ((n-1)*B, T, d)
        h_s = self.sid_backbone(x, np.tile(pad, (n, 1)))                       # ((n-1)*B, T, d)
        return ops.concatenate([self.backbone(z_h, pad), h_s], axis=0).reshape(n + 1, B, T, d)

    def _encode(self, seq, positions, es_table, with_msg=False):
        """User states ``[H_h ; H_s]`` (B, T, 2d), the input views, and (U_m, U_f) (B, d) or None."""
        v = self._inputs(seq, positions, es_table)
        z_h, z_s = self._branch_inputs(v)
        sid_inputs = [z_s] + (list(self._msg_inputs(v)) if with_msg else [])
        H = self._backbones(z_h, sid_inputs, v["pad"])                        # (n, B, T, d)
        n, B, T, d = H.shape
        branches = H[0:2] if with_msg else H                                   # (2, B, T, d)
        states = branches.transpose(1, 2, 0, 3).reshape(B, T, 2 * d)           # (B, T, 2d) = [H_h ; H_s]
        if not with_msg:
            return states, v, None
        last = H[2:4, :, -1, :]                                                # (2, B, d)
        return states, v, (last[0], last[1])

    # ---- the model contract -----------------------------------------------------------------------
    def forward(self, seq, positions):
        """``seq`` int (B, T) left-padded, ``positions`` int (T,) -> ``[H_h ; H_s]`` (B, T, 2d)."""
        return self._encode(seq, positions, self.code_emb.table())[0]

    def item_table(self):
        """``[E_h ; e_s]`` (V+1, 2d), row 0 = 0."""
        return self._table(self.code_emb.table())

    def _table(self, es_table):
        E_h = self.item_emb.weight                                            # (V+1, d)
        p = self.config.hid_dropout
        if self.training and p > 0:       # whole rows, not rescaled: a kept row scores as at eval
            keep = self.rng.random(E_h.shape[0]) >= p                         # (V+1,)
            E_h = E_h * Tensor(keep[:, None].astype(E_h.dtype))
        return ops.concatenate([E_h, es_table], axis=-1)                      # (V+1, 2d)

    def _score_tables(self):
        """``[E_h ; e_s]`` and ``e_s`` itself: evaluation builds them once per pass (``score_tables``)."""
        es_table = self.code_emb.table()                                      # (V+1, d)
        return {"items": self._table(es_table), "es": es_table}

    def _last_states(self, seq, positions, tables):
        """``[H_h ; H_s]`` at the last column (B, 2d); the SID inputs read the shared ``tables["es"]``."""
        return self._encode(seq, positions, tables["es"])[0].data[:, -1, :]

    def loss(self, batch):
        """``L_rec + lambda_code L_code + lambda_msg L_msg`` for a Batch -> scalar Tensor.

        Terms with lambda = 0 are not computed. ``self.last_losses`` keeps each term's value.
        A batch of more than ``chunk_tokens`` row-tokens (B x T x backbone passes) is computed
        in row chunks with recomputation (``models/recompute.py``): same loss, bounded memory.
        """
        c = self.config
        es_table = self.code_emb.table()                                      # (V+1, d), once per step
        B, T = np.shape(batch.seq)
        if is_grad_enabled() and B > 1 and B * T * (4 if c.lambda_msg > 0 else 2) > self.chunk_tokens:
            total, self.last_losses = chunked_loss(self, batch, es_table, self.chunk_tokens)
            return self._add_code_loss(total, batch, es_table)
        states, v, msg = self._encode(batch.seq, batch.positions, es_table, with_msg=c.lambda_msg > 0)
        total = self.rec_loss(states, self._table(es_table), batch)
        self.last_losses = {"rec": total.item()}
        if msg is not None:
            granularity = masked_granularity_loss(msg[0], msg[1], tau=c.tau_msg)
            self.last_losses["msg"] = granularity.item()
            total = total + c.lambda_msg * granularity
        return self._add_code_loss(total, batch, es_table)

    def _add_code_loss(self, total, batch, es_table):
        """``total + lambda_code L_code`` (L_code skipped when lambda_code = 0)."""
        c = self.config
        if c.lambda_code > 0:
            code = self.code_loss(batch.target, es_table)
            self.last_losses["code"] = code.item()
            total = total + c.lambda_code * code
        return total

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

    def gate_weights(self, seq, positions):
        """Gate weights alpha (B, L) ndarray at the last position (eval mode, no graph)."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                return self._inputs(seq, positions, self.code_emb.table())["alpha"].data[:, -1, :].copy()
        finally:
            self.train(was_training)
