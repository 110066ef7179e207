# %% [markdown]
# # 10 · Accelerating a kernel: Python → NumPy → Numba → Cython
#
# **What you will build.** Four versions of the hot loop of residual quantization (tutorial
# 05), the **nearest-codeword search** `code_n = argmin_k ||x_n - C_k||^2`: a plain Python
# loop, a vectorised NumPy version (first naive, then with the matrix-product trick), and a
# Numba version — parallel too — written right here. You will check them against the
# package's three versions (`_ref` NumPy, `_nb` Numba, `_cy` Cython) with **exact** equality
# on the codes, time all of them, and read the Cython source to see what *blocking* and
# *OpenMP* mean in practice.
#
# **Time.** About a minute to run on a 2-core laptop, Numba's first compilation included
# (`cache=True` keeps the compiled code for the next run; most of the rest is the plain
# Python loop); about an hour with the exercises. Tutorial 05 explains where the kernel is
# used; tutorial 00 shows which backends your install has.
#
# Glossary: n rows (vectors to encode), D width, K codewords. Timings on a shared or busy
# machine are noisy; every number below is the best of a few runs.

# %%
import inspect
import time
from pathlib import Path

import numpy as np

import minih2rec
from minih2rec import kernels
from minih2rec.kernels.codebook import nearest_codeword, nearest_codeword_ref

from _smoke import size
from checks import check

try:
    import numba
except ImportError:                          # the package works without Numba; so does this tutorial
    numba = None

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The contract
#
# `nearest_codeword(x (n, D), C (K, D)) -> (codes int64 (n,), sqdist (n,))`: for every row,
# the index of the nearest codeword and the squared distance to it; **ties go to the lowest
# index**. Every version must return exactly the same codes, so tests can compare them with
# `==` — the habit from llm.c: a slow, obviously right version next to every fast one.
#
# Test data like RQ-KMeans sees it: rows near one of the codewords, float32.

# %%
n, K, D = size(100_000, 5_000), 256, 32
C = rng.standard_normal((K, D)).astype(np.float32)                  # (K, D) codebook
truth = rng.integers(K, size=n)
x = (C[truth] + 0.3 * rng.standard_normal((n, D))).astype(np.float32)   # (n, D) rows near a codeword
print(f"n = {n:,} rows, K = {K} codes, D = {D}: {n * K * D / 1e6:,.0f} M multiply-adds per search")

ref_codes, ref_sqdist = nearest_codeword_ref(x, C)                  # the oracle
print("reference codes == the codeword each row was drawn near:", np.mean(ref_codes == truth))


def best_time(fn, *args, repeat=size(3, 1)):
    """Best wall time of ``repeat`` calls, after one warm-up call."""
    fn(*args)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


timings = {}                                                        # version -> seconds for all n rows

# %% [markdown]
# ## 2. Plain Python
#
# Three nested loops: rows, codes, dimensions. It is the definition, and it is slow — every
# `+` and `*` goes through the interpreter (Python floats are also float64: the rounding is
# not that of the float32 kernels, which matters only for near-ties). We time a few hundred
# rows and scale up.

# %%
def nearest_python(x, C):
    """The definition, in pure Python (lists of floats in, lists out)."""
    codes, sqdist = [], []
    for row in x:
        best, best_k = float("inf"), 0
        for k, c in enumerate(C):
            s = 0.0
            for a, b in zip(row, c):
                s += (a - b) * (a - b)
            if s < best:                                             # strict: the lowest k keeps a tie
                best, best_k = s, k
        codes.append(best_k)
        sqdist.append(best)
    return codes, sqdist


n_py = size(300, 20)
x_list, C_list = x[:n_py].tolist(), C.tolist()
t0 = time.perf_counter()
py_codes, _ = nearest_python(x_list, C_list)
t_py = time.perf_counter() - t0
timings["python loop"] = t_py * n / n_py
print(f"pure Python: {t_py:.2f}s for {n_py} rows -> about {timings['python loop']:.0f}s for all {n:,}"
      f" ({n_py * K * D / t_py / 1e6:.1f} M multiply-adds/s); codes equal: "
      f"{np.array_equal(py_codes, ref_codes[:n_py])}")

