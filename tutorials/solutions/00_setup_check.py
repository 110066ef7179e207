# %% [markdown]
# # Solutions · 00 Setup check
#
# Each block repeats the exercise's inputs, fills in the answer and asserts that `check`
# accepts it. Run: `python tutorials/solutions/00_setup_check.py`.

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.kernels.codebook import nearest_codeword
from minih2rec.kernels.scatter_add import scatter_add
from minih2rec.kernels.topk import topk_exclude

from checks import check

# %% [markdown]
# **0.1** Row 0 receives `src[0] + src[2]` (idx 0 appears twice), row 1 nothing, row 2 `src[1]`.

# %%
out = np.zeros((3, 2))
idx = np.array([0, 2, 0])
src = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

yours = np.array([[6.0, 8.0], [0.0, 0.0], [3.0, 4.0]])
assert check("0.1 scatter_add by hand", yours, scatter_add(out.copy(), idx, src))

# %% [markdown]
# **0.2** Without column 1 the scores are 0.1, 0.5, 0.9, 0.3, 0.5 (columns 0, 2, 3, 4, 5).
# Column 3 (0.9) is first; columns 2 and 5 tie at 0.5 and the lower id, 2, wins the tie.

# %%
scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.3, 0.5]])
indptr, excluded = np.array([0, 1]), np.array([1])

yours = np.array([[3, 2, 5]])
assert check("0.2 top-3 ids, item 1 excluded", yours, topk_exclude(scores, 3, indptr, excluded))

# %% [markdown]
# **0.3** Broadcasting gives all (6, 5) squared distances at once; `argmin` takes the first
# minimum, i.e. the lowest index on a tie — the kernels' rule.

# %%
x = np.random.default_rng(1).standard_normal((6, 4))
C = np.random.default_rng(2).standard_normal((5, 4))

yours = ((x[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1).argmin(axis=1)
assert check("0.3 nearest codeword", yours, nearest_codeword(x, C)[0])
