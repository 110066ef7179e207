"""Benchmark scatter_add (embedding backward): np.add.at vs Numba vs Cython, measured in one run.

Workload: 1,000,000 row updates into a (50,000, 64) float32 table, row ids
Zipf-distributed (a few very popular items, a long tail), as in an embedding
backward over a batch of real sequences. Target: compiled >= 10x np.add.at.

Run: ``python bench/bench_scatter_add.py [--quick]``
"""
import numpy as np
from _timing import best_of, machine_line, parse_quick, print_table

from minih2rec import _backend


def main(quick=False):
    R, C, n = (5_000, 64, 100_000) if quick else (50_000, 64, 1_000_000)
    repeat = 2 if quick else 3
    rng = np.random.default_rng(0)
    idx = (rng.zipf(1.2, n) % R).astype(np.int64)                # (n,) heavy-tailed row ids
    src = rng.standard_normal((n, C)).astype(np.float32)         # (n, C)
    impls = _backend.implementations("scatter_add")
    expected = impls["numpy"](np.zeros((R, C), np.float32), idx, src)

    rows = []
    for backend, label in (("numpy", "np.add.at (ref)"), ("numba", "scatter_add_nb"), ("cython", "scatter_add_cy")):
        fn = impls.get(backend)
        if fn is None:
            rows.append((label, None))
            continue
        got = fn(np.zeros((R, C), np.float32), idx, src)
        err = float(np.abs(got - expected).max())
        assert err <= 1e-3, f"{label} disagrees with np.add.at: max |diff| {err}"
        out = np.zeros((R, C), np.float32)
        rows.append((label, best_of(lambda: fn(out, idx, src), repeat=repeat, warmup=1)))

    print(f"scatter_add: {n:,} updates of {C} float32 into a ({R:,}, {C}) table, "
          f"Zipf(1.2) row ids ({np.unique(idx).size:,} distinct); best of {repeat}")
    print(f"machine: {machine_line()}")
    print_table(rows, baseline="np.add.at (ref)")


if __name__ == "__main__":
    main(parse_quick(__doc__))
