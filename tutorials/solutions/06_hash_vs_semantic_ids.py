# %% [markdown]
# # Solutions · 06 Hash IDs vs semantic IDs

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.eval.groups import BUCKETS, bucket_of, head_items
from minih2rec.models.item_side import CodeEmbeddings

from checks import check

# %% [markdown]
# **6.1** Find the bucket whose range `[lo, hi]` holds each count (`hi = None`: no upper end).

# %%
counts_61 = np.array([0, 9, 10, 45, 99, 250])
yours = [next(b for b, (_, lo, hi) in enumerate(BUCKETS) if c >= lo and (hi is None or c <= hi))
         for c in counts_61]
assert check("6.1 popularity buckets", yours, bucket_of(counts_61))

# %% [markdown]
# **6.2** 20 % of 10 items = 2 head items. Sorted by count, descending: items 2 and 4 (40
# each; tied, so both by id order), then item 7 (12) ... So the head is {2, 4}.

# %%
pop_62 = np.array([0, 5, 40, 7, 40, 1, 0, 12, 3, 9, 2])
ids = np.arange(1, 11)
order = sorted(ids, key=lambda i: (-pop_62[i], i))                  # count desc, then id asc
yours = np.zeros(11, dtype=bool)
yours[order[:max(1, int(0.2 * 10))]] = True
assert check("6.2 head items", yours, head_items(pop_62, head_share=0.2))

# %% [markdown]
# **6.3** Look up each level's code vector and average over the levels; zero the padding row.

# %%
codes_63 = np.array([[0, 0], [1, 2], [1, 0], [0, 2], [1, 2]])
emb = CodeEmbeddings(codes_63, codebook_size=3, d=2, rng=np.random.default_rng(63), code_init="random")
W = emb.weight.data                                                 # (L, K, d)
yours = np.mean([W[level, codes_63[:, level]] for level in range(codes_63.shape[1])], axis=0)   # (V+1, d)
yours[0] = 0.0
assert check("6.3 SID item table", yours, emb.table())
