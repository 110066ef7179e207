# %% [markdown]
# # 09 · H2Rec end to end: the full model against its baselines
#
# **What you will build.** The whole H2Rec model — a hash-ID branch enhanced by the semantic
# IDs, a semantic-ID branch enhanced by the hash IDs, a per-user gate over the SID levels, and
# the two alignment losses of tutorial 08 — trained next to its three baselines (SASRec,
# SID-only, naive fusion) under one budget and one evaluation. Then you will read what the
# **gate** learned (its weights α per user, by sequence length and by the popularity of the
# last item) and run an **ablation**: the same model with one part switched off.
#
# **Time.** About a minute to run on an idle 2-core laptop with a small budget (5 models × 5
# epochs on 1,000 synthetic users; H2Rec is most of it, and a busy machine can make it several
# minutes); an hour or so with the exercises. `MINIH2REC_SMOKE=1` runs in seconds. For real
# conclusions, give every model its full early-stopping budget (and several seeds) with
# `python -m minih2rec compare`. Tutorials 04–08 explain the parts.
#
# Glossary: B batch, T length, d width, L levels, K codes, V items, α gate weights (B, L).

# %%
import time

import numpy as np

from minih2rec.autograd import Tensor
from minih2rec.config import preset
from minih2rec.data import left_pad, make_synthetic, split_leave_one_out
from minih2rec.eval import EvalResult, plot_bucket_ndcg
from minih2rec.eval.groups import BUCKETS, bucket_of, length_groups
from minih2rec.experiment import DataSpec, run
from minih2rec.models.h2rec import GranularityGate

from _smoke import SMOKE, out_dir, show, size
from checks import check

import matplotlib.pyplot as plt   # after _smoke: a script draws off-screen

EPOCHS = size(5, 1)        # a small budget: enough to see the ordering, not to converge
LR = 1e-2                  # large for Adam, but stable for these small models: most progress in 5 epochs
MODEL = dict(d=16, max_len=20, blocks=1) if SMOKE else dict(d=32, max_len=30, blocks=1)
TRAIN = preset("default", epochs=EPOCHS, lr=LR, patience=2, seed=0)

# %% [markdown]
# ## 1. The model in one page
#
# Inputs (`P` positions, dropout omitted):
#
# * HID view `X_h = E_h[seq]·√d + P`; per-level SID views `X_s^l = C^l[codes[seq, l]]·√d + P`;
#   fused SID view `X_s = e_s(seq)·√d + P` with `e_s = mean_l C^l`.
# * **HID branch** (SID-enhanced hash): for every level, a causal cross-attention with the level
#   view as query and the hash view as keys/values, `Z^l = CA_l(X_s^l, X_h)`; the gate
#   `α = softmax(g([x_h ; b]) + b)`, `b = linspace(1.0, 0.2, L)`, mixes them:
#   `Z_h = X_h + Σ_l α_l Z^l`, then `H_h = Backbone(Z_h)`.
# * **SID branch** (hash-enhanced SID): `Z_s = X_s + CA(X_h, X_s)`, `H_s = Backbone(Z_s)`.
# * **Score**: `s(t, i) = H_h[t]·E_h[i] + H_s[t]·e_s(i)` — one dot product of concatenations.
# * **Loss**: `L_rec + λ_code L_code + λ_msg L_msg` (tutorial 08).
#
# Every attention is causal; the backbone is shared by the two branches. The data: the
# default synthetic set (1,000 users, 3,000 items, most of them rare).

# %%
inter = make_synthetic(size("default", "tiny"), seed=0)
split = split_leave_one_out(inter)
print(split.describe())
data = DataSpec(source="synthetic", preset=size("default", "tiny"), seed=0)   # recorded in the results

# %% [markdown]
# ## 2. Four models, one budget
#
# `experiment.run(name, data, train_config, model_overrides, inter=...)` builds the model by
# name (`minih2rec.factory`), trains it with `Trainer` (early stopping on validation NDCG@10),
# and evaluates it on the test split; it returns a dict with the metrics, the training summary
# and — under `"_model"` — the trained model itself. `compare()` (and the CLI command
# `python -m minih2rec compare`) is this loop over models and seeds, plus a JSON file and the
# bucket figure. We write the loop out to keep the H2Rec model for section 4.

