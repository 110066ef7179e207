# %% [markdown]
# # 07 · Sampled softmax with logQ correction
#
# **What you will build.** The loss that lets a recommender train on a catalogue too large
# for a full softmax: score each position against its target and **N shared sampled
# negatives**, corrected by **logQ** for the way the negatives were drawn. You will derive
# it, watch the correction remove a popularity bias in a small experiment, make it
# numerically safe with the **max-shift** trick, write a reference by hand and compare it —
# in value and speed — with the package's NumPy, Numba and Cython kernels.
#
# **Time.** Under a minute to run on a 2-core laptop; an hour with the exercises. Tutorials 01–02 (autograd, gradcheck) and 04
# (the full-softmax loss) come first.
#
# Glossary: M positions (user states), N negatives, d width, V items (ids 1..V, 0 = padding),
# R = V + 1 table rows.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from minih2rec import kernels
from minih2rec.autograd import Tensor, gradcheck
from minih2rec.kernels.sampled_softmax import sampled_softmax_ref
from minih2rec.losses import full_softmax_loss
from minih2rec.losses.sampled import Proposal, sampled_softmax_loss, sampled_softmax_next_item
from minih2rec.optim import Adam

from _smoke import show, size
from checks import check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The cost of a full softmax
#
# Tutorial 04's full softmax scores each of the M positions of a batch against all V items:
# an (M, V) logit matrix, O(M·V·d) work forward and again backward. With a few thousand
# items that is fine; with a million it is the whole training cost. Time it for a large
# catalogue against the sampled version, which scores against N = 256 shared negatives only:

# %%
M, d, V, N = size(1_024, 256), 64, size(20_000, 2_000), 256
H = Tensor(rng.standard_normal((1, M, d)) * 0.1, requires_grad=True)       # (B=1, T=M, d) states
table = Tensor(rng.standard_normal((V + 1, d)) * 0.1, requires_grad=True)  # (V+1, d) items
target = rng.integers(1, V + 1, size=(1, M))                                # (1, M) next items


def step_time(loss_fn):
    t0 = time.perf_counter()
    loss_fn().backward()
    return time.perf_counter() - t0


t_full = step_time(lambda: full_softmax_loss(H, table, target))
uniform = Proposal.uniform(V)
t_sampled = step_time(lambda: sampled_softmax_next_item(H, table, target, uniform, N, rng))
print(f"M={M:,} positions, V={V:,} items, d={d}: full softmax {t_full * 1e3:.0f} ms, "
      f"sampled softmax (N={N}) {t_sampled * 1e3:.0f} ms per loss + backward")

# %% [markdown]
# ## 2. The derivation
#
# For one position with state `s`, logits `o_i = s · E_i` and target `y`, the full softmax
# loss is
#
# $$\ell = -\log \frac{e^{o_y}}{\sum_{i=1}^{V} e^{o_i}}.$$
#
# **Candidate sampling.** Draw N negatives `n_1..n_N` from a proposal `Q` (uniform, or by
# popularity) and ask the model a smaller question: *which one of the candidates
# `{y, n_1, …, n_N}` is the true next item?* By Bayes, a candidate `c` is the true one with
# probability proportional to how likely the model finds it, divided by how likely it was to
# be *drawn* as a candidate anyway:
#
# $$P(c \text{ is true} \mid \text{candidates}) \propto \frac{P(c \mid s)}{Q(c)}
#   \;\Rightarrow\; \text{logit}_c = o_c - \log Q(c).$$
#
# The package uses `log(N·q_c)`, the log of the *expected number of draws* of `c`; the extra
# `log N` is the same for every candidate and cancels in the softmax. The loss is a softmax
# over the N + 1 corrected logits:
#
# $$\ell_{\text{sampled}} = \log\Big(e^{o_y - \log Nq_y} + \sum_j e^{o_{n_j} - \log Nq_{n_j}}\Big)
#   - (o_y - \log Nq_y).$$
#
# As N grows, its minimum approaches `o_c = log P(c|s) + const` — the full softmax's
# solution (the estimate is *consistent*; for small N it keeps a small bias) (Bengio &
# Senécal 2008; Jean et al. 2015; Yi et al. 2019). Without the correction the bias does not
# go away: a popular item is drawn as a negative often and pushed down every time, so the
# model **under-estimates popular items**.
#
# Two details: the negatives are **shared** by all M positions of a batch (one (M, d) × (d, N)
# matrix product instead of M separate lookups), and a negative that happens to equal the
# position's target (an **accidental hit**) gets logit `-inf` — it is not a negative.
#
# ### An experiment: learn a distribution with and without the correction
#
# Take V = 50 items with a known Zipf distribution `p`. The "model" is just one logit per item
# (a table of width d = 1 and a state `s = 1`). Train it on positives drawn from `p`, with
# negatives drawn from a popularity proposal, then compare `softmax(o)` with `p`.

# %%
V_toy, N_toy, M_toy = 50, 40, 256
p_true = 1 / np.arange(1, V_toy + 1) ** 1.2
p_true /= p_true.sum()
proposal = Proposal(np.concatenate([[0.0], p_true]))              # negatives by popularity


