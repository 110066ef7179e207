# %% [markdown]
# # 08 · Alignment losses: making hash IDs and semantic IDs teach each other
#
# **What you will build.** H2Rec's two extra losses, piece by piece, each by hand first and
# then compared with the package:
#
# * **L_code — code-guided item alignment**: an InfoNCE loss that pulls an item's hash-ID
#   embedding toward its own semantic-ID embedding, with *several* positives per item (items
#   with the same semantic ID, optionally items that co-occur in users' sequences). You will
#   build the positive matrix `W` by hand, compute the loss by hand, and then *watch* it act:
#   a 2-D projection of the HID and SID item embeddings before and after a few steps.
# * **L_msg — masked granularity alignment**: a user-level contrast between the user state
#   computed with the least-trusted SID levels masked and the full one.
#
# **Time.** Under a minute to run on an idle 2-core laptop; about an hour with the exercises.
# `MINIH2REC_SMOKE=1` takes seconds. Tutorials 05 (semantic IDs) and 06 (the seesaw) come
# first; 09 trains the whole model.
#
# Glossary: n items in a batch, B users, d width, L levels, K codes, V items, τ temperature.

# %%
import numpy as np

from minih2rec import factory
from minih2rec.autograd import Tensor, ops
from minih2rec.data import TrainBatches, make_synthetic, split_leave_one_out
from minih2rec.losses.alignment import (code_alignment_loss, code_positive_weights, granularity_targets,
                                        lowest_gate_levels, masked_granularity_loss)
from minih2rec.losses.cooccurrence import CoOccurrence
from minih2rec.optim import Adam

from _smoke import SMOKE, show, size
from checks import check

import matplotlib.pyplot as plt   # after _smoke: a script draws off-screen

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. An H2Rec model, untrained
#
# `factory.build("h2rec", ...)` computes the semantic IDs (content → RQ-KMeans, tutorial 05)
# and builds both item tables: the hash table `E_h` (V+1, d), random, and the code embeddings
# `C` (L, K, d), started from the RQ codebooks — so the SID embedding
# `e_s(i) = mean_l C^l[c_i^l]` already reflects the content, while `E_h` knows nothing yet.

# %%
inter = make_synthetic(size("default", "tiny"), seed=0)
split = split_leave_one_out(inter)
cluster = inter.item_meta["cluster"]                                 # (V+1,) planted clusters
MODEL = dict(d=16, max_len=20, blocks=1) if SMOKE else dict(d=32, max_len=30, blocks=1)
model = factory.build("h2rec", inter, split, MODEL, seed=0)
codes = model.codes                                                  # (V+1, L)
print(f"H2Rec: {model.num_parameters():,} parameters; codes {codes.shape}, "
      f"E_h {model.item_emb.weight.shape}, C {model.code_emb.weight.shape}")
print(f"lambda_code = {model.config.lambda_code}, tau_code = {model.config.tau_code}, "
      f"lambda_msg = {model.config.lambda_msg}, tau_msg = {model.config.tau_msg}")

# %% [markdown]
# ## 2. L_code: InfoNCE with several positives
#
# Take the distinct target items `b_1..b_n` of a batch. For each, `a_k = norm(e_s(b_k))` (its
# SID embedding) and `p_k = norm(E_h[b_k])` (its HID embedding), unit length; similarities
# `S = a pᵀ / τ` (n, n). Plain InfoNCE says "row k's match is column k":
# `-log softmax(S_k)_k`. The code-guided version accepts every column j with a **positive
# weight** `W_kj > 0`:
#
# $$L_{s\to h} = -\frac1n \sum_k \log \frac{\sum_j W_{kj}\, e^{S_{kj}}}{\sum_j e^{S_{kj}}},
#   \qquad L_{h\to s} = \text{the same on } S^\top, W^\top, \qquad
#   L_{code} = \tfrac12 (L_{s\to h} + L_{h\to s}).$$
#
# `W` has 1 on the diagonal (the item itself) and 1 for pairs of *different* items with the
# **identical full SID tuple** (at most 50 per item). Why: two such items have exactly the same
# SID embedding, so plain InfoNCE would ask `E_h[a]` to match `e_s(a)` and at the same time to
# be far from `e_s(b)` — the same vector. With `W` they are both right answers.
#
# Build `W` by hand for a few items, some of which share a tuple:

# %%
_, group, group_size = np.unique(codes[1:], axis=0, return_inverse=True, return_counts=True)
group = np.r_[-1, group.reshape(-1)]                                 # (V+1,) tuple id of each item
shared = np.flatnonzero(np.r_[0, group_size[group[1:]]] > 1)        # items that share their tuple
a = int(shared[0])
partners = [int(i) for i in np.flatnonzero(group == group[a]) if i != a][:2]
items = np.unique(np.r_[a, partners, rng.choice(np.arange(1, inter.num_items + 1), 5, replace=False)])
print("items:", items.tolist())
print("their tuples:\n", codes[items])

