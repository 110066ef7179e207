"""Interactions: id remapping, time order and tie-break, dedup, k-core, text alignment."""
import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.data import Interactions, build_interactions, kcore_mask


def seqs(inter):
    return [s.tolist() for s in inter.sequences]


def test_remap_numeric_ids_in_ascending_raw_order():
    inter = build_interactions(["10", "9", "10"], ["300", "7", "7"], [1, 2, 3])
    assert inter.user_ids.tolist() == [9, 10]                  # numeric, not string, order
    assert inter.item_ids.tolist() == [0, 7, 300]              # index 0 = padding
    assert seqs(inter) == [[1], [2, 1]]
    assert inter.num_users == 2 and inter.num_items == 2 and inter.num_interactions == 3


def test_non_canonical_tokens_stay_strings():
    # "007" and "7" are different tokens: ids are not silently merged
    inter = build_interactions(["u", "u"], ["007", "7"], [1, 2])
    assert inter.item_ids.tolist() == ["", "007", "7"]
    assert inter.num_items == 2
    huge = "123456789012345678901234567890"
    inter = build_interactions(["a", "b"], [huge, "1"], [0, 0])
    assert huge in inter.item_ids.tolist()


def test_time_sort_and_tie_break_keeps_input_order():
    # equal timestamps (x, y at t=5) keep their input order; z (t=1) comes first
    inter = build_interactions(["a", "a", "a"], ["x", "y", "z"], [5, 5, 1])
    x, y, z = (list(inter.item_ids).index(n) for n in "xyz")
    assert seqs(inter) == [[z, x, y]]
    inter = build_interactions(["a", "a", "a"], ["y", "x", "z"], [5, 5, 1])
    assert seqs(inter) == [[z, y, x]]
    assert inter.timestamps[0].tolist() == [1.0, 5.0, 5.0]


def test_no_timestamps_means_input_order():
    inter = build_interactions([1, 1, 1], [3, 1, 2], None)
    assert seqs(inter) == [[3, 1, 2]] and inter.timestamps is None


def test_dedup_keeps_earliest_occurrence():
    users = ["a", "a", "a", "a"]
    items = ["i", "j", "i", "k"]
    times = [3, 1, 2, 4]                                        # time order: j, i(t=2), i(t=3), k
    kept = build_interactions(users, items, times, dedup=True)
    i, j, k = (list(kept.item_ids).index(n) for n in "ijk")
    assert seqs(kept) == [[j, i, k]]
    assert kept.timestamps[0].tolist() == [1.0, 2.0, 4.0]      # the t=2 copy survived
    assert seqs(build_interactions(users, items, times, dedup=False)) == [[j, i, i, k]]


def test_kcore_is_iterative():
    # user c has 2 items; item z is only used by c. With k=2: z goes (1 use), then c has
    # 1 item and goes, which drops y to 1 use, then y goes, then a and b fall to 1 ... all go.
    users = ["a", "a", "b", "b", "c", "c"]
    items = ["x", "y", "x", "w", "y", "z"]
    with pytest.raises(ValueError, match="2-core"):
        build_interactions(users, items, None, k_core=2, source="toy.csv")
    # with one more x-w user the core {a, b, d} x {x, w} ... survives
    inter = build_interactions(users + ["d", "d", "a"], items + ["x", "w", "w"], None, k_core=2)
    assert sorted(inter.user_ids.tolist()) == ["a", "b", "d"]
    assert sorted(inter.item_ids[1:].tolist()) == ["w", "x"]


def _naive_kcore(pairs, k):
    pairs = list(pairs)
    while True:
        cu, ci = {}, {}
        for u, i in pairs:
            cu[u] = cu.get(u, 0) + 1
            ci[i] = ci.get(i, 0) + 1
        kept = [(u, i) for u, i in pairs if cu[u] >= k and ci[i] >= k]
        if len(kept) == len(pairs):
            return kept
        pairs = kept


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=50),
       st.integers(1, 4))
def test_kcore_property_fixed_point_and_maximal(pairs, k):
    pairs = sorted(set(pairs))
    users = [u for u, _ in pairs]
    items = [i for _, i in pairs]
    expected = sorted(_naive_kcore(pairs, k))
    if not expected:
        with pytest.raises(ValueError, match=f"{k}-core"):
            build_interactions(users, items, None, k_core=k)
        return
    inter = build_interactions(users, items, None, k_core=k)
    got = sorted((int(inter.user_ids[u]), int(inter.item_ids[i]))
                 for u, s in enumerate(inter.sequences) for i in s)
    assert got == expected
    # fixed point: every user and item has >= k interactions, so a second pass changes nothing
    assert inter.lengths().min() >= k
    assert inter.item_popularity()[1:].min() >= k
    u = np.repeat(np.arange(inter.num_users), inter.lengths())
    i = np.concatenate(inter.sequences)
    assert kcore_mask(u, i, k).all()


def test_item_text_aligned_after_filtering(caplog):
    text = {"x": "ex", "y": "why", "w": "double", "ghost": "never rated"}
    users = ["a", "a", "b", "b", "c"]
    items = ["x", "w", "x", "w", "y"]
    with caplog.at_level(logging.WARNING, logger="minih2rec.data"):
        inter = build_interactions(users, items, None, item_text=text, k_core=2)
    assert inter.item_text[0] == ""
    for v in range(1, inter.num_items + 1):
        assert inter.item_text[v] == text[inter.item_ids[v]]
    assert "ghost" in caplog.text                       # unknown item: warned and skipped


def test_item_text_numeric_keys_and_missing_text(caplog):
    with caplog.at_level(logging.WARNING, logger="minih2rec.data"):
        inter = build_interactions(["1", "1"], ["5", "6"], [0, 1], item_text={"5": "five"})
    assert inter.item_text == ["", "five", ""]
    assert "have no text" in caplog.text


def test_content_aligned_and_validated():
    inter = build_interactions(["1", "1"], ["5", "6"], [0, 1],
                               content={"6": [0.0, 1.0], 5: [1.0, 0.0]})
    assert inter.content.dtype == np.float32
    np.testing.assert_array_equal(inter.content, [[0, 0], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="content"):
        build_interactions(["1", "1"], ["5", "6"], [0, 1], content={"5": [1.0], "6": [1.0, 2.0]})


def test_errors_name_the_source():
    with pytest.raises(ValueError, match="no interactions in f.csv"):
        build_interactions([], [], [], source="f.csv")
    with pytest.raises(ValueError, match="not finite in f.csv"):
        build_interactions([1], [1], [np.nan], source="f.csv")
    with pytest.raises(ValueError, match="different lengths"):
        build_interactions([1, 2], [1], None)


def test_container_validates_and_describes():
    inter = Interactions(sequences=[[1, 2], [2]], num_items=2, user_ids=[7, 8],
                         item_ids=[0, 11, 12], name="toy")
    assert inter.item_popularity().tolist() == [0, 1, 2]
    assert inter.describe().startswith("toy: 2 users, 2 items, 3 interactions")
    with pytest.raises(ValueError, match="outside 1..2"):
        Interactions(sequences=[[3]], num_items=2, user_ids=[0], item_ids=[0, 1, 2])
    with pytest.raises(ValueError, match="item_ids"):
        Interactions(sequences=[[1]], num_items=2, user_ids=[0], item_ids=[0, 1])
    with pytest.raises(ValueError, match="item_text"):
        Interactions(sequences=[[1]], num_items=1, user_ids=[0], item_ids=[0, 1], item_text=[""])
