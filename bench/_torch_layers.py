"""PyTorch layers and losses mirroring minih2rec's, for the twins in ``bench/_torch_twin.py``.

Glossary: B batch, T length, d width, H heads, hs = d / H, L SID levels, n distinct target items.

Each piece restates one minih2rec piece with torch ops: ``Linear`` (W stored (in, out)),
``LayerNorm``, ``FeedForward``, the fused attention's masking rule (a query with no allowed
key gets zeros), ``MultiHeadAttention``, the three block layouts, the backbone with its
timeline mask; the full-softmax loss and H2Rec's L_code / L_msg. Parameter attribute names
are minih2rec's, so a whole model's weights copy across by name.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- layers
class Linear(nn.Module):
    """``y = x @ W + b`` with W stored (in, out), as minih2rec's ``nn.Linear``."""

    def __init__(self, d_in, d_out, dtype, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_in, d_out, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(d_out, dtype=dtype)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight.t(), self.bias)                   # (..., out)


class Table(nn.Module):
    """A bare ``weight`` parameter (an embedding table or a LayerNorm-free vector set)."""

    def __init__(self, rows, dim, dtype):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(rows, dim, dtype=dtype))


class LayerNorm(nn.Module):
    def __init__(self, d, eps, dtype):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(d, dtype=dtype))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class FeedForward(nn.Module):
    """``fc2(Drop(act(fc1(x))))`` -- ReLU or tanh-approximated GELU, as minih2rec."""

    def __init__(self, d, hidden, dropout, activation, dtype):
        super().__init__()
        self.fc1, self.fc2 = Linear(d, hidden, dtype), Linear(hidden, d, dtype)
        self.p, self.activation = dropout, activation

    def forward(self, x):
        h = self.fc1(x)
        h = F.relu(h) if self.activation == "relu" else F.gelu(h, approximate="tanh")
        return self.fc2(F.dropout(h, self.p, self.training))


def causal_mask(T, pad):
    """Allowed (query, key) pairs (B, 1, T, T): key j <= query t and not padding (``pad`` (B, T))."""
    causal = torch.ones(T, T, dtype=torch.bool).tril()                   # (T, T)
    return causal[None, None] & ~pad[:, None, None, :]                   # (B, 1, T, T)


def attention(q, k, v, mask, p, training):
    """``softmax(q k^T / sqrt(hs), masked) v``; a query with no allowed key gets zeros (minih2rec's rule).

    Such a row is unmasked before the softmax and its probabilities multiplied by 0 after,
    so neither the output nor any gradient holds a NaN.
    """
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))      # (..., Tq, Tk)
    has_key = mask.any(dim=-1, keepdim=True)                             # (..., Tq, 1)
    probs = torch.softmax(s.masked_fill(~(mask | ~has_key), float("-inf")), dim=-1) * has_key
    return F.dropout(probs, p, training) @ v                             # (..., Tq, hs)