# %%
def train_and_test(name, overrides=None, label=None):
    t0 = time.perf_counter()
    out = run(name, data, TRAIN, {**MODEL, **(overrides or {})}, protocols=("full",), progress=False,
              log=lambda *a, **k: None, inter=inter)
    res = EvalResult.from_dict(out["test"]["full"])
    print(f"{label or name:16s} {out['num_parameters']:>8,} parameters, {out['train']['epochs_run']} epochs "
          f"x {out['train']['seconds_per_epoch']:.1f}s, NDCG@10 {res.overall['NDCG@10']:.4f} "
          f"({time.perf_counter() - t0:.0f}s)")
    return out, res


runs, results = {}, {}
for name in ("sasrec", "sid", "fusion", "h2rec"):
    runs[name], results[name] = train_and_test(name)
h2rec = runs["h2rec"]["_model"]

# %%
def print_table(results):
    head = f"{'model':16s}" + "".join(f"{g + ' ' + m:>14s}" for g in ("all", "head", "tail")
                                      for m in ("HR@10", "NDCG@10"))
    print(next(iter(results.values())).description)
    print(head)
    for name, res in results.items():
        cells = [res.get(g, m) for g in ("overall", "head", "tail") for m in ("HR@10", "NDCG@10")]
        print(f"{name:16s}" + "".join(f"{v:14.4f}" for v in cells))


print_table(results)
path = plot_bucket_ndcg(results, out_dir() / "09_bucket_ndcg.png")
print("saved figure", path)

# %% [markdown]
# What to look for (`out/09_bucket_ndcg.png`): SASRec strong on the popular buckets and weak
# on the rare ones, the SID model the opposite (tutorial 06); fusion in between or above both;
# H2Rec should be close to the best model in *every* bucket — that is the claim of the paper.
# With a few epochs the numbers are noisy and not converged: differences of a few thousandths
# are not conclusions. H2Rec also costs several times more per epoch than SASRec (two
# branches, L cross-attentions, and the two extra backbone passes of L_msg).
#
# ## 3. The loss terms during training
#
# `h2rec.last_losses` holds the value of each term of the last batch; the training history
# holds validation NDCG@10 per epoch:

# %%
print("last batch:", {k: round(float(v), 4) for k, v in h2rec.last_losses.items()})
for row in runs["h2rec"]["train"]["history"]:
    print(f"epoch {row['epoch']}: mean training loss {row['loss']:.4f}, "
          f"valid NDCG@10 {row['valid_NDCG@10']:.4f} (full ranking), {row['seconds']:.1f}s")

# %% [markdown]
# ## 4. What the gate learned
#
# `gate_weights(seq, positions)` returns α (B, L) at the last position — the weights the HID
# branch gives each SID level for this user's next prediction. A fresh gate returns exactly
# the prior `softmax(b)` for everyone; training moves it per user. Compute α for every test
# user:

# %%
users = split.eval_users("test")
histories = split.history("test")
alpha = np.concatenate([h2rec.gate_weights(*left_pad([histories[u] for u in users[s:s + 256]],
                                                      h2rec.config.max_len))
                        for s in range(0, len(users), 256)])            # (U, L)
L = alpha.shape[1]
prior = np.exp(np.linspace(1.0, 0.2, L)) / np.exp(np.linspace(1.0, 0.2, L)).sum()
print("prior softmax(b):      ", np.round(prior, 3))
print("mean alpha over users: ", np.round(alpha.mean(axis=0), 3), "  std:", np.round(alpha.std(axis=0), 3))
change = alpha.mean(axis=0) - prior
print(f"vs the prior: level {change.argmax() + 1} gained most ({change.max():+.3f}), "
      f"level {change.argmin() + 1} lost most ({change.min():+.3f})")

lengths = np.array([len(histories[u]) for u in users])
last_pop = split.train_popularity()[[histories[u][-1] for u in users]]   # popularity of the last item

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for level in range(L):
    axes[0].hist(alpha[:, level], bins=30, alpha=0.6, label=f"level {level + 1} (prior {prior[level]:.2f})")
axes[0].set_xlabel("gate weight α")
axes[0].set_ylabel("users")
axes[0].set_title("α per user at the last position")
axes[0].legend(fontsize=8)


len_masks = length_groups(lengths)                                  # {"len <=5": (U,) bool, ...}
pop_masks = {f"{label}": bucket_of(last_pop) == b for b, (label, _, _) in enumerate(BUCKETS)}
for ax, masks, xlabel in ((axes[1], len_masks, "history length (items)"),
                          (axes[2], pop_masks, "training interactions of the last item")):
    means = np.array([alpha[m].mean(axis=0) if m.any() else np.full(L, np.nan)
                      for m in masks.values()])                      # (groups, L)
    x = np.arange(len(masks))
    for level in range(L):
        ax.bar(x + (level - (L - 1) / 2) * 0.25, means[:, level], width=0.25, label=f"level {level + 1}")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{g.replace('len ', '')}\n{m.sum()} users" for g, m in masks.items()], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean α")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=L, loc="upper center")
