"""Who is a metric averaged over? Item groups (head/tail, popularity buckets) and user groups.

H2Rec's claim is about the **head/tail seesaw**: ID models do well on popular
items, semantic-ID models on rare ones. To see it, the per-user metrics are
averaged over subsets of the evaluated users:

* **item groups** -- a user belongs to the group of its *target* item:
  ``head`` = the top ``head_share`` (20 %) of items 1..V by training
  popularity, ``tail`` = the rest; five popularity buckets by the number of
  training interactions of the target (``0-9`` includes items never seen in
  training, ``10-29``, ``30-59``, ``60-99``, ``>=100``);
* **user groups** -- by the number of the user's *training* items
  (``len <=5``, ``len 6-10``, ``len 11-20``, ``len 21-50``, ``len >50``).

Ties at the head/tail cut: items are ordered by popularity descending, then by
item id ascending, and the first ``floor(head_share * V)`` (at least 1) are the
head -- so among equally popular items at the cut, lower ids are head.

Popularity is always the *training* count (``split.train_popularity()``), so
validation and test items never leak into the grouping.
"""
import numpy as np

# (label, lowest count, highest count inclusive) -- training interactions of the target item
BUCKETS = (("0-9", 0, 9), ("10-29", 10, 29), ("30-59", 30, 59), ("60-99", 60, 99),
           (">=100", 100, None))

# (label, fewest, most training items inclusive) -- length of the user's training sequence
LENGTH_BINS = (("<=5", 0, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21-50", 21, 50),
               (">50", 51, None))


def head_items(popularity, head_share=0.2):
    """Boolean mask of head items: the top ``head_share`` of items 1..V by training count.

    Parameters
    ----------
    popularity : array-like int (V+1,) -- training count per item id; index 0 (padding) ignored.
    head_share : float in (0, 1] -- share of items 1..V in the head.

    Returns
    -------
    ndarray bool (V+1,) -- ``True`` for head items; index 0 is always ``False``.
    Ties at the cut go to the lower item id.
    """
    pop = _check_popularity(popularity)
    if not 0.0 < head_share <= 1.0:
        raise ValueError(f"head_share must be in (0, 1], got {head_share!r}")
    V = pop.shape[0] - 1
    n_head = max(1, int(head_share * V))
    ids = np.arange(1, V + 1)                               # (V,)
    order = np.lexsort((ids, -pop[1:]))                     # popularity desc, then id asc
    mask = np.zeros(V + 1, dtype=bool)
    mask[ids[order[:n_head]]] = True
    return mask


def bucket_of(counts):
    """Index into :data:`BUCKETS` for each count (array-like int >= 0) -> int64 array."""
    counts = np.asarray(counts, dtype=np.int64)
    lows = np.array([lo for _, lo, _ in BUCKETS])
    return (np.searchsorted(lows, counts, side="right") - 1).astype(np.int64)


def item_groups(popularity, head_share=0.2):
    """All item groups as boolean masks over item ids.

    Parameters
    ----------
    popularity : array-like int (V+1,) -- training count per item.
    head_share : float -- see :func:`head_items`.

    Returns
    -------
    dict ``{"head": (V+1,) bool, "tail": ..., "bucket 0-9": ..., ..., "bucket >=100": ...}``;
    index 0 (padding) is in no group.
    """
    pop = _check_popularity(popularity)
    head = head_items(pop, head_share)
    real = np.ones_like(head)
    real[0] = False
    groups = {"head": head, "tail": real & ~head}
    b = bucket_of(pop)                                      # (V+1,)
    for i, (label, _, _) in enumerate(BUCKETS):
        groups[f"bucket {label}"] = real & (b == i)
    return groups


def length_groups(lengths):
    """User groups by training-sequence length.

    Parameters
    ----------
    lengths : array-like int (U,) -- number of training items per evaluated user.

    Returns
    -------
    dict ``{"len <=5": (U,) bool, "len 6-10": ..., ..., "len >50": ...}``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    groups = {}
    for label, lo, hi in LENGTH_BINS:
        m = lengths >= lo
        if hi is not None:
            m &= lengths <= hi
        groups[f"len {label}"] = m
    return groups


def group_means(per_user, user_masks):
    """Average per-user metrics over each group of users.

    Parameters
    ----------
    per_user : dict ``{metric: (U,) float}`` -- e.g. from ``metrics.metrics_from_ranks``.
    user_masks : dict ``{group: (U,) bool}``.

    Returns
    -------
    (means, counts) -- ``means[group][metric]`` is the mean over the group's users
    (NaN when the group is empty), ``counts[group]`` its number of users.
    """
    means, counts = {}, {}
    for g, m in user_masks.items():
        m = np.asarray(m, dtype=bool)
        n = int(m.sum())
        counts[g] = n
        means[g] = {name: (float(v[m].mean()) if n else float("nan")) for name, v in per_user.items()}
    return means, counts


def user_group_masks(targets, train_lengths, popularity, head_share=0.2):
    """Every group (item groups via each user's target, then length groups) as user masks.

    Parameters
    ----------
    targets : array-like int (U,) -- target item of each evaluated user (all >= 1).
    train_lengths : array-like int (U,) -- training items of each evaluated user.
    popularity : array-like int (V+1,) -- training counts.
    head_share : float -- see :func:`head_items`.

    Returns
    -------
    (user_masks, item_counts) -- ``user_masks[group]`` (U,) bool; ``item_counts[group]`` the
    number of catalogue items in each item group (for plot labels).
    """
    targets = np.asarray(targets, dtype=np.int64)
    items = item_groups(popularity, head_share)
    masks = {g: m[targets] for g, m in items.items()}
    masks.update(length_groups(train_lengths))
    return masks, {g: int(m.sum()) for g, m in items.items()}


def _check_popularity(popularity):
    """Training counts: 1-D, non-negative integers, with an index-0 padding slot."""
    pop = np.asarray(popularity)
    if pop.ndim != 1 or pop.shape[0] < 2:
        raise ValueError(f"popularity must be a 1-D array of length V+1 >= 2, got shape {pop.shape}")
    if pop.size and (not np.issubdtype(pop.dtype, np.integer) or pop.min() < 0):
        raise ValueError(f"popularity must be non-negative integer counts, got dtype {pop.dtype}")
    return pop.astype(np.int64)
