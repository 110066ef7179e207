# %% [markdown]
# # Solutions · 10 Accelerating kernels

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.kernels.codebook import nearest_codeword

from checks import check

# %% [markdown]
# **10.1** `||x||² = 14`, `x·c = 2 - 3 = -1`, `||c||² = 2`: `14 + 2 + 2 = 18`.

# %%
x_101 = np.array([1.0, 2.0, 3.0])
c_101 = np.array([0.0, 1.0, -1.0])
yours = x_101 @ x_101 - 2 * x_101 @ c_101 + c_101 @ c_101
assert check("10.1 squared distance by expansion", yours, ((x_101 - c_101) ** 2).sum())

# %% [markdown]
# **10.2** One multiply-add per (row, code, dimension): n·K·D = 819,200,000.

# %%
yours = 100_000 * 256 * 32
assert check("10.2 multiply-adds of the search", yours, 100_000 * 256 * 32)

# %% [markdown]
# **10.3** n·K floats of 4 bytes: 1,024,000,000 bytes = 976.6 MiB — about a gigabyte that a
# blocked kernel never allocates.

# %%
yours = 1_000_000 * 256 * 4 / 2 ** 20
assert check("10.3 MiB of the (n, K) float32 scores", yours, 1_000_000 * 256 * 4 / 2 ** 20)


# %% [markdown]
# **10.4** The matrix-product version on one block of rows at a time; `argmin` keeps the first
# minimum, i.e. the lowest index.

# %%
def nearest_blocked(x, C, rows=256):
    """codes (n,) int64 of the nearest codeword, computed rows at a time."""
    cc = (C * C).sum(axis=1)                                        # (K,)
    codes = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), rows):
        score = cc - 2 * (x[s:s + rows] @ C.T)                      # (rows, K)
        codes[s:s + rows] = score.argmin(axis=1)
    return codes


rng_104 = np.random.default_rng(104)
x_104 = rng_104.standard_normal((1_000, 8))
C_104 = rng_104.standard_normal((50, 8))
yours = nearest_blocked(x_104, C_104)
assert check("10.4 blocked nearest codeword", yours, nearest_codeword(x_104, C_104)[0])