# %% [markdown]
# ## 3. NumPy, naively: broadcast the differences
#
# Vectorising means handing whole arrays to compiled loops. The direct translation builds
# the (n, K, D) tensor of differences — `n·K·D·4` bytes: 3.3 GB for our full n, so we can
# only do it in chunks of rows.

# %%
def nearest_broadcast(x, C, rows=1_000):
    """(n, K, D) differences, one chunk of rows at a time."""
    codes = np.empty(len(x), dtype=np.int64)
    sqdist = np.empty(len(x), dtype=x.dtype)
    for s in range(0, len(x), rows):
        d2 = ((x[s:s + rows, None, :] - C[None, :, :]) ** 2).sum(axis=-1)   # (rows, K)
        codes[s:s + rows] = d2.argmin(axis=1)
        sqdist[s:s + rows] = d2.min(axis=1)
    return codes, sqdist


n_bc = size(20_000, 2_000)
t_bc = best_time(nearest_broadcast, x[:n_bc], C)
timings["numpy broadcast"] = t_bc * n / n_bc
bc_codes, _ = nearest_broadcast(x[:n_bc], C)
print(f"broadcast: {timings['numpy broadcast']:.2f}s for all rows (scaled from {n_bc:,}); codes equal: "
      f"{np.array_equal(bc_codes, ref_codes[:n_bc])}")

# %% [markdown]
# ## 4. NumPy with the matrix-product trick
#
# Expand the square:
#
# $$\lVert x - c\rVert^2 = \lVert x\rVert^2 - 2\,x\cdot c + \lVert c\rVert^2 .$$
#
# `||x||²` is the same for every code of a row, so it cannot change the argmin: the *score*
# `||c_k||² - 2 x·c_k` is enough, and `x·c_k` for all rows and codes is one matrix product
# `x @ C.T` — handed to **BLAS**, which is blocked for the caches, vectorised with SIMD and
# multi-threaded. `||x||²` is added back only for the winning code, and clamped at 0 (the
# expansion can round a tiny distance below zero).

# %%
def nearest_gemm(x, C):
    """Scores by one matrix product; (n, K) floats in memory."""
    cc = (C * C).sum(axis=1)                                        # (K,) ||c_k||^2
    score = cc - 2 * (x @ C.T)                                      # (n, K)
    codes = score.argmin(axis=1)                                    # first minimum = lowest index
    best = score[np.arange(len(x)), codes]
    return codes, np.maximum((x * x).sum(axis=1) + best, 0)


timings["numpy matmul"] = best_time(nearest_gemm, x, C)
gemm_codes, gemm_sqdist = nearest_gemm(x, C)
print(f"matmul trick: {timings['numpy matmul']:.3f}s; codes equal: {np.array_equal(gemm_codes, ref_codes)}, "
      f"max |sqdist - ref| = {np.abs(gemm_sqdist - ref_sqdist).max():.1e}")

# %% [markdown]
# The package's `nearest_codeword_ref` is this function plus two details: it works on chunks
# of rows so the (rows, K) score block stays about 1 MB whatever n is, and it maps duplicated
# codewords to their lowest index (BLAS does not promise identical results for identical
# columns, so an exact tie could otherwise go either way):

# %%
print(inspect.getsource(nearest_codeword_ref))

# %% [markdown]
# ## 5. Numba: compile the loop
#
# Numba compiles a Python function that uses NumPy arrays and scalars to machine code the
# first time it is called with given argument types. The loop of section 2 — on arrays
# instead of lists — becomes fast without changing its shape. `parallel=True` plus
# `numba.prange` splits the outer loop across threads (each row is independent).

# %%
prange = numba.prange if numba is not None else range   # outside parallel=True, prange is range


