"""Kernel comparison helpers: exact for discrete outputs, tolerant for floats.

On failure the message names the first mismatching index and both values (and,
for floats, the worst difference), like llm.c's ``OK`` / ``NOT OK`` checks.
"""
import numpy as np

# tolerances per dtype for kernel-vs-reference float comparisons
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
ATOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}


def _first(bad):
    """Index tuple of the first True in ``bad`` (row-major)."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))


def assert_same(actual, expected, what="result"):
    """Exact equality (shape, then values); reports the first mismatching index."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    bad = actual != expected
    if bad.any():
        i = _first(bad)
        raise AssertionError(f"{what}: NOT OK, {int(bad.sum())} of {bad.size} differ; first at index {i}: "
                             f"got {actual[i]!r}, expected {expected[i]!r}")


def assert_close(actual, expected, rtol=None, atol=None, what="result"):
    """``|actual - expected| <= atol + rtol |expected|`` elementwise; tolerances default by dtype."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    dt = np.result_type(actual.dtype, expected.dtype)
    rtol = RTOL.get(dt, 1e-10) if rtol is None else rtol
    atol = ATOL.get(dt, 1e-13) if atol is None else atol
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    same_inf = (a == e)                                # equal infinities are fine
    with np.errstate(invalid="ignore"):
        bad = ~(same_inf | (np.abs(a - e) <= atol + rtol * np.abs(e)))
    if bad.any():
        i = _first(bad)
        worst = float(np.nanmax(np.where(bad, np.abs(a - e), 0.0)))
        raise AssertionError(f"{what}: NOT OK (rtol={rtol}, atol={atol}), {int(bad.sum())} of {bad.size} "
                             f"differ; first at index {i}: got {actual[i]!r}, expected {expected[i]!r}; "
                             f"worst |diff| {worst:.3g}")
