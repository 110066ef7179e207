"""``check``: tell a learner at once whether an exercise answer is right.

Every exercise in the tutorials ends with ::

    yours = None  # TODO: your answer
    check("3.1 causal mask for Tq=3, Tk=5", yours, expected)

and ``check`` prints one line that starts with ``[check]`` and says one of

* ``exact``                      -- same values (and shape) as the expected answer;
* ``close (max diff 3.1e-08)``   -- equal within the tolerance ``atol + rtol * |expected|``;
* ``WRONG SHAPE (yours (3,) vs expected (3, 4))``;
* ``WRONG (max diff 0.5 at index (1, 2): yours 1.0 vs expected 0.5)``;
* ``not attempted yet (replace the None)`` -- ``yours`` is still ``None``.

It returns True for exact / close and False otherwise, so a solution can
``assert check(...)`` (nn-zero-to-hero's ``cmp()`` and d2l's self-checks work the same way).
Answers may be numbers, bools, strings, lists, NumPy arrays or minih2rec Tensors.
"""
import numpy as np

__all__ = ["check"]


def _as_array(x):
    """Tensor -> its ndarray; lists/tuples element by element; anything else -> ``np.asarray``."""
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):   # a minih2rec Tensor
        return data
    if isinstance(x, (list, tuple)):
        return np.asarray([_as_array(e) for e in x])
    return np.asarray(x)


def _report(name, status):
    print(f"[check] {name}: {status}")


def check(name, yours, expected, atol=1e-6, rtol=1e-5):
    """Compare an exercise answer with the expected one and print the verdict.

    Parameters
    ----------
    name : str -- the exercise, e.g. ``"1.2 gradient of b"``.
    yours : the learner's answer, or None when not attempted yet.
    expected : the reference answer (computed by the package, or by hand).
    atol, rtol : float -- floats are "close" when ``|yours - expected| <= atol + rtol * |expected|``.

    Returns
    -------
    bool -- True for an exact or close answer.
    """
    if yours is None:
        _report(name, "not attempted yet (replace the None)")
        return False
    try:
        a, b = _as_array(yours), _as_array(expected)
    except Exception as exc:                                  # e.g. ragged lists
        _report(name, f"WRONG (cannot turn the answer into an array: {exc})")
        return False
    if a.shape != b.shape:
        _report(name, f"WRONG SHAPE (yours {a.shape} vs expected {b.shape})")
        return False
    numeric = a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
    if not numeric:                                           # strings, objects: equality only
        ok = bool(np.all(a == b))
        _report(name, "exact" if ok else f"WRONG (yours {yours!r} vs expected {expected!r})")
        return ok
    if a.size == 0 or np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"):
        _report(name, "exact")
        return True
    if a.dtype.kind == "b" or b.dtype.kind == "b":            # bools must match exactly
        bad = np.argwhere(a != b)[0]
        _report(name, f"WRONG (first mismatch at index {tuple(int(i) for i in bad)}: "
                      f"yours {a[tuple(bad)]} vs expected {b[tuple(bad)]})")
        return False
    af, bf = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(af - bf)
    diff = np.where(np.isnan(af) & np.isnan(bf), 0.0, diff)   # NaN where NaN is expected is fine
    diff = np.where(np.isnan(diff), np.inf, diff)
    excess = diff - (atol + rtol * np.abs(np.nan_to_num(bf)))
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    if excess[worst] <= 0:
        _report(name, f"close (max diff {diff.max():.2g})")
        return True
    where = f" at index {tuple(int(i) for i in worst)}" if a.ndim else ""
    _report(name, f"WRONG (max diff {diff[worst]:.3g}{where}: yours {af[worst]:.6g} vs "
                  f"expected {bf[worst]:.6g})")
    return False
