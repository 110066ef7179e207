"""evaluate(): full and sampled protocols against ranks computed by hand.

Hand split (V = 10 items); the fake model scores item i as i for every user, so the
ranking of all items is 10, 9, 8, ..., 1.

    user  train        valid  test   full sequence (distinct)   never seen
    0     [10, 9, 3]   4      5      {3,4,5,9,10}               {1,2,6,7,8}
    1     [1, 2, 6]    3      8      {1,2,3,6,8}                {4,5,7,9,10}
    2     [4]          0      0      too short: skipped
    3     [7, 9, 2, 1] 6      9      {1,2,6,7,9} (9 repeats)    {3,4,5,8,10}

Every evaluated user has exactly 5 never-seen items, so with 5 negatives the sampled
set is fully determined and its ranks can be worked out by hand.
"""
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from minih2rec.eval import evaluate
from minih2rec.eval.protocols import exclusion_csr, left_pad, sample_negatives
from minih2rec.models.popularity import MostPopular, MostPopularConfig

pytestmark = pytest.mark.numpy_backend
L = math.log2


@dataclass
class FakeSplit:
    """The duck-typed part of minih2rec.data.Split that evaluate() uses."""
    train: list
    valid_target: np.ndarray
    test_target: np.ndarray
    num_items: int

    def history(self, stage):
        if stage == "valid":
            return [np.asarray(t, dtype=np.int64) for t in self.train]
        return [np.asarray(list(t) + ([v] if v else []), dtype=np.int64)
                for t, v in zip(self.train, self.valid_target)]

    def train_popularity(self):
        return np.bincount(np.concatenate([np.asarray(t, dtype=np.int64) for t in self.train]),
                           minlength=self.num_items + 1).astype(np.int64)


class FakeModel:
    """Scores item i as item_scores[i] for everyone; records its inputs and mode switches."""
    name = "fake"

    def __init__(self, item_scores):
        self.item_scores = np.asarray(item_scores, dtype=np.float64)
        self.calls = []
        self.training = True
        self.modes = []

    def eval(self):
        self.training = False
        self.modes.append("eval")

    def train(self, mode=True):
        self.training = mode
        self.modes.append("train")

    def score_users(self, seq, positions):
        self.calls.append((seq.copy(), positions.copy(), self.training))
        return np.tile(self.item_scores, (seq.shape[0], 1))


def hand_split():
    return FakeSplit(train=[[10, 9, 3], [1, 2, 6], [4], [7, 9, 2, 1]],
                     valid_target=np.array([4, 3, 0, 6]), test_target=np.array([5, 8, 0, 9]),
                     num_items=10)


LINEAR = np.arange(11.0)                    # item i scores i; column 0 (pad) scores 0


def test_full_ranking_test_stage_by_hand():
    # user 0: exclude {10,9,3,4}; allowed order 8,7,6,5 -> target 5 at rank 3
    # user 1: exclude {1,2,6,3};  allowed order 10,9,8  -> target 8 at rank 2
    # user 3: exclude {7,2,1,6} but NOT the target 9 (it is in the history): 10,9 -> rank 1
    r = evaluate(FakeModel(LINEAR), hand_split(), stage="test", protocol="full", ks=(2, 5))
    assert r.users.tolist() == [0, 1, 3]
    assert r.ranks.tolist() == [3, 2, 1]
    assert r.overall["HR@2"] == pytest.approx(1 / 3)
    assert r.overall["NDCG@2"] == pytest.approx((1 / L(3)) / 3)
    assert r.overall["HR@5"] == pytest.approx(1.0)
    assert r.overall["NDCG@5"] == pytest.approx((1 / L(5) + 1 / L(4) + 1 / L(3)) / 3)
    assert r.counts["overall"] == 3 and r.settings["skipped_users"] == 1
    assert "full ranking over 10 items, 3 users" in r.description
    assert "training + validation items excluded" in r.description


def test_full_ranking_valid_stage_by_hand():
    # user 0: exclude {10,9,3}: 8,7,6,5,4 -> rank 4
    # user 1: exclude {1,2,6}: 10,9,8,7,5,4,3 -> rank 6 >= K=5 -> stored as 5 (miss)
    # user 3: exclude {7,9,2,1}: 10,8,6 -> rank 2
    r = evaluate(FakeModel(LINEAR), hand_split(), stage="valid", protocol="full", ks=(5,))
    assert r.ranks.tolist() == [4, 5, 2]
    assert r.overall["HR@5"] == pytest.approx(2 / 3)
    assert "(training items excluded" in r.description


