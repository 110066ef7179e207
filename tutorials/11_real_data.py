# %% [markdown]
# # 11 · Real data: MovieLens-100K, from titles to semantic IDs to H2Rec
#
# **What you will build.** The whole pipeline on a real dataset: load MovieLens-100K from
# files you obtained yourself, look at what real interaction data looks like, turn movie
# **titles and genres** into content vectors (TF-IDF + SVD), quantize them into semantic IDs
# (RQ-KMeans), and run the four models of tutorial 09 — SASRec, SID-only, fusion, H2Rec —
# side by side, by popularity bucket, under both evaluation protocols.
#
# **Time.** About a minute to run on an idle 2-core laptop with the small budget below (a busy
# machine can make it several); `MINIH2REC_SMOKE=1`: seconds. Without the data the tutorial
# stops at once with a `[skip]` line (exit code 0).
#
# ## 0. Getting the data (one command, which you run: the tutorial never downloads anything)
#
# MovieLens-100K is published by GroupLens (University of Minnesota): 100,000 ratings of
# 1,682 movies by 943 users, with titles, release dates and genres. **Terms of use**: research
# use only; cite F. Maxwell Harper and Joseph A. Konstan, *The MovieLens Datasets: History and
# Context*, ACM TiiS 5(4), 2015; **do not redistribute** it (so never commit it to a
# repository, this one included). Get it with
#
#     python -m minih2rec data ml-100k
#
# which downloads GroupLens' `ml-100k.zip`, checks its SHA-256 and puts `u.data` (ratings)
# and `u.item` (titles, genres) into `~/.cache/minih2rec/ml-100k`. Offline, download the zip
# from https://grouplens.org/datasets/movielens/100k/ elsewhere and run
# `python -m minih2rec data ml-100k --from ml-100k.zip`. The same ratings in RecBole's atomic
# format (`ml-100k.inter`, `ml-100k.item`) work too.
#
# This tutorial looks in `$MINIH2REC_ML100K` if set, else in `~/.cache/minih2rec/ml-100k`
# (also one level down, `…/ml-100k/u.data`, as the GroupLens zip unpacks).

# %%
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from minih2rec.config import preset
from minih2rec.data import kcore_mask, load, split_leave_one_out
from minih2rec.eval import EvalResult, plot_bucket_ndcg
from minih2rec.eval.groups import BUCKETS, bucket_of
from minih2rec.experiment import DataSpec, run
from minih2rec.quantize import RQKMeans, quantization_report
from minih2rec.semantic import content_vectors_from_text, default_codebook_size, tfidf, tokenize

from _smoke import SMOKE, out_dir, show, size, skip_tutorial
from checks import check

import matplotlib.pyplot as plt   # after _smoke: a script draws off-screen

FOLDER = Path(os.environ.get("MINIH2REC_ML100K", "~/.cache/minih2rec/ml-100k")).expanduser()


def find_ml100k(folder):
    """``(path, format)`` to load MovieLens-100K from ``folder``, or None if it is not there."""
    for candidate in (folder, folder / "ml-100k"):
        if (candidate / "u.data").is_file():
            return candidate, "ml-100k"                              # GroupLens' own files
        if (candidate / "ml-100k.inter").is_file():
            return candidate / "ml-100k.inter", "atomic"             # RecBole atomic files
    return None


found = find_ml100k(FOLDER)
if found is None:
    skip_tutorial("MovieLens-100K not found in $MINIH2REC_ML100K or ~/.cache/minih2rec/ml-100k; get it "
                  "with: python -m minih2rec data ml-100k (see the main README, Real data)")
path, fmt = found
print(f"MovieLens-100K: {path} ({fmt} format)")

# %% [markdown]
# ## 1. Load and look
#
# `load(path, format, k_core=5)` reads the files, sorts each user's ratings by time (every
# rating counts as an interaction, whatever its value), drops repeated (user, item) pairs, and
# keeps the **5-core**: users and items with at least 5 interactions, repeated until stable —
# the usual preprocessing of SASRec and H2Rec. Item text is `"Title (year). Genres: A, B"`.

# %%
t0 = time.perf_counter()
inter = load(path, fmt, k_core=5)
print(f"{inter.describe()}  ({time.perf_counter() - t0:.1f}s)")
if SMOKE:                  # smoke mode: keep the first 150 users (all items) so that training takes seconds
    inter = replace(inter, sequences=inter.sequences[:150], user_ids=inter.user_ids[:150],
                    timestamps=None, name=f"{inter.name}, first 150 users")
    print("smoke mode:", inter.describe())
for i in (1, 2, 50):
    print(f"  item {i}: {inter.item_text[i]!r}")

