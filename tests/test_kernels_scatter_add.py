"""scatter_add: every available backend equals the np.add.at reference.

Exact on integer-valued floats (sums of small integers are exact in float32),
within tolerance otherwise; repeated and empty indices; bad input errors.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from _compare import assert_close, assert_same
from minih2rec import _backend
from minih2rec.kernels.scatter_add import scatter_add, scatter_add_ref

IMPLS = _backend.implementations("scatter_add")
DTYPES = [np.float32, np.float64]


def _problem(rng, R, C, n, dtype, integer=False):
    out = rng.integers(-5, 5, (R, C)).astype(dtype) if integer else rng.standard_normal((R, C)).astype(dtype)
    src = rng.integers(-5, 5, (n, C)).astype(dtype) if integer else rng.standard_normal((n, C)).astype(dtype)
    idx = rng.integers(0, R, n).astype(np.int64)
    return out, idx, src


def test_reference_is_a_loop_of_row_additions():
    out = np.zeros((3, 2))
    scatter_add_ref(out, np.array([2, 0, 2]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert_same(out, [[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])


@pytest.mark.parametrize("backend", list(IMPLS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_on_integer_valued_floats(backend, dtype):
    rng = np.random.default_rng(1)
    out, idx, src = _problem(rng, 40, 7, 500, dtype, integer=True)
    expected = scatter_add_ref(out.copy(), idx, src)
    got = IMPLS[backend](out.copy(), idx, src)
    assert got.dtype == dtype
    assert_same(got, expected, what=f"{backend} {np.dtype(dtype).name}")


@pytest.mark.parametrize("backend", list(IMPLS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_close_on_random_floats(backend, dtype):
    rng = np.random.default_rng(2)
    out, idx, src = _problem(rng, 30, 16, 1000, dtype)
    assert_close(IMPLS[backend](out.copy(), idx, src), scatter_add_ref(out.copy(), idx, src),
                 what=f"{backend} {np.dtype(dtype).name}")


@pytest.mark.parametrize("backend", list(IMPLS))
def test_repeated_index_accumulates_every_copy(backend):
    out = np.zeros((4, 3), dtype=np.float32)
    idx = np.full(1000, 2, dtype=np.int64)
    src = np.ones((1000, 3), dtype=np.float32)
    got = IMPLS[backend](out, idx, src)
    expected = np.zeros((4, 3), dtype=np.float32)
    expected[2] = 1000.0
    assert_same(got, expected, what=backend)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_empty_index_leaves_out_unchanged(backend):
    out = np.arange(6, dtype=np.float64).reshape(3, 2)
    got = IMPLS[backend](out.copy(), np.zeros(0, dtype=np.int64), np.zeros((0, 2)))
    assert_same(got, out, what=backend)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_updates_in_place_and_does_not_touch_inputs(backend):
    rng = np.random.default_rng(3)
    out, idx, src = _problem(rng, 10, 4, 50, np.float64)
    idx0, src0 = idx.copy(), src.copy()
    got = IMPLS[backend](out, idx, src)
    assert got is out or np.shares_memory(got, out)
    assert_same(idx, idx0, what="idx mutated")
    assert_same(src, src0, what="src mutated")


@given(R=st.integers(1, 12), C=st.integers(1, 9), n=st.integers(0, 60),
       seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES))
def test_every_backend_matches_reference_on_random_shapes(R, C, n, seed, dtype):
    rng = np.random.default_rng(seed)
    out, idx, src = _problem(rng, R, C, n, dtype, integer=True)
    expected = scatter_add_ref(out.copy(), idx, src)
    for name, fn in IMPLS.items():
        assert_same(fn(out.copy(), idx, src), expected, what=f"{name} R={R} C={C} n={n}")


@pytest.mark.numpy_backend
def test_public_wrapper_accepts_lists_and_other_int_dtypes():
    out = np.zeros((3, 2), dtype=np.float32)
    scatter_add(out, np.array([1, 1], dtype=np.int32), [[1, 2], [3, 4]])
    assert_same(out, np.array([[0, 0], [4, 6], [0, 0]], dtype=np.float32))
    assert_same(scatter_add(out.copy(), [], np.zeros((0, 2))), out)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("bad", [3, -1, 100])
def test_out_of_range_index_raises_index_error(bad):
    out = np.zeros((3, 2))
    with pytest.raises(IndexError, match=str(bad)):
        scatter_add(out, np.array([0, bad]), np.ones((2, 2)))
    assert_same(out, np.zeros((3, 2)), what="out changed by a rejected call")


@pytest.mark.numpy_backend
@pytest.mark.parametrize("out, idx, src", [
    (np.zeros((3, 2)), np.array([0, 1]), np.ones((2, 3))),        # src width
    (np.zeros((3, 2)), np.array([0, 1]), np.ones((3, 2))),        # src length
    (np.zeros(3), np.array([0, 1]), np.ones(2)),                  # out not 2-D
    (np.zeros((3, 2)), np.array([[0, 1]]), np.ones((2, 2))),      # idx not 1-D
    (np.zeros((3, 2)), np.array([0.0, 1.0]), np.ones((2, 2))),    # float idx
    (np.zeros((3, 2), dtype=np.int64), np.array([0, 1]), np.ones((2, 2))),  # int out
    (np.zeros((2, 3)).T, np.array([0, 1]), np.ones((2, 2))),      # not C-contiguous
])
def test_wrong_shape_or_dtype_raises_value_error(out, idx, src):
    with pytest.raises(ValueError, match="scatter_add"):
        scatter_add(out, idx, src)