def fit_logits(correct, steps=size(300, 60), seed=0):
    """Adam on per-item logits with the sampled softmax; returns softmax(o) over items 1..V."""
    rng_toy = np.random.default_rng(seed)
    logits = Tensor(np.zeros((V_toy + 1, 1)), requires_grad=True)   # (V+1, 1): o_i = 1 * E_i
    ones = Tensor(np.ones((M_toy, 1)))                                # (M, 1) states s = 1
    opt = Adam([logits], lr=0.05)
    for _ in range(steps):
        pos = rng_toy.choice(V_toy, size=M_toy, p=p_true) + 1         # (M,) positives from p
        neg = proposal.sample(N_toy, rng_toy)                          # (N,) shared negatives
        lq_pos = proposal.log_q(pos, N_toy) if correct else np.zeros(M_toy)
        lq_neg = proposal.log_q(neg, N_toy) if correct else np.zeros(N_toy)
        loss = sampled_softmax_loss(ones, logits, pos, neg, lq_pos, lq_neg)
        opt.zero_grad()
        loss.backward()
        opt.step()
    o = logits.data[1:, 0]
    return np.exp(o - o.max()) / np.exp(o - o.max()).sum()


learned = {"with logQ": fit_logits(True), "without logQ": fit_logits(False)}
for name, q in learned.items():
    print(f"{name:13s} total variation distance to p: {0.5 * np.abs(q - p_true).sum():.3f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.loglog(np.arange(1, V_toy + 1), p_true, "k-", lw=2, label="true p")
for name, q in learned.items():
    ax.loglog(np.arange(1, V_toy + 1), q, "o", ms=4, label=f"learned, {name}")
ax.set_xlabel("item (by popularity rank)")
ax.set_ylabel("probability")
ax.set_title("sampled softmax with popularity negatives")
ax.legend()
show(fig, "07_logq_correction.png")

# %% [markdown]
# ## 3. The max-shift trick
#
# `log Σ exp(z)` overflows as soon as one `z` exceeds ~709 in float64 (~88 in float32):

# %%
z = np.array([1000.0, 1001.0, 999.0])
with np.errstate(over="ignore"):
    print("naive   log(sum(exp(z))) =", np.log(np.sum(np.exp(z))))
m = z.max()
print("shifted m + log(sum(exp(z - m))) =", m + np.log(np.sum(np.exp(z - m))))

# %% [markdown]
# Subtracting the maximum changes nothing mathematically (`e^m` factors out) but makes the
# largest exponent `e^0 = 1`: no overflow, and the sum is at least 1, so no `log 0` either.
# Every softmax in the package does this, per row, with the positive logit included in the
# maximum.
#
# ## 4. A reference by hand vs the kernels
#
# The loss in a few lines of NumPy, straight from the formula:

# %%
def sampled_softmax_by_hand(states, pos_ids, neg_ids, table, log_q_pos, log_q_neg):
    """Mean sampled-softmax loss; states (M, d), pos (M,), neg (N,), table (R, d)."""
    pos = (states * table[pos_ids]).sum(axis=1) - log_q_pos          # (M,) corrected positive logits
    neg = states @ table[neg_ids].T - log_q_neg                       # (M, N) corrected negative logits
    neg = np.where(neg_ids[None, :] == pos_ids[:, None], -np.inf, neg)  # accidental hits
    logits = np.concatenate([pos[:, None], neg], axis=1)              # (M, N+1), positive first
    mx = logits.max(axis=1, keepdims=True)                            # max shift
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(axis=1))         # (M,)
    return np.mean(lse - pos)


Mk, Nk, dk, Rk = size(4_096, 128), 512, 64, 20_001
states = (0.3 * rng.standard_normal((Mk, dk))).astype(np.float32)
items = (0.3 * rng.standard_normal((Rk, dk))).astype(np.float32)
pos_ids = rng.integers(1, Rk, Mk)
neg_ids = Proposal.uniform(Rk - 1).sample(Nk, rng)
neg_ids[0] = pos_ids[0]                                               # force one accidental hit
lq_pos = np.full(Mk, np.log(Nk / (Rk - 1)), np.float32)
lq_neg = np.full(Nk, np.log(Nk / (Rk - 1)), np.float32)
args = (states, pos_ids, neg_ids, items, lq_pos, lq_neg)

print(f"by hand: {sampled_softmax_by_hand(*args):.6f}")
ref = sampled_softmax_ref(*args)
for backend, fn in kernels.implementations("sampled_softmax").items():
    loss, g_states, touched, g_rows = fn(*args)
    same = (np.isclose(loss, ref[0], rtol=1e-5) and np.allclose(g_states, ref[1], atol=1e-6)
            and np.array_equal(touched, ref[2]) and np.allclose(g_rows, ref[3], atol=1e-6))
    print(f"{backend:7s} loss {loss:.6f}  gradients and touched rows equal to the reference: {same}")

