# %% [markdown]
# # 05 · Residual quantization: turning item content into semantic IDs
#
# **What you will build.** The offline half of H2Rec: every item's *content vector* becomes a
# short tuple of discrete codes, its **semantic ID** (SID). You will write k-means in a few
# lines, stack it level by level on the residuals by hand (**RQ-KMeans**), compare your codes
# with the package's `RQKMeans`, measure them (error per level, codebook use, collisions), draw
# the code-usage histogram and the semantic-ID *tree* of a few items, and finally train the
# paper's quantizer, an **RQ-VAE**, and put the two side by side.
#
# **Time.** Under a minute to run on an idle 2-core laptop (a busy machine can make it a few);
# about an hour with the exercises. `MINIH2REC_SMOKE=1` shrinks it to seconds. Tutorial 04
# (the data) comes first.
#
# Glossary: n items to quantize (V items, ids 1..V, 0 = padding), D content width,
# L levels, K codes per level.

# %%
import time

import numpy as np

from minih2rec.data import make_synthetic
from minih2rec.kernels.codebook import nearest_codeword
from minih2rec.quantize import RQKMeans, collision_rate, dedup_level, plot_report, quantization_report
from minih2rec.quantize.report import code_usage, perplexity
from minih2rec.quantize.rqvae import RQVAE
from minih2rec.semantic import SemanticIDs, content_for, content_vectors_from_text, default_codebook_size

from _smoke import out_dir, show, size
from checks import check

import matplotlib.pyplot as plt   # after _smoke: a script draws off-screen

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Content vectors
#
# A semantic ID is only as good as the vectors it quantizes. The synthetic data of tutorial 04
# plants C content *clusters*: each item's vector is its cluster's centre plus noise, and its
# text mixes words of a per-cluster vocabulary with filler words. `content_for(inter)` returns
# the dataset's own vectors when it has some (here: the planted ones), else a TF-IDF + SVD of
# its item text (tutorial 11 does that on MovieLens titles). Both are item-aligned
# `(V+1, D)` matrices whose row 0 (padding) is zero.

# %%
inter = make_synthetic(size("default", "tiny"), seed=0)
cluster = inter.item_meta["cluster"]                                 # (V+1,) planted cluster, -1 = pad
content = content_for(inter)                                         # (V+1, D)
x = content[1:]                                                      # (n, D) items 1..V
print(f"{inter.num_items:,} items, {cluster.max() + 1} planted clusters, content {content.shape}")
print("item 1 text:", repr(inter.item_text[1]), " cluster", cluster[1])

# %% [markdown]
# Do the vectors carry the clusters? Cosine similarity between items of the same cluster
# should be clearly higher than between items of different clusters — for the planted vectors
# and, a little less so, for vectors computed from the item *text* alone:

# %%
def cluster_separation(vectors, labels):
    """Mean cosine similarity within clusters and across clusters."""
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T                                                    # (n, n)
    same = labels[:, None] == labels[None, :]
    off_diag = ~np.eye(len(v), dtype=bool)
    return sim[same & off_diag].mean(), sim[~same].mean()


from_text = content_vectors_from_text(inter.item_text[1:], dim=size(64, 32), seed=0)   # (n, D')
for name, vectors in (("planted content", x), ("TF-IDF + SVD of the text", from_text)):
    within, across = cluster_separation(vectors, cluster[1:])
    print(f"{name:26s} cosine within a cluster {within:.2f}, across clusters {across:.2f}")

# %% [markdown]
# ## 2. k-means by hand
#
# Lloyd's algorithm alternates two steps until nothing moves:
#
# * **assign** each point to its nearest centroid: `code_n = argmin_k ||x_n - C_k||^2`;
# * **update** each centroid to the mean of its points.
#
# Each step can only lower the total squared distance (the *inertia*), so it converges. Here is
# the whole of it, with the (n, K, D) difference tensor written out — fine for a thousand items:

