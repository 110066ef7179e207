"""The input-check helpers: each passes good input through and names the function, argument and value."""
import numpy as np
import pytest

from minih2rec import validate


def test_numbers():
    assert validate.positive(0.5, "tau", "f") == 0.5
    with pytest.raises(ValueError, match=r"^f: tau must be > 0, got nan$"):
        validate.positive(float("nan"), "tau", "f")
    assert validate.at_least(0, 0, "tol", "g") == 0
    with pytest.raises(ValueError, match=r"^g: tol must be >= 0, got -1e-09$"):
        validate.at_least(-1e-9, 0, "tol", "g")
    assert validate.whole(3.0, "window", "h") == 3 and isinstance(validate.whole(3.0, "window", "h"), int)
    for bad in (True, 2.5, 0, "3"):
        with pytest.raises(ValueError, match=r"^h: window must be an integer >= 1"):
            validate.whole(bad, "window", "h")
    assert validate.in_range(2, 1, 3, "n_mask", "k") == 2
    with pytest.raises(ValueError, match=r"^k: n_mask must be in \[1, 3\], got 4$"):
        validate.in_range(4, 1, 3, "n_mask", "k")
    with pytest.raises(ValueError, match=r"protocol must be one of \('full', 'sampled'\), got 'x'"):
        validate.choice("x", ("full", "sampled"), "protocol", "evaluate")


def test_arrays():
    out = validate.ids(np.array([0, 5], dtype=np.int32), "items", "f", 0, 5)
    assert out.dtype == np.int64
    with pytest.raises(IndexError, match=r"^f: items holds item 6 outside \[0, 5\]$"):
        validate.ids([1, 6], "items", "f", 0, 5)
    with pytest.raises(ValueError, match="1-D integer array, got dtype float64"):
        validate.ids([1.0], "items", "f", 0, 5)
    assert validate.ids(np.zeros(0), "items", "f", 0, 5).size == 0          # empty: any dtype
    with pytest.raises(ValueError, match=r"non-empty 2-D numeric array, got float64 \(0, 3\)"):
        validate.matrix(np.zeros((0, 3)), "x", "f")
    with pytest.raises(ValueError, match=r"x row 1 has a NaN or inf"):
        validate.finite_rows(np.array([[0.0], [np.inf]]), "x", "f")
    codes = validate.codes(np.array([[0, 1, 9]]), 2, 2, "codes", "dec")      # extra column ignored
    np.testing.assert_array_equal(codes, [[0, 1]])
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 2\), found 0\.\.2"):
        validate.codes(np.array([[0, 2]]), 2, 2, "codes", "dec")
    with pytest.raises(ValueError, match=r"integer \(n, >= 3\) array"):
        validate.codes(np.array([[0, 1]]), 3, 2, "codes", "dec")
    assert validate.same_shape_2d(np.zeros((2, 3)), np.ones((2, 3)), "a and b", "(n, d)", "f") == (2, 3)
    with pytest.raises(ValueError, match=r"a and b must both be \(n, d\), got \(2, 3\) and \(3, 3\)"):
        validate.same_shape_2d(np.zeros((2, 3)), np.ones((3, 3)), "a and b", "(n, d)", "f")
    with pytest.raises(ValueError, match=r"W must be \(2, 2\), got \(3,\)"):
        validate.shape_is(np.zeros(3), (2, 2), "W", "f")
