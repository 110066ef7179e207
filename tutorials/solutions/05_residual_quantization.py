# %% [markdown]
# # Solutions · 05 Residual quantization

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.kernels.codebook import nearest_codeword
from minih2rec.quantize import RQKMeans, collision_rate, dedup_level
from minih2rec.quantize.report import perplexity

from checks import check

# %% [markdown]
# **5.1** Squared distances, one row per point, one column per codeword; the smallest wins.
# Point 0 is 0.25 from codeword 1; point 1 is 1 from codewords 0 and 2 — a tie, so the lower
# index 0; point 2 sits on codeword 0.

# %%
x_51 = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 1.0]])
C_51 = np.array([[1.0, 1.0], [0.0, 0.5], [3.0, 1.0]])
d2 = ((x_51[:, None, :] - C_51[None, :, :]) ** 2).sum(axis=-1)       # (3, 3)
yours = d2.argmin(axis=1)                                           # argmin keeps the first minimum
assert check("5.1 nearest codewords", yours, nearest_codeword(x_51, C_51)[0])

# %% [markdown]
# **5.2** Level 1 on the points, level 2 on what is left. (4.2, 5.1) -> codeword (4, 4),
# residual (0.2, 1.1) -> (0, 1); (-5, -0.8) -> (-4, 0), residual (-1, -0.8) -> (-1, -1).

# %%
books_52 = np.array([[[0.0, 0.0], [4.0, 4.0], [-4.0, 0.0]],
                     [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]])
x_52 = np.array([[4.2, 5.1], [-5.0, -0.8]])
rq_52 = RQKMeans(levels=2, codebook_size=3)
rq_52.codebooks = books_52

r = x_52.copy()
yours = np.zeros((2, 2), dtype=np.int64)
for level, book in enumerate(books_52):
    yours[:, level] = ((r[:, None, :] - book[None]) ** 2).sum(axis=-1).argmin(axis=1)
    r = r - book[yours[:, level]]
assert check("5.2 two-level semantic IDs", yours, rq_52.encode(x_52))

# %% [markdown]
# **5.3** (0, 1) is shared by 2 items and (1, 1) by 3; only (0, 2) is alone: 5 of 6 collide.

# %%
codes_53 = np.array([[0, 1], [0, 1], [0, 2], [1, 1], [1, 1], [1, 1]])
_, inverse, counts = np.unique(codes_53, axis=0, return_inverse=True, return_counts=True)
yours = np.mean(counts[inverse.reshape(-1)] > 1)
assert check("5.3 collision rate", yours, collision_rate(codes_53))

# %% [markdown]
# **5.4** p = (0.75, 0.25); entropy = -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.562; exp -> 1.75:
# closer to 2 than to 1, though only 2 of the 4 codes are used at all.

# %%
counts_54 = np.array([6, 2, 0, 0])
p = counts_54[counts_54 > 0] / counts_54.sum()
yours = np.exp(-(p * np.log(p)).sum())
assert check("5.4 perplexity", yours, perplexity(counts_54))

# %% [markdown]
# **5.5** Count, for each row, how many earlier rows had the same tuple.

# %%
codes_55 = np.array([[2, 0], [1, 3], [2, 0], [2, 0], [1, 3]])
seen = {}
yours = []
for row in map(tuple, codes_55.tolist()):
    yours.append(seen.get(row, 0))
    seen[row] = seen.get(row, 0) + 1
assert check("5.5 dedup level", yours, dedup_level(codes_55, limit=4))
