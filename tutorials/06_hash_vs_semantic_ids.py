# %% [markdown]
# # 06 · Hash IDs vs semantic IDs: the head/tail seesaw, measured
#
# **What you will build.** Two sequential recommenders that differ in one thing only — how an
# item is represented. **SASRec** gives every item its own trainable vector (a *hash ID*, HID);
# the **SID model** represents an item only by its semantic ID from tutorial 05, as the mean of
# its code embeddings. You will train both with the same data, backbone, budget and seed,
# break their accuracy down by item popularity, and see the **seesaw** that motivates H2Rec:
# hash IDs win on popular (head) items, semantic IDs on rare (tail) items. Then you will
# look inside the two item tables to see *why*.
#
# **Time.** About a minute to run on an idle 2-core laptop (two models × 8 epochs; a busy
# machine can make it several); about an hour with the exercises. `MINIH2REC_SMOKE=1` shrinks
# it to seconds. Tutorials 04 (SASRec) and 05 (semantic IDs) come first.
#
# Glossary: B batch, T length, d width, L levels, K codes per level, V items (ids 1..V,
# 0 = padding).

# %%
import numpy as np

from minih2rec import factory
from minih2rec.config import preset
from minih2rec.data import make_synthetic, split_leave_one_out
from minih2rec.eval import evaluate, plot_bucket_ndcg
from minih2rec.eval.groups import BUCKETS, bucket_of, head_items
from minih2rec.models.item_side import CodeEmbeddings
from minih2rec.train import Trainer

from _smoke import SMOKE, out_dir, show, size
from checks import check

import matplotlib.pyplot as plt   # after _smoke: a script draws off-screen

EPOCHS = size(8, 2)      # both models are still improving at 8, but the seesaw is already clear
LR = 3e-3                # as in tutorial 04
MODEL = dict(d=16, max_len=20, blocks=1) if SMOKE else dict(d=32, max_len=30, blocks=1)

# %% [markdown]
# ## 1. Popularity buckets
#
# Every evaluated user is put in the group of its **test target** item: *head* = the 20 % most
# popular items (by training interactions), *tail* = the rest, and five finer buckets by the
# target's number of training interactions. A model that is good on the tail recommends rare
# items well when they are what the user picks next.

# %%
inter = make_synthetic(size("default", "tiny"), seed=0)
split = split_leave_one_out(inter)
print(split.describe())
pop = split.train_popularity()                                       # (V+1,) training counts
target_bucket = bucket_of(pop[split.test_target])                   # (U,) bucket of each user's target
item_bucket = bucket_of(pop[1:])                                    # (V,) bucket of each item
print(f"{'bucket':>8s} {'items':>6s} {'test users':>10s}")
for b, (label, _, _) in enumerate(BUCKETS):
    print(f"{label:>8s} {np.sum(item_bucket == b):6d} {np.sum(target_bucket == b):10d}")
print(f"head = {head_items(pop).sum()} items holding "
      f"{pop[head_items(pop)].sum() / pop.sum():.0%} of the training interactions")

# %% [markdown]
# ## 2. Two item tables
#
# Both models are tutorial 04's SASRec; only the item table — used for the inputs *and* for
# scoring — changes:
#
# * **HID** (`sasrec`): `E_h ∈ R^{(V+1)×d}`, one free row per item. An item's row moves only
#   through that item's own gradients: frequent items get many, rare items few.
# * **SID** (`sid`): `e_s(i) = mean_l C^l[c_i^l]` with code embeddings `C^l ∈ R^{K×d}`.
#   Items that share a code share that part of their vector, so a rare item learns from every
#   item in its code groups. Items with the *same full tuple* get the *same* vector.
#
# `factory.build(name, inter, split, overrides)` makes either by name. For `sid` it computes
# the semantic IDs itself (content → RQ-KMeans with L = 3, K = `default_codebook_size(V)`,
# exactly what `python -m minih2rec sids` writes to a file)
# and starts `C` from the RQ codebooks (`code_init="rq"`), so similar items start close.

# %%
models = {name: factory.build(name, inter, split, MODEL, seed=0) for name in ("sasrec", "sid")}
sid = models["sid"]
for name, m in models.items():
    print(f"{name:6s} {m.num_parameters():>8,} parameters, item table {m.item_table().shape}")