def nearest_loop(x, C):
    """The definition as a loop over arrays; Numba compiles it (twice: serial and parallel)."""
    n, D = x.shape
    K = C.shape[0]
    codes = np.empty(n, dtype=np.int64)
    sqdist = np.empty(n, dtype=x.dtype)
    for i in prange(n):                    # rows split across threads under parallel=True
        best, best_k = np.inf, 0
        for k in range(K):
            s = 0.0
            for d in range(D):
                diff = x[i, d] - C[k, d]
                s += diff * diff
            if s < best:
                best, best_k = s, k
        codes[i] = best_k
        sqdist[i] = best
    return codes, sqdist


if numba is not None:
    nearest_nb_serial = numba.njit(cache=True)(nearest_loop)         # cache: compiled code kept on disk
    # no cache here: Numba's on-disk cache is keyed by function and argument types, not by
    # parallel=True, so two cached compilations of one function could load each other's code
    nearest_nb_parallel = numba.njit(parallel=True)(nearest_loop)
    for name, fn in (("numba loop", nearest_nb_serial), ("numba loop, parallel", nearest_nb_parallel)):
        t0 = time.perf_counter()
        fn(x[:10], C)                                               # first call: compile (or load the cache)
        compile_s = time.perf_counter() - t0
        timings[name] = best_time(fn, x, C)
        codes_nb, _ = fn(x, C)
        print(f"{name:22s} first call {compile_s:.2f}s, then {timings[name]:.3f}s; codes equal: "
              f"{np.array_equal(codes_nb, ref_codes)}")
    print("Numba threads:", numba.get_num_threads())
else:
    print("Numba is not installed: `pip install numba` to run this section")

# %% [markdown]
# Our Numba loop does the same O(n·K·D) arithmetic as BLAS but usually loses to it: the
# innermost loop over D is a *reduction* into one scalar `s`, which the compiler may not
# vectorise without reordering the additions (it won't, unless told `fastmath=True`), and
# the codebook is re-read from memory for every row. The package's `_nb` version fixes both:
# it re-lays the codebook out in blocks of 64 codes, `(blocks, D, 64)`, makes the **codes**
# the innermost loop (64 independent accumulators: vectorisable without reordering any sum),
# and processes rows in blocks of 128 so one block of the codebook stays in the L1 cache
# while the rows stream past:

# %%
from minih2rec.kernels import codebook as codebook_module   # noqa: E402

nb_kernel = getattr(codebook_module.nearest_codeword_nb, "py_func", None)   # the Python source under njit
print(inspect.getsource(nb_kernel) if nb_kernel is not None else "(Numba is not installed)")

# %% [markdown]
# ## 6. The package's versions, side by side
#
# `kernels.implementations("nearest_codeword")` returns every version that loads here
# (`numpy` is `_ref`, `numba` is `_nb`, `cython` is `_cy`); the public `nearest_codeword`
# validates its inputs and calls the one `kernels.resolve` picked (cython → numba → numpy,
# or `MINIH2REC_BACKEND`). First, exact agreement — on our data, and on float64 random data
# without planted winners (in float64 a near-tie within rounding is astronomically unlikely):

# %%
impls = kernels.implementations("nearest_codeword")
print("available:", ", ".join(impls), "   in use:", kernels.resolve("nearest_codeword")[0])
x64 = rng.standard_normal((size(5_000, 500), 16))                    # float64, random: no planted winner
C64 = rng.standard_normal((64, 16))
ref64 = nearest_codeword_ref(x64, C64)[0]
mine = {"numpy matmul (yours)": nearest_gemm}
if numba is not None:
    mine["numba loop (yours)"] = nearest_nb_serial
for name, fn in list(impls.items()) + list(mine.items()):
    same32 = np.array_equal(fn(x, C)[0], ref_codes)
    same64 = np.array_equal(fn(x64, C64)[0], ref64)
    print(f"{name:22s} codes equal to the reference: float32 {same32}, float64 {same64}")

# %% [markdown]
# Exact equality of *codes* is the right test away from near-ties. Two codewords whose
# distances differ by less than the rounding error (about 1e-7 relative in float32) can come
# out in either order from two correct programs that add in different orders; the package's
# tests therefore compare codes on rows with a clear winner, and distances with a tolerance
# per dtype (`tests/test_kernels_codebook.py`). An exact tie — a duplicated codeword — must
# go to the lowest index in every version:

