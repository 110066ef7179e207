# %% [markdown]
# # 00 · Setup check: is everything installed, and which kernels run?
#
# **What you will do.** Check that minih2rec imports, see which *backend* each compiled
# kernel uses (Cython, Numba or plain NumPy), make sure all backends give the same answer on
# a small input, and time them side by side.
#
# **Time.** About 30 seconds on a 2-core laptop (the first run can take a minute longer
# while Numba compiles and caches its kernels).
#
# Run it as a script (`python tutorials/00_setup_check.py`) or open it as a notebook
# (Jupyter and VS Code read the `# %%` cells).

# %%
import platform
import time

import numpy as np

import minih2rec
from minih2rec import kernels
from minih2rec.kernels.codebook import nearest_codeword
from minih2rec.kernels.scatter_add import scatter_add
from minih2rec.kernels.topk import topk_exclude

from _smoke import SMOKE, size
from checks import check

print(f"minih2rec {minih2rec.__version__}, numpy {np.__version__}, "
      f"python {platform.python_version()} on {platform.machine()}")
print("smoke mode (tiny sizes):", SMOKE)

# %% [markdown]
# ## 1. Which backend does each kernel use?
#
# Four loops are hot enough to be compiled: the embedding backward (`scatter_add`), top-K
# ranking with the user's history excluded (`topk_exclude`), the nearest-codeword search of
# residual quantization (`nearest_codeword`) and the sampled-softmax loss
# (`sampled_softmax`). Each exists three times with one signature:
#
# * `NAME_ref` — vectorised NumPy, the *oracle* the others are tested against;
# * `NAME_nb` — a plain Python loop compiled by Numba;
# * `NAME_cy` — a Cython twin, compiled when you installed the package (if a C compiler
#   was there).
#
# The package picks **cython → numba → numpy** per kernel and warns once when it falls back.

# %%
print(minih2rec.format_backend_info())

# %% [markdown]
# Two environment variables steer the choice (set them *before* starting Python):
#
# * `MINIH2REC_BACKEND=numpy` (or `numba`, `cython`) forces one backend everywhere — handy to
#   check that a speed-up is really the kernel's;
# * `MINIH2REC_REQUIRE_COMPILED=1` turns a silent fallback to NumPy into an error (CI uses it
#   to prove the compiled path ran).
#
# If the Cython column is missing, the package still works; it is only slower. Rebuild with
# `python setup.py build_ext --inplace` after installing a C compiler.

# %% [markdown]
# ## 2. Do all backends agree?
#
# `kernels.implementations(name)` returns every version that loads here, as
# `{backend: function}`. We call each on the same small input and compare with the NumPy
# reference: **exact** for integer outputs (item ids, codes), **close** for floats.

# %%
rng = np.random.default_rng(0)


def scatter_add_inputs(n=size(200_000, 2_000), rows=1_000, cols=32):
    """out (R, C) zeros, idx (n,) with repeats, src (n, C)."""
    return (np.zeros((rows, cols), np.float32), rng.integers(0, rows, n).astype(np.int64),
            rng.standard_normal((n, cols)).astype(np.float32))


def topk_inputs(users=size(512, 32), items=2_001, k=20, history=30):
    """scores (B, V+1), k, and a CSR list of excluded ids per row."""
    scores = rng.standard_normal((users, items)).astype(np.float32)
    excl = [np.unique(rng.integers(0, items, history)) for _ in range(users)]
    indptr = np.concatenate([[0], np.cumsum([len(e) for e in excl])]).astype(np.int64)
    return scores, k, indptr, np.concatenate(excl).astype(np.int64)


def codeword_inputs(n=size(20_000, 500), K=128, D=32):
    """x (n, D) and a codebook C (K, D)."""
    return (rng.standard_normal((n, D)).astype(np.float32),
            rng.standard_normal((K, D)).astype(np.float32))


def sampled_softmax_inputs(M=size(2_048, 64), N=256, d=32, R=5_001):
    """states (M, d), positive ids (M,), shared negatives (N,), table (R, d), logQ terms."""
    lq = np.float32(np.log(N / (R - 1)))                      # uniform proposal: log(N / V)
    return (rng.standard_normal((M, d)).astype(np.float32), rng.integers(1, R, M),
            rng.integers(1, R, N), 0.1 * rng.standard_normal((R, d)).astype(np.float32),
            np.full(M, lq, np.float32), np.full(N, lq, np.float32))


INPUTS = {"scatter_add": scatter_add_inputs(), "topk_exclude": topk_inputs(),
          "nearest_codeword": codeword_inputs(), "sampled_softmax": sampled_softmax_inputs()}