codes = sid.codes                                                    # (V+1, L) semantic IDs
tuples, group, group_size = np.unique(codes[1:], axis=0, return_inverse=True, return_counts=True)
collides = np.r_[False, group_size[group.reshape(-1)] > 1]          # (V+1,) shares its full tuple
print(f"semantic IDs {codes.shape}: {len(tuples)} distinct tuples for {inter.num_items} items; "
      f"{collides.mean():.0%} of the items share their tuple with another item")
if collides.any():
    a = int(np.flatnonzero(collides)[0])                             # one colliding pair a, b
    same = np.flatnonzero((codes[1:] == codes[a]).all(axis=1)) + 1   # items with a's tuple
    b = int(same[same != a][0])
    table = sid.item_table().data                                    # (V+1, d)
    print(f"items {a} and {b} both have the tuple {codes[a].tolist()}: identical SID vectors? "
          f"{np.array_equal(table[a], table[b])}")

# %% [markdown]
# ## 3. Train both, same budget
#
# `Trainer` (tutorial 04) with early stopping on validation NDCG@10 and the same `TrainConfig`.

# %%
config = preset("default", epochs=EPOCHS, lr=LR, patience=3)
results = {}
for name, m in models.items():
    summary = Trainer(m, split, config, progress=False, log=lambda *a, **k: None).fit()
    results[name] = evaluate(m, split, stage="test", protocol="full", max_len=m.config.max_len)
    print(f"{name:6s} best epoch {summary.best_epoch}/{summary.epochs_run}, "
          f"{summary.seconds_per_epoch:.1f} s/epoch")
for name, res in results.items():
    print(f"\n{name}\n" + res.format_table(groups=["overall", "head", "tail"]))

# %% [markdown]
# ## 4. The seesaw, bucket by bucket

# %%
groups = [f"bucket {label}" for label, _, _ in BUCKETS]
print(f"NDCG@10 by popularity of the test target — {results['sasrec'].description}")
print(f"{'bucket':>14s} {'users':>6s} {'sasrec (HID)':>13s} {'sid (SID)':>10s}  better")
for g in groups:
    h, s = results["sasrec"].get(g, "NDCG@10"), results["sid"].get(g, "NDCG@10")
    winner = "" if np.isnan(h) or np.isnan(s) or h == s else ("HID" if h > s else "SID")
    print(f"{g:>14s} {results['sasrec'].counts[g]:6d} {h:13.4f} {s:10.4f}  {winner}")
path = plot_bucket_ndcg(results, out_dir() / "06_bucket_ndcg.png")
print("saved figure", path)

# %% [markdown]
# Read the figure (`out/06_bucket_ndcg.png`) from right to left: on the most popular buckets
# the hash-ID model is ahead — it can give each popular item exactly the vector its many
# interactions ask for; on the rare buckets the semantic-ID model is ahead — it knows where a
# rare item belongs from its content. (In smoke mode the models are barely trained and the
# buckets are tiny; run without `MINIH2REC_SMOKE` to see the shape.) The next two sections
# look at each side of the seesaw.
#
# ## 5. Why hash IDs lose the tail: rare items never find their neighbours
#
# A good item table puts items that are consumed together close to each other. The synthetic
# data tells us which items belong together: the planted clusters. For every item, take its
# 10 nearest neighbours (cosine) in the trained table and count how many are from its own
# cluster, then average per popularity bucket:

# %%
def neighbour_purity(table, labels, k=10):
    """Per item (rows 1..V): share of its k nearest neighbours (cosine) in its own cluster."""
    e = table[1:] / np.maximum(np.linalg.norm(table[1:], axis=1, keepdims=True), 1e-12)
    sim = e @ e.T                                                    # (V, V)
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :k]         # (V, k)
    return (labels[1:][nearest] == labels[1:, None]).mean(axis=1)    # (V,)


cluster = inter.item_meta["cluster"]
purity = {name: neighbour_purity(m.item_table().data, cluster) for name, m in models.items()}
chance = np.mean([(cluster[1:] == c).mean() for c in cluster[1:]])
print(f"{'bucket':>8s} {'items':>6s} {'sasrec':>7s} {'sid':>6s}   (chance {chance:.2f})")
for bk, (label, _, _) in enumerate(BUCKETS):
    rows = item_bucket == bk
    if rows.any():
        h, s = purity["sasrec"][rows].mean(), purity["sid"][rows].mean()
        print(f"{label:>8s} {rows.sum():6d} {h:7.2f} {s:6.2f}")

fig, ax = plt.subplots(figsize=(6.5, 4))
for name, p in purity.items():
    ax.scatter(pop[1:] + 1, p + np.random.default_rng(0).uniform(-0.02, 0.02, p.size), s=8, alpha=0.5,
               label=name)