class MultiHeadAttention(nn.Module):
    def __init__(self, d, heads, dropout, dtype):
        super().__init__()
        self.heads, self.p = heads, dropout
        self.q, self.k, self.v, self.o = (Linear(d, d, dtype) for _ in range(4))

    def forward(self, query, key, value, mask):
        B, Tq, d = query.shape
        Tk, H = key.shape[1], self.heads
        q = self.q(query).view(B, Tq, H, d // H).transpose(1, 2)        # (B, H, Tq, hs)
        k = self.k(key).view(B, Tk, H, d // H).transpose(1, 2)          # (B, H, Tk, hs)
        v = self.v(value).view(B, Tk, H, d // H).transpose(1, 2)        # (B, H, Tk, hs)
        y = attention(q, k, v, mask, self.p, self.training)             # (B, H, Tq, hs)
        return self.o(y.transpose(1, 2).reshape(B, Tq, d))              # (B, Tq, d)


class TransformerBlock(nn.Module):
    """The three layouts of minih2rec's ``nn/transformer.py`` ("sasrec", "pre_ln", "post_ln")."""

    def __init__(self, c, dtype):
        super().__init__()
        eps = 1e-8 if c.block == "sasrec" else 1e-5
        self.layout, self.p = c.block, c.dropout
        self.ln1, self.ln2 = LayerNorm(c.d, eps, dtype), LayerNorm(c.d, eps, dtype)
        self.attn = MultiHeadAttention(c.d, c.heads, c.dropout, dtype)
        self.ffn = FeedForward(c.d, c.ffn_hidden or c.d, c.dropout, c.activation, dtype)

    def forward(self, x, mask):
        def drop(t):
            return F.dropout(t, self.p, self.training)
        if self.layout == "sasrec":
            q = self.ln1(x)
            x = self.ln2(q + self.attn(q, x, x, mask))
            return x + drop(self.ffn(x))
        if self.layout == "pre_ln":
            h = self.ln1(x)
            x = x + drop(self.attn(h, h, h, mask))
            return x + drop(self.ffn(self.ln2(x)))
        x = self.ln1(x + drop(self.attn(x, x, x, mask)))
        return self.ln2(x + drop(self.ffn(x)))


class Backbone(nn.Module):
    """Blocks with the timeline mask (padding rows reset to 0 after each), final LayerNorm, zeroed again."""

    def __init__(self, c, dtype):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(c, dtype) for _ in range(c.blocks))
        self.ln_final = LayerNorm(c.d, 1e-8 if c.block == "sasrec" else 1e-5, dtype)

    def forward(self, x, pad):
        mask = causal_mask(x.shape[1], pad)                              # (B, 1, T, T)
        keep = (~pad)[..., None].to(x.dtype)                             # (B, T, 1)
        any_pad = bool(pad.any())
        for block in self.blocks:
            x = block(x, mask)
            if any_pad:
                x = x * keep
        x = self.ln_final(x)
        return x * keep if any_pad else x


# ---------------------------------------------------------------- losses
def full_softmax_loss(H, table, target):
    """Cross-entropy of the next item over items 1..V, mean over real positions (``target > 0``)."""
    flat = torch.nonzero(target.reshape(-1) > 0).squeeze(1)              # (M,)
    h = H.reshape(-1, H.shape[-1])[flat]                                 # (M, d')
    return F.cross_entropy(h @ table[1:].t(), target.reshape(-1)[flat] - 1)


def _multi_positive_nce(S, W):
    """``-mean_k log(sum_j W_kj softmax(S)_kj)`` over the entries with W > 0."""
    keep = W > 0
    z = torch.log_softmax(S, dim=-1) + torch.log(torch.where(keep, W, torch.ones_like(W)))
    return -torch.logsumexp(z.masked_fill(~keep, float("-inf")), dim=1).mean()


def code_alignment_loss(sid, hid, W, tau):
    """L_code: symmetric multi-positive InfoNCE between normalised SID and HID rows (n, d)."""
    a, p = F.normalize(sid, dim=-1, eps=1e-12), F.normalize(hid, dim=-1, eps=1e-12)
    S = (a @ p.t()) * (1.0 / tau)                                        # (n, n)
    return (_multi_positive_nce(S, W) + _multi_positive_nce(S.t(), W.t())) * 0.5


def masked_granularity_loss(Um, Uf, tau):
    """L_msg: soft-target contrastive loss, targets ``softmax((Um Um^T + Uf Uf^T) / 2)`` held constant."""
    with torch.no_grad():
        targets = torch.softmax((Um @ Um.t() + Uf @ Uf.t()) / 2, dim=1)  # (B, B)
    logits = (Um @ Uf.t()) * (1.0 / tau)
    rows = -(torch.log_softmax(logits, dim=-1) * targets).sum(dim=1).mean()
    cols = -(torch.log_softmax(logits.t(), dim=-1) * targets).sum(dim=1).mean()
    return (rows + cols) * 0.5


def lowest_gate_levels(alpha, n_mask):
    """The ``n_mask`` levels of lowest gate weight per row of ``alpha`` (B, L); ties: higher level first."""
    L = alpha.shape[1]
    order = torch.argsort(alpha.flip(1), dim=1, stable=True)             # on reversed levels
    masked = torch.zeros_like(alpha, dtype=torch.bool)
    return masked.scatter(1, L - 1 - order[:, :n_mask], True)           # (B, L)
