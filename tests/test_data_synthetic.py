"""Synthetic data: determinism, planted clusters (content, text, sequences), Zipf tail, shapes."""
import time
from collections import Counter, defaultdict

import numpy as np
import pytest

from minih2rec.data import (lognormal_lengths, make_shaped, make_shaped_like, make_synthetic,
                            split_leave_one_out)


@pytest.fixture(scope="module")
def default():
    start = time.perf_counter()
    inter = make_synthetic("default", seed=0)
    print(f"make_synthetic('default') took {time.perf_counter() - start:.2f} s")
    return inter


def top20_share(inter):
    pop = np.sort(inter.item_popularity()[1:])[::-1]
    return pop[:len(pop) // 5].sum() / pop.sum()


def test_default_shape(default):
    assert default.num_users == 1000 and default.num_items == 3000
    lens = default.lengths()
    assert lens.min() >= 10 and lens.max() <= 60
    assert all(len(np.unique(s)) == len(s) for s in default.sequences)   # no repeats
    assert default.item_meta["cluster"][0] == -1
    assert len(np.unique(default.item_meta["cluster"][1:])) == 60


def test_tiny_preset_and_overrides():
    tiny = make_synthetic("tiny")
    assert (tiny.num_users, tiny.num_items) == (200, 150)
    assert make_synthetic("tiny", num_users=50).num_users == 50
    with pytest.raises(ValueError, match="unknown preset"):
        make_synthetic("huge")
    with pytest.raises(ValueError, match="bogus"):
        make_synthetic("tiny", bogus=1)


def test_deterministic_with_seed():
    a, b = make_synthetic("tiny", seed=5), make_synthetic("tiny", seed=5)
    c = make_synthetic("tiny", seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    assert a.item_text == b.item_text
    np.testing.assert_array_equal(a.content, b.content)
    assert not all(np.array_equal(x, y) for x, y in zip(a.sequences, c.sequences))


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_zipf_long_tail(preset, default):
    inter = default if preset == "default" else make_synthetic(preset)
    assert top20_share(inter) > 0.5


def test_content_vectors_recover_clusters(default):
    x, cluster = default.content, default.item_meta["cluster"]
    assert x.shape == (3001, 64) and x.dtype == np.float32 and not x[0].any()
    np.testing.assert_allclose(np.linalg.norm(x[1:], axis=1), 1.0, rtol=1e-5)
    sim = x[1:] @ x[1:].T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1) + 1
    assert np.mean(cluster[nearest] == cluster[1:]) > 0.9


def test_text_bag_of_words_recovers_clusters(default):
    docs = [t.lower().split() for t in default.item_text[1:]]
    vocab = {w: k for k, w in enumerate(sorted({w for d in docs for w in d}))}
    counts = np.zeros((len(docs), len(vocab)))
    for r, d in enumerate(docs):
        for w in d:
            counts[r, vocab[w]] += 1
    tfidf = counts * np.log(len(docs) / (counts > 0).sum(axis=0))
    tfidf /= np.linalg.norm(tfidf, axis=1, keepdims=True)
    sim = tfidf @ tfidf.T
    np.fill_diagonal(sim, -np.inf)
    cluster = default.item_meta["cluster"]
    assert np.mean(cluster[sim.argmax(axis=1) + 1] == cluster[1:]) > 0.9


def test_sequences_stay_in_clusters_and_next_item_is_learnable(default):
    cluster = default.item_meta["cluster"]
    split = split_leave_one_out(default)
    pairs = [(a, b) for s in split.train for a, b in zip(s[:-1], s[1:])]
    assert np.mean([cluster[a] == cluster[b] for a, b in pairs]) > 0.7
    follow = defaultdict(Counter)
    for a, b in pairs:
        follow[a][b] += 1
    # "most frequent follower in train" predicts the held-out test item far above chance
    last = [s[-1] for s in split.history("test")]
    hits = [follow[a].most_common(1)[0][0] == t if follow[a] else False
            for a, t in zip(last, split.test_target)]
    assert np.mean(hits) > 0.05                       # popularity top-1 is ~0.01


def test_content_successor_is_the_nearest_unseen_cluster_mate():
    inter = make_synthetic("tiny", seed=1, successor="content", p_stay=1.0, p_follow=1.0)
    x, cluster = inter.content, inter.item_meta["cluster"]
    checked = 0
    for s in inter.sequences:
        for t in range(1, len(s)):
            prev = s[t - 1]
            mates = np.flatnonzero(cluster == cluster[prev])
            unseen = mates[~np.isin(mates, s[:t])]
            if cluster[s[t]] != cluster[prev] or not len(unseen):
                continue                                   # cluster used up: a jump
            assert s[t] == unseen[np.argmax(x[unseen] @ x[prev])]
            checked += 1
    assert checked > 500


def test_styles_are_shared_directions_in_content():
    inter = make_synthetic("tiny", seed=2, styles=4, style_scale=0.7)
    style, cluster, x = inter.item_meta["style"], inter.item_meta["cluster"], inter.content
    assert style[0] == -1 and set(np.unique(style[1:])) == {0, 1, 2, 3}
    sim = x @ x.T
    same_cluster = cluster[:, None] == cluster[None, :]
    same_style = style[:, None] == style[None, :]
    off_diag = ~np.eye(len(style), dtype=bool)
    off_diag[0], off_diag[:, 0] = False, False
    assert (sim[same_cluster & same_style & off_diag].mean()
            > sim[same_cluster & ~same_style & off_diag].mean() + 0.2)
    assert (make_synthetic("tiny", styles=0).item_meta["style"] == -1).all()


def test_bad_generator_options_are_named():
    with pytest.raises(ValueError, match="successor must be 'popular' or 'content'.*'nearest'"):
        make_synthetic("tiny", successor="nearest")
    with pytest.raises(ValueError, match="styles must be >= 0.*-2"):
        make_synthetic("tiny", styles=-2)


def test_ml1m_shaped():
    start = time.perf_counter()
    inter = make_shaped_like("ml-1m", seed=0)
    seconds = time.perf_counter() - start
    print(f"ML-1M-shaped in {seconds:.1f} s: {inter.describe()}")
    assert (inter.num_users, inter.num_items) == (6040, 3416)
    assert 0.9e6 < inter.num_interactions < 1.1e6
    assert seconds < 10
    assert all(len(np.unique(s)) == len(s) for s in inter.sequences[:500])
    assert inter.content.shape == (3417, 64)


def test_yelp_shaped():
    inter = make_shaped_like("yelp", seed=0)
    assert (inter.num_users, inter.num_items) == (15720, 11383)
    lens = inter.lengths()
    assert lens.min() >= 3 and lens.max() <= 400
    assert all(len(np.unique(s)) == len(s) for s in inter.sequences)
    assert top20_share(inter) > 0.5


def test_make_shaped_deterministic_and_long_users():
    sampler = lognormal_lengths(2, 1.0, 0.5, cap=30)
    a = make_shaped(100, 50, sampler, seed=1)
    b = make_shaped(100, 50, sampler, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    full = make_shaped(10, 40, lambda rng, n: np.full(n, 40), seed=0)   # every item: Gumbel path
    assert all(sorted(s.tolist()) == list(range(1, 41)) for s in full.sequences)