# %%
def kmeans_by_hand(x, k, rng, iters=25):
    """Lloyd's k-means: returns centroids (k, D) and codes (n,)."""
    C = x[rng.choice(len(x), size=k, replace=False)].copy()          # (K, D) k random items
    for _ in range(iters):
        d2 = ((x[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1)     # (n, K) squared distances
        codes = d2.argmin(axis=1)                                    # (n,) assign
        for j in range(k):
            if np.any(codes == j):                                   # an empty cluster keeps its place
                C[j] = x[codes == j].mean(axis=0)                    # update
    d2 = ((x[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1)
    return C, d2.argmin(axis=1)


# %% [markdown]
# ## 3. Residual quantization by hand
#
# One level of K codes can tell at most K groups apart. **Residual** quantization adds levels:
# level 1 clusters the vectors, level l clusters what the levels before it could not explain,
# the residual
#
# $$r^1 = x, \qquad c^l = \arg\min_k \lVert r^l - C^l_k \rVert^2, \qquad r^{l+1} = r^l - C^l_{c^l}.$$
#
# An item's semantic ID is the tuple $(c^1, \dots, c^L)$ and its reconstruction is
# $\sum_l C^l_{c^l}$. Coarse levels group similar items, finer levels tell them apart. With
# K = 16–32 codes and L = 3 levels there are K^L = 4,096–32,768 possible tuples for our items.

# %%
L = 3
K = default_codebook_size(inter.num_items)      # smallest power of 2 >= sqrt(V), in [16, 256]
print(f"L = {L} levels x K = {K} codes for V = {inter.num_items} items")

r = x.astype(np.float64)                                             # (n, D) residual
hand_codes = np.zeros((len(x), L), dtype=np.int64)                   # (n, L)
hand_error = [np.mean((r ** 2).sum(axis=1))]                         # error with no code at all
for level in range(L):
    C, hand_codes[:, level] = kmeans_by_hand(r, K, rng)
    r = r - C[hand_codes[:, level]]                                  # what is left for the next level
    hand_error.append(np.mean((r ** 2).sum(axis=1)))
print("by hand, mean squared error per item after 0..L levels:", np.round(hand_error, 4))
print("semantic IDs of items 1..5:\n", hand_codes[:5])

# %% [markdown]
# ## 4. The package: `RQKMeans`
#
# `minih2rec.quantize.RQKMeans` is the same algorithm with three improvements: **k-means++**
# seeding (the next seed is drawn with probability proportional to its squared distance to the
# seeds so far, so no region is left without a centroid), **empty clusters re-seeded** at the
# worst-served point (every code stays in use), and the assignment step done by the compiled
# **nearest-codeword kernel** (tutorial 10). `quantization_report` measures the result.

# %%
t0 = time.perf_counter()
rq = RQKMeans(levels=L, codebook_size=K, seed=0).fit(x)
rq_seconds = time.perf_counter() - t0
codes = rq.encode(x)                                                 # (n, L) int64 in [0, K)
print(f"{rq}  fitted in {rq_seconds:.2f}s; codebooks {rq.codebooks.shape}")
report = quantization_report(x, codes, rq.codebooks)
print(report.format_table())
print("by hand (random init), error per level:", np.round(hand_error[1:], 4))

# %% [markdown]
# Read the table row by row:
#
# * **error** — mean squared reconstruction error per item after levels 1..l; it can only go
#   down as levels are added (each k-means fits its residuals at least as well as zero does).
#   The vectors have unit norm, so "no codes" is 1.0. Level 1 removes most of it: the planted
#   clusters. The levels after it only chip at the noise, which has no cluster structure.
# * **codes used** — the share of the K codes some item uses (k-means++ and re-seeding keep
#   it at 100 %);
# * **perplexity** — `exp(entropy)` of the code-usage distribution: the number of codes that
#   would be in use if all were used equally. Far below K means a few codes hold most items.
# * **collision rate** — the share of items whose full tuple is shared with another item.
#
# Are the level-1 codes the planted clusters? Count, for each level-1 code, the items of its
# most common cluster (the *purity* of the codes):

# %%
def purity(level1, labels):
    """Share of items whose level-1 code's majority cluster is their own cluster."""
    return sum(np.bincount(labels[level1 == k]).max() for k in np.unique(level1)) / len(level1)


print(f"level-1 purity: RQKMeans {purity(codes[:, 0], cluster[1:]):.2f}, "
      f"by hand {purity(hand_codes[:, 0], cluster[1:]):.2f}, "
      f"random codes {purity(rng.integers(0, K, len(x)), cluster[1:]):.2f}")

# %% [markdown]
# ## 5. Collisions
#
# Two items collide when their *whole* tuple is equal: a model that sees items only through
# their SIDs (tutorial 06) cannot tell them apart. Which items collide here, and are they at
# least from the same cluster?

# %%
tuples, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
inverse = inverse.reshape(-1)
print(f"collision rate {collision_rate(codes):.1%}: {len(tuples):,} distinct tuples for {len(x):,} items; "
      f"the largest group has {counts.max()} items")
for g in np.argsort(-counts)[:3]:
    members = np.flatnonzero(inverse == g) + 1                       # item ids
    more = " ..." if len(members) > 8 else ""
    print(f"  tuple {tuple(tuples[g].tolist())}: items {members[:8].tolist()}{more}"
          f"  clusters {sorted(set(cluster[members].tolist()))}")

# %% [markdown]
# More levels or more codes lower the collision rate; a common fix, from TIGER (Rajput et al.,
# 2023), appends one extra level that simply counts: the k-th item sharing a tuple gets extra
# code k. Tuples become unique, but that last code carries no meaning.

# %%
rq_dedup = RQKMeans(levels=L, codebook_size=K, seed=0, dedup=True).fit(x)
codes_dedup = rq_dedup.encode(x)                                     # (n, L+1)
print("with the dedup level: shape", codes_dedup.shape, f" collision rate {collision_rate(codes_dedup):.1%}")
sids = SemanticIDs.from_quantizer(content, rq)                       # item-aligned (V+1, L), row 0 = pad
print("SemanticIDs summary:", sids.summary())

# %% [markdown]
# ## 6. Pictures: code usage and the semantic-ID tree
#
# Left: how many items use each code, per level (sorted). Right: the tree of a few items —
# the root splits by level-1 code, then by level-2 code, down to the items, coloured by their
# planted cluster. Items under one level-1 code mostly share a colour; where a level-1 code
# mixes two clusters (a purity below 1), the level-2 codes usually pull them apart.

# %%
def tree_leaves(codes, n_top=3, n_child=3, n_items=3):
    """The items to draw: the n_top biggest level-1 codes, their n_child biggest level-2 codes,
    up to n_items items each. Returns [(c1, c2, [item indices])]."""
    out = []
    for c1 in np.argsort(-np.bincount(codes[:, 0]))[:n_top]:
        rows = np.flatnonzero(codes[:, 0] == c1)
        for c2 in np.argsort(-np.bincount(codes[rows, 1]))[:n_child]:
            items = rows[codes[rows, 1] == c2][:n_items]
            if len(items):
                out.append((int(c1), int(c2), items))
    return out


def draw_tree(ax, codes, labels):
    leaves = tree_leaves(codes)
    xs, palette = 0, plt.get_cmap("tab20")
    parents = {}                                                     # c1 -> list of level-2 x positions
    for c1, c2, items in leaves:
        item_x = np.arange(xs, xs + len(items), dtype=float)
        xs += len(items) + 0.6                                       # gap between level-2 nodes
        x2 = item_x.mean()
        parents.setdefault(c1, []).append(x2)
        for ix, item in zip(item_x, items):
            ax.plot([x2, ix], [1, 0], color="0.7", lw=1, zorder=1)
            ax.scatter(ix, 0, s=90, color=palette(labels[item] % 20), zorder=2, edgecolor="k")
            sid = "-".join(str(c) for c in codes[item].tolist())
            ax.text(ix, -0.12, f"item {item + 1}: {sid}", ha="center", va="top", fontsize=7, rotation=90)
        ax.scatter(x2, 1, s=160, color="white", edgecolor="k", zorder=2)
        ax.text(x2, 1, str(c2), ha="center", va="center", fontsize=7, zorder=3)
    root_x = np.mean([np.mean(v) for v in parents.values()])
    for c1, children in parents.items():
        x1 = np.mean(children)
        for x2 in children:
            ax.plot([x1, x2], [2, 1], color="0.5", lw=1, zorder=1)
        ax.plot([root_x, x1], [3, 2], color="0.3", lw=1, zorder=1)
        ax.scatter(x1, 2, s=220, color="white", edgecolor="k", zorder=2)
        ax.text(x1, 2, str(c1), ha="center", va="center", fontsize=8, zorder=3)
    ax.scatter(root_x, 3, s=80, color="k", zorder=2)
    ax.set_yticks([0, 1, 2, 3])
    ax.set_yticklabels(["items (id: SID)", "level-2 code", "level-1 code", "all items"])
    ax.set_xticks([])
    ax.set_ylim(-1.3, 3.3)
    ax.set_title("semantic-ID tree (items coloured by planted cluster)")


usage = code_usage(codes, K)                                         # (L, K) items per code
fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1, 2.2]})
for level in range(L):
    axes[0].step(np.arange(K), np.sort(usage[level])[::-1], where="mid",
                 label=f"level {level + 1} (perplexity {perplexity(usage[level]):.1f})")
axes[0].set_xlabel("code, sorted by use")
axes[0].set_ylabel("items")
axes[0].set_title(f"code usage, K = {K}")
axes[0].legend(fontsize=8)
draw_tree(axes[1], codes, cluster[1:])
show(fig, "05_code_usage_and_tree.png")

# %% [markdown]
# The package draws the usage histograms and the error curve in one call too (it writes the
# file without touching pyplot, so it also works inside a training job):

# %%
print("saved figure", plot_report(report, codes, out_dir() / "05_quantization_report.png"))

# %% [markdown]
# ## 7. RQ-VAE, the paper's quantizer
#
# RQ-KMeans quantizes the content vectors as they are. **RQ-VAE** (used by TIGER and by the
# H2Rec paper) first *learns* a latent space for them: an MLP encoder `z = E(x)`, the same
# residual codebooks on `z`, and an MLP decoder that must rebuild `x` from the quantized
# latent. Because `argmin` has no gradient, the decoder's gradient is copied straight through
# to the encoder (the *straight-through estimator*); a codebook loss pulls the used codewords
# toward their residuals and a commitment loss keeps the encoder near its codewords. The
# codebooks start from RQ-KMeans on the first latents. It is trained with the package's own
# autograd (tutorial 01): about ten times slower than RQ-KMeans here, far more on big catalogues.

# %%
vae_epochs = size(50, 3)                      # the RQVAE default
t0 = time.perf_counter()
vae = RQVAE(levels=L, codebook_size=K, latent_dim=32, epochs=vae_epochs, seed=0).fit(x)
vae_seconds = time.perf_counter() - t0
vae_codes = vae.encode(x)                                            # (n, L)
last = vae.history[-1]
print(f"{vae}  {vae_seconds:.1f}s; last epoch: recon {last['recon']:.4f}, codes used per level "
      + " ".join(f"{u:.0%}" for u in last["used"]))
errors = vae.level_errors(x)
print(errors.format_table())

# %% [markdown]
# The RQ-VAE's codebooks live in its latent space, so its "latent" column is the analogue of
# RQ-KMeans' error table — but on another scale. What both can be compared on is the **input**
# space: how well the tuple rebuilds the content vector (for RQ-VAE through the decoder, which
# has its own floor: the autoencoder's error without quantization). And on what a recommender
# cares about: codebook use, collisions, and whether codes follow the content.

# %%
vae_report = quantization_report(vae.latents(x), vae_codes, vae.codebooks)
rows = [("RQ-KMeans", rq_seconds, report.recon_error[-1], report.utilisation[0], report.perplexity[0],
         report.collision_rate, purity(codes[:, 0], cluster[1:])),
        (f"RQ-VAE ({vae_epochs} ep.)", vae_seconds, errors.input[-1], vae_report.utilisation[0],
         vae_report.perplexity[0], vae_report.collision_rate, purity(vae_codes[:, 0], cluster[1:]))]
print(f"{'quantizer':18s} {'fit s':>6s} {'input error':>11s} {'L1 used':>8s} {'L1 ppl':>7s} "
      f"{'collisions':>10s} {'L1 purity':>9s}")
for name, secs, err, used, ppl, coll, pur in rows:
    print(f"{name:18s} {secs:6.1f} {err:11.4f} {used:8.0%} {ppl:7.1f} {coll:10.1%} {pur:9.2f}")
print(f"(input error = mean squared error per item between x and its reconstruction from all {L} "
      f"codes; RQ-VAE's autoencoder alone reaches {errors.autoencoder:.4f})")

# %% [markdown]
# What to take from the table (your numbers depend on the seed and, for RQ-VAE, the epochs):
#
# * RQ-KMeans needs no training, reaches the lowest input-space error and uses every code; its
#   level-1 codes follow the planted clusters.
# * RQ-VAE's input error cannot go below its autoencoder's. In exchange it learns a latent
#   space shaped for quantization (in our runs: fewer collisions), at the price of training,
#   tuning, and possible **codebook collapse** — codes that stop being used (the `L1 used`
#   column, `vae.history[...]["used"]`). That trade is worth more for high-dimensional text
#   embeddings (1536-d in the paper) than for our 64-d vectors.
#
# minih2rec uses RQ-KMeans by default (`python -m minih2rec sids --method rqkmeans|rqvae`).
# The file that command writes goes straight into training: `python -m minih2rec train
# --model h2rec --sids codes.npz` (it is checked against the data: same items, same ids).
#
# ## Summary
#
# * A semantic ID is the tuple of codes from **residual quantization**: k-means on the
#   vectors, then on what is left, level after level. Error per level never increases.
# * Measure SIDs by reconstruction error per level, codebook use / perplexity, and the
#   **collision rate**; a TIGER-style extra level makes tuples unique.
# * Level-1 codes recover the content clusters: similar items share code prefixes — the
#   property tail items will borrow strength from in tutorial 06.
# * RQ-VAE learns the space it quantizes; RQ-KMeans is the fast, strong default.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/05_residual_quantization.py`.
#
# **5.1 — nearest codewords.** For the three points and three codewords below, write the
# index of each point's nearest codeword (squared Euclidean distance; ties go to the lower
# index).

# %%
x_51 = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 1.0]])
C_51 = np.array([[1.0, 1.0], [0.0, 0.5], [3.0, 1.0]])

