"""Wrap plain-Python loops with numba.njit at import; None when numba is missing."""
try:
    import numba
except ImportError:  # the package still runs on its NumPy references
    numba = None


def njit(fn=None, **options):
    """``numba.njit(cache=True, **options)(fn)`` or ``None`` if numba is not installed."""
    def wrap(f):
        if numba is None:
            return None
        return numba.njit(cache=True, **options)(f)
    return wrap(fn) if fn is not None else wrap


# fastmath flags that let LLVM reorder sums and vectorise, but not assume away NaN/inf:
# a NaN weight must still give a NaN loss (the trainer stops on it), not a finite one.
SAFE_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
