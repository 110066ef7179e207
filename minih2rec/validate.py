"""Input checks: one small function per kind of check, shared by losses, quantizers, semantic IDs, eval.

A public function of the package first checks its inputs with these, in a line or two,
then does its math -- the checks no longer bury the formula. Every check raises
``ValueError`` (``IndexError`` for an id outside its table) with a message that starts
with ``where`` (the function being called), names the argument and shows the bad value.
Each returns its input as the array the caller should use, so a check and a conversion
are one line.
"""
import numpy as np


def positive(value, name, where):
    """``value`` > 0 (NaN fails), e.g. a temperature."""
    if not value > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value!r}")
    return value


def choice(value, choices, name, where):
    """``value`` one of ``choices`` (e.g. a protocol name)."""
    if value not in choices:
        raise ValueError(f"{where}: {name} must be one of {tuple(choices)}, got {value!r}")
    return value


def at_least(value, low, name, where):
    """``value`` >= ``low`` (NaN fails), e.g. a tolerance or a loss weight."""
    if not value >= low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {value!r}")
    return value


def whole(value, name, where, low=1):
    """``value`` an integer (not a bool) >= ``low``, e.g. a window, a cap or a number of levels."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or int(value) != value \
            or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def in_range(value, low, high, name, where):
    """``low <= value <= high``."""
    if not low <= value <= high:
        raise ValueError(f"{where}: {name} must be in [{low}, {high}], got {value!r}")
    return value


def ids(values, name, where, low, high, ndim=1):
    """An integer array of ``ndim`` dims whose entries lie in [``low``, ``high``] -> int64 ndarray.

    A wrong shape or dtype is a ValueError; an id outside the range is an IndexError naming it.
    """
    values = np.asarray(values)
    if values.ndim != ndim or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"{where}: {name} must be a {ndim}-D integer array, "
                         f"got dtype {values.dtype} shape {values.shape}")
    if values.size and (values.min() < low or values.max() > high):
        bad = values.min() if values.min() < low else values.max()
        raise IndexError(f"{where}: {name} holds item {bad} outside [{low}, {high}]")
    return values.astype(np.int64, copy=False)


def matrix(x, name, where, nonempty=True):
    """A 2-D numeric (float or integer) array, with at least one row if ``nonempty``."""
    x = np.asarray(x)
    if x.ndim != 2 or (nonempty and x.shape[0] == 0) or x.dtype.kind not in "fiu":
        kind = "non-empty 2-D numeric" if nonempty else "2-D numeric"
        raise ValueError(f"{where}: {name} must be a {kind} array, got {x.dtype} {x.shape}")
    return x


def finite_rows(x, name, where):
    """No NaN or inf in ``x`` (n, D); the message gives the first bad row and its start."""
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad.size:
        raise ValueError(f"{where}: {name} row {int(bad[0])} has a NaN or inf entry: {x[bad[0]][:8]}")
    return x


def codes(values, levels, codebook_size, name, where):
    """Integer codes (n, >= ``levels``) whose first ``levels`` columns lie in [0, K) -> those columns."""
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] < levels or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{where}: {name} must be an integer (n, >= {levels}) array, "
                         f"got {values.dtype} {values.shape}")
    values = values[:, :levels]
    if values.size and (values.min() < 0 or values.max() >= codebook_size):
        raise ValueError(f"{where}: {name} must lie in [0, {codebook_size}), "
                         f"found {values.min()}..{values.max()}")
    return values


def same_shape_2d(a, b, names, shape, where):
    """Two 2-D arrays/Tensors of one shape (e.g. SID and HID embeddings, both (n, d))."""
    if a.ndim != 2 or tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{where}: {names} must both be {shape}, got {a.shape} and {b.shape}")
    return a.shape


def shape_is(x, shape, name, where):
    """``x.shape == shape``."""
    if tuple(np.shape(x)) != tuple(shape):
        raise ValueError(f"{where}: {name} must be {tuple(shape)}, got {np.shape(x)}")
    return x