split = split_leave_one_out(inter)
pop = split.train_popularity()
lengths = inter.lengths()
print(f"history lengths: median {np.median(lengths):.0f}, 90th percentile {np.percentile(lengths, 90):.0f}, "
      f"max {lengths.max()} — longer than the synthetic data; models read the last max_len items, "
      f"and training cuts longer histories into rows of max_len")
top = np.sort(pop[1:])[::-1]
print(f"the 20% most popular movies hold {top[:len(top) // 5].sum() / top.sum():.0%} of the training "
      f"interactions")
print(f"{'bucket':>8s} {'movies':>7s} {'test users':>10s}")
for b, (label, _, _) in enumerate(BUCKETS):
    movies, targets = np.sum(bucket_of(pop[1:]) == b), np.sum(bucket_of(pop[split.test_target]) == b)
    print(f"{label:>8s} {movies:7d} {targets:10d}")

# %% [markdown]
# Unlike the synthetic data, the test targets of MovieLens are mostly *popular* movies: few
# users' next movie is a rare one, so the tail buckets hold few users and their numbers are
# noisy.
#
# ## 2. Content vectors from titles and genres
#
# No planted clusters here: the content is the text. TF-IDF turns each title into a sparse
# vector over the vocabulary (rare words weigh more), and a randomized truncated SVD (LSA)
# compresses it to D dense dimensions, so that movies with related words — same genres,
# same franchise, same decade — end up close.

# %%
X, vocab = tfidf(inter.item_text[1:])
print(f"TF-IDF: {X.shape[0]:,} movies x {X.shape[1]:,} terms, {len(X.data):,} non-zeros; "
      f"tokens of item 1: {tokenize(inter.item_text[1])}")
DIM = size(64, 16)
t0 = time.perf_counter()
content = np.zeros((inter.num_items + 1, DIM), dtype=np.float32)     # (V+1, D), row 0 = padding
content[1:] = content_vectors_from_text(inter.item_text[1:], dim=DIM, seed=0)
print(f"LSA content vectors {content.shape} in {time.perf_counter() - t0:.1f}s")


def neighbours(item, k=4):
    """The k items with the most similar content vector (cosine)."""
    sim = content[1:] @ content[item]                               # rows are unit vectors
    sim[item - 1] = -np.inf
    return np.argsort(-sim)[:k] + 1


for title in ("Star Wars", "Toy Story", "Fargo"):
    item = next(i for i in range(1, inter.num_items + 1) if inter.item_text[i].startswith(title))
    print(f"{inter.item_text[item]}\n   -> " + "\n   -> ".join(inter.item_text[j] for j in neighbours(item)))

# %% [markdown]
# ## 3. Semantic IDs
#
# RQ-KMeans (tutorial 05) with L = 3 and K = `default_codebook_size(V)` (64 for ~1,350
# movies). Movies sharing a level-1 code should look alike:

# %%
L, K = 3, size(default_codebook_size(inter.num_items), 16)
rq = RQKMeans(levels=L, codebook_size=K, seed=0).fit(content[1:])
codes = np.zeros((inter.num_items + 1, L), dtype=np.int64)            # (V+1, L), row 0 = padding
codes[1:] = rq.encode(content[1:])
print(quantization_report(content[1:], codes[1:], rq.codebooks).format_table())
for c1 in np.argsort(-np.bincount(codes[1:, 0], minlength=K))[:2]:
    members = np.flatnonzero(codes[:, 0] == c1)[:5]
    members = members[members > 0]
    print(f"level-1 code {c1}:", " | ".join(inter.item_text[i][:45] for i in members))
_, inverse, counts = np.unique(codes[1:], axis=0, return_inverse=True, return_counts=True)
biggest = np.flatnonzero(inverse.reshape(-1) == np.argmax(counts)) + 1
print(f"largest collision ({counts.max()} movies share one tuple):",
      " | ".join(inter.item_text[i][:40] for i in biggest[:4]))

# %% [markdown]
# Titles are short, so many movies are described by little more than their genres and year:
# collisions are frequent, and a semantic ID mostly says "which kind of movie". That is
# enough for what SIDs are for — giving rare movies the company of similar ones — and it is
# why H2Rec keeps a hash ID for every movie too.
#
# ## 4. Four models, one budget
#
# The loop of tutorial 09, on MovieLens. The SID-based models get *our* semantic IDs through
# the `codes` / `codebooks` overrides (without them, the factory would compute the same kind
# of IDs itself). Both protocols are evaluated: full ranking (our default) and the paper's 100
# sampled negatives.

# %%
EPOCHS = size(6, 1)        # a small budget: read the results with that in mind (below)
LR = 1e-2                  # as in tutorial 09: large, but stable for these small models
MODEL = dict(d=16, max_len=20, blocks=1) if SMOKE else dict(d=32, max_len=30, blocks=1)
TRAIN = preset("default", epochs=EPOCHS, lr=LR, patience=2, seed=0)
data = DataSpec(source=str(path), format=fmt, k_core=5)
semantic = {"codes": codes, "codebooks": rq.codebooks}

