"""Tiny timing helpers shared by the bench scripts: best-of-N wall time and a side-by-side table.

Usage::

    from _timing import best_of, print_table, parse_quick
    quick = parse_quick(__doc__)
    t = best_of(lambda: fn(*args), repeat=5, warmup=1)   # seconds
    print_table([("np.add.at", t_ref), ("numba", t_nb)], baseline="np.add.at")

"Best of N" (the minimum) is the least noisy estimate of how fast code can run
on an otherwise idle machine: noise only ever adds time.
"""
import argparse
import os
import platform
import sys
import time

# bench scripts are run as `python bench/bench_x.py`, so make the repo importable
# even when minih2rec is not installed.
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def best_of(fn, repeat=5, warmup=1, setup=None):
    """Return the minimum wall time in seconds of ``fn()`` over ``repeat`` runs.

    Parameters
    ----------
    fn : callable with no arguments -- the work to time.
    repeat : int -- timed runs; the best (smallest) is returned.
    warmup : int -- untimed runs first (JIT compilation, caches, page faults).
    setup : callable or None -- run untimed before every call (e.g. reset an output buffer).
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    best = float("inf")
    for _ in range(max(1, repeat)):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_of_interleaved(fns, repeat=5, warmup=1, pause=0.25, settle=1):
    """Best wall time (s) of each callable in ``fns`` (a dict name -> fn), timed round-robin.

    One round times every version once, in order; ``repeat`` rounds, the minimum per
    version. Versions timed this way see the same machine (a neighbour's burst, the CPU
    clock) instead of one of them meeting it alone. ``pause`` seconds of sleep before
    each version's turn let the previous version's thread pool (OpenBLAS, OpenMP) stop
    spinning: on 2 cores a spinning pool would otherwise be timed with the next version.
    Then ``settle`` untimed calls wake the version's own pool (and, on a VM, its idle
    virtual CPUs), so the timed call is one of a run of calls -- the way a kernel is
    used inside k-means or a training loop -- not the first call after a sleep.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            time.sleep(pause)
            for _ in range(settle):
                fn()
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def parse_quick(description=None, argv=None):
    """Parse the common ``--quick`` flag (smaller sizes, fewer repeats); returns True/False."""
    p = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test)")
    return p.parse_args(argv).quick


def machine_line():
    """One line naming the machine the numbers were measured on (and how busy it was)."""
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}{load}")


def print_table(rows, baseline=None, title=None):
    """Print ``[(name, seconds or None), ...]`` with a speed-up column vs ``baseline``.

    A ``None`` time means that version is unavailable here (printed as ``-``).
    """
    base = dict(rows).get(baseline)
    if title:
        print(title)
    w = max(len(n) for n, _ in rows)
    head = f"  {'version'.ljust(w)}  {'best time':>11}"
    if base:
        head += f"  {'speed-up vs ' + baseline:>22}"
    print(head)
    for name, t in rows:
        if t is None:
            print(f"  {name.ljust(w)}  {'-':>11}  (not available)")
            continue
        line = f"  {name.ljust(w)}  {t * 1e3:>8.2f} ms"
        if base:
            line += f"  {base / t:>21.1f}x"
        print(line)


def import_torch_or_exit(script):
    """``torch``, or a one-line "how to install it" message and exit 0: torch is never a dependency."""
    try:
        import torch
    except ImportError:
        print(f"{script}: torch is not installed; install it in a separate venv: python -m venv ~/.venvs/torch "
              f"&& ~/.venvs/torch/bin/pip install torch -e . && ~/.venvs/torch/bin/python bench/{script}.py")
        sys.exit(0)
    return torch
