"""Leave-one-out split on a hand example, including users with fewer than 3 items."""
import numpy as np
import pytest

from minih2rec.data import Interactions, split_leave_one_out


@pytest.fixture
def split():
    inter = Interactions(sequences=[[1, 2, 3, 4], [3, 1, 2], [2, 4], [5]], num_items=5,
                         user_ids=np.arange(4), item_ids=np.arange(6), name="toy")
    return split_leave_one_out(inter)


def test_hand_example(split):
    assert [s.tolist() for s in split.train] == [[1, 2], [3], [2, 4], [5]]
    assert split.valid_target.tolist() == [3, 1, 0, 0]
    assert split.test_target.tolist() == [4, 2, 0, 0]
    assert split.valid_target.dtype == split.test_target.dtype == np.int64
    assert split.num_items == 5 and split.num_users == 4 and split.name == "toy"


def test_short_users_train_only_and_not_evaluated(split):
    assert split.eval_users("valid").tolist() == [0, 1]
    assert split.eval_users("test").tolist() == [0, 1]


def test_history_per_stage(split):
    assert [h.tolist() for h in split.history("valid")] == [[1, 2], [3], [2, 4], [5]]
    assert [h.tolist() for h in split.history("test")] == [[1, 2, 3], [3, 1], [2, 4], [5]]
    with pytest.raises(ValueError, match="stage"):
        split.history("train")


def test_train_popularity_counts_training_items_only(split):
    assert split.train_popularity().tolist() == [0, 1, 2, 1, 1, 1]  # valid 3, 1 not counted


def test_split_does_not_alias_input():
    inter = Interactions(sequences=[[1, 2, 3]], num_items=3, user_ids=[0], item_ids=[0, 1, 2, 3])
    s = split_leave_one_out(inter)
    s.train[0][0] = 3
    assert inter.sequences[0].tolist() == [1, 2, 3]
