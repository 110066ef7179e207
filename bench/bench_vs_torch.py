"""minih2rec's training step against a PyTorch twin's, on identical shapes, one thread each (issue 16).

One step = forward + full-softmax loss at every position + backward + Adam step (with the
gradient clipping ``TrainConfig()`` asks for), on a random full-length batch of 128 users,
float32 for both. The twin (``bench/_torch_twin.py``) is built from the minih2rec model
itself -- same config defaults (block layout, dropout, ...) and the same starting weights --
and computes the same losses (H2Rec's L_code and L_msg in the ``-align`` rows).

Rows (``--rows``, comma-separated; default all), d = 64, 2 blocks, 1 head:

* ``sasrec-50``   SASRec, V = 1,349 (ML-100K), T = 50
* ``sasrec-200``  SASRec, V = 3,416 (ML-1M),   T = 200
* ``h2rec-50``, ``h2rec-50-align``    H2Rec, V = 1,349, T = 50, L = 3, K = 64, rec loss only /
  with the default alignment losses (lambda_code = lambda_msg = 0.1)
* ``h2rec-200``, ``h2rec-200-align``  the same at V = 3,416, T = 200

Timing: best of ``--rounds`` (3) interleaved rounds (``_timing.best_of_interleaved``: each
round times minih2rec then torch, after an untimed settle call), ms/step and the ratio
minih2rec / torch (< 1: minih2rec is faster).

Fraction of peak: the step's FLOPs are counted analytically -- every matrix product of the
forward pass (projections, attention scores and mixing over all T x T pairs, FFN, gate,
logits against the whole item table, the L_code and L_msg similarity matrices), 2 m n k
each, times 3 for forward + backward (each product has two gradient products). Elementwise
work, the optimizer and recomputation are not counted, so this is "model FLOPs", the same
count for both implementations. The peak is the best float32 matmul throughput measured in
the same run, one thread, (2048 x 2048) @ (2048 x 2048), with NumPy's BLAS and with torch,
before the first row and after each (best of all: on a shared machine the quietest moment
comes closest to the hardware); the larger of the two libraries is the machine's peak.

    OPENBLAS_NUM_THREADS=1 /path/to/venv-with-torch/bin/python bench/bench_vs_torch.py
    .../python bench/bench_vs_torch.py --rows sasrec-50,h2rec-50 --rounds 3

One thread: OPENBLAS/OMP/MKL/NUMBA thread counts default to 1 here (set them to override)
and ``torch.set_num_threads(1)``.
"""
import argparse
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")          # before NumPy/torch start their thread pools

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_of, best_of_interleaved, import_torch_or_exit, machine_line  # noqa: E402

torch = import_torch_or_exit("bench_vs_torch")

import numpy as np  # noqa: E402

import _torch_twin as tw  # noqa: E402
from minih2rec.config import TrainConfig  # noqa: E402
from minih2rec.data import Batch  # noqa: E402
from minih2rec.models import H2Rec, H2RecConfig, SASRec, SASRecConfig  # noqa: E402
from minih2rec.optim import Adam, clip_grad_norm  # noqa: E402

ROWS = {
    "sasrec-50": dict(model="sasrec", V=1349, T=50),
    "sasrec-200": dict(model="sasrec", V=3416, T=200),
    "h2rec-50": dict(model="h2rec", V=1349, T=50, align=False),
    "h2rec-50-align": dict(model="h2rec", V=1349, T=50, align=True),
    "h2rec-200": dict(model="h2rec", V=3416, T=200, align=False),
    "h2rec-200-align": dict(model="h2rec", V=3416, T=200, align=True),
}
D, BLOCKS, LEVELS, CODES = 64, 2, 3, 64


def build(row, seed=0):
    """The minih2rec model of a row (config defaults apart from the sizes the row names)."""
    sizes = dict(num_items=row["V"], max_len=row["T"], d=D, blocks=BLOCKS, heads=1, seed=seed)
    if row["model"] == "sasrec":
        return SASRec(SASRecConfig(**sizes))
    codes = np.random.default_rng(seed).integers(0, CODES, size=(row["V"] + 1, LEVELS))
    codes[0] = 0
    lambdas = {} if row["align"] else dict(lambda_code=0.0, lambda_msg=0.0)
    return H2Rec(H2RecConfig(num_levels=LEVELS, codebook_size=CODES, code_init="random", **sizes, **lambdas),
                 codes)


def random_batch(V, T, B, seed=0):
    """Full-length rows: every position a real input and a real target."""
    rng = np.random.default_rng(seed)
    return Batch(seq=rng.integers(1, V + 1, size=(B, T)), target=rng.integers(1, V + 1, size=(B, T)),
                 positions=np.arange(T), users=np.arange(B))


