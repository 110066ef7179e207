# %% [markdown]
# # 03 · Attention, by hand and in the package
#
# **What you will build.** Scaled dot-product attention in a few lines of NumPy, then the
# two masks a sequential recommender needs — **causal** (never look at the future) and
# **padding** (never look at the zeros that fill short sequences) — then multi-head
# attention, checked number for number against `minih2rec.nn.MultiHeadAttention`. You will
# demonstrate causality numerically on the SASRec backbone and draw an attention map.
#
# **Time.** About 10 seconds to run on a 2-core laptop; an hour with the exercises.
# Shapes: B batch, T length, d width, H heads, hs = d / H head size.

# %%
import matplotlib.pyplot as plt
import numpy as np

from minih2rec.autograd import Tensor, fused
from minih2rec.nn import MultiHeadAttention, SASRecBackbone, attention_mask

from _smoke import show
from checks import check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Scaled dot-product attention
#
# Each position t has a **query** `q_t`, a **key** `k_t` and a **value** `v_t`. Position t
# reads a weighted average of the values; the weights say how well its query matches each key:
#
# $$\text{out}_t = \sum_j p_{tj}\, v_j, \qquad
#   p_{t\cdot} = \mathrm{softmax}_j\!\left(\frac{q_t\cdot k_j}{\sqrt{h}}\right)$$
#
# Why divide by `√h`? A dot product of two random vectors with unit-variance entries has
# variance `h`. Without the scale, wide heads give huge scores, the softmax becomes one-hot,
# and its gradient vanishes:

# %%
for h in (4, 64):
    q, k = rng.standard_normal((1000, h)), rng.standard_normal((1000, h))
    dots = (q * k).sum(axis=1)
    print(f"h={h:3d}: std of q.k = {dots.std():5.2f}, after / sqrt(h) = {(dots / np.sqrt(h)).std():.2f}")