ax.set_xscale("log")
ax.set_xlabel("training interactions of the item + 1 (log)")
ax.set_ylabel("share of 10 nearest neighbours in its cluster")
ax.set_title("item-table neighbours after training")
ax.legend()
show(fig, "06_neighbour_purity.png")

# %% [markdown]
# SASRec's neighbour purity climbs with popularity: popular items sit among their
# cluster-mates, rare items much less often — each saw too few gradients to move far from its
# random start. The SID table is organised for every item, rare or not — it inherits the
# content geometry through the shared codes. That is the tail side of the seesaw.
#
# ## 6. Why semantic IDs lose the head: collisions and shared codes
#
# The SID model cannot give two items with the same tuple different scores: whichever has the
# lower id is ranked first, always. And items sharing *some* codes are tied together: a head
# item cannot move its vector without moving its code-mates ("collaborative overwhelming").
# Compare the two models on users whose test target collides with another item:

# %%
hits = {name: res.ranks < 10 for name, res in results.items()}      # (U,) HR@10 per evaluated user
assert np.array_equal(results["sasrec"].users, results["sid"].users)  # same users, same order
shares = collides[split.test_target[results["sid"].users]]           # (U,) target shares its tuple
print(f"HR@10, full ranking, by whether the test target shares its full SID tuple")
print(f"{'target':>18s} {'users':>6s} {'sasrec':>7s} {'sid':>6s} {'sid - sasrec':>13s}")
for label, rows in (("shares its tuple", shares), ("has its own tuple", ~shares)):
    h, s = hits["sasrec"][rows].mean(), hits["sid"][rows].mean()
    print(f"{label:>18s} {rows.sum():6d} {h:7.3f} {s:6.3f} {s - h:+13.3f}")

# %% [markdown]
# The hash-ID model does not care about tuples; the SID model falls further behind it (or
# gains less) when the target collides with another item. More levels or a dedup level
# (tutorial 05) remove exact collisions, but not the sharing of codes, which is the point of
# SIDs. **H2Rec** keeps both tables and lets each branch teach the other (tutorials 08 and 09).
#
# ## Summary
#
# * Same backbone, same budget, one difference — the item table — gives a **seesaw**: hash IDs
#   are better on head items, semantic IDs on tail items.
# * Hash IDs: a private vector per item, only as good as that item's data; rare items stay
#   near their random start.
# * Semantic IDs: shared code vectors carry content to rare items, but colliding items become
#   indistinguishable and head items cannot specialise.
# * Always report head/tail or bucket breakdowns: an overall number hides the seesaw.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/06_hash_vs_semantic_ids.py`.
#
# **6.1 — buckets.** Items with 0, 9, 10, 45, 99 and 250 training interactions: give the
# index (0–4) of each one's popularity bucket in `BUCKETS` (`0-9`, `10-29`, `30-59`, `60-99`,
# `>=100`).

# %%
counts_61 = np.array([0, 9, 10, 45, 99, 250])

yours = None  # TODO: an int array of shape (6,)
check("6.1 popularity buckets", yours, bucket_of(counts_61))

# %% [markdown]
# **6.2 — the head.** Ten items (ids 1..10) have the training counts below (index 0 is
# padding). Which are *head* items with `head_share = 0.2`? Give a bool array of shape (11,)
# (index 0 is never head; on equal counts the lower id goes first).

# %%
pop_62 = np.array([0, 5, 40, 7, 40, 1, 0, 12, 3, 9, 2])

yours = None  # TODO: a bool array of shape (11,)
check("6.2 head items", yours, head_items(pop_62, head_share=0.2))

# %% [markdown]
# **6.3 — an SID item table by hand.** Below are the semantic IDs of 4 items (row 0 =
# padding) and a `CodeEmbeddings` module with random code vectors `emb.weight.data`
# (L, K, d). Compute the SID item table `e_s` (V+1, d): row i is the mean over levels l of
# `weight[l, codes[i, l]]`, and row 0 is zeros.

# %%
codes_63 = np.array([[0, 0], [1, 2], [1, 0], [0, 2], [1, 2]])      # (V+1, L) with V=4, L=2, K=3
emb = CodeEmbeddings(codes_63, codebook_size=3, d=2, rng=np.random.default_rng(63), code_init="random")

yours = None  # TODO: an array of shape (5, 2)
check("6.3 SID item table", yours, emb.table())
