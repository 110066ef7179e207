"""A deterministic synthetic dataset with planted structure, and fast "shaped" workloads.

``make_synthetic`` plants what H2Rec needs to show its point, so a tutorial can check
that each part of the model finds it:

* **content clusters and styles** -- every item belongs to one of C clusters (a genre)
  and has one of S styles shared by all clusters (a mood, a decade); its content vector
  is cluster centre + style direction + noise (L2-normalised, dim 64), so residual
  quantisation finds the cluster at level 1 and the style at level 2 (semantic IDs become
  meaningful). Its text mixes words of a per-cluster vocabulary with shared filler words,
  so TF-IDF + SVD recovers the clusters;
* **a long, sparse tail** -- item popularity is Zipf (weight of the r-th most popular
  item ``∝ 1/r^a``); with 3,000 items for 1,000 users, most items have fewer than 10
  interactions, as in the sparse catalogues H2Rec is built for (Yelp, Amazon);
* **sequences** -- each user prefers 2-3 clusters and walks among them (Markov: stay in
  the current cluster with probability ``p_stay``, else jump to another preferred one).
  Inside a cluster the next item is, with probability ``p_follow``, the *successor* of
  the user's last item there -- by default the unseen cluster-mate nearest in content (a
  sequel, the same style: a rule that content predicts and rare items' IDs barely
  learn); ``successor="popular"`` gives each item a fixed successor drawn by popularity
  instead (an ID-level rule) -- otherwise a popularity-weighted draw. No user sees an
  item twice.

The planted cluster and style of each item are in ``inter.item_meta["cluster"]`` and
``["style"]`` (-1 for padding, and for every item when ``styles=0``).

(Large benchmark workloads of a given shape are in ``shaped.py``.)
"""
from dataclasses import dataclass, replace

import numpy as np

from .interactions import Interactions

_SYLLABLES = ("ka", "lo", "mi", "ru", "ten", "zo", "vi", "pe", "shu", "dar", "nel", "qui",
              "bo", "ra", "sil", "fen", "gu", "tor", "ya", "wex", "ni", "co", "mab", "jul")


@dataclass
class SyntheticConfig:
    """Knobs of :func:`make_synthetic` (presets: ``PRESETS``)."""

    num_users: int = 1000        # ~25k interactions: a few minutes per model on a laptop
    num_items: int = 3000        # sparse: median 4 interactions per item, 81 % below 10
    num_clusters: int = 60       # 50 items per cluster: room for a head and a tail in each
    dim: int = 64                # content-vector width; small but above C
    min_len: int = 10            # leave-one-out needs >= 3; 10 gives every user history
    max_len: int = 60            # lengths are min_len + Exp(mean_extra), clipped here
    mean_extra: float = 15.0     # mean length ~ 25, a typical short-sequence dataset
    zipf_a: float = 1.1          # popularity exponent; > 1 makes a clear long tail
    p_stay: float = 0.8          # chance to stay in the current cluster at each step
    p_follow: float = 0.5        # chance the next item is the planted successor
    successor: str = "content"   # "content": the unseen cluster-mate nearest in content;
                                 # "popular": a fixed popularity-drawn successor per item
    noise: float = 0.6           # content noise norm relative to the unit cluster centre
    styles: int = 16             # > 0: every item also has one of this many styles, shared by
    style_scale: float = 0.7     # all clusters, a unit direction of this norm in its content
    cluster_words: int = 12      # vocabulary size of each cluster
    words_per_item: int = 5      # cluster words in one item's text
    filler_words: int = 40       # shared vocabulary (noise for TF-IDF)
    fillers_per_item: int = 3    # filler words in one item's text


PRESETS = {
    "default": SyntheticConfig(),
    "tiny": SyntheticConfig(num_users=200, num_items=150, num_clusters=6, min_len=5,
                            max_len=30, mean_extra=8.0, styles=4),
}