def test_excluded_high_scorer_does_not_push_target_down():
    # item 10 scores highest and is in user 0's history: the target 5 must stay first
    scores = np.zeros(11)
    scores[10], scores[5] = 100.0, 50.0
    split = FakeSplit(train=[[10, 1]], valid_target=np.array([2]), test_target=np.array([5]), num_items=10)
    r = evaluate(FakeModel(scores), split, ks=(1,))
    assert r.ranks.tolist() == [0] and r.overall["HR@1"] == 1.0


def test_target_in_history_is_not_excluded():
    indptr, indices = exclusion_csr([np.array([7, 9, 2, 9]), np.array([3])], [9, 4])
    assert indptr.tolist() == [0, 3, 5]
    assert indices[:3].tolist() == [0, 2, 7] and indices[3:].tolist() == [0, 3]
    split = FakeSplit(train=[[9, 9, 9]], valid_target=np.array([9]), test_target=np.array([9]), num_items=10)
    r = evaluate(FakeModel(LINEAR), split, ks=(1, 2))
    assert r.ranks.tolist() == [1]                    # behind item 10 only


def test_sampled_by_hand():
    # all 5 never-seen items are the negatives (N = 5), ties count against the target
    # test:  user 0 target 5 vs {1,2,6,7,8} -> 3 above; user 1 target 8 vs {4,5,7,9,10} -> 2;
    #        user 3 target 9 vs {3,4,5,8,10} -> 1
    r = evaluate(FakeModel(LINEAR), hand_split(), protocol="sampled", num_negatives=5, ks=(1, 3))
    assert r.ranks.tolist() == [3, 2, 1]
    assert r.overall["HR@3"] == pytest.approx(2 / 3)
    assert r.overall["NDCG@3"] == pytest.approx((1 / L(4) + 1 / L(3)) / 3)
    assert r.description.startswith("sampled: 5 negatives/user, without replacement, never-seen items")
    # valid: the test item is never a negative (user 0: 5 is not a candidate) -> ranks differ from full
    # user 0 target 4 vs {1,2,6,7,8} -> 3; user 1 target 3 vs {4,5,7,9,10} -> 5; user 3 target 6 vs
    # {3,4,5,8,10} -> 2
    rv = evaluate(FakeModel(LINEAR), hand_split(), stage="valid", protocol="sampled", num_negatives=5)
    assert rv.ranks.tolist() == [3, 5, 2]


def test_ties_full_lower_id_sampled_pessimistic():
    const = np.ones(11)
    full = evaluate(FakeModel(const), hand_split(), ks=(5,))
    # all tied: allowed items in id order. user 0 allowed {1,2,5,6,7,8} -> 5 at rank 2;
    # user 1 allowed {4,5,7,8,9,10} -> 8 at 3; user 3 allowed {3,4,5,8,9,10} -> 9 at 4
    assert full.ranks.tolist() == [2, 3, 4]
    assert full.settings["tied_users"] == 3
    sampled = evaluate(FakeModel(const), hand_split(), protocol="sampled", num_negatives=5, ks=(5,))
    assert sampled.ranks.tolist() == [5, 5, 5] and sampled.overall["HR@5"] == 0.0
    assert evaluate(FakeModel(LINEAR), hand_split()).settings["tied_users"] == 0


def test_inputs_left_padded_positions_end_at_max_len():
    model = FakeModel(LINEAR)
    evaluate(model, hand_split(), stage="test", batch_size=2, max_len=50)
    seq, pos, training = model.calls[0]               # users 0 and 1: histories of length 4
    assert seq.tolist() == [[10, 9, 3, 4], [1, 2, 6, 3]] and pos.tolist() == [46, 47, 48, 49]
    seq, pos, _ = model.calls[1]                      # user 3: 5 items
    assert seq.tolist() == [[7, 9, 2, 1, 6]] and pos.tolist() == [45, 46, 47, 48, 49]
    assert training is False and model.modes == ["eval", "train"] and model.training is True
    seq, pos = left_pad([np.array([1, 2, 3, 4, 5]), np.array([7]), np.array([], dtype=np.int64)], 3)
    assert seq.tolist() == [[3, 4, 5], [0, 0, 7], [0, 0, 0]] and pos.tolist() == [0, 1, 2]


def random_split(rng, U=40, V=60):
    train = [rng.integers(1, V + 1, size=rng.integers(1, 15)).tolist() for _ in range(U)]
    valid = rng.integers(1, V + 1, size=U)
    test = rng.integers(1, V + 1, size=U)
    test[:3] = 0
    valid[:3] = 0
    return FakeSplit(train, valid, test, V)


