"""Head/tail split, popularity buckets and length groups on hand examples."""
import numpy as np
import pytest

from minih2rec.eval.groups import (bucket_of, group_means, head_items, item_groups, length_groups,
                                   user_group_masks)

pytestmark = pytest.mark.numpy_backend


def test_head_is_top_share_with_ties_to_lower_id():
    #              0  1  2  3  4  5  6  7  8  9  10
    pop = np.array([0, 5, 9, 9, 1, 0, 3, 9, 2, 0, 4])
    head = head_items(pop, 0.2)                      # floor(0.2 * 10) = 2 items
    # items 2, 3, 7 all have 9: the cut keeps the two lowest ids
    assert np.flatnonzero(head).tolist() == [2, 3]
    assert np.flatnonzero(head_items(pop, 0.5)).tolist() == [1, 2, 3, 7, 10]
    assert not head_items(pop, 1.0)[0] and head_items(pop, 1.0)[1:].all()


def test_head_at_least_one_item_and_bad_inputs():
    assert head_items(np.array([0, 1, 2]), 0.2).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="head_share"):
        head_items(np.array([0, 1]), 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        head_items(np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="length V\\+1"):
        head_items(np.array([[0, 1]]))


def test_buckets_edges():
    counts = [0, 9, 10, 29, 30, 59, 60, 99, 100, 500]
    assert bucket_of(counts).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_item_groups_by_hand():
    #              pad  1  2   3   4   5   6   7   8    9   10
    pop = np.array([7, 0, 9, 10, 29, 30, 59, 60, 99, 100, 500])
    g = item_groups(pop, 0.2)
    assert list(g) == ["head", "tail", "bucket 0-9", "bucket 10-29", "bucket 30-59",
                       "bucket 60-99", "bucket >=100"]
    assert np.flatnonzero(g["head"]).tolist() == [9, 10]
    assert np.flatnonzero(g["tail"]).tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert np.flatnonzero(g["bucket 0-9"]).tolist() == [1, 2]      # item 1 never seen in training
    assert np.flatnonzero(g["bucket 10-29"]).tolist() == [3, 4]
    assert np.flatnonzero(g["bucket 30-59"]).tolist() == [5, 6]
    assert np.flatnonzero(g["bucket 60-99"]).tolist() == [7, 8]
    assert np.flatnonzero(g["bucket >=100"]).tolist() == [9, 10]
    assert not any(m[0] for m in g.values())                        # padding is in no group


def test_length_groups_edges():
    g = length_groups([0, 5, 6, 10, 11, 20, 21, 50, 51, 400])
    assert {k: np.flatnonzero(v).tolist() for k, v in g.items()} == {
        "len <=5": [0, 1], "len 6-10": [2, 3], "len 11-20": [4, 5], "len 21-50": [6, 7],
        "len >50": [8, 9]}


def test_group_means_and_counts():
    per_user = {"HR@1": np.array([1.0, 0.0, 1.0, 0.0]), "NDCG@1": np.array([1.0, 0.0, 1.0, 0.0])}
    masks = {"a": np.array([True, True, False, False]), "b": np.array([False, False, True, False]),
             "empty": np.zeros(4, bool)}
    means, counts = group_means(per_user, masks)
    assert means["a"] == {"HR@1": 0.5, "NDCG@1": 0.5}
    assert means["b"]["HR@1"] == 1.0
    assert np.isnan(means["empty"]["HR@1"])
    assert counts == {"a": 2, "b": 1, "empty": 0}


def test_user_group_masks_follow_target_item():
    pop = np.array([0, 50, 1, 200, 3, 12])           # V = 5, head = floor(1.0) = 1 item: item 3
    targets = np.array([3, 2, 5, 3])
    masks, item_counts = user_group_masks(targets, [4, 7, 60, 12], pop)
    assert masks["head"].tolist() == [True, False, False, True]
    assert masks["tail"].tolist() == [False, True, True, False]
    assert masks["bucket >=100"].tolist() == [True, False, False, True]
    assert masks["bucket 0-9"].tolist() == [False, True, False, False]
    assert masks["bucket 10-29"].tolist() == [False, False, True, False]
    assert masks["len <=5"].tolist() == [True, False, False, False]
    assert masks["len >50"].tolist() == [False, False, True, False]
    assert item_counts["head"] == 1 and item_counts["tail"] == 4
    assert item_counts["bucket 0-9"] == 2 and item_counts["bucket 30-59"] == 1