def make_synthetic(preset="default", seed=0, **overrides):
    """Generate the planted-cluster dataset (see the module docstring).

    Parameters
    ----------
    preset : "default" (1,000 users x 3,000 items) or "tiny" (200 x 150).
    seed : int -- same seed, same dataset.
    **overrides : any field of :class:`SyntheticConfig`.

    Returns
    -------
    Interactions with ``item_text``, ``content`` (V+1, 64) and ``item_meta["cluster"]``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    unknown = set(overrides) - set(SyntheticConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown SyntheticConfig field(s): {', '.join(sorted(unknown))}")
    cfg = replace(PRESETS[preset], **overrides)
    if cfg.num_clusters < 1 or cfg.num_items < cfg.num_clusters or cfg.min_len < 1:
        raise ValueError(f"need 1 <= num_clusters <= num_items and min_len >= 1, got {cfg}")
    if cfg.styles < 0:
        raise ValueError(f"styles must be >= 0 (0 = no styles), got {cfg.styles}")
    if cfg.successor not in ("popular", "content"):
        raise ValueError(f"successor must be 'popular' or 'content', got {cfg.successor!r}")
    rng = np.random.default_rng(seed)
    V, C = cfg.num_items, cfg.num_clusters
    cluster = np.concatenate([[-1], rng.permutation(np.arange(V) % C)])   # (V+1,)
    weight = _zipf_weights(rng, V, cfg.zipf_a)                           # (V+1,), [0] = 0
    content, style = _planted_content(np.random.default_rng([seed, 1]), cluster, cfg.dim, cfg.noise,
                                      cfg.styles, cfg.style_scale)
    walker = _Walker(rng, cfg, cluster, weight, content)
    lengths = np.minimum(cfg.min_len + rng.exponential(cfg.mean_extra, cfg.num_users).astype(int),
                         min(cfg.max_len, V))
    sequences = [walker.walk(int(n)) for n in lengths]
    return Interactions(
        sequences=sequences, num_items=V, user_ids=np.arange(cfg.num_users, dtype=np.int64),
        item_ids=np.arange(V + 1, dtype=np.int64),
        item_text=_planted_text(rng, cluster, cfg), content=content,
        name=f"synthetic-{preset}", item_meta={"cluster": cluster, "style": style})


def _planted_successors(rng, cluster, weight):
    """(V+1,) int64: each item's fixed next item, a popularity draw from its own cluster."""
    successor = np.zeros(len(cluster), dtype=np.int64)
    for c in range(int(cluster.max()) + 1):
        m = np.flatnonzero(cluster == c)
        cdf = np.cumsum(weight[m])
        draws = np.searchsorted(cdf, rng.random(len(m)) * cdf[-1], side="right")
        successor[m] = m[np.minimum(draws, len(m) - 1)]
        same = successor[m] == m                                          # no self-loops
        if len(m) > 1:
            successor[m[same]] = np.roll(m, 1)[same]
    return successor


def _content_neighbours(members, content):
    """{item: its cluster-mates, nearest content first} (a list per item, itself excluded)."""
    out = {}
    for m in members:
        sim = content[m] @ content[m].T
        np.fill_diagonal(sim, -np.inf)                                   # never itself...
        order = np.argsort(-sim, axis=1, kind="stable")[:, :-1]          # ...so it sorts last
        for item, row in zip(m.tolist(), m[order].tolist()):
            out[item] = row
    return out


def _zipf_weights(rng, V, a):
    """(V+1,) popularity weights: the r-th item of a random ranking gets 1/r^a; [0] = 0."""
    w = np.zeros(V + 1)
    w[1 + rng.permutation(V)] = 1.0 / np.arange(1, V + 1) ** a
    return w