axes[1].set_title("α by user history length")
axes[2].set_title("α by popularity of the last item")
show(fig, "09_gate_weights.png")

# %% [markdown]
# The gate reads the hash view of the last item (with its position), so α varies with *what*
# the user just consumed, not directly with how long the history is. Compare the mean α with
# the prior: training moves weight between the levels. In one full-size run of this tutorial
# it moved weight to level 2 and almost entirely away from level 3 — the finest codes are the
# noisiest (tutorial 05) — and L_msg masks exactly the lowest-weighted levels, so the user
# state learns to do without them. Your run may differ; in smoke mode the gate barely leaves
# the prior.
#
# ## 5. Ablation: switch one part off
#
# `H2RecConfig` has a switch for every idea: `cross_attention`, `gate`, `lambda_code`,
# `lambda_msg`, `residual`, `shared_backbone`, `behaviour_positives`. Retrain with one of them
# changed and the rest identical — here **without the cross-attentions** (the branches then
# meet only in the score and in the losses). Try others in `ABLATIONS`.

# %%
ABLATIONS = {"h2rec no CA": {"cross_attention": False}}   # e.g. {"h2rec no gate": {"gate": False}}
ablated = {}
for label, flags in ABLATIONS.items():
    _, ablated[label] = train_and_test("h2rec", flags, label)
print_table({"h2rec": results["h2rec"], **ablated})

# %% [markdown]
# ## Summary
#
# * H2Rec keeps a hash-ID branch and a semantic-ID branch, lets each attend to the other,
#   gates the SID levels per user, and aligns the two with L_code and L_msg.
# * Compare models with the same data, split, budget and protocol, per popularity bucket:
#   the aim is to be near the best model on head *and* tail items.
# * The gate's α is inspectable per user; ablations (one flag at a time, everything else
#   fixed) tell which part buys what — with a small budget, read them as hints, and confirm
#   with full training and several seeds (`python -m minih2rec compare --seeds 0 1 2`).
#
# ## Exercises
#
# Solutions: `tutorials/solutions/09_h2rec_end_to_end.py`.
#
# **9.1 — the prior.** A freshly built gate (its output layer starts at zero) returns the same
# α for every input. For L = 4 levels, what is it?

# %%
gate_91 = GranularityGate(d=8, num_levels=4, hidden=8, rng=np.random.default_rng(91))

yours = None  # TODO: an array of shape (4,)
check("9.1 gate at initialisation", yours, gate_91(Tensor(np.ones((1, 8)))).data[0])

# %% [markdown]
# **9.2 — mixing the levels.** The HID branch mixes the L cross-attention outputs with the
# gate: `Σ_l α_l Z^l` (`mix_levels` in `minih2rec/models/h2rec.py`). Compute it for the
# arrays below, without `einsum`: `alpha` (B, T, L) and `Z` (L, B, T, d).

# %%
rng_92 = np.random.default_rng(92)
alpha_92 = rng_92.dirichlet(np.ones(3), size=(2, 4))               # (B=2, T=4, L=3), rows sum to 1
Z_92 = rng_92.standard_normal((3, 2, 4, 5))                          # (L, B, T, d=5)

yours = None  # TODO: an array of shape (2, 4, 5)
check("9.2 gated mix of the levels", yours,
      np.einsum("btl,lbtd->btd", alpha_92, Z_92))

# %% [markdown]
# **9.3 — the score.** H2Rec scores item i for a user state `[H_h ; H_s]` as
# `H_h·E_h[i] + H_s·e_s(i)`. Compute the scores of the 3 items below for one user.

# %%
H_h_93, H_s_93 = np.array([1.0, -1.0]), np.array([0.5, 2.0])
E_h_93 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])            # hash table rows of items 0..2
e_s_93 = np.array([[0.0, 0.0], [0.2, 0.2], [1.0, -1.0]])            # SID table rows of items 0..2

yours = None  # TODO: an array of shape (3,)
check("9.3 H2Rec scores", yours, np.concatenate([E_h_93, e_s_93], axis=1) @ np.r_[H_h_93, H_s_93])