yours = None  # TODO: an int array of shape (3,)
check("5.1 nearest codewords", yours, nearest_codeword(x_51, C_51)[0])

# %% [markdown]
# **5.2 — two levels.** With the two codebooks below (level 1, then level 2 on the residual),
# write the semantic IDs of the two points as a (2, 2) array.

# %%
books_52 = np.array([[[0.0, 0.0], [4.0, 4.0], [-4.0, 0.0]],              # level 1 (K=3, D=2)
                     [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]])            # level 2
x_52 = np.array([[4.2, 5.1], [-5.0, -0.8]])
rq_52 = RQKMeans(levels=2, codebook_size=3)
rq_52.codebooks = books_52                                               # skip fit: use these books

yours = None  # TODO: an int array of shape (2, 2)
check("5.2 two-level semantic IDs", yours, rq_52.encode(x_52))

# %% [markdown]
# **5.3 — collision rate.** Six items have the tuples below. What share of them collide
# (their full tuple is shared with at least one other item)?

# %%
codes_53 = np.array([[0, 1], [0, 1], [0, 2], [1, 1], [1, 1], [1, 1]])

yours = None  # TODO: a float
check("5.3 collision rate", yours, collision_rate(codes_53))

# %% [markdown]
# **5.4 — perplexity.** A level with K = 4 codes is used by 6, 2, 0 and 0 items. Compute
# `exp(entropy)` of its usage distribution (natural log). Is it closer to 1 or to 2?

# %%
counts_54 = np.array([6, 2, 0, 0])

yours = None  # TODO: a float
check("5.4 perplexity", yours, perplexity(counts_54))

# %% [markdown]
# **5.5 — the dedup level.** Append TIGER's extra code to these tuples: the k-th item (in row
# order, counting from 0) that shares a tuple gets extra code k.

# %%
codes_55 = np.array([[2, 0], [1, 3], [2, 0], [2, 0], [1, 3]])

yours = None  # TODO: an int array of shape (5,)
check("5.5 dedup level", yours, dedup_level(codes_55, limit=4))