class _Walker:
    """Draws user sequences: a Markov walk over 2-3 preferred clusters, no repeated item.

    Popularity draws without replacement use, per (user, cluster), one Gumbel-sorted queue
    of the cluster's items (sorting ``log w + Gumbel`` noise is exactly sequential
    popularity-weighted sampling without replacement); a draw takes the next unseen item.
    """

    def __init__(self, rng, cfg, cluster, weight, content):
        self.rng, self.cfg = rng, cfg
        C = int(cluster.max()) + 1
        self.members = [np.flatnonzero(cluster == c) for c in range(C)]
        self.logw = [np.log(weight[m]) for m in self.members]
        self.mass = np.array([weight[m].sum() for m in self.members])
        # per item, the planted next items in order of preference; the walk takes the first unseen
        if cfg.successor == "popular":
            self.next_items = [[int(i)] for i in _planted_successors(rng, cluster, weight)]
        else:
            self.next_items = _content_neighbours(self.members, content)

    def walk(self, n):
        """One user's sequence of n distinct items, (n,) int64."""
        cfg, C = self.cfg, len(self.members)
        k = min(C, int(self.rng.integers(2, 4)))
        prefs = self.rng.choice(C, size=k, replace=False, p=self.mass / self.mass.sum()).tolist()
        u = self.rng.random((n, 3)).tolist()          # pre-drawn uniforms: stay / jump / follow
        seen, last_in, queues, out = set(), {}, {}, []
        c = prefs[0]
        for step in range(n):
            us, uj, uf = u[step]
            if step and us >= cfg.p_stay and k > 1:
                c = [p for p in prefs if p != c][int(uj * (k - 1))]
            item = None
            prev = last_in.get(c)
            if prev is not None and uf < cfg.p_follow:
                item = self._follow(prev, seen)               # the planted next item
            if item is None:
                item = self._next_popular(c, queues, seen)
            if item is None:                                  # cluster used up: try others
                for cc in prefs + self.rng.permutation(C).tolist():
                    item = self._next_popular(cc, queues, seen)
                    if item is not None:
                        c = cc
                        break
                else:
                    raise ValueError(f"a sequence of length {n} is longer than the catalogue")
            seen.add(item)
            last_in[c] = item
            out.append(item)
        return np.array(out, dtype=np.int64)

    def _follow(self, prev, seen):
        """The first planted next item after ``prev`` that the user has not seen, else None."""
        return next((i for i in self.next_items[prev] if i not in seen), None)

    def _next_popular(self, c, queues, seen):
        """Next unseen item of this user's popularity queue for cluster c (None if used up)."""
        if c not in queues:
            gumbel = -np.log(-np.log(self.rng.random(len(self.members[c]))))
            queues[c] = [self.members[c][np.argsort(-(self.logw[c] + gumbel))].tolist(), 0]
        queue = queues[c]
        items, j = queue
        while j < len(items) and items[j] in seen:
            j += 1
        queue[1] = j + 1
        return items[j] if j < len(items) else None


def _unit_rows(rng, n, dim):
    x = rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _planted_content(rng, cluster, dim, noise, styles=0, style_scale=0.0):
    """(V+1, dim) float32 cluster centre [+ style] + noise, L2-normalised, row 0 zeros;
    and (V+1,) int64 style per item (-1 without styles and for padding)."""
    C, V = int(cluster.max()) + 1, len(cluster) - 1
    x = _unit_rows(rng, C, dim)[cluster[1:]] + noise * rng.normal(size=(V, dim)) / np.sqrt(dim)
    style = np.full(V + 1, -1, dtype=np.int64)
    if styles > 0:
        directions = _unit_rows(rng, styles, dim)                         # (styles, dim)
        style[1:] = rng.integers(0, styles, V)
        x += style_scale * directions[style[1:]]
    x /= np.linalg.norm(x, axis=1, keepdims=True)                        # (V, dim)
    return np.vstack([np.zeros((1, dim)), x]).astype(np.float32), style


def _pseudo_words(rng, n):
    """n distinct pronounceable pseudo-words ("kalomi", "shuten", ...)."""
    words = []
    known = set()
    while len(words) < n:
        w = "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4))))
        if w not in known:
            known.add(w)
            words.append(w)
    return words


def _planted_text(rng, cluster, cfg):
    """V+1 item texts: cluster vocabulary words + shared fillers ("" for padding)."""
    C = int(cluster.max()) + 1
    vocab = _pseudo_words(rng, C * cfg.cluster_words + cfg.filler_words)
    per_cluster = np.array(vocab[:C * cfg.cluster_words]).reshape(C, cfg.cluster_words)
    fillers = np.array(vocab[C * cfg.cluster_words:])
    V = len(cluster) - 1
    pick = rng.integers(0, cfg.cluster_words, size=(V, cfg.words_per_item))
    fill = rng.integers(0, len(fillers), size=(V, cfg.fillers_per_item))
    words = np.concatenate([per_cluster[cluster[1:, None], pick], fillers[fill]], axis=1)
    return [""] + [" ".join(row).capitalize() for row in words.tolist()]