def test_sampled_negatives_unseen_distinct_and_seeded():
    rng = np.random.default_rng(1)
    seen = [rng.integers(1, 31, size=12) for _ in range(50)]
    negs = sample_negatives(seen, 30, 10, np.random.default_rng(0))
    assert negs.shape == (50, 10) and negs.min() >= 1 and negs.max() <= 30
    for s, n in zip(seen, negs):
        assert len(set(n.tolist())) == 10                 # without replacement
        assert not set(n.tolist()) & set(s.tolist())     # never seen
    np.testing.assert_array_equal(negs, sample_negatives(seen, 30, 10, np.random.default_rng(0)))
    assert not np.array_equal(negs, sample_negatives(seen, 30, 10, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="user 7 has only 2 never-seen items"):
        sample_negatives([np.array([1, 2, 3])], 5, 3, np.random.default_rng(0), users=[7])


def test_sampled_does_not_depend_on_batch_size():
    split = random_split(np.random.default_rng(2))
    scores = np.random.default_rng(3).normal(size=61)
    a = evaluate(FakeModel(scores), split, protocol="sampled", num_negatives=20, seed=5, batch_size=1)
    b = evaluate(FakeModel(scores), split, protocol="sampled", num_negatives=20, seed=5, batch_size=256)
    np.testing.assert_array_equal(a.ranks, b.ranks)
    assert a.to_dict() == b.to_dict()


def test_full_ranking_matches_brute_force():
    split = random_split(np.random.default_rng(4))
    scores = np.random.default_rng(5).normal(size=61)
    r = evaluate(FakeModel(scores), split, ks=(5, 10, 20), batch_size=7)
    hist = split.history("test")
    for u, rank in zip(r.users, r.ranks):
        t = split.test_target[u]
        allowed = [i for i in range(1, 61) if i == t or i not in set(hist[u].tolist())]
        better = sum(scores[i] > scores[t] for i in allowed)
        assert rank == min(better, 20)


def test_groups_partition_users():
    split = random_split(np.random.default_rng(6))
    r = evaluate(FakeModel(np.random.default_rng(7).normal(size=61)), split)
    n = r.counts["overall"]
    assert r.counts["head"] + r.counts["tail"] == n
    assert sum(r.counts[g] for g in r.groups if g.startswith("bucket")) == n
    assert sum(r.counts[g] for g in r.groups if g.startswith("len")) == n
    head_w = r.counts["head"] * r.get("head", "NDCG@10") + r.counts["tail"] * r.get("tail", "NDCG@10")
    assert head_w / n == pytest.approx(r.get("overall", "NDCG@10"))
    json.dumps(r.to_dict())


def test_errors_name_the_problem():
    split = hand_split()
    with pytest.raises(ValueError, match="protocol"):
        evaluate(FakeModel(LINEAR), split, protocol="uniform")
    with pytest.raises(ValueError, match="stage"):
        evaluate(FakeModel(LINEAR), split, stage="train")
    with pytest.raises(ValueError, match=r"shape \(3, 10\)"):
        evaluate(FakeModel(LINEAR[:10]), split)
    bad = LINEAR.copy()
    bad[4] = np.nan
    with pytest.raises(ValueError, match="NaN for user 0"):
        evaluate(FakeModel(bad), split)
    with pytest.raises(ValueError, match="never-seen"):
        evaluate(FakeModel(LINEAR), split, protocol="sampled", num_negatives=6)


def test_mostpop_scores_and_tie_break():
    split = hand_split()   # training counts: 1:2, 2:2, 3:1, 4:1, 6:1, 7:1, 9:2, 10:1
    m = MostPopular().fit(split)
    s = m.score_users(np.zeros((2, 3), dtype=np.int64), np.arange(3))
    assert s.shape == (2, 11) and (s[0] == s[1]).all()
    order = np.argsort(-s[0][1:], kind="stable") + 1
    assert order.tolist() == [1, 2, 9, 3, 4, 6, 7, 10, 5, 8]   # count desc, then lower id
    assert (np.floor(s[0][1:]) == split.train_popularity()[1:]).all()
    exact = MostPopular(MostPopularConfig(tie_break=False)).fit(split).score_users(np.zeros((1, 1)))
    assert exact[0, 1] == exact[0, 2] == 2.0
    # full and sampled now agree on the order; user 0 (test) allowed {1,2,5,6,7,8}: 1,2,6,7,5 -> rank 4
    r = evaluate(m, split, ks=(5,))
    assert r.model == "mostpop" and r.ranks[0] == 4 and r.settings["tied_users"] == 0
