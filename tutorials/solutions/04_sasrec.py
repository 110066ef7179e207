# %% [markdown]
# # Solutions · 04 SASRec

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.data import TrainBatches
from minih2rec.eval.metrics import ndcg, rank_among_candidates, rank_in_topk
from minih2rec.kernels.topk import topk_exclude

from checks import check

# %% [markdown]
# **4.1** Input = all but the last item, target = all but the first, both left-padded to 5.

# %%
one_user = TrainBatches([np.array([5, 7, 9, 2])], batch_size=1, max_len=5,
                        rng=np.random.default_rng(0), dynamic=False).make_batch([0])
yours = np.array([[0, 0, 5, 7, 9],
                  [0, 0, 7, 9, 2]])
assert check("4.1 seq and target rows", yours, np.stack([one_user.seq[0], one_user.target[0]]))

# %% [markdown]
# **4.2** Allowed items and scores: 1 (0.3), 3 (0.4), 4 (0.7), 6 (0.7), 7 (0.1). Nothing
# beats 0.7, but item 4 ties with the target and has the lower id, so it goes first:
# rank 1.

# %%
scores_42 = np.array([[9.0, 0.3, 0.9, 0.4, 0.7, 0.8, 0.7, 0.1]])
seen = np.array([0, 2, 5])
allowed = np.setdiff1d(np.arange(8), seen)
s = scores_42[0]
yours = int(np.sum((s[allowed] > s[6]) | ((s[allowed] == s[6]) & (allowed < 6))))
assert check("4.2 full-ranking rank of item 6", yours,
             rank_in_topk(topk_exclude(scores_42, 8, np.array([0, 3]), seen), np.array([6]))[0])

# %% [markdown]
# **4.3** Negatives scoring at least 0.5: 0.5, 0.7 and 0.5 — rank 3.

# %%
neg_43 = np.array([[0.2, 0.5, 0.7, 0.1, 0.5]])
yours = int(np.sum(neg_43 >= 0.5))
assert check("4.3 sampled rank", yours, rank_among_candidates(np.array([0.5]), neg_43)[0])

# %% [markdown]
# **4.4** Ranks 0, 3 and 9 are inside the top 10, rank 12 is not.

# %%
ranks_44 = np.array([0, 3, 12, 9])
yours = np.mean(np.where(ranks_44 < 10, 1 / np.log2(ranks_44 + 2), 0.0))
assert check("4.4 mean NDCG@10", yours, ndcg(ranks_44, 10).mean())
