"""topk_exclude: every backend returns exactly the reference ids.

Pinned rules: sorted by score descending, ties -> lowest column id first,
excluded columns never returned, allowed ``-inf`` columns still count, ``-1``
padding when a row has fewer than k allowed columns. A plain-Python oracle
(sort every allowed column by ``(-score, id)``) checks the reference itself.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from _compare import assert_same
from minih2rec import _backend
from minih2rec.kernels.topk import topk_exclude, topk_exclude_ref

IMPLS = _backend.implementations("topk_exclude")
DTYPES = [np.float32, np.float64]


def _oracle(scores, k, indptr, indices):
    """Obviously-correct top-k: sort the allowed columns of each row by (-score, id)."""
    B, V1 = scores.shape
    ids = np.full((B, k), -1, dtype=np.int64)
    for b in range(B):
        excluded = set(indices[indptr[b]:indptr[b + 1]].tolist())
        allowed = sorted((j for j in range(V1) if j not in excluded), key=lambda j: (-scores[b, j], j))
        ids[b, :min(k, len(allowed))] = allowed[:k]
    return ids


def _exclusions(rng, B, V1, max_per_row):
    counts = rng.integers(0, max_per_row + 1, B)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = rng.integers(0, max(V1, 1), indptr[-1]).astype(np.int64)   # repeats allowed
    return indptr, indices


def _check_all(scores, k, indptr, indices, expected=None):
    expected = topk_exclude_ref(scores, k, indptr, indices) if expected is None else expected
    for name, fn in IMPLS.items():
        assert_same(fn(scores, k, indptr, indices), expected,
                    what=f"{name} {scores.dtype} shape {scores.shape} k={k}")
    return expected


def test_reference_matches_the_python_oracle_on_a_small_example():
    scores = np.array([[0.5, 2.0, 2.0, -1.0, 2.0],
                       [1.0, 1.0, 1.0, 1.0, 1.0]])
    indptr = np.array([0, 1, 3])
    indices = np.array([2, 0, 0])       # row 0 drops column 2; row 1 drops column 0 (twice)
    got = topk_exclude_ref(scores, 3, indptr, indices)
    assert_same(got, [[1, 4, 0], [1, 2, 3]])
    assert_same(got, _oracle(scores, 3, indptr, indices))


@pytest.mark.parametrize("backend", list(IMPLS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_distinct_scores_match_reference_exactly(backend, dtype):
    rng = np.random.default_rng(0)
    B, V1, k = 64, 500, 20
    scores = np.stack([rng.permutation(V1) for _ in range(B)]).astype(dtype)   # no ties at all
    indptr, indices = _exclusions(rng, B, V1, 60)
    expected = topk_exclude_ref(scores, k, indptr, indices)
    assert_same(expected, _oracle(scores, k, indptr, indices), what="reference vs oracle")
    assert_same(IMPLS[backend](scores, k, indptr, indices), expected, what=backend)


@given(B=st.integers(1, 6), V1=st.integers(1, 30), k=st.integers(1, 35),
       levels=st.integers(1, 4), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(DTYPES), neg_inf=st.booleans())
def test_many_duplicated_scores_pin_the_lowest_index_tie_rule(B, V1, k, levels, seed, dtype, neg_inf):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, (B, V1)).astype(dtype)    # few distinct values: ties everywhere
    if neg_inf:
        scores[rng.random((B, V1)) < 0.3] = -np.inf             # allowed -inf still ranks (last)
    indptr, indices = _exclusions(rng, B, V1, V1 + 2)
    expected = _oracle(scores, k, indptr, indices)
    _check_all(scores, k, indptr, indices, expected)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_excluded_columns_are_never_returned(backend):
    rng = np.random.default_rng(5)
    B, V1, k = 30, 200, 25
    scores = rng.standard_normal((B, V1))
    # exclude exactly the 40 best columns of each row: none of them may come back
    best = np.argsort(-scores, axis=1)[:, :40]
    indptr = np.arange(0, 40 * B + 1, 40, dtype=np.int64)
    indices = best.ravel().astype(np.int64)
    got = IMPLS[backend](scores, k, indptr, indices)
    for b in range(B):
        assert not set(got[b].tolist()) & set(best[b].tolist()), f"{backend}: row {b} returned an excluded id"
    assert_same(got, topk_exclude_ref(scores, k, indptr, indices), what=backend)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_rows_with_fewer_allowed_columns_are_padded_with_minus_one(backend):
    scores = np.array([[3.0, 1.0, 2.0, 0.0],
                       [3.0, 1.0, 2.0, 0.0],
                       [-np.inf, -np.inf, 5.0, -np.inf]])
    indptr = np.array([0, 4, 6, 7])
    indices = np.array([0, 1, 2, 3,  0, 2,  3])   # row 0: everything excluded
    got = IMPLS[backend](scores, 6, indptr, indices)
    assert_same(got, [[-1, -1, -1, -1, -1, -1],
                      [1, 3, -1, -1, -1, -1],
                      [2, 0, 1, -1, -1, -1]], what=backend)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_k_larger_than_columns_and_empty_shapes(backend):
    fn = IMPLS[backend]
    assert_same(fn(np.array([[1.0, 2.0]]), 5, np.array([0, 0]), np.zeros(0, np.int64)),
                [[1, 0, -1, -1, -1]], what=backend)
    assert fn(np.zeros((0, 4)), 3, np.array([0]), np.zeros(0, np.int64)).shape == (0, 3)
    assert_same(fn(np.zeros((2, 0)), 2, np.array([0, 0, 0]), np.zeros(0, np.int64)),
                np.full((2, 2), -1), what=backend)


@pytest.mark.numpy_backend
def test_public_wrapper_accepts_int32_csr_and_returns_int64():
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]], dtype=np.float32)
    got = topk_exclude(scores, 2, np.array([0, 1, 1], dtype=np.int32), np.array([1], dtype=np.int32))
    assert got.dtype == np.int64
    assert_same(got, [[2, 0], [0, 2]])


@pytest.mark.numpy_backend
def test_nan_score_raises_value_error_naming_the_row():
    scores = np.zeros((4, 5))
    scores[2, 3] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        topk_exclude(scores, 2, np.zeros(5, np.int64), np.zeros(0, np.int64))


@pytest.mark.numpy_backend
@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_bad_k_raises_value_error(k):
    with pytest.raises(ValueError, match="k must be"):
        topk_exclude(np.zeros((2, 3)), k, np.zeros(3, np.int64), np.zeros(0, np.int64))


@pytest.mark.numpy_backend
@pytest.mark.parametrize("scores, indptr, indices", [
    (np.zeros(3), np.array([0, 0]), np.zeros(0, np.int64)),                # 1-D scores
    (np.zeros((2, 3), np.int64), np.zeros(3, np.int64), np.zeros(0, np.int64)),  # int scores
    (np.zeros((2, 3)), np.zeros(2, np.int64), np.zeros(0, np.int64)),      # indptr too short
    (np.zeros((2, 3)), np.array([0, 2, 1]), np.array([0, 1])),            # indptr decreases
    (np.zeros((2, 3)), np.array([1, 1, 2]), np.array([0, 1])),            # does not start at 0
    (np.zeros((2, 3)), np.array([0, 1, 1]), np.array([0, 1])),            # does not end at nnz
    (np.zeros((2, 3)), np.array([0, 1, 2]), np.array([0.0, 1.0])),        # float indices
])
def test_bad_shapes_and_indptr_raise_value_error(scores, indptr, indices):
    with pytest.raises(ValueError, match="topk_exclude"):
        topk_exclude(scores, 1, indptr, indices)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("bad", [-1, 3, 99])
def test_excluded_id_out_of_range_raises_index_error(bad):
    with pytest.raises(IndexError, match=str(bad)):
        topk_exclude(np.zeros((2, 3)), 1, np.array([0, 1, 2]), np.array([0, bad]))