# %%
def softmax(s):
    """Row softmax with the max shifted out (exp of large scores would overflow)."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention(q, k, v, mask=None):
    """q (Tq, h), k and v (Tk, h), mask bool (Tq, Tk) True = allowed -> out (Tq, h), p (Tq, Tk)."""
    s = q @ k.T / np.sqrt(q.shape[-1])                      # (Tq, Tk) scores
    if mask is not None:
        s = np.where(mask, s, -np.inf)                      # exp(-inf) = 0: no weight
    p = softmax(s)                                          # (Tq, Tk), rows sum to 1
    return p @ v, p                                         # (Tq, h)


T, h = 5, 4
q, k, v = (rng.standard_normal((T, h)) for _ in range(3))
out, p = attention(q, k, v)
out_pkg, p_pkg = fused.scaled_dot_product_attention(Tensor(q, dtype=np.float64),
                                                    Tensor(k, dtype=np.float64),
                                                    Tensor(v, dtype=np.float64))
print("rows of p sum to 1:", np.allclose(p.sum(axis=1), 1))
print("max |by hand - package|:", np.abs(out - out_pkg.data).max())

# %% [markdown]
# The package's `fused.scaled_dot_product_attention` does the same in one graph node with a
# hand-written backward (tutorial 02 is how it is tested) and also returns the probabilities,
# for inspection.
#
# ## 2. The causal mask
#
# A next-item model trained at every position must not let position t see items after t —
# otherwise it learns to copy the answer. The causal mask allows key j for query t iff
# `j <= t`: a lower-triangular matrix. `attention_mask(Tq, Tk)` builds it, shaped to
# broadcast over (B, H, Tq, Tk):

# %%
causal = attention_mask(T, T, causal=True)
print("shape", causal.shape)
print(causal[0, 0].astype(int))
out_c, p_c = attention(q, k, v, np.tril(np.ones((T, T), dtype=bool)))
out_c_pkg, _ = fused.scaled_dot_product_attention(Tensor(q, dtype=np.float64), Tensor(k, dtype=np.float64),
                                                  Tensor(v, dtype=np.float64), mask=causal[0, 0])
print("max |by hand - package| (causal):", np.abs(out_c - out_c_pkg.data).max())
print("probabilities above the diagonal:", p_c[np.triu_indices(T, 1)].max())

# %% [markdown]
# ## 3. Padding, and the row that has nothing to look at
#
# Users have histories of different lengths; a batch is **left-padded** with item 0 so that
# every row's most recent item sits in the last column. Padding keys must get no weight:
# `key_padding = (seq == 0)`, True = pad. Combined with causality, the first query of a
# padded row may attend to *nothing at all*: every score is `-inf`, and a naive softmax
# returns `0/0 = NaN`, which would then poison the whole batch's gradients.

# %%
seq = np.array([[0, 0, 5, 7, 9],
                [3, 8, 4, 2, 6]])                            # (B, T), 0 = padding
mask = attention_mask(T, T, causal=True, key_padding=seq == 0)   # (B, 1, T, T)
print("allowed keys of user 0:\n", mask[0, 0].astype(int))
with np.errstate(invalid="ignore"):
    _, p_naive = attention(q, k, v, mask[0, 0])
print("naive softmax, first row of user 0:", p_naive[0])
_, p_safe = fused.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=mask[0, 0])
print("package,       first row of user 0:", p_safe[0], "(zeros: a zero output, zero gradient)")

# %% [markdown]
# ## 4. Multi-head attention
#
# One head computes one weighting. With H heads, the width d is split into H slices of size
# `hs = d / H`; each head attends with its own slice, then the results are concatenated and
# mixed by an output projection. Queries, keys and values are *learned* projections of the
# input. Reproduce `MultiHeadAttention` exactly (its `Linear` layers store `W` as (in, out),
# so `y = x @ W + b`):

# %%
B, T, d, H = 2, 5, 8, 2
hs = d // H
mha = MultiHeadAttention(d, H, dropout=0.0, rng=np.random.default_rng(1))
x = rng.standard_normal((B, T, d)).astype(np.float32)


def project(layer, x):
    return x @ layer.weight.data + layer.bias.data


def split_heads(t):
    return t.reshape(B, T, H, hs).transpose(0, 2, 1, 3)     # (B, T, d) -> (B, H, T, hs)


qh, kh, vh = (split_heads(project(layer, x)) for layer in (mha.q, mha.k, mha.v))
heads = np.stack([np.stack([attention(qh[b, i], kh[b, i], vh[b, i], np.tril(np.ones((T, T), bool)))[0]
                            for i in range(H)]) for b in range(B)])   # (B, H, T, hs)
concat = heads.transpose(0, 2, 1, 3).reshape(B, T, d)                # (B, T, d)
by_hand = project(mha.o, concat)
print("max |by hand - MultiHeadAttention|:", np.abs(by_hand - mha(Tensor(x), causal=True).data).max())

# %% [markdown]
# ## 5. Causality, demonstrated numerically
#
# The SASRec backbone stacks causal self-attention blocks. If it is causal, changing the items
# *after* position t cannot change any output at or before t — through any number of layers.
# And padding must not matter: whatever sits in the padded positions, the real outputs stay
# the same. Both are properties the package's tests check with random inputs; here is one
# instance of each.

# %%
backbone = SASRecBackbone(d=16, heads=2, blocks=2, dropout=0.0, rng=np.random.default_rng(2)).eval()
T = 8
x = rng.standard_normal((1, T, 16)).astype(np.float32)
no_pad = np.zeros((1, T), dtype=bool)
y = backbone(Tensor(x), no_pad).data

t = 4
x_future = x.copy()
x_future[:, t + 1:] = rng.standard_normal((1, T - t - 1, 16))      # rewrite the future
y_future = backbone(Tensor(x_future), no_pad).data
change = np.abs(y_future - y).max(axis=(0, 2))                      # (T,) per position
print(f"rewrote inputs after t={t}: max change of outputs at positions <= t: {change[:t + 1].max():.1e}, "
      f"after t: {change[t + 1:].max():.2f}")

pad = np.zeros((1, T), dtype=bool)
pad[:, :3] = True                                                   # 3 padded positions on the left
x_junk = x.copy()
x_junk[:, :3] = 100 * rng.standard_normal((1, 3, 16))               # garbage where the padding is
y_a, y_b = backbone(Tensor(x), pad).data, backbone(Tensor(x_junk), pad).data
print(f"garbage in the padding: max change of real outputs = {np.abs(y_a[:, 3:] - y_b[:, 3:]).max():.1e}")

# %% [markdown]
# ## 6. An attention map
#
# Give every item a random embedding and let each position attend with queries = keys = its
# own item embedding (no learned projection). A position then matches **earlier occurrences of
# the same item** as well as itself: the stripes below. On the right, the same sequence
# left-padded: padding columns get no weight, and padding rows have nothing to attend to.

# %%
items = np.array([5, 3, 7, 5, 3, 9, 5, 2])
emb = rng.standard_normal((10, 16))
e = emb[items] * 1.5                                                # sharper matches
_, p_map = attention(e, e, e, np.tril(np.ones((8, 8), dtype=bool)))

padded = np.concatenate([[0, 0, 0], items[:5]])                     # (8,) left-padded
mask_pad = attention_mask(8, 8, causal=True, key_padding=(padded == 0)[None])[0, 0]
e_pad = emb[padded] * 1.5
_, p_pad = fused.scaled_dot_product_attention(Tensor(e_pad), Tensor(e_pad), Tensor(e_pad), mask=mask_pad)

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, probs, seq_, title in ((axes[0], p_map, items, "causal self-attention"),
                                (axes[1], p_pad, padded, "causal + padding mask (0 = pad)")):
    im = ax.imshow(probs, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(8), [str(i) for i in seq_])
    ax.set_yticks(range(8), [str(i) for i in seq_])
    ax.set_xlabel("key (item id)")
    ax.set_ylabel("query (item id)")
    ax.set_title(title)
fig.colorbar(im, ax=axes, shrink=0.8, label="attention probability")
show(fig, "03_attention_map.png")

# %% [markdown]
# ## Summary
#
# * Attention is a softmax-weighted average of values; scores are `q·k / √h` so their scale
#   does not grow with the head width.
# * Causal mask: query t sees keys `j <= t`. Padding mask: never attend to item 0.
#   Masked scores become `-inf`; a row with no allowed key must give zeros, not NaN.
# * Multi-head attention = H independent attentions on slices of learned projections,
#   concatenated and projected.
# * Causality and padding invariance are checkable properties: change the future or the
#   padding, and the outputs that must not move do not move.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/03_attention.py`.
#
# **3.1 — cross-attention alignment.** When the query and key sequences have different
# lengths (Tq = 3 queries over Tk = 5 keys), minih2rec aligns them at their **last**
# position (both are left-padded, so the last column is the most recent item): query t may
# see key j iff `j - Tk <= t - Tq`. Write the (3, 5) boolean mask by hand.

# %%
yours = None  # TODO: a (3, 5) bool array, True = allowed
check("3.1 causal mask, Tq=3, Tk=5", yours, attention_mask(3, 5, causal=True)[0, 0])

# %% [markdown]
# **3.2 — attention with a padded key.** Compute the output of attention for the small
# inputs below when key 0 is padding (no causal mask). Use NumPy, not the `attention`
# function above.

# %%
q2 = np.array([[1.0, 0.0], [0.0, 2.0]])                        # (Tq=2, h=2)
k2 = np.array([[5.0, 5.0], [1.0, 0.0], [0.0, 1.0]])            # (Tk=3, h=2), key 0 = padding
v2 = np.array([[100.0, 100.0], [1.0, 2.0], [3.0, 4.0]])
allowed = np.array([False, True, True])                        # broadcasts over queries

yours = None  # TODO: a (2, 2) array
expected, _ = fused.scaled_dot_product_attention(Tensor(q2, dtype=np.float64), Tensor(k2, dtype=np.float64),
                                                 Tensor(v2, dtype=np.float64), mask=allowed)
check("3.2 attention output with a padded key", yours, expected)

# %% [markdown]
# **3.3 — the gradient with respect to the values.** For `out = P v` and an upstream gradient
# `g` (Tq, h), write `dL/dv` with NumPy, using the probabilities `P` returned by the package.

# %%
q3, k3, v3 = (Tensor(np.random.default_rng(s).standard_normal((4, 3)), requires_grad=True,
                     dtype=np.float64) for s in (10, 11, 12))
g3 = np.random.default_rng(13).standard_normal((4, 3))
out3, P3 = fused.scaled_dot_product_attention(q3, k3, v3, mask=attention_mask(4, 4)[0, 0])
out3.backward(g3)

yours = None  # TODO: dL/dv, shape (4, 3)
check("3.3 dL/dv", yours, v3.grad)

# %% [markdown]
# **3.4 — counting parameters.** How many trainable numbers does
# `MultiHeadAttention(d=16, heads=4)` have? (Does the number of heads matter?)

# %%
yours = None  # TODO: an integer
check("3.4 parameters of MultiHeadAttention(16, 4)", yours,
      MultiHeadAttention(16, 4, 0.0, np.random.default_rng(0)).num_parameters())