W_hand = np.zeros((len(items), len(items)))
for k, i in enumerate(items):
    for j, jj in enumerate(items):
        W_hand[k, j] = 1.0 if i == jj or np.array_equal(codes[i], codes[jj]) else 0.0
W = code_positive_weights(items, codes)
print("W by hand:\n", W_hand.astype(int))
print("equal to code_positive_weights:", np.array_equal(W_hand, W))

# %% [markdown]
# Optional **behaviour positives**: items that appear within ±3 positions of each other in
# *training* sequences, weighted by their PPMI (pointwise mutual information, clipped at 0)
# scaled to [0.3, 1]. `W` takes the maximum of the two kinds (`behaviour_positives=True`).

# %%
cooc = CoOccurrence.from_sequences(split.train, split.num_items, window=3)
W_behaviour = code_positive_weights(items, codes, cooc)
print(f"co-occurrence: {cooc.nnz:,} positive (item, item) pairs from training sequences")
print("W with behaviour positives:\n", np.round(W_behaviour, 2))

# %% [markdown]
# Now the loss by hand, straight from the formula (NumPy, no autograd), and with the package
# (autograd, gradient-checked in `tests/test_losses_alignment.py`):

# %%
def l2n(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def code_loss_by_hand(sid, hid, W, tau):
    S = l2n(sid) @ l2n(hid).T / tau                                  # (n, n)

    def one_direction(S, W):
        S = S - S.max(axis=1, keepdims=True)                         # max shift (tutorial 07)
        e = np.exp(S)
        return -np.mean(np.log((W * e).sum(axis=1) / e.sum(axis=1)))
    return 0.5 * (one_direction(S, W) + one_direction(S.T, W.T))


es_table = model.code_emb.table()                                   # (V+1, d) Tensor e_s
sid_emb = ops.embedding(es_table, items)                             # (n, d)
hid_emb = model.item_emb(items)                                      # (n, d)
tau = model.config.tau_code
plain = code_alignment_loss(sid_emb, hid_emb, np.eye(len(items)), tau=tau).item()
print(f"L_code by hand {code_loss_by_hand(sid_emb.data, hid_emb.data, W, tau):.6f}, package "
      f"{code_alignment_loss(sid_emb, hid_emb, W, tau=tau).item():.6f}, plain InfoNCE (W = I) {plain:.6f}")

# %% [markdown]
# ## 3. What L_code does to the embeddings
#
# Optimise L_code alone over all items (both tables move) for a few steps, and project the
# unit-length HID and SID embeddings on their top-2 principal directions — PCA with
# `np.linalg.svd` of the centred matrix. Colours are the planted clusters.

# %%
def pca_2d(vectors):
    """Top-2 principal coordinates of the rows of ``vectors``."""
    centred = vectors - vectors.mean(axis=0)
    _, _, Vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ Vt[:2].T                                        # (n, 2)


def snapshot(model, items):
    """Unit HID and SID embeddings of ``items``: (n, d) each."""
    return l2n(model.item_emb.weight.data[items]), l2n(model.code_emb.table().data[items])


def neighbour_purity(vectors, labels, k=10):
    """Mean share of each row's k nearest neighbours (cosine) with the same label."""
    sim = l2n(vectors) @ l2n(vectors).T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argsort(-sim, axis=1)[:, :k]
    return np.mean(labels[nearest] == labels[:, None])


all_items = np.arange(1, inter.num_items + 1)
W_all = code_positive_weights(all_items, codes)                      # (V, V)
before = snapshot(model, all_items)
opt = Adam([model.item_emb.weight, model.code_emb.weight], lr=0.01)
steps = size(60, 15)
for step in range(steps + 1):
    loss = code_alignment_loss(ops.embedding(model.code_emb.table(), all_items), model.item_emb(all_items),
                               W_all, tau=tau)
    if step % max(1, steps // 4) == 0:
        print(f"step {step:3d}  L_code {loss.item():.4f}")
    if step < steps:
        opt.zero_grad()
        loss.backward()
        opt.step()
after = snapshot(model, all_items)

labels = cluster[all_items]
for name, (hid, sid) in (("before", before), ("after", after)):
    print(f"{name:6s}: mean cos(HID_i, SID_i) {np.mean((hid * sid).sum(axis=1)):+.3f};  share of 10 nearest "
          f"neighbours in the same cluster: HID {neighbour_purity(hid, labels):.2f}, "
          f"SID {neighbour_purity(sid, labels):.2f}")

# %%
shown = np.isin(labels, np.unique(labels)[:5])                       # 5 clusters keep the picture readable
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
palette = plt.get_cmap("tab10")
for ax, (name, (hid, sid)) in zip(axes, (("before", before), ("after", after))):
    hid, sid, lab = hid[shown], sid[shown], labels[shown]
    xy = pca_2d(np.vstack([hid, sid]))                               # one projection for both tables
    n = len(lab)
    ax.scatter(*xy[n:].T, c=palette(lab % 10), marker="^", s=30, alpha=0.8, label="SID e_s(i)")
    ax.scatter(*xy[:n].T, c=palette(lab % 10), marker="o", s=14, alpha=0.7, edgecolor="k",
               linewidths=0.3, label="HID E_h[i]")
    for i in range(0, n, max(1, n // 20)):                           # a few items: a line HID -> SID
        ax.plot([xy[i, 0], xy[n + i, 0]], [xy[i, 1], xy[n + i, 1]], color="0.5", lw=0.6)
    ax.set_title(f"{name} L_code ({0 if name == 'before' else steps} steps), 5 clusters, PCA of unit vectors",
                 fontsize=10)
    ax.legend(fontsize=8, loc="best")
show(fig, "08_alignment_pca.png")

# %% [markdown]
# Before: the SID triangles already form colour groups (the content, via RQ codebooks); the
# HID dots are a structureless cloud around the origin. After: every HID dot sits on (or next
# to) its own SID triangle, so the **hash table inherited the content structure** — exactly
# what tail items lacked in tutorial 06. The pull is mutual: the SID side moves toward the
# random hash table as well (its neighbour purity drops), since nothing else constrains either
# table here. In the full model L_code is only `λ_code = 0.1` of the loss; the recommendation
# loss keeps both tables useful and lets popular items keep what their interactions say.
#
# ## 4. L_msg: masked granularity alignment
#
# The **gate** of H2Rec weighs the L SID levels for each user: `α = softmax(g([x_h ; b]) + b)`
# with the prior `b = linspace(1.0, 0.2, L)` favouring coarse levels. L_msg asks the user
# state to survive losing the levels the gate trusts least:
#
# 1. mask the ⌊L/2⌋ (at least 1) levels with the lowest α for that user — replace their views
#    by learned mask vectors — and run the mixed SID view `Σ_l α_l X̃_s^l` through the
#    backbone: the user state `U_m` (B, d); the same without masking gives `U_f`;
# 2. soft-target contrast: logits `U_m U_fᵀ / τ'`, targets `T = softmax((U_m U_mᵀ + U_f U_fᵀ)/2)`
#    row-wise (which users are alike, as a *constant*), cross-entropy in both directions.
#
# The gate and the mask for one batch of users (a fresh gate returns exactly `softmax(b)`):

# %%
batch = next(iter(TrainBatches(split, batch_size=size(64, 16), max_len=model.config.max_len,
                               rng=np.random.default_rng(0))))
alpha = model.gate_weights(batch.seq, batch.positions)               # (B, L) at the last position
print("prior softmax(b):", np.round(np.exp(np.linspace(1, 0.2, 3)) / np.exp(np.linspace(1, 0.2, 3)).sum(), 3))
print("alpha of the first 3 users:\n", np.round(alpha[:3], 3))
print("masked levels (True = masked):\n", lowest_gate_levels(alpha)[:3])

# %% [markdown]
# The loss, by hand and by the package, on toy user states:

# %%
def softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def msg_loss_by_hand(U_m, U_f, tau=1.0):
    T = softmax_rows((U_m @ U_m.T + U_f @ U_f.T) / 2)                # (B, B) soft targets
    logits = U_m @ U_f.T / tau
    ce_rows = -np.mean((T * np.log(softmax_rows(logits))).sum(axis=1))
    ce_cols = -np.mean((T * np.log(softmax_rows(logits.T))).sum(axis=1))
    return 0.5 * (ce_rows + ce_cols)


U_f = rng.standard_normal((16, 8))                                  # (B, d) full-view user states
U_m = U_f + 1.5 * rng.standard_normal((16, 8))                       # a masked view: perturbed
print(f"L_msg by hand {msg_loss_by_hand(U_m, U_f):.6f}, package "
      f"{masked_granularity_loss(Tensor(U_m, dtype=np.float64), Tensor(U_f, dtype=np.float64)).item():.6f}")
T_same = granularity_targets(U_f, U_f)
print(f"with U_m = U_f (and tau' = 1) the logits equal the targets' logits: the loss is the smallest "
      f"possible for these targets, their mean entropy: {msg_loss_by_hand(U_f, U_f):.6f} = "
      f"{-np.mean((T_same * np.log(T_same)).sum(axis=1)):.6f}")

# %% [markdown]
# What its gradient does: a few steps of gradient descent on `U_m` alone (the targets are
# recomputed at every step, without gradient, as in training). Watch how often a user's masked
# state is most similar to its *own* full state, `argmax_j U_m[b]·U_f[j] = b`:

# %%
U_m_t = Tensor(U_m.copy(), requires_grad=True, dtype=np.float64)
U_f_t = Tensor(U_f, dtype=np.float64)
opt_msg = Adam([U_m_t], lr=0.05)
for step in range(size(100, 20) + 1):
    loss = masked_granularity_loss(U_m_t, U_f_t)
    if step % size(25, 10) == 0:
        own = np.mean((U_m_t.data @ U_f.T).argmax(axis=1) == np.arange(len(U_f)))
        print(f"step {step:3d}  L_msg {loss.item():.4f}  users whose masked state matches their own "
              f"full state best: {own:.0%}")
    opt_msg.zero_grad()
    loss.backward()
    opt_msg.step()

# %% [markdown]
# In H2Rec the gradient reaches the parameters that produced `U_m` — the mask vectors, the
# code embeddings, the backbone, the gate — so the user state becomes robust to losing its
# finest levels: coarse semantic levels must carry enough of the user's intent on their own.
# One training batch of the real model reports every term it adds:

# %%
model.loss(batch)
print("loss terms of one batch:", {k: round(float(v), 4) for k, v in model.last_losses.items()},
      f"(total = rec + {model.config.lambda_code} code + {model.config.lambda_msg} msg)")

# %% [markdown]
# ## Summary
#
# * **L_code** aligns each item's HID and SID embeddings with a multi-positive InfoNCE: items
#   with the identical SID tuple (and, optionally, behaviour co-occurrences) are positives too,
#   so the loss never asks to separate two identical SID vectors.
# * Its effect is visible: the random hash table takes on the content's cluster structure —
#   the knowledge tail items are missing in a hash-ID model.
# * **L_msg** masks the levels with the lowest gate weight and contrasts the masked and full
#   user states against soft targets (a stop-gradient similarity of users): the user state
#   must not depend on the fine levels alone.
# * Both are small terms (λ = 0.1) added to the recommendation loss.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/08_alignment_losses.py`.
#
# **8.1 — positives.** Five items have the semantic IDs below (row 0 = padding). For the
# batch `items_81`, write the positive matrix `W` (identity + identical full tuple).

# %%
codes_81 = np.array([[0, 0], [1, 2], [1, 2], [1, 3], [0, 2], [1, 2]])   # (V+1, L), V = 5
items_81 = np.array([1, 3, 4, 5])

yours = None  # TODO: a (4, 4) array of 0/1
check("8.1 positive weights", yours, code_positive_weights(items_81, codes_81))

# %% [markdown]
# **8.2 — L_code by hand.** Compute the loss for three items with the embeddings and `W`
# below, τ = 0.5 (normalise the rows first; average the two directions).

# %%
sid_82 = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
hid_82 = np.array([[2.0, 0.1], [0.0, 1.0], [-1.0, 1.0]])
W_82 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])

yours = None  # TODO: a float
check("8.2 L_code by hand", yours,
      code_alignment_loss(Tensor(sid_82, dtype=np.float64), Tensor(hid_82, dtype=np.float64), W_82,
                          tau=0.5).item())

# %% [markdown]
# **8.3 — which levels to mask.** Gate weights of three users over L = 4 levels: mask the
# ⌊L/2⌋ = 2 lowest per user. On a tie, the *higher* (finer) level is masked first.

# %%
alpha_83 = np.array([[0.4, 0.3, 0.2, 0.1],
                     [0.1, 0.2, 0.3, 0.4],
                     [0.4, 0.2, 0.2, 0.2]])

yours = None  # TODO: a (3, 4) bool array, True = masked
check("8.3 masked levels", yours, lowest_gate_levels(alpha_83))

# %% [markdown]
# **8.4 — soft targets.** Compute L_msg's targets `softmax((U_m U_mᵀ + U_f U_fᵀ) / 2)` (row-wise)
# for the two users below.

# %%
U_m_84 = np.array([[1.0, 0.0], [0.5, 0.5]])
U_f_84 = np.array([[1.0, 1.0], [0.0, 1.0]])

yours = None  # TODO: a (2, 2) array
check("8.4 soft targets", yours, granularity_targets(U_m_84, U_f_84))
