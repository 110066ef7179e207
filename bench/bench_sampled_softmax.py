"""Benchmark sampled_softmax (forward + backward): NumPy reference vs Numba vs Cython, in one run.

Workload: one training step of a SASRec-sized model on MovieLens-1M-like data --
M = 25,600 user states (batch 256 x length 100), d = 128, N = 256 shared
negatives drawn by popularity, V = 11,384 items; float32.

All three versions spend most of their time in the same three BLAS matmuls
(logits, grad wrt states, grad wrt the negatives' rows: each (M x d x N)); the
line "BLAS matmuls only" is that floor. The compiled versions fuse the rest
(logQ, masking, max-shifted softmax, gradients) and replace ``np.add.at``, so
their speed-up is bounded by how much of the reference is *not* BLAS.

Run: ``python bench/bench_sampled_softmax.py [--quick]``
"""
import numpy as np
from _timing import best_of, machine_line, parse_quick, print_table

from minih2rec import _backend
from minih2rec.kernels.sampled_softmax import log_q


def main(quick=False):
    M, d, N, V = (2_560, 128, 256, 11_384) if quick else (25_600, 128, 256, 11_384)
    repeat = 3 if quick else 5
    rng = np.random.default_rng(0)
    popularity = 1.0 / rng.permutation(np.arange(1, V + 2)) ** 0.9   # (V+1,) Zipf-like by rank
    popularity[0] = 0.0                                               # row 0 = padding, never drawn
    probs = popularity ** 0.75 / (popularity ** 0.75).sum()           # popularity^beta proposal
    table = (0.1 * rng.standard_normal((V + 1, d))).astype(np.float32)   # (V+1, d)
    states = rng.standard_normal((M, d)).astype(np.float32)          # (M, d)
    pos_ids = rng.choice(V + 1, M, p=popularity / popularity.sum())   # (M,)
    neg_ids = rng.choice(V + 1, N, p=probs)                           # (N,)
    lq_pos = log_q(probs, pos_ids, N).astype(np.float32)              # (M,)
    lq_neg = log_q(probs, neg_ids, N).astype(np.float32)              # (N,)
    args = (states, pos_ids, neg_ids, table, lq_pos, lq_neg)
    impls = _backend.implementations("sampled_softmax")
    ref = impls["numpy"](*args)

    rows = []
    for backend, label in (("numpy", "sampled_softmax_ref"), ("numba", "sampled_softmax_nb"),
                           ("cython", "sampled_softmax_cy")):
        fn = impls.get(backend)
        if fn is None:
            rows.append((label, None))
            continue
        got = fn(*args)
        assert abs(got[0] - ref[0]) <= 1e-4 * abs(ref[0]), f"{label} loss {got[0]} != {ref[0]}"
        assert np.allclose(got[1], ref[1], rtol=1e-3, atol=1e-8), f"{label} grad_states differ"
        assert np.array_equal(got[2], ref[2]) and np.allclose(got[3], ref[3], rtol=1e-3, atol=1e-8)
        rows.append((label, best_of(lambda: fn(*args), repeat=repeat, warmup=1)))

    Wn = table[neg_ids]
    G = states @ Wn.T

    def blas_only():
        states @ Wn.T
        G @ Wn
        G.T @ states

    rows.append(("BLAS matmuls only", best_of(blas_only, repeat=repeat, warmup=1)))
    print(f"sampled_softmax fwd+bwd: M={M:,} states, d={d}, N={N} negatives, V={V:,} items, float32; "
          f"loss {ref[0]:.4f}, {ref[2].size:,} touched rows; best of {repeat}")
    print(f"machine: {machine_line()}")
    print_table(rows, baseline="sampled_softmax_ref")


if __name__ == "__main__":
    main(parse_quick(__doc__))
