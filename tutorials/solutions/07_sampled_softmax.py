# %% [markdown]
# # Solutions · 07 Sampled softmax with logQ correction

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.kernels.sampled_softmax import sampled_softmax_ref
from minih2rec.losses.sampled import Proposal

from checks import check

# %% [markdown]
# **7.1** `q_i = 1/V` for every item, so `log(N q_i) = log(N / V) = log(0.1)` for all of them.

# %%
ids_71 = np.array([1, 17, 999])
yours = np.full(3, np.log(100 / 1_000))
assert check("7.1 uniform logQ", yours, Proposal.uniform(1_000).log_q(ids_71, 100))


# %% [markdown]
# **7.2** Factor out the maximum: `log Σ e^z = m + log Σ e^(z - m)`.

# %%
def logsumexp(z):
    """log(sum(exp(z))) of a 1-D array, safe for very large and very small z."""
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


rows_72 = [np.array([1000.0, 1001.0, 999.0]), np.array([-1000.0, -1001.0])]
yours = [logsumexp(r) for r in rows_72]
assert check("7.2 stable logsumexp", yours, [np.logaddexp.reduce(r) for r in rows_72])

# %% [markdown]
# **7.3** Build each row's candidate logits (positive first), mask the hit with `-inf`, and
# average `logsumexp(row) - positive`. Position 0: positive 2, negatives (1, -inf, 0);
# position 1: positive 1, negatives (-inf, 0, -1).

# %%
s_73 = np.array([[1.0, 0.0], [0.0, 1.0]])
table_73 = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, -1.0]])
pos_73, neg_73 = np.array([2, 1]), np.array([1, 2, 3])
zeros_m, zeros_n = np.zeros(2), np.zeros(3)

pos = (s_73 * table_73[pos_73]).sum(axis=1)                          # (M,)
neg = s_73 @ table_73[neg_73].T                                      # (M, N)
neg[neg_73[None, :] == pos_73[:, None]] = -np.inf                    # accidental hits
logits = np.concatenate([pos[:, None], neg], axis=1)                 # (M, N+1)
lse = np.array([logsumexp(row) for row in logits])
yours = np.mean(lse - pos)
assert check("7.3 sampled-softmax loss by hand", yours,
             sampled_softmax_ref(s_73, pos_73, neg_73, table_73, zeros_m, zeros_n)[0])

# %% [markdown]
# **7.4** The softmax over each row's candidates, minus one at the positive, mixes the
# candidates' embeddings; the hit has probability 0 and contributes nothing.

# %%
P = np.exp(logits - lse[:, None])                                    # (M, N+1), rows sum to 1
M = s_73.shape[0]
yours = ((P[:, :1] - 1) * table_73[pos_73] + P[:, 1:] @ table_73[neg_73]) / M
assert check("7.4 gradient for the states", yours,
             sampled_softmax_ref(s_73, pos_73, neg_73, table_73, zeros_m, zeros_n)[1])