# %%
C_dup = np.vstack([C[:3], C[:1]])                                   # code 3 duplicates code 0
x_dup = C[:1] + 0.01
print("duplicated codeword -> codes", {name: int(fn(x_dup, C_dup)[0][0]) for name, fn in impls.items()})

# %% [markdown]
# Now the timings, for all n rows:

# %%
for name, fn in impls.items():
    timings[f"package {name}"] = best_time(fn, x, C)
base = timings["package numpy"]
print(f"{'version':26s} {'seconds':>9s} {'M rows/s':>9s} {'vs package numpy':>17s}")
for name, t in sorted(timings.items(), key=lambda kv: -kv[1]):
    print(f"{name:26s} {t:9.3f} {n / t / 1e6:9.2f} {base / t:16.2f}x")

# %% [markdown]
# Typical shape of the result (yours depends on the CPU, the BLAS and how busy the machine
# is): the Python loop is thousands of times slower than anything else; the naive broadcast
# is limited by memory traffic; everything that computes the scores well lands within a small
# factor of the NumPy matmul version, because that version is *already* compiled code (BLAS).
# A compiled kernel pays off when it does what NumPy cannot: fuse steps so the (n, K) score
# matrix is never written to memory, or skip work.
#
# ## 7. The Cython version: blocking, fusion, threads
#
# Cython translates a `.pyx` file — Python with C types — into C, compiled when the package is
# installed (`python setup.py build_ext --inplace`; a failed build falls back to the other
# backends). Here is the design, from the file's own header:

# %%
pyx = Path(minih2rec.__file__).resolve().parents[1] / "ext" / "_codebook.pyx"


def excerpt(path, start, stop_at_toplevel=True):
    """Lines of ``path`` from the first line containing ``start`` to the next top-level statement."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(k for k, line in enumerate(lines) if start in line)
    i = first
    while i > 0 and lines[i - 1].startswith("@"):                   # include decorators
        i -= 1
    j = first + 1
    while j < len(lines) and not (stop_at_toplevel and lines[j][:1] not in ("", " ", "\t", ")")):
        j += 1
    return "\n".join(lines[i:j]).rstrip()


if pyx.is_file():
    text = pyx.read_text(encoding="utf-8")
    print(text[text.index('"""') + 3:text.index('"""', text.index('"""') + 3)])    # the module docstring
else:
    print(f"{pyx} is not here (an installed wheel ships only the compiled module); read it at "
          f"https://github.com/ (minih2rec/ext/_codebook.pyx) instead")

# %% [markdown]
# The compiled heart is a small C header beside the `.pyx`, `_nearest_tile.h`: one tile of
# rows against the whole codebook, with the dot products, scores and running argmin kept in
# SIMD registers:

# %%
tile_h = pyx.with_name("_nearest_tile.h")
if tile_h.is_file():
    text = tile_h.read_text(encoding="utf-8")
    print(text[text.index("#define DEFINE_NEAREST_TILE"):text.index("DEFINE_NEAREST_TILE(nearest_tile_f32")])

