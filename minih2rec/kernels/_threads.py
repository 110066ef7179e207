"""How many OpenMP threads a Cython kernel call should use, and the call that passes it.

Starting an OpenMP team costs far more than a small kernel call (and on a busy 2-core
machine a team can stall behind other processes), so calls with little work run on one
thread; bigger ones use OpenMP's default team. The wrappers of the kernels whose Cython
version is threaded (top-K, nearest codeword, sampled softmax) dispatch through
:func:`call_kernel`.
"""
import os

from .._backend import resolve

SERIAL_BELOW = 200_000    # rows x columns below which one thread is faster than a team


def default_threads():
    """OpenMP's default team size: ``OMP_NUM_THREADS`` if set, else the cores this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def threads_for(work):
    """1 for a call with less than ``SERIAL_BELOW`` units of work, else :func:`default_threads`."""
    return 1 if work < SERIAL_BELOW else default_threads()


def call_kernel(kernel, work, *args):
    """Run ``kernel`` on ``args`` with the backend :func:`~minih2rec.kernels.resolve` picked.

    The Cython version also gets ``num_threads=threads_for(work)``; ``work`` is the call's
    size in the units of ``SERIAL_BELOW`` (e.g. rows x columns).
    """
    backend, fn = resolve(kernel)
    if backend == "cython":
        return fn(*args, num_threads=threads_for(work))
    return fn(*args)
