"""Behaviour co-occurrence: hand counts, window edges, no cross-user pairs, training data only,
PPMI scaling to [0.3, 1], sparse storage (V = 200,000 stays small)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.data import Interactions, split_leave_one_out
from minih2rec.losses.cooccurrence import CoOccurrence, cooccurrence_counts

pytestmark = pytest.mark.numpy_backend


def count_dict(seqs, num_items, window):
    keys, counts = cooccurrence_counts(seqs, num_items, window)
    w = num_items + 1
    return {(int(k // w), int(k % w)): int(c) for k, c in zip(keys, counts)}


def brute_counts(seqs, window):
    """Obviously-correct double loop: n(i, j) = # times j is within +-window of an i."""
    out = {}
    for s in seqs:
        for t, i in enumerate(s):
            for u in range(max(0, t - window), min(len(s), t + window + 1)):
                if u != t and s[u] != i and i > 0 and s[u] > 0:
                    out[(int(i), int(s[u]))] = out.get((int(i), int(s[u])), 0) + 1
    return out


def test_counts_hand_example_window_edges_and_no_cross_user_pairs():
    seqs = [np.array([1, 2, 3, 4]), np.array([5, 6])]
    got = count_dict(seqs, 6, window=2)
    expected = {}
    for i, j in [(1, 2), (2, 3), (3, 4), (1, 3), (2, 4), (5, 6)]:   # offsets 1 and 2 only
        expected[(i, j)] = expected[(j, i)] = 1
    assert got == expected
    assert (1, 4) not in got                       # distance 3 > window
    assert (4, 5) not in got and (3, 5) not in got  # would cross from user 0 to user 1


def test_counts_repeated_items_and_self_pairs():
    got = count_dict([np.array([1, 2, 1])], 2, window=2)
    assert got == {(1, 2): 2, (2, 1): 2}           # two 1s near the 2; (1, 1) never counted


def test_padding_is_ignored():
    got = count_dict([np.array([0, 0, 3, 4])], 4, window=3)
    assert got == {(3, 4): 1, (4, 3): 1}


@given(st.lists(st.lists(st.integers(1, 6), max_size=7), max_size=4), st.integers(1, 4))
def test_counts_match_brute_force(seqs, window):
    seqs = [np.array(s, dtype=np.int64) for s in seqs]
    assert count_dict(seqs, 6, window) == brute_counts(seqs, window)


def test_only_training_items_enter():
    inter = Interactions(sequences=[np.array([1, 2, 3, 4, 5]), np.array([2, 3, 6, 7])],
                         num_items=7, user_ids=np.arange(2), item_ids=np.arange(8))
    split = split_leave_one_out(inter)             # valid/test targets: 4, 5 and 6, 7
    cooc = CoOccurrence.from_sequences(split.train, 7)
    for held_out in (4, 5, 6, 7):
        assert cooc.neighbors(held_out)[0].size == 0
        assert 0 <= cooc.indptr[held_out] == cooc.indptr[held_out + 1]
    assert set(cooc.neighbors(1)[0].tolist()) <= {2, 3}


def test_ppmi_values_and_scaling():
    # 2 and 7 are busy items that meet once: PMI(2, 7) < 0, so that pair is dropped.
    seqs = [np.array([1, 2, 3]), np.array([1, 2, 4]), np.array([3, 5, 3, 6]),
            np.array([7, 8, 7, 9, 7, 2])]
    cooc = CoOccurrence.from_sequences(seqs, 9, window=1)
    n = count_dict(seqs, 9, 1)
    total = sum(n.values())
    marg = {i: sum(c for (a, _), c in n.items() if a == i) for i in range(1, 10)}
    for i in range(1, 10):
        ids, w = cooc.neighbors(i)
        for j, wj in zip(ids, w):
            pmi = np.log(n[(i, int(j))] * total / (marg[i] * marg[int(j)]))
            assert pmi > 0
            assert np.isclose(cooc.ppmi[cooc.indptr[i] + list(ids).index(j)], pmi)
    assert cooc.weights.min() == pytest.approx(0.3) and cooc.weights.max() == pytest.approx(1.0)
    assert np.all((cooc.weights >= 0.3) & (cooc.weights <= 1.0))
    assert np.all(cooc.ppmi > 0)
    # pairs with PMI <= 0 are dropped: every counted pair not stored has PMI <= 0
    stored = {(i, int(j)) for i in range(10) for j in cooc.neighbors(i)[0]}
    assert (2, 7) in n and (2, 7) not in stored and (7, 2) not in stored
    for (i, j), c in n.items():
        if (i, j) not in stored:
            assert np.log(c * total / (marg[i] * marg[j])) <= 1e-12


@given(st.lists(st.lists(st.integers(1, 8), min_size=2, max_size=8), min_size=1, max_size=5))
def test_weights_in_range_symmetric_and_csr_sorted(seqs):
    cooc = CoOccurrence.from_sequences([np.array(s) for s in seqs], 8, window=3)
    assert np.all((cooc.weights >= 0.3 - 1e-12) & (cooc.weights <= 1.0 + 1e-12))
    items = np.arange(9)
    W = cooc.weights_between(items)
    np.testing.assert_allclose(W, W.T)             # PPMI is symmetric
    assert np.all(np.diag(W) == 0)
    for i in range(9):
        ids, w = cooc.neighbors(i)
        assert np.all(np.diff(ids) > 0)
        np.testing.assert_array_equal(W[i, ids], w)
        assert np.count_nonzero(W[i]) == ids.size


def test_weights_between_hand_example():
    cooc = CoOccurrence.from_sequences([np.array([1, 2]), np.array([3, 4])], 5, window=1)
    W = cooc.weights_between(np.array([1, 2, 3]), np.array([2, 4, 5, 1]))
    expected = np.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0], [0, 1.0, 0, 0]])   # all PPMI equal -> 1
    np.testing.assert_array_equal(W, expected)


def test_large_catalogue_is_sparse():
    V = 200_000
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, V + 1, size=50) for _ in range(20)] + [np.array([V, 1, V - 1])]
    cooc = CoOccurrence.from_sequences(seqs, V, window=3)
    W = cooc.weights_between(np.array([1, V, V - 1, 7]))
    assert cooc.nbytes() < 4 * 8 * (V + 2) + 64 * cooc.nnz   # O(V + nnz); dense would be 320 GB
    assert cooc.nnz <= 2 * 3 * 50 * 21
    assert W[1, 0] > 0 and W[2, 1] > 0


def test_bad_input_raises():
    with pytest.raises(IndexError, match="item 9"):
        CoOccurrence.from_sequences([np.array([1, 9])], 5)
    with pytest.raises(ValueError, match="window"):
        CoOccurrence.from_sequences([np.array([1, 2])], 5, window=0)
    cooc = CoOccurrence.from_sequences([np.array([1, 2])], 5)
    with pytest.raises(IndexError, match="6"):
        cooc.weights_between(np.array([1, 6]))
    with pytest.raises(IndexError):
        cooc.neighbors(6)


def test_empty_input():
    cooc = CoOccurrence.from_sequences([np.array([], dtype=np.int64), np.array([3])], 4)
    assert cooc.nnz == 0
    assert cooc.weights_between(np.array([1, 2])).sum() == 0