# %% [markdown]
# Each kernel returns the loss **and** the gradients in one pass: `grad_states` (M, d) and,
# instead of a (R, d) table gradient that would be almost all zeros, the sorted ids of the
# `touched` rows (positives and negatives) with their gradient rows. The autograd node
# `losses.sampled.sampled_softmax_loss` scatters them into the table gradient with
# `scatter_add`. Timing, best of a few runs after a warm-up:

# %%
def best_time(fn, repeat=size(5, 2)):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


t_ref = best_time(lambda: sampled_softmax_ref(*args))
for backend, fn in kernels.implementations("sampled_softmax").items():
    t = best_time(lambda: fn(*args))
    print(f"{backend:7s} {t * 1e3:7.2f} ms  ({t_ref / t:.1f}x the NumPy reference)")
W_neg = items[neg_ids]                                                # (N, d)


def matmuls_only():
    logits = states @ W_neg.T                                         # (M, N)
    return logits @ W_neg, logits.T @ states                          # (M, d), (N, d)


t_blas = best_time(matmuls_only)
print(f"its three matrix products alone: {t_blas * 1e3:.2f} ms")

# %% [markdown]
# Most of the work is matrix products that every version hands to BLAS, so the compiled
# versions can only win on the element-wise passes (masking, exp, log, the scatter of row
# gradients) — a modest gain, and on a busy machine the threaded passes may even lose. The
# package picks Cython → Numba → NumPy; `bench/bench_sampled_softmax.py` measures it on
# realistic sizes.
#
# ## 5. The gradient is checked like every other op
#
# In float64, against central differences (tutorial 02):

# %%
s64 = Tensor(rng.standard_normal((5, 3)), requires_grad=True, dtype=np.float64)
t64 = Tensor(rng.standard_normal((9, 3)), requires_grad=True, dtype=np.float64)
p5, n4 = np.array([1, 2, 3, 4, 5]), np.array([3, 6, 7, 7])          # one hit (3), one repeat (7)
lq5, lq4 = rng.standard_normal(5), rng.standard_normal(4)
print("gradcheck:", gradcheck(lambda s, t: sampled_softmax_loss(s, t, p5, n4, lq5, lq4), s64, t64))

# %% [markdown]
# ## Summary
#
# * Sampled softmax scores each position against its target and N shared negatives from a
#   proposal Q: O(M·N·d) instead of O(M·V·d).
# * Subtract `log(N·q)` from every candidate's logit (the positive's too): the loss then has
#   the full softmax's solution. Without it, popular items are under-estimated.
# * Mask accidental hits; shift by the row maximum before `exp`.
# * The kernel computes loss and gradients in one pass and returns only the touched rows;
#   all backends agree with the NumPy reference, and BLAS bounds how much faster they can be.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/07_sampled_softmax.py`.
#
# **7.1 — logQ of a uniform proposal.** With V = 1,000 items drawn uniformly N = 100 times,
# what is the correction `log(N·q_i)` for the items below? (One number, repeated.)

# %%
ids_71 = np.array([1, 17, 999])

yours = None  # TODO: an array of shape (3,)
check("7.1 uniform logQ", yours, Proposal.uniform(1_000).log_q(ids_71, 100))

# %% [markdown]
# **7.2 — a stable logsumexp.** Complete `logsumexp(z)` with the max-shift trick. It is
# checked on a row that would overflow and a row that would underflow.

# %%
def logsumexp(z):
    """log(sum(exp(z))) of a 1-D array, safe for very large and very small z."""
    return None  # TODO


rows_72 = [np.array([1000.0, 1001.0, 999.0]), np.array([-1000.0, -1001.0])]
yours = None if logsumexp(rows_72[0]) is None else [logsumexp(r) for r in rows_72]
check("7.2 stable logsumexp", yours, [np.logaddexp.reduce(r) for r in rows_72])

# %% [markdown]
# **7.3 — one loss by hand.** Two positions, three shared negatives, no logQ (all zeros).
# Negative 2 is position 0's own target: an accidental hit. Compute the mean loss with NumPy
# (without calling `sampled_softmax_by_hand`).

# %%
s_73 = np.array([[1.0, 0.0], [0.0, 1.0]])                  # (M=2, d=2)
table_73 = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, -1.0]])   # (R=4, d=2)
pos_73, neg_73 = np.array([2, 1]), np.array([1, 2, 3])
zeros_m, zeros_n = np.zeros(2), np.zeros(3)

yours = None  # TODO: a float
check("7.3 sampled-softmax loss by hand", yours,
      sampled_softmax_ref(s_73, pos_73, neg_73, table_73, zeros_m, zeros_n)[0])

# %% [markdown]
# **7.4 — the gradient for the states.** For the same inputs, write `dL/ds` (2, 2). With
# `P` the softmax over a row's candidates (`P_pos` for the target, `P_j` for negative j):
# `dL/ds_m = ((P_pos - 1) E[y_m] + Σ_j P_j E[n_j]) / M`.

# %%
yours = None  # TODO: an array of shape (2, 2)
check("7.4 gradient for the states", yours,
      sampled_softmax_ref(s_73, pos_73, neg_73, table_73, zeros_m, zeros_n)[1])
