"""PyTorch twins of minih2rec's models (SASRec, SID-only, fusion, H2Rec), for the two torch benches.

Glossary: B batch, T length, d width, H heads, hs = d / H, L SID levels, K codes per level,
V items (ids 1..V, 0 = padding), n distinct target items of a batch.

A twin is built **from a minih2rec model** (:func:`twin_of`): it reads the model's config
(block layout, heads, FFN width and activation, dropout, levels, every H2Rec switch) and
copies its weights by name (:func:`copy_weights`), so it follows whatever defaults -- block,
init, eps -- minih2rec has today. Parameter names and shapes are minih2rec's own (Linear
weights stored (in, out), ``backbone.blocks.0.attn.q.weight``, ``level_attn.wq`` ...), so
copying is a strict name-by-name match, and comparing after an optimizer step is too.

The math is written again with torch ops (never imported from minih2rec); only the
non-differentiable bookkeeping of L_code -- which distinct targets enter it and the
positive-weight matrix W -- reuses minih2rec's NumPy helpers, drawing from a NumPy
generator ``twin.rng`` that a caller may set to minih2rec's state, so the choice is identical.
Dropout uses torch's own generator (its masks differ from minih2rec's; parity runs use p = 0).
Layers and losses are in ``bench/_torch_layers.py``.

This module imports torch: the scripts check that torch is importable before importing it.
It is not part of the package, and nothing in ``minih2rec/`` imports it.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _torch_layers import (Backbone, Linear, MultiHeadAttention, Table, attention, causal_mask,
                           code_alignment_loss, full_softmax_loss, lowest_gate_levels,
                           masked_granularity_loss)
from minih2rec.losses.alignment import code_positive_weights, select_code_items


# ---------------------------------------------------------------- models
class SASRecTwin(nn.Module):
    """``H = Backbone(Drop(E[seq] sqrt(d) + P) * keep)``, scored against E (minih2rec ``models/sasrec.py``)."""

    def __init__(self, c, dtype):
        super().__init__()
        self.config, self.name = c, "torch-" + "sasrec"
        self.item_emb = Table(c.num_items + 1, c.d, dtype)               # E (V+1, d)
        self.pos_emb = Table(c.max_len, c.d, dtype)                      # P (max_len, d)
        self.backbone = Backbone(c, dtype)

    def embed(self, table, seq, positions, pad):
        """``Drop(table[seq] sqrt(d) + P[positions])``, zeroed at padding: (B, T, d)."""
        x = F.embedding(seq, table, padding_idx=0) * math.sqrt(self.config.d) + self.pos_emb.weight[positions]
        return F.dropout(x, self.config.dropout, self.training) * (~pad)[..., None].to(x.dtype)

    def item_table(self):
        return self.item_emb.weight

    def user_states(self, seq, positions):
        pad = seq == 0
        return self.backbone(self.embed(self.item_table(), seq, positions, pad), pad)  # (B, T, d)

    def loss(self, seq, positions, target):
        return full_softmax_loss(self.user_states(seq, positions), self.item_table(), target)

    def score_users(self, seq, positions):
        """Scores (B, V+1) ndarray at the last column, eval mode, no graph (what ``evaluate`` calls)."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                seq, positions = torch.as_tensor(seq), torch.as_tensor(positions)
                h = self.user_states(seq, positions)[:, -1]              # (B, d')
                return (h @ self.item_table().t()).numpy()               # (B, V+1)
        finally:
            self.train(was)


class CodeEmbeddings(nn.Module):
    """C (L, K, d) and ``e_s(i) = mean_l C^l[c_i^l]`` (then the projection, if any); row 0 = 0."""

    def __init__(self, codes, K, d, projection, dtype):
        super().__init__()
        L = codes.shape[1]
        self.L, self.K, self.d = L, K, d
        rows = torch.as_tensor(np.asarray(codes, dtype=np.int64) + np.arange(L) * K)
        self.register_buffer("rows", rows, persistent=False)             # (V+1, L) rows of C as (L*K, d)
        self.weight = nn.Parameter(torch.zeros(L, K, d, dtype=dtype))
        self.proj = Linear(d, d, dtype) if projection else None

    def flat(self):
        return self.weight.reshape(self.L * self.K, self.d)              # (L*K, d)

    def level_embeddings(self, seq):
        return F.embedding(self.rows[seq].permute(2, 0, 1), self.flat())  # (L, B, T, d)

    def table(self):
        e = F.embedding(self.rows, self.flat()).mean(dim=-2)             # (V+1, d)
        e = self.proj(e) if self.proj is not None else e
        keep = torch.ones(e.shape[0], 1, dtype=e.dtype)
        keep[0] = 0.0
        return e * keep


