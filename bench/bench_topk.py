"""Benchmark topk_exclude (full-ranking evaluation): NumPy reference vs Numba vs Cython, in one run.

Workload: MovieLens-1M-sized full ranking -- 6,040 users x 3,417 item scores
(float32), k = 20, about 100 excluded history items per user.

Run: ``python bench/bench_topk.py [--quick]``
"""
import numpy as np
from _timing import best_of, machine_line, parse_quick, print_table

from minih2rec import _backend


def main(quick=False):
    B, V1, k, hist = (600, 3_417, 20, 100) if quick else (6_040, 3_417, 20, 100)
    repeat = 3 if quick else 5
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((B, V1)).astype(np.float32)               # (B, V1)
    counts = rng.integers(hist // 2, 3 * hist // 2 + 1, B)                 # ~hist per row
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)     # (B+1,)
    indices = rng.integers(0, V1, indptr[-1]).astype(np.int64)             # (nnz,)
    impls = _backend.implementations("topk_exclude")
    expected = impls["numpy"](scores, k, indptr, indices)

    rows = []
    for backend, label in (("numpy", "topk_exclude_ref"), ("numba", "topk_exclude_nb"), ("cython", "topk_exclude_cy")):
        fn = impls.get(backend)
        if fn is None:
            rows.append((label, None))
            continue
        assert np.array_equal(fn(scores, k, indptr, indices), expected), f"{label} ids differ from the reference"
        rows.append((label, best_of(lambda: fn(scores, k, indptr, indices), repeat=repeat, warmup=1)))

    print(f"topk_exclude: {B:,} x {V1:,} float32 scores, k={k}, {indptr[-1] / B:.0f} exclusions/row; "
          f"ids identical across versions; best of {repeat}")
    print(f"machine: {machine_line()}")
    print_table(rows, baseline="topk_exclude_ref")


if __name__ == "__main__":
    main(parse_quick(__doc__))
