"""HR@K / NDCG@K and the two rank helpers, checked against hand-computed values."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.eval.metrics import (hit_rate, metric_names, metrics_from_ranks, ndcg,
                                    rank_among_candidates, rank_in_topk)

pytestmark = pytest.mark.numpy_backend


def test_hit_rate_by_hand():
    ranks = [0, 4, 5, 9, 10]
    np.testing.assert_array_equal(hit_rate(ranks, 5), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(hit_rate(ranks, 10), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(hit_rate(ranks, 1), [1, 0, 0, 0, 0])


def test_ndcg_by_hand():
    # rank 0 -> 1/log2(2) = 1; rank 1 -> 1/log2(3); rank 3 -> 1/log2(5) ; rank 5 is outside @5
    got = ndcg([0, 1, 3, 5], 5)
    want = [1.0, 0.6309297535714575, 0.43067655807339306, 0.0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ndcg([5], 6), [1 / math.log2(7)])


def test_metrics_from_ranks_names_and_means():
    ranks = np.array([0, 2, 7])
    m = metrics_from_ranks(ranks, (1, 5))
    assert list(m) == metric_names((1, 5)) == ["HR@1", "NDCG@1", "HR@5", "NDCG@5"]
    assert m["HR@1"].mean() == pytest.approx(1 / 3)
    assert m["HR@5"].mean() == pytest.approx(2 / 3)
    assert m["NDCG@5"].mean() == pytest.approx((1 + 0.5) / 3)       # rank 2 -> 1/log2(4) = 0.5


def test_rank_in_topk_position_or_k():
    ids = np.array([[3, 1, 2], [5, 6, 7], [1, -1, -1]])
    np.testing.assert_array_equal(rank_in_topk(ids, [1, 9, 1]), [1, 3, 0])
    with pytest.raises(ValueError, match="rank_in_topk"):
        rank_in_topk(ids, [1, 2])


def test_rank_among_candidates_ties_count_against_target():
    # target 0.5; negatives 0.1 (below), 0.5 (tie -> above), 0.9 (above) -> rank 2
    assert rank_among_candidates([0.5], [[0.1, 0.5, 0.9]]).tolist() == [2]
    # constant scores: the worst rank N, not the best
    assert rank_among_candidates([1.0, 0.0], np.zeros((2, 4)) + [[1.0], [0.0]]).tolist() == [4, 4]
    assert rank_among_candidates([2.0], [[0.1, 0.5, 0.9]]).tolist() == [0]


def test_rank_among_candidates_rejects_nan():
    with pytest.raises(ValueError, match="NaN score in row 1"):
        rank_among_candidates([0.1, 0.2], [[0.0, 1.0], [np.nan, 1.0]])


@pytest.mark.parametrize("bad_k", [0, -1, 2.5])
def test_bad_cutoff(bad_k):
    with pytest.raises(ValueError, match="cutoff"):
        hit_rate([0], bad_k)


def test_bad_ranks():
    with pytest.raises(ValueError, match=">= 0"):
        ndcg([-1, 0], 5)
    with pytest.raises(ValueError, match="integers"):
        ndcg([0.5], 5)


@given(st.lists(st.integers(0, 60), min_size=1, max_size=30), st.integers(1, 50), st.integers(0, 10))
def test_metric_properties(ranks, k, extra):
    hr, nd = hit_rate(ranks, k), ndcg(ranks, k)
    assert ((nd > 0) == (hr > 0)).all()              # a gain exactly when there is a hit
    assert (nd <= hr).all() and (nd >= 0).all()
    assert (ndcg(ranks, k + extra) >= nd).all()      # a longer list never scores less
    assert (hit_rate(ranks, k + extra) >= hr).all()