class TableTwin(SASRecTwin):
    """SID-only (``kind="sid"``: table e_s) and fusion (``"fusion"``: E_h + e_s): SASRec on a computed table."""

    def __init__(self, c, codes, kind, dtype):
        nn.Module.__init__(self)
        self.config, self.name, self.kind = c, "torch-" + kind, kind
        self.code_emb = CodeEmbeddings(codes, c.codebook_size, c.d, c.sid_projection, dtype)
        self.pos_emb = Table(c.max_len, c.d, dtype)
        self.backbone = Backbone(c, dtype)
        if kind == "fusion":
            self.item_emb = Table(c.num_items + 1, c.d, dtype)

    def item_table(self):
        es = self.code_emb.table()
        return es if self.kind == "sid" else self.item_emb.weight + es

    def loss(self, seq, positions, target):
        table = self.item_table()                                        # once per step, as minih2rec
        pad = seq == 0
        H = self.backbone(self.embed(table, seq, positions, pad), pad)
        return full_softmax_loss(H, table, target)

    def user_states(self, seq, positions):
        pad = seq == 0
        return self.backbone(self.embed(self.item_table(), seq, positions, pad), pad)


class LevelCrossAttention(nn.Module):
    """L cross-attentions with stacked weights W (L, d, d), b (L, 1, d); queries per level, shared keys."""

    def __init__(self, L, d, heads, dropout, dtype):
        super().__init__()
        self.heads, self.p = heads, dropout
        for name in ("wq", "wk", "wv", "wo"):
            setattr(self, name, nn.Parameter(torch.zeros(L, d, d, dtype=dtype)))
        for name in ("bq", "bk", "bv", "bo"):
            setattr(self, name, nn.Parameter(torch.zeros(L, 1, d, dtype=dtype)))

    def forward(self, queries, keys, mask):
        L, B, T, d = queries.shape
        H = self.heads
        x = keys.reshape(1, B * T, d)                                     # (1, B*T, d)
        q = torch.baddbmm(self.bq, queries.reshape(L, B * T, d), self.wq)  # (L, B*T, d)
        k = x @ self.wk + self.bk                                         # (L, B*T, d)
        v = x @ self.wv + self.bv

        def split(t):
            return t.view(L, B, T, H, d // H).transpose(2, 3)            # (L, B, H, T, hs)
        y = attention(split(q), split(k), split(v), mask, self.p, self.training)
        y = y.transpose(2, 3).reshape(L, B * T, d)                        # (L, B*T, d)
        return torch.baddbmm(self.bo, y, self.wo).view(L, B, T, d)       # (L, B, T, d)


class Gate(nn.Module):
    """``alpha = softmax(fc2(relu(fc1([x ; b]))) + b)``, b = linspace(1.0, 0.2, L) (float32, as minih2rec)."""

    def __init__(self, d, L, hidden, dtype):
        super().__init__()
        self.register_buffer("prior", torch.tensor(np.linspace(1.0, 0.2, L).astype(np.float32)).to(dtype),
                             persistent=False)
        self.fc1, self.fc2 = Linear(d + L, hidden, dtype), Linear(hidden, L, dtype)

    def forward(self, x):
        b = self.prior.expand(*x.shape[:-1], -1)                          # (..., L)
        return torch.softmax(self.fc2(F.relu(self.fc1(torch.cat([x, b], dim=-1)))) + self.prior, dim=-1)


class H2RecTwin(SASRecTwin):
    """H2Rec (minih2rec ``models/h2rec.py``): two branches, per-level cross-attention, gate, L_code, L_msg."""

    def __init__(self, c, codes, cooc, dtype):
        nn.Module.__init__(self)
        if c.loss != "full_softmax":
            raise ValueError(f"H2RecTwin: only loss='full_softmax' is mirrored, got {c.loss!r}")
        self.config, self.name, self.cooc = c, "torch-h2rec", cooc
        self.codes = np.asarray(codes)
        self.rng = np.random.default_rng(c.seed)          # L_code's item choice and hid_dropout rows
        L, d = c.num_levels, c.d
        self.code_emb = CodeEmbeddings(codes, c.codebook_size, d, c.sid_projection, dtype)
        self.pos_emb = Table(c.max_len, d, dtype)
        self.backbone = Backbone(c, dtype)
        self.item_emb = Table(c.num_items + 1, d, dtype)                 # E_h (V+1, d)
        if c.cross_attention:
            self.level_attn = LevelCrossAttention(L, d, c.heads, c.dropout, dtype)
            self.sid_attn = MultiHeadAttention(d, c.heads, c.dropout, dtype)
        self.gate = Gate(d, L, c.gate_hidden or d, dtype) if c.gate else None
        if c.lambda_msg > 0:
            self.mask_emb = nn.Parameter(torch.zeros(L, d, dtype=dtype))  # (L, d)
        self.sid_backbone = self.backbone if c.shared_backbone else Backbone(c, dtype)
        self.last_losses = {}

    def _view(self, raw, P, keep):
        x = F.dropout(raw * math.sqrt(self.config.d) + P, self.config.dropout, self.training)
        return x if keep is None else x * keep

    def _inputs(self, seq, positions, es):
        c, L = self.config, self.config.num_levels
        pad = seq == 0                                                    # (B, T)
        keep = (~pad)[..., None].to(es.dtype) if bool(pad.any()) else None  # (B, T, 1)
        P = self.pos_emb.weight[positions]                                # (T, d)
        x_h = self._view(F.embedding(seq, self.item_emb.weight, padding_idx=0), P, keep)
        levels = self._view(self.code_emb.level_embeddings(seq), P, keep)  # (L, B, T, d)
        x_s = self._view(F.embedding(seq, es), P, keep)                   # (B, T, d)
        alpha = (self.gate(x_h) if self.gate is not None
                 else torch.full(seq.shape + (L,), 1.0 / L, dtype=es.dtype))  # (B, T, L)
        return dict(pad=pad, keep=keep, P=P, x_h=x_h, levels=levels, x_s=x_s, alpha=alpha,
                    mask=causal_mask(seq.shape[1], pad))

    @staticmethod
    def _mix(alpha, levels):
        """``sum_l alpha_l levels^l``: alpha (B, T, L) or (B, L), levels (L, B, T, d) -> (B, T, d)."""
        a = alpha.t()[:, :, None, None] if alpha.dim() == 2 else alpha.permute(2, 0, 1)[..., None]
        return (levels * a).sum(dim=0)

    def _branch_inputs(self, v):
        if not self.config.cross_attention:
            return v["x_h"], v["x_s"]
        z_h = self._mix(v["alpha"], self.level_attn(v["levels"], v["x_h"], v["mask"]))
        z_s = self.sid_attn(v["x_h"], v["x_s"], v["x_s"], v["mask"])
        if self.config.residual:
            z_h, z_s = v["x_h"] + z_h, v["x_s"] + z_s
        if v["keep"] is not None:
            z_h, z_s = z_h * v["keep"], z_s * v["keep"]
        return z_h, z_s

    def _msg_inputs(self, v):
        c = self.config
        L, d = c.num_levels, c.d
        alpha = v["alpha"][:, -1, :]                                      # (B, L)
        masked = lowest_gate_levels(alpha.detach(), c.mask_levels or max(1, L // 2))
        mask_views = self._view(self.mask_emb.reshape(L, 1, 1, d), v["P"], v["keep"])
        levels_masked = torch.where(masked.t()[:, :, None, None], mask_views, v["levels"])
        self.last_masked = masked
        return self._mix(alpha, levels_masked), self._mix(alpha, v["levels"])

    def _encode(self, seq, positions, es, with_msg=False):
        v = self._inputs(seq, positions, es)
        z_h, z_s = self._branch_inputs(v)
        sid_inputs = [z_s] + (list(self._msg_inputs(v)) if with_msg else [])
        B, T, d = z_h.shape
        n = 1 + len(sid_inputs)
        if self.config.shared_backbone:
            H = self.backbone(torch.cat([z_h] + sid_inputs), v["pad"].repeat(n, 1)).view(n, B, T, d)
        else:
            h_s = self.sid_backbone(torch.cat(sid_inputs), v["pad"].repeat(n - 1, 1))
            H = torch.cat([self.backbone(z_h, v["pad"]), h_s]).view(n, B, T, d)
        states = H[0:2].permute(1, 2, 0, 3).reshape(B, T, 2 * d)          # [H_h ; H_s]
        return states, (H[2, :, -1], H[3, :, -1]) if with_msg else None

    def _table(self, es):
        E_h, p = self.item_emb.weight, self.config.hid_dropout
        if self.training and p > 0:
            keep = torch.as_tensor(self.rng.random(E_h.shape[0]) >= p)
            E_h = E_h * keep[:, None].to(E_h.dtype)
        return torch.cat([E_h, es], dim=-1)                               # (V+1, 2d)

    def item_table(self):
        return self._table(self.code_emb.table())

    def user_states(self, seq, positions):
        return self._encode(seq, positions, self.code_emb.table())[0]

    def loss(self, seq, positions, target):
        """``L_rec + lambda_code L_code + lambda_msg L_msg``; ``last_losses`` keeps each term (Tensors)."""
        c = self.config
        es = self.code_emb.table()                                        # (V+1, d)
        states, msg = self._encode(seq, positions, es, with_msg=c.lambda_msg > 0)
        total = full_softmax_loss(states, self._table(es), target)
        self.last_losses = {"rec": total.detach()}
        if msg is not None:
            g = masked_granularity_loss(msg[0], msg[1], c.tau_msg)
            self.last_losses["msg"] = g.detach()
            total = total + c.lambda_msg * g
        if c.lambda_code > 0:
            items = select_code_items(target.numpy(), cap=c.code_items_cap, rng=self.rng)      # (n,)
            W = code_positive_weights(items, self.codes, self.cooc if c.behaviour_positives else None,
                                      cap=c.code_positive_cap, rng=self.rng)                  # (n, n)
            idx = torch.as_tensor(items)
            code = code_alignment_loss(es[idx], self.item_emb.weight[idx],
                                       torch.as_tensor(W, dtype=es.dtype), c.tau_code)
            self.last_losses["code"] = code.detach()
            total = total + c.lambda_code * code
        return total


# ---------------------------------------------------------------- building and copying
def twin_of(model):
    """A twin of the minih2rec ``model`` (sasrec, sid, fusion or h2rec) with its weights copied."""
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        model.parameters()[0].dtype]
    c, name = model.config, model.name
    if getattr(c, "loss", "full_softmax") != "full_softmax":
        raise ValueError(f"twin_of: only loss='full_softmax' is mirrored, the model has {c.loss!r}")
    if name == "sasrec":
        twin = SASRecTwin(c, dtype)
    elif name in ("sid", "fusion"):
        twin = TableTwin(c, model.codes, name, dtype)
    elif name == "h2rec":
        twin = H2RecTwin(c, model.codes, model.cooc, dtype)
    else:
        raise ValueError(f"twin_of: no PyTorch twin for model {name!r}")
    return copy_weights(twin, model)


def copy_weights(twin, model):
    """Copy every parameter of ``model`` into ``twin`` by name (strict: same names, same shapes)."""
    state = model.state_dict()
    own = dict(twin.named_parameters())
    if set(own) != set(state):
        raise ValueError(f"copy_weights: names differ; only in minih2rec {sorted(set(state) - set(own))}, "
                         f"only in the twin {sorted(set(own) - set(state))}")
    with torch.no_grad():
        for name, p in own.items():
            if tuple(p.shape) != state[name].shape:
                raise ValueError(f"copy_weights: {name} is {state[name].shape} in minih2rec, "
                                 f"{tuple(p.shape)} in the twin")
            p.copy_(torch.from_numpy(np.ascontiguousarray(state[name])))
    return twin


def as_torch(batch):
    """``(seq, positions, target)`` of a minih2rec Batch as int64 torch tensors."""
    return tuple(torch.as_tensor(np.asarray(a, dtype=np.int64)) for a in (batch.seq, batch.positions, batch.target))


def clip_grad_norm(params, max_norm):
    """minih2rec's rule: scale all gradients by ``max_norm / (norm + 1e-6)`` when the norm exceeds it."""
    grads = [p.grad for p in params if p.grad is not None]
    total = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return total