# %% [markdown]
# What to notice:
#
# * **Blocking for registers, not just caches.** A tile is 16 float32 rows = 2 vectors of 8
#   lanes, copied transposed so one vector holds coordinate `d` of 8 rows. Six codes at a
#   time, `p0a..p5b` are 12 accumulators: each coordinate costs 2 vector loads and 6 scalar
#   broadcasts for 12 multiply-adds (the codebook is re-laid out as `(K/6, D, 6)` so the six
#   values sit side by side) — the shape of a BLAS micro-kernel. The codebook (`K x D`,
#   32 KB at K=256, D=32) stays in the L1/L2 cache while tiles stream past it — the same
#   idea as the `_nb` loop's 64-code blocks, one level further down.
# * **Fusion.** The `(n, K)` score matrix the NumPy version writes (and reads back for
#   `argmin`) never exists: at small `D` that memory traffic, not the arithmetic, is what
#   the NumPy version spends its time on.
# * **Vectorisation without branches or intrinsics.** The vector types are GCC/Clang vector
#   extensions (`float __attribute__((vector_size(32)))`), so `a0 += xd[0] * u[d]` is one
#   SIMD instruction. `s < best` gives a lane mask of all ones or zeros, and
#   `(k & m) | (old & ~m)` selects without an `if`. `target_clones("avx2", "default")`
#   compiles the function twice and picks the AVX2 version at load time when the CPU has it,
#   so the build stays portable (no `-march=native`).
# * **Threads (OpenMP).** Tiles are independent, so the `.pyx` driver runs them with
#   `prange` (`#pragma omp parallel for`), which needs the GIL released (`nogil`) and the
#   compiler flag `-fopenmp`; each thread uses its own row of a scratch array
#   (`threadid()`). The package's `setup.py` *probes* for OpenMP with a tiny test compile and
#   builds serially when it is missing (or when `MINIH2REC_NO_OPENMP=1`). Small calls run on
#   one thread: starting a thread team costs more than they do.
#
# The Cython driver around it (`floating` is a *fused type*: one source, compiled for float32
# and float64; typed memoryviews `floating[:, ::1]` make the indexing plain C):

# %%
if pyx.is_file():
    print(excerpt(pyx, "cdef void _nearest"))
    print(excerpt(pyx, "def nearest_codeword_cy"))

# %% [markdown]
# ## Summary
#
# * Write the slow, obviously correct version first; keep it as the oracle; demand **exact**
#   equality of discrete outputs (codes, ids) away from near-ties, tolerance on floats.
# * Vectorise with algebra before compiling: `||x-c||² = ||x||² - 2x·c + ||c||²` turns the
#   search into one matrix product, and BLAS is hard to beat at matrix products.
# * Numba compiles loops in place (`@njit`, `prange`, `cache=True`); Cython compiles typed
#   `.pyx` files ahead of time. Both win by **blocking** for the cache, **fusing** passes and
#   writing loops the compiler can vectorise — and threads only help when they do not fight
#   BLAS's own.
# * Always measure, best of several runs, on the sizes that matter
#   (`python bench/bench_codebook.py`).
#
# ## Exercises
#
# Solutions: `tutorials/solutions/10_accelerating_kernels.py`.
#
# **10.1 — the expansion.** Compute `||x||² - 2 x·c + ||c||²` for the vectors below (it must
# equal the squared distance).

# %%
x_101 = np.array([1.0, 2.0, 3.0])
c_101 = np.array([0.0, 1.0, -1.0])

yours = None  # TODO: a float
check("10.1 squared distance by expansion", yours, ((x_101 - c_101) ** 2).sum())

# %% [markdown]
# **10.2 — counting work.** How many multiply-adds does the matrix product `x @ C.T` do for
# n = 100,000 rows, K = 256 codes and D = 32?

# %%
yours = None  # TODO: an integer
check("10.2 multiply-adds of the search", yours, 100_000 * 256 * 32)

# %% [markdown]
# **10.3 — why block.** How many MiB (2^20 bytes) would the full float32 score matrix take for
# n = 1,000,000 rows and K = 256 codes?

# %%
yours = None  # TODO: a float
check("10.3 MiB of the (n, K) float32 scores", yours, 1_000_000 * 256 * 4 / 2 ** 20)

# %% [markdown]
# **10.4 — a blocked NumPy kernel.** Complete `nearest_blocked`: the matrix-product version of
# section 4, but on `rows` rows at a time, so memory stays `rows × K` whatever n is. It must
# return the reference's codes exactly on this data.

# %%
def nearest_blocked(x, C, rows=256):
    """codes (n,) int64 of the nearest codeword, computed rows at a time."""
    return None  # TODO


rng_104 = np.random.default_rng(104)
x_104 = rng_104.standard_normal((1_000, 8))
C_104 = rng_104.standard_normal((50, 8))
yours = nearest_blocked(x_104, C_104)
check("10.4 blocked nearest codeword", yours, nearest_codeword(x_104, C_104)[0])