def step_flops(model, batch):
    """Forward matrix-product FLOPs of one step, times 3 (forward + backward); see the module docstring."""
    c = model.config
    B, T = batch.seq.shape
    N, M, d, V = B * T, int((batch.target > 0).sum()), c.d, c.num_items
    hidden = c.ffn_hidden or d

    def attention(rows):
        """q, k, v, o projections of ``rows`` tokens, and the (T x T) scores and mixing per sequence."""
        return 4 * 2 * rows * d * d + 2 * 2 * (rows // T) * T * T * d

    block = attention(N) + 2 * 2 * N * d * hidden
    if model.name == "sasrec":
        fwd = c.blocks * block + 2 * M * V * d
    else:
        L = c.num_levels
        passes = 2 + (2 if c.lambda_msg > 0 else 0)
        fwd = passes * c.blocks * block + 2 * M * V * 2 * d
        if c.cross_attention:
            fwd += L * attention(N) + attention(N)                       # per-level CAs, SID-branch CA
        if c.gate:
            g = c.gate_hidden or d
            fwd += 2 * N * (d + L) * g + 2 * N * g * L
        if c.lambda_code > 0:
            n = min(len(np.unique(batch.target[batch.target > 0])), c.code_items_cap)
            fwd += 2 * n * n * d
        if c.lambda_msg > 0:
            fwd += 3 * 2 * B * B * d                                     # logits and the two target Grams
    return 3 * fwd


def peak_gflops(n=2048, repeat=3):
    """Best float32 (n x n) @ (n x n) throughput, GFLOP/s, with NumPy's BLAS and with torch."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    ta = torch.from_numpy(a.copy())
    flops = 2 * n ** 3 / 1e9
    t_np = best_of(lambda: a @ a, repeat=repeat, warmup=1)
    t_torch = best_of(lambda: torch.mm(ta, ta), repeat=repeat, warmup=1)
    return flops / t_np, flops / t_torch


def make_steps(model, twin, batch):
    """Two zero-argument callables, one training step each (minih2rec, torch)."""
    tc = TrainConfig()
    opt = Adam(model.parameters(), lr=tc.lr, betas=tuple(tc.betas), weight_decay=tc.weight_decay)
    opt_t = torch.optim.Adam(twin.parameters(), lr=opt.lr, betas=opt.betas, eps=opt.eps,
                             weight_decay=opt.weight_decay)
    seq, positions, target = tw.as_torch(batch)

    budget = getattr(tc, "max_batch_tokens", 0)     # the Trainer's opt-in row chunking (0 = off)

    def step_minih2rec():
        if budget and batch.seq.size > budget:
            from minih2rec.recompute import chunked_loss
            loss = chunked_loss(model, batch, budget)
        else:
            loss = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        if tc.clip_norm > 0:
            clip_grad_norm(model.parameters(), tc.clip_norm)
        opt.step()

    def step_torch():
        loss = twin.loss(seq, positions, target)
        opt_t.zero_grad()
        loss.backward()
        if tc.clip_norm > 0:
            tw.clip_grad_norm(list(twin.parameters()), tc.clip_norm)
        opt_t.step()
    return step_minih2rec, step_torch


def label(name, row):
    text = f"{'SASRec' if row['model'] == 'sasrec' else 'H2Rec'}, V={row['V']:,}, T={row['T']}"
    if row["model"] == "h2rec":
        text += f", L={LEVELS}, K={CODES}, " + ("+ L_code + L_msg" if row["align"] else "rec loss only")
    return text


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best of)")
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    names = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in names if r not in ROWS]
    if unknown:
        p.error(f"unknown row(s) {unknown}; choose from {', '.join(ROWS)}")
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    from minih2rec import format_backend_info
    print(f"bench_vs_torch: {machine_line()}")
    print(format_backend_info())
    print(f"NumPy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} thread); "
          + ", ".join(f"{v}={os.environ[v]}" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                       "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")))
    peaks = [peak_gflops()]         # re-measured after every row: on a shared machine the best
    print(f"step = forward + full-softmax loss at every position + backward + Adam; batch {args.batch_size}, "
          f"d={D}, {BLOCKS} blocks, 1 head, float32; best of {args.rounds} interleaved rounds")
    print(f"{'row':58s} {'minih2rec':>10} {'torch':>10} {'ratio':>6}  {'GFLOP/step':>10}  "
          f"{'GFLOP/s mh':>10} {'GFLOP/s torch':>13}")
    results = []
    for name in names:
        row = ROWS[name]
        model = build(row)
        twin = tw.twin_of(model)
        batch = random_batch(row["V"], row["T"], args.batch_size)
        torch.manual_seed(0)
        if hasattr(twin, "rng"):
            twin.rng.bit_generator.state = model.rng.bit_generator.state
        fns = dict(zip(("minih2rec", "torch"), make_steps(model, twin, batch)))
        t0 = time.perf_counter()
        best = best_of_interleaved(fns, repeat=args.rounds, warmup=1)
        gflop = step_flops(model, batch) / 1e9
        results.append((label(name, row), best, gflop))
        print(f"{label(name, row):58s} {best['minih2rec'] * 1e3:7.0f} ms {best['torch'] * 1e3:7.0f} ms "
              f"{best['minih2rec'] / best['torch']:5.2f}x  {gflop:10.2f}  {gflop / best['minih2rec']:10.1f} "
              f"{gflop / best['torch']:13.1f}   ({time.perf_counter() - t0:.0f} s)", flush=True)
        peaks.append(peak_gflops())                      # of its quiet moments is the peak
    g_np, g_torch = (max(p[i] for p in peaks) for i in (0, 1))
    peak = max(g_np, g_torch)
    print(f"peak float32 matmul, 1 thread, (2048 x 2048) @ (2048 x 2048), best of {len(peaks)} measurements "
          f"in this run: NumPy {g_np:.1f} GFLOP/s, torch {g_torch:.1f} GFLOP/s -> peak {peak:.1f} GFLOP/s")
    print(f"{'row':58s} {'minih2rec':>10} {'torch':>10} {'ratio':>6}  {'mh % peak':>9} {'torch % peak':>12}")
    for text, best, gflop in results:
        print(f"{text:58s} {best['minih2rec'] * 1e3:7.0f} ms {best['torch'] * 1e3:7.0f} ms "
              f"{best['minih2rec'] / best['torch']:5.2f}x  {100 * gflop / best['minih2rec'] / peak:8.1f}% "
              f"{100 * gflop / best['torch'] / peak:11.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
