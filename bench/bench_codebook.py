"""Benchmark nearest-codeword search (the RQ-KMeans hot loop): NumPy reference vs Cython vs Numba.

Prints rows/s for n = 200,000 float32 rows, K in {64, 256, 1024} codes and
D in {32, 128}, for every backend available here (plus faiss IndexFlatL2 when
``import faiss`` works), with the speed-up over the NumPy reference. Codes of
every backend are checked against the reference before timing.

    python bench/bench_codebook.py            # full table (~1-2 minutes on 2 cores)
    python bench/bench_codebook.py --quick    # n = 20,000, K in {64, 256}, D = 32
"""
import numpy as np
from _timing import best_of_interleaved, machine_line, parse_quick

from minih2rec import _backend
from minih2rec.kernels.codebook import nearest_codeword_ref


def _faiss_search():
    """Return a (x, C) -> codes function using faiss IndexFlatL2, or None if faiss is missing."""
    try:
        import faiss
    except ImportError:
        return None

    def search(x, C):
        index = faiss.IndexFlatL2(C.shape[1])
        index.add(C)
        return index.search(x, 1)[1][:, 0]
    return search


def main():
    quick = parse_quick(__doc__)
    n = 20_000 if quick else 200_000
    grid = [(64, 32), (256, 32)] if quick else [(K, D) for K in (64, 256, 1024) for D in (32, 128)]
    repeat = 2 if quick else 7
    impls = _backend.implementations("nearest_codeword")
    versions = {f"{b} ({suffix})": impls[b] for b, suffix in (("numpy", "ref"), ("cython", "cy"), ("numba", "nb"))
                if b in impls}
    faiss_fn = _faiss_search()
    if faiss_fn is not None:
        versions["faiss IndexFlatL2"] = faiss_fn
    ref_name = "numpy (ref)"
    rng = np.random.default_rng(0)

    print(f"nearest_codeword: n = {n:,} rows, float32, best of {repeat} round-robin rounds; {machine_line()}")
    print("rows/s (higher is better), speed-up = reference time / version time")
    names = list(versions)
    w = max(len(v) for v in names)
    print(f"  {'K':>5} {'D':>4}  " + "  ".join(f"{v:>{max(w, 14)}}" for v in names))
    for K, D in grid:
        x = rng.standard_normal((n, D)).astype(np.float32)       # (n, D)
        C = rng.standard_normal((K, D)).astype(np.float32)       # (K, D)
        want = nearest_codeword_ref(x, C)[0]
        for name, fn in versions.items():
            got = np.asarray(fn(x, C)[0] if name != "faiss IndexFlatL2" else fn(x, C))
            agree = float(np.mean(got == want))
            if agree < 0.999:  # float rounding may flip a handful of near-ties, never more
                raise SystemExit(f"{name} disagrees with the reference on {1 - agree:.2%} of rows (K={K}, D={D})")
        # round-robin: every version sees the same machine (other pools' spinning threads included)
        times = best_of_interleaved({name: (lambda fn=fn: fn(x, C)) for name, fn in versions.items()},
                                    repeat=repeat, warmup=1)
        cells = []
        for name in names:
            t = times[name]
            cells.append(f"{n / t / 1e6:6.2f}M ({times[ref_name] / t:4.1f}x)".rjust(max(w, 14)))
        print(f"  {K:>5} {D:>4}  " + "  ".join(cells), flush=True)
    print("in use by minih2rec:", _backend.resolve("nearest_codeword")[0])


if __name__ == "__main__":
    main()
