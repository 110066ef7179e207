# %% [markdown]
# # Solutions · 09 H2Rec end to end

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.autograd import Tensor
from minih2rec.models.h2rec import GranularityGate

from checks import check

# %% [markdown]
# **9.1** With the output layer at zero, `g(·) = 0`, so `α = softmax(b)` with
# `b = linspace(1.0, 0.2, 4) = (1.0, 0.733, 0.467, 0.2)`.

# %%
gate_91 = GranularityGate(d=8, num_levels=4, hidden=8, rng=np.random.default_rng(91))
b = np.linspace(1.0, 0.2, 4)
yours = np.exp(b) / np.exp(b).sum()
assert check("9.1 gate at initialisation", yours, gate_91(Tensor(np.ones((1, 8)))).data[0])

# %% [markdown]
# **9.2** Move the level axis of α to the front, add a width axis, weight and sum over levels.

# %%
rng_92 = np.random.default_rng(92)
alpha_92 = rng_92.dirichlet(np.ones(3), size=(2, 4))
Z_92 = rng_92.standard_normal((3, 2, 4, 5))
yours = (np.moveaxis(alpha_92, -1, 0)[..., None] * Z_92).sum(axis=0)   # (L,B,T,1) * (L,B,T,d) -> (B,T,d)
assert check("9.2 gated mix of the levels", yours,
             np.einsum("btl,lbtd->btd", alpha_92, Z_92))

# %% [markdown]
# **9.3** Item 1: `1·1 + (0.5·0.2 + 2·0.2) = 1.5`; item 2: `-1 + (0.5 - 2) = -2.5`; item 0
# (padding) scores 0.

# %%
H_h_93, H_s_93 = np.array([1.0, -1.0]), np.array([0.5, 2.0])
E_h_93 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
e_s_93 = np.array([[0.0, 0.0], [0.2, 0.2], [1.0, -1.0]])
yours = E_h_93 @ H_h_93 + e_s_93 @ H_s_93
assert check("9.3 H2Rec scores", yours, np.concatenate([E_h_93, e_s_93], axis=1) @ np.r_[H_h_93, H_s_93])