runs, full, sampled = {}, {}, {}
for name in ("sasrec", "sid", "fusion", "h2rec"):
    t0 = time.perf_counter()
    overrides = {**MODEL, **(semantic if name != "sasrec" else {})}
    runs[name] = run(name, data, TRAIN, overrides, protocols=("full", "sampled"), progress=False,
                     log=lambda *a, **k: None, inter=inter)
    full[name] = EvalResult.from_dict(runs[name]["test"]["full"])
    sampled[name] = EvalResult.from_dict(runs[name]["test"]["sampled"])
    summary = runs[name]["train"]
    print(f"{name:7s} {summary['epochs_run']} epochs x {summary['seconds_per_epoch']:.1f}s"
          f"  ({time.perf_counter() - t0:.0f}s)")

# %%
for results in (full, sampled):
    print("\n" + next(iter(results.values())).description)
    print(f"{'model':8s}" + "".join(f"{g + ' ' + m:>14s}" for g in ("all", "head", "tail")
                                    for m in ("HR@10", "NDCG@10")))
    for name, res in results.items():
        print(f"{name:8s}" + "".join(f"{res.get(g, m):14.4f}" for g in ("overall", "head", "tail")
                                     for m in ("HR@10", "NDCG@10")))
print("\nsaved figure", plot_bucket_ndcg(full, out_dir() / "11_ml100k_bucket_ndcg.png"))

# %% [markdown]
# Reading the tables honestly:
#
# * **Protocols.** Sampled numbers are several times larger and closer together (tutorial 04);
#   compare with published numbers only under the same protocol, number of negatives and
#   preprocessing. The H2Rec paper reports the sampled protocol.
# * **Budget.** A few epochs on a laptop are far from convergence; the ordering of models can
#   change with full early-stopping training and several seeds
#   (`python -m minih2rec compare --data <folder> --format ml-100k`).
# * **The tail is small.** On MovieLens few test targets are rare movies, so tail numbers rest
#   on few users (see the bucket counts in section 1 and on the figure's axis).
#
# The popularity curve of the training data (log-log) shows why popular movies dominate the
# targets: a few hundred movies hold most of the interactions.

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.loglog(np.arange(1, len(top) + 1), top, lw=2)
ax.set_xlabel("movie rank by training popularity")
ax.set_ylabel("training interactions")
ax.set_title(f"MovieLens-100K (5-core): {inter.num_items:,} movies, {inter.num_users:,} users")
show(fig, "11_ml100k_popularity.png")

# %% [markdown]
# ## Summary
#
# * Real data arrives as files you obtain under their terms; `minih2rec.data.load` reads
#   MovieLens (100K, 1M), RecBole atomic files and CSV, and applies the usual 5-core filter.
# * Semantic IDs need only item text: TF-IDF + randomized SVD, then RQ-KMeans; titles and
#   genres give coarse but useful codes (neighbours make sense; collisions are common).
# * The same four-model comparison runs unchanged; report both protocols, the budget, and
#   the bucket sizes next to every number.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/11_real_data.py` (they need no data).
#
# **11.1 — tokens.** What tokens does `tokenize` make of this item text? (Lowercase, split on
# everything that is not a letter or digit, drop 1-character tokens.)

# %%
text_111 = "Monty Python's Life of Brian (1979). Genres: Comedy"

yours = None  # TODO: a list of strings
check("11.1 tokens of a title", yours, tokenize(text_111))

# %% [markdown]
# **11.2 — a TF-IDF row.** For the five titles below, compute the TF-IDF row of the first one
# over the sorted vocabulary `vocab_112`: `tf · idf` with the smooth
# `idf(t) = ln((1 + n) / (1 + df(t))) + 1` (n documents, df = documents containing t), then
# scaled to unit length.

# %%
docs_112 = ["star wars", "star trek", "wars of the worlds", "toy story", "story of star trek"]
X_112, vocab_112 = tfidf(docs_112)
print("vocabulary:", vocab_112)

yours = None  # TODO: an array of shape (len(vocab_112),)
check("11.2 TF-IDF row of 'star wars'", yours, X_112.toarray()[0])

# %% [markdown]
# **11.3 — the k-core.** Six interactions (user, item). Which rows survive the **2-core**
# (every remaining user and item has at least 2 remaining rows; repeat until stable)?

# %%
users_113 = np.array([0, 0, 1, 1, 2, 2])
items_113 = np.array([0, 1, 0, 1, 1, 2])

yours = None  # TODO: a bool array of shape (6,)
check("11.3 2-core rows", yours, kcore_mask(users_113, items_113, 2))
