# %% [markdown]
# # Solutions · 08 Alignment losses

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.autograd import Tensor
from minih2rec.losses.alignment import (code_alignment_loss, code_positive_weights, granularity_targets,
                                        lowest_gate_levels)

from checks import check

# %% [markdown]
# **8.1** Items 1 and 5 share the tuple (1, 2); items 3 (1, 3) and 4 (0, 2) are alone. So W
# is the identity plus the pair (1, 5) in both directions.

# %%
codes_81 = np.array([[0, 0], [1, 2], [1, 2], [1, 3], [0, 2], [1, 2]])
items_81 = np.array([1, 3, 4, 5])
same = (codes_81[items_81][:, None, :] == codes_81[items_81][None, :, :]).all(axis=-1)   # (4, 4)
yours = same.astype(float)                                          # the diagonal is included
assert check("8.1 positive weights", yours, code_positive_weights(items_81, codes_81))

# %% [markdown]
# **8.2** Normalise, `S = a pᵀ / τ`, then for each row `-log(Σ W e^S / Σ e^S)`; the same on
# the transposes; average the two directions.

# %%
sid_82 = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
hid_82 = np.array([[2.0, 0.1], [0.0, 1.0], [-1.0, 1.0]])
W_82 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])


def l2n(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


S = l2n(sid_82) @ l2n(hid_82).T / 0.5                                # (3, 3)
s_to_h = -np.mean(np.log((W_82 * np.exp(S)).sum(axis=1) / np.exp(S).sum(axis=1)))
h_to_s = -np.mean(np.log((W_82.T * np.exp(S.T)).sum(axis=1) / np.exp(S.T).sum(axis=1)))
yours = 0.5 * (s_to_h + h_to_s)
assert check("8.2 L_code by hand", yours,
             code_alignment_loss(Tensor(sid_82, dtype=np.float64), Tensor(hid_82, dtype=np.float64), W_82,
                                 tau=0.5).item())

# %% [markdown]
# **8.3** User 0: the two lowest are levels 3 and 2 (0.1, 0.2). User 1: levels 0 and 1.
# User 2: levels 1, 2 and 3 tie at 0.2; the finer ones go first, so 3 and 2.

# %%
alpha_83 = np.array([[0.4, 0.3, 0.2, 0.1],
                     [0.1, 0.2, 0.3, 0.4],
                     [0.4, 0.2, 0.2, 0.2]])
yours = np.array([[False, False, True, True],
                  [True, True, False, False],
                  [False, False, True, True]])
assert check("8.3 masked levels", yours, lowest_gate_levels(alpha_83))

# %% [markdown]
# **8.4** `(U_m U_mᵀ + U_f U_fᵀ)/2 = ([[1, .5], [.5, .5]] + [[2, 1], [1, 1]]) / 2`
# `= [[1.5, .75], [.75, .75]]`, then a softmax per row.

# %%
U_m_84 = np.array([[1.0, 0.0], [0.5, 0.5]])
U_f_84 = np.array([[1.0, 1.0], [0.0, 1.0]])
sim = (U_m_84 @ U_m_84.T + U_f_84 @ U_f_84.T) / 2
yours = np.exp(sim) / np.exp(sim).sum(axis=1, keepdims=True)
assert check("8.4 soft targets", yours, granularity_targets(U_m_84, U_f_84))