def fresh(args):
    """Copies of the inputs (scatter_add writes into its first argument)."""
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def agree(a, b):
    """Same result? Exact for integers, allclose for floats; tuples compared element-wise."""
    if isinstance(a, tuple):
        return all(agree(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "iu":
        return np.array_equal(a, b)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5)


# %%
for name, args in INPUTS.items():
    impls = kernels.implementations(name)
    reference = impls["numpy"](*fresh(args))
    for backend, fn in impls.items():
        verdict = "OK" if agree(fn(*fresh(args)), reference) else "NOT OK"
        print(f"{name:17s} {backend:7s} vs numpy: {verdict}")

# %% [markdown]
# ## 3. How much faster are the compiled versions?
#
# Timing rules that keep the numbers honest: run once untimed first (Numba compiles on the
# first call; caches warm up), then take the **best of several runs** — noise from other
# programs only ever adds time, so the minimum is the most repeatable estimate.


# %%
def best_time(fn, args, repeat=size(5, 2)):
    """Best wall time in seconds of ``fn(*args)`` after one untimed warm-up call."""
    fn(*fresh(args))
    best = np.inf
    for _ in range(repeat):
        a = fresh(args)
        t0 = time.perf_counter()
        fn(*a)
        best = min(best, time.perf_counter() - t0)
    return best


print(f"{'kernel':17s} {'backend':8s} {'time':>10s} {'vs numpy':>9s}")
for name, args in INPUTS.items():
    times = {b: best_time(fn, args) for b, fn in kernels.implementations(name).items()}
    for backend, t in times.items():
        print(f"{name:17s} {backend:8s} {t * 1e3:8.2f} ms {times['numpy'] / t:8.1f}x")

# %% [markdown]
# How to read the table: `scatter_add` usually gains the most (NumPy's `np.add.at` handles
# one element at a time); `sampled_softmax` gains little, because most of its time is three
# matrix products that every version leaves to BLAS. The compiled `nearest_codeword` and
# `topk_exclude` run in parallel threads (OpenMP / `numba.prange`): on a machine that is busy
# with other programs those threads wait for cores, and a compiled version can even come out
# *slower* than NumPy. Run the cell again on an idle machine, or limit the threads with
# `OMP_NUM_THREADS` / `NUMBA_NUM_THREADS`; if the compiled kernels stay slower on your
# laptop, `MINIH2REC_BACKEND=numba` or `=numpy` switches every kernel to that backend.
#
# You normally never call the backends yourself: the public functions
# (`minih2rec.kernels.scatter_add.scatter_add`, `...topk.topk_exclude`, …) validate their
# inputs and then call the chosen backend. The exercises use those public functions.

# %% [markdown]
# ## Summary
#
# * minih2rec runs everywhere on NumPy; Numba and Cython only make four hot loops faster.
# * `minih2rec.format_backend_info()` (or `python -m minih2rec info`) shows what runs.
# * Every compiled kernel is checked against its NumPy reference — exact for ids, close for floats.
# * Time kernels with a warm-up call and the best of several runs.
#
# ## Exercises
#
# Each exercise ends with `check(...)`, which prints *exact*, *close*, *wrong shape* or
# *wrong*. Replace each `None` with your answer; solutions are in
# `tutorials/solutions/00_setup_check.py`.
#
# **0.1 — scatter-add by hand.** `scatter_add(out, idx, src)` does `out[idx[n]] += src[n]` for
# every n, *accumulating* repeated indices (this is the backward of an embedding lookup:
# an item that appears twice in a batch gets both gradients). Write the result for the small
# input below as a literal array (pencil and paper, no loops needed).

# %%
out = np.zeros((3, 2))
idx = np.array([0, 2, 0])
src = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

yours = None  # TODO: a (3, 2) array
check("0.1 scatter_add by hand", yours, scatter_add(out.copy(), idx, src))

# %% [markdown]
# **0.2 — top-k with exclusion.** `topk_exclude(scores, k, indptr, indices)` returns, per row,
# the `k` best column ids that are not excluded, best first; **ties go to the lower id**.
# For one user with the scores below who already saw item 1, what are the top 3 item ids?

# %%
scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.3, 0.5]])
indptr, excluded = np.array([0, 1]), np.array([1])      # row 0 excludes column 1

yours = None  # TODO: a (1, 3) integer array
check("0.2 top-3 ids, item 1 excluded", yours, topk_exclude(scores, 3, indptr, excluded))

# %% [markdown]
# **0.3 — nearest codeword with NumPy.** For each row of `x`, the index of the closest row of
# the codebook `C` (squared Euclidean distance). Write it in one or two lines of NumPy
# (hint: broadcast `x[:, None, :] - C[None, :, :]`).

# %%
x = np.random.default_rng(1).standard_normal((6, 4))
C = np.random.default_rng(2).standard_normal((5, 4))

yours = None  # TODO: an (6,) integer array of code indices
check("0.3 nearest codeword", yours, nearest_codeword(x, C)[0])
