# %% [markdown]
# # Solutions · 03 Attention

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.autograd import Tensor, fused
from minih2rec.nn import MultiHeadAttention, attention_mask

from checks import check

# %% [markdown]
# **3.1** `j - 5 <= t - 3` means `j <= t + 2`: query 0 sees keys 0-2, query 1 keys 0-3,
# query 2 (the most recent) every key.

# %%
yours = np.array([[1, 1, 1, 0, 0],
                  [1, 1, 1, 1, 0],
                  [1, 1, 1, 1, 1]], dtype=bool)
assert check("3.1 causal mask, Tq=3, Tk=5", yours, attention_mask(3, 5, causal=True)[0, 0])

# %% [markdown]
# **3.2** Drop the padded key entirely (its weight is exactly 0), then a plain softmax over the
# other two. Key 0's huge value never leaks into the output.

# %%
q2 = np.array([[1.0, 0.0], [0.0, 2.0]])
k2 = np.array([[5.0, 5.0], [1.0, 0.0], [0.0, 1.0]])
v2 = np.array([[100.0, 100.0], [1.0, 2.0], [3.0, 4.0]])
allowed = np.array([False, True, True])

s = q2 @ k2[allowed].T / np.sqrt(2)                            # (2, 2) scores of the real keys
p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
yours = p @ v2[allowed]
expected, _ = fused.scaled_dot_product_attention(Tensor(q2, dtype=np.float64), Tensor(k2, dtype=np.float64),
                                                 Tensor(v2, dtype=np.float64), mask=allowed)
assert check("3.2 attention output with a padded key", yours, expected)

# %% [markdown]
# **3.3** `out = P v` is a matrix product, so `dL/dv = Pᵀ g`: value j collects the gradient of
# every query that attended to it, weighted by how much it did.

# %%
q3, k3, v3 = (Tensor(np.random.default_rng(s).standard_normal((4, 3)), requires_grad=True,
                     dtype=np.float64) for s in (10, 11, 12))
g3 = np.random.default_rng(13).standard_normal((4, 3))
out3, P3 = fused.scaled_dot_product_attention(q3, k3, v3, mask=attention_mask(4, 4)[0, 0])
out3.backward(g3)

yours = P3.T @ g3
assert check("3.3 dL/dv", yours, v3.grad)

# %% [markdown]
# **3.4** Four `Linear(16, 16)` layers (q, k, v, o), each `16 * 16` weights + 16 biases. The
# heads only slice the width; they add no parameters.

# %%
yours = 4 * (16 * 16 + 16)
assert check("3.4 parameters of MultiHeadAttention(16, 4)", yours,
             MultiHeadAttention(16, 4, 0.0, np.random.default_rng(0)).num_parameters())
