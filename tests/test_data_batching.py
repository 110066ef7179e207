"""Training batches (padding, shift, dynamic length, buckets, negatives) and eval helpers."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.data import (Interactions, TrainBatches,
                            make_synthetic, split_leave_one_out)


def make_split(sequences, V):
    inter = Interactions(sequences=sequences, num_items=V, user_ids=np.arange(len(sequences)),
                         item_ids=np.arange(V + 1))
    return split_leave_one_out(inter)


def test_padding_and_target_shift():
    seqs = [[5, 7, 9, 2], [3, 4], [1]]
    tb = TrainBatches(seqs, batch_size=8, max_len=5, rng=np.random.default_rng(0), dynamic=False)
    b = tb.make_batch([0, 1])
    assert b.seq.tolist() == [[0, 0, 5, 7, 9], [0, 0, 0, 0, 3]]
    assert b.target.tolist() == [[0, 0, 7, 9, 2], [0, 0, 0, 0, 4]]
    assert b.positions.tolist() == [0, 1, 2, 3, 4]
    assert b.neg is None and b.num_targets == 4
    assert tb.users.tolist() == [0, 1]                    # user 2 (one item) has no target


def test_truncation_keeps_last_max_len():
    tb = TrainBatches([[1, 2, 3, 4, 5, 6]], 4, max_len=3, rng=np.random.default_rng(0))
    b = tb.make_batch([0])
    assert b.seq.tolist() == [[3, 4, 5]] and b.target.tolist() == [[4, 5, 6]]
    assert b.positions.tolist() == [0, 1, 2]


def test_dynamic_length_equals_full_padding_with_absolute_positions():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(1, 30, size=n) for n in (3, 5, 4, 2, 12)]
    full = TrainBatches(seqs, 8, max_len=10, rng=rng, dynamic=False).make_batch([0, 1, 2, 3])
    dyn = TrainBatches(seqs, 8, max_len=10, rng=rng, dynamic=True).make_batch([0, 1, 2, 3])
    T = dyn.seq.shape[1]
    assert T == 4                                          # longest input: 5 - 1
    assert dyn.positions.tolist() == list(range(10 - T, 10))
    np.testing.assert_array_equal(full.seq[:, -T:], dyn.seq)
    np.testing.assert_array_equal(full.target[:, -T:], dyn.target)
    np.testing.assert_array_equal(full.positions[-T:], dyn.positions)
    assert (full.seq[:, :-T] == 0).all() and (full.target[:, :-T] == 0).all()


@given(st.lists(st.integers(0, 15), min_size=1, max_size=40), st.integers(1, 7),
       st.booleans(), st.integers(0, 2**16))
def test_last_window_epoch_covers_every_user_exactly_once(lengths, batch_size, bucket, seed):
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, 20, size=n) for n in lengths]
    tb = TrainBatches(seqs, batch_size, max_len=6, rng=rng, bucket=bucket, window_stride=0)
    batches = list(tb)
    users = np.concatenate([b.users for b in batches]) if batches else np.array([], int)
    expected = [u for u, n in enumerate(lengths) if n >= 2]
    assert sorted(users.tolist()) == expected
    assert len(batches) == len(tb)
    for b in batches:
        assert b.seq.shape == b.target.shape == (len(b.users), len(b.positions))
        assert b.positions[-1] == 5 and (b.target[:, -1] > 0).all()
        assert len(b.users) <= batch_size


@given(st.lists(st.integers(0, 30), min_size=1, max_size=30), st.integers(1, 7), st.integers(1, 8),
       st.sampled_from([0.25, 0.5, 1.0]), st.booleans(), st.integers(0, 2**16))
def test_windows_cover_every_training_item_every_stride(lengths, batch_size, max_len, stride, bucket, seed):
    rng = np.random.default_rng(seed)
    seqs = [np.arange(1, n + 1) + 100 * u for u, n in enumerate(lengths)]   # item = 100 u + position
    tb = TrainBatches(seqs, batch_size, max_len=max_len, rng=rng, bucket=bucket, window_stride=stride)
    S = max(1, round(stride * max_len))
    batches = list(tb)
    assert len(batches) == len(tb)
    targets, ends = [], {}
    for b in batches:
        assert len(b.users) <= batch_size and b.positions[-1] == max_len - 1
        real = b.target > 0
        assert real[:, -1].all() and ((b.seq > 0) == real).all()        # input and target aligned
        assert (b.target[real] == b.seq[real] + 1).all()                 # the next item of that user
        assert ((b.target // 100)[real] == np.repeat(b.users, real.sum(1))).all()
        targets += b.target[real].tolist()
        for u, last, n_real in zip(b.users, b.target[:, -1] % 100, real.sum(1)):
            ends.setdefault(int(u), []).append(int(last))
            assert n_real == min(int(last) - 1, max_len)                 # a row is as long as it can be
    assert set(targets) == {100 * u + i for u, n in enumerate(lengths) for i in range(2, n + 1)}
    for u, e in ends.items():                              # the last row, then every S items back
        assert sorted(e, reverse=True) == list(range(lengths[u], 1, -S))


def test_window_stride_example_and_last_window_only():
    tb = TrainBatches([list(range(1, 13)), [1]], 8, max_len=6, rng=np.random.default_rng(0), dynamic=False)
    b = tb.make_batch(tb.rows)                             # the module docstring's example
    assert b.users.tolist() == [0, 0, 0, 0]
    assert b.seq.tolist() == [[6, 7, 8, 9, 10, 11], [3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 1, 2]]
    assert b.target.tolist() == [[7, 8, 9, 10, 11, 12], [4, 5, 6, 7, 8, 9], [0, 2, 3, 4, 5, 6],
                                 [0, 0, 0, 0, 2, 3]]
    last = TrainBatches([list(range(1, 13)), [1]], 8, max_len=6, rng=np.random.default_rng(0),
                        window_stride=0)
    assert last.rows.tolist() == [0] and len(last) == 1
    assert last.make_batch([0]).target.tolist() == [[7, 8, 9, 10, 11, 12]]
    with pytest.raises(ValueError, match="window_stride"):
        TrainBatches([[1, 2]], 2, 4, np.random.default_rng(0), window_stride=2)


def test_bucket_batches_are_homogeneous_and_order_is_shuffled():
    lengths = [2] * 8 + [30] * 8
    rng = np.random.default_rng(0)
    seqs = [rng.permutation(np.arange(1, 40))[:n] for n in lengths]
    tb = TrainBatches(seqs, 8, max_len=20, rng=rng, bucket=True, window_stride=0)
    orders = set()
    for _ in range(6):
        batches = list(tb)
        assert sorted(b.seq.shape[1] for b in batches) == [1, 20]   # short batch is 1 wide
        orders.add(tuple(b.seq.shape[1] for b in batches))
    assert len(orders) == 2


def test_negatives_avoid_user_items_and_padding():
    inter = make_synthetic("tiny", seed=3)
    split = split_leave_one_out(inter)
    tb = TrainBatches(split, 32, max_len=15, rng=np.random.default_rng(0), negatives=True)
    for b in tb:
        real = b.target > 0
        assert (b.neg[~real] == 0).all() and (b.neg[real] >= 1).all()
        assert (b.neg <= split.num_items).all()
        for row, u in enumerate(b.users):
            assert not np.isin(b.neg[row][real[row]], split.train[u]).any()


def test_negatives_when_user_has_almost_every_item():
    # user 0 has 5 of 6 items: only item 6 is a valid negative (exercises the fallback)
    tb = TrainBatches([[1, 2, 3, 4, 5], [6, 1]], 2, max_len=4, rng=np.random.default_rng(0),
                      num_items=6, negatives=True)
    b = tb.make_batch([0])
    assert set(b.neg[b.target > 0].tolist()) == {6}
    with pytest.raises(ValueError, match="all 2 items"):
        TrainBatches([[1, 2]], 2, 4, np.random.default_rng(0), num_items=2, negatives=True)
    with pytest.raises(ValueError, match="num_items"):
        TrainBatches([[1, 2]], 2, 4, np.random.default_rng(0), negatives=True)


