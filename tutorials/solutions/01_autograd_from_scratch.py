# %% [markdown]
# # Solutions · 01 Autograd from scratch

# %%
import math
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.autograd import Tensor

from checks import check

# %% [markdown]
# **1.1** With `u = a*b + b**2` and `f = tanh(u)`: `df/du = 1 - tanh(u)^2`,
# `du/da = b`, and `du/db = a + 2b` (one term per use of `b`).

# %%
a, b = 2.0, -1.0
a_t = Tensor(a, requires_grad=True, dtype=np.float64)
b_t = Tensor(b, requires_grad=True, dtype=np.float64)
(a_t * b_t + b_t ** 2).tanh().backward()

dfdu = 1 - math.tanh(a * b + b ** 2) ** 2
yours = [dfdu * b, dfdu * (a + 2 * b)]
assert check("1.1 chain rule, [df/da, df/db]", yours, [a_t.grad, b_t.grad])

# %% [markdown]
# **1.2** `dL/d(x*w) = 2 (x*w)`; each `w[j]` was copied down the 4 rows, so sum over axis 0:
# `dL/dw = sum_i 2 x_ij^2 w_j`.

# %%
x_np = np.random.default_rng(1).standard_normal((4, 3))
w_np = np.array([0.5, -1.0, 2.0])
w_t = Tensor(w_np, requires_grad=True, dtype=np.float64)
((Tensor(x_np, dtype=np.float64) * w_t) ** 2).sum().backward()

yours = (2 * x_np ** 2 * w_np).sum(axis=0)
assert check("1.2 broadcast gradient dL/dw", yours, w_t.grad)

# %% [markdown]
# **1.3** With `c = x - mean(x)`: the direct path gives `2c`; the path through the mean gives
# `-(1/n) * sum_i 2c_i` for every row, and the centred values sum to zero over axis 0.
# So `dL/dx = 2 (x - mean(x))`.

# %%
x5 = np.random.default_rng(2).standard_normal((5, 3))
x5_t = Tensor(x5, requires_grad=True, dtype=np.float64)
((x5_t - x5_t.mean(axis=0, keepdims=True)) ** 2).sum().backward()

yours = 2 * (x5 - x5.mean(axis=0, keepdims=True))
assert check("1.3 gradient through a mean", yours, x5_t.grad)
