"""Large benchmark workloads of a given shape (e.g. ML-1M- or Yelp-shaped), built fast.

``make_shaped`` draws sizes, a length distribution and Zipf popularity in a few
vectorised steps; it plants content clusters (as ``synthetic.py`` does) but no
sequential structure -- these data sets measure speed and memory, not accuracy.
"""
import numpy as np

from .interactions import Interactions
from .synthetic import _planted_content, _zipf_weights


def lognormal_lengths(offset, mu, sigma, cap):
    """Length sampler ``offset + floor(lognormal(mu, sigma))`` clipped to ``cap``."""
    def sample(rng, n):
        return np.minimum(offset + np.floor(rng.lognormal(mu, sigma, n)).astype(np.int64), cap)
    return sample


SHAPES = {
    # ML-1M after 5-core: 6,040 users, 3,416 items, ~1.0M interactions (mean length ~165)
    "ml-1m": dict(num_users=6040, num_items=3416,
                  length_sampler=lognormal_lengths(20, 4.5, 1.0, 2314)),
    # Yelp (as in the paper): 15,720 users, 11,383 items, short sequences with a long tail
    "yelp": dict(num_users=15720, num_items=11383,
                 length_sampler=lognormal_lengths(3, 1.49, 1.2, 400)),
}


def make_shaped(num_users, num_items, length_sampler, seed=0, *, zipf_a=1.0, num_clusters=None,
                dim=64, name="shaped"):
    """A large workload of given shape: Zipf popularity, distinct items per user, fast.

    Parameters
    ----------
    num_users, num_items : int -- U and V.
    length_sampler : callable ``(rng, n) -> (n,) int`` sequence lengths (clipped to [1, V]).
    seed : int
    zipf_a : float -- popularity exponent.
    num_clusters : int or None -- planted content clusters (default max(8, V // 50)).
    dim : int -- content-vector width.
    name : str

    Returns
    -------
    Interactions with planted ``content`` and ``item_meta["cluster"]`` (no text). Items of a
    user are drawn by popularity without replacement, in random order.
    """
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.asarray(length_sampler(rng, num_users), dtype=np.int64), 1, num_items)
    weight = _zipf_weights(rng, num_items, zipf_a)[1:]                    # (V,)
    flat, owner = _distinct_draws(rng, weight, lengths)
    order = np.argsort(owner + rng.random(len(flat)), kind="stable")      # shuffle within user
    cuts = np.cumsum(lengths)[:-1]
    C = num_clusters or max(8, num_items // 50)
    cluster = np.concatenate([[-1], rng.permutation(np.arange(num_items) % C)])
    return Interactions(
        sequences=np.split(flat[order] + 1, cuts), num_items=num_items,
        user_ids=np.arange(num_users, dtype=np.int64),
        item_ids=np.arange(num_items + 1, dtype=np.int64),
        content=_planted_content(rng, cluster, dim, 0.6)[0], name=name,
        item_meta={"cluster": cluster})


def make_shaped_like(shape, seed=0, **overrides):
    """``make_shaped(**SHAPES[shape], seed=seed, name=shape + "-shaped")`` with overrides."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {sorted(SHAPES)}")
    kwargs = dict(SHAPES[shape], name=f"{shape}-shaped")
    kwargs.update(overrides)
    return make_shaped(seed=seed, **kwargs)


def _distinct_draws(rng, weight, lengths):
    """Per user, ``lengths[u]`` distinct ids in [0, V) drawn by weight without replacement.

    Short users: draw with replacement and keep first occurrences (= sequential sampling
    without replacement), redrawing the few users left short. Long users (> V/4): Gumbel
    top-k. Returns (flat ids, owner) grouped by user in user order.
    """
    V, U = len(weight), len(lengths)
    cdf = np.cumsum(weight) / weight.sum()
    got = [None] * U
    long_users = np.flatnonzero(lengths > V // 4)
    logw = np.log(weight)
    for a in range(0, len(long_users), 256):
        chunk = long_users[a:a + 256]
        keys = logw - np.log(-np.log(rng.random((len(chunk), V))))       # Gumbel keys (b, V)
        top = np.argsort(-keys, axis=1)
        for row, u in enumerate(chunk):
            got[u] = top[row, :lengths[u]]
    todo, factor = np.flatnonzero(lengths <= V // 4), 2.0
    while len(todo):
        m = np.ceil(lengths[todo] * factor).astype(np.int64) + 8             # draws per user
        owner = np.repeat(np.arange(len(todo)), m)
        ids = np.minimum(np.searchsorted(cdf, rng.random(len(owner))), V - 1)
        _, first = np.unique(owner * V + ids, return_index=True)
        first = np.sort(first)                                           # first occurrences
        own, kept = owner[first], ids[first]
        start = np.searchsorted(own, np.arange(len(todo)))
        rank = np.arange(len(own)) - start[own]
        enough = np.bincount(own, minlength=len(todo)) >= lengths[todo]
        take = (rank < lengths[todo][own]) & enough[own]
        sel_own, sel_ids = own[take], kept[take]
        bounds = np.searchsorted(sel_own, np.arange(len(todo) + 1))
        for r in np.flatnonzero(enough):
            got[todo[r]] = sel_ids[bounds[r]:bounds[r + 1]]
        todo, factor = todo[~enough], factor * 2
    flat = np.concatenate(got).astype(np.int64)
    return flat, np.repeat(np.arange(U), lengths)
