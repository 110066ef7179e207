"""The ``Interactions`` container and how raw (user, item, timestamp) triples become one.

Every loader and the synthetic generator end here. ``build_interactions`` does, in order:

1. **ids** -- raw user and item ids are *tokens*. When every token of a column is a
   canonical decimal integer (``0`` or ``[1-9][0-9]{0,17}``: no sign, no leading zero) the
   column is read as int64, otherwise as strings. Huge ids therefore stay exact strings.
2. **time sort** -- each user's interactions are sorted by timestamp; equal timestamps
   keep their input (file) order, so the result never depends on the sort algorithm.
3. **dedup** (default on) -- a repeated (user, item) pair keeps only its *earliest*
   interaction (time order, then file order). Full-ranking evaluation excludes a user's
   history, so a repeated target could never be hit.
4. **k-core** (``k_core=k``) -- drop users and items with fewer than k interactions,
   again and again until nothing changes (removing an item can push a user under k).
5. **remap** -- users become 0..U-1 and items 1..V (0 is padding), both in ascending
   order of raw id (numeric order for integer ids, string order otherwise); so for
   MovieLens-100K without filtering, item id == raw id and user id == raw id - 1.

Item text and content vectors, given as ``{raw item id: value}``, are aligned to the new
item ids. Entries for items absent from the interactions are skipped with one logged
warning; items without an entry get ``""`` (text) or a zero row (content), also logged.
"""
import logging
import re
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("minih2rec.data")

_CANONICAL_INT = re.compile(r"0|[1-9][0-9]{0,17}")


@dataclass
class Interactions:
    """Time-ordered item sequences of U users over V items (ids 1..V, 0 = padding).

    Attributes
    ----------
    sequences : list of U int64 arrays -- user u's items in time order.
    num_items : int -- V.
    user_ids : ndarray (U,) -- raw id of each user.
    item_ids : ndarray (V+1,) -- raw id of each item (index 0 = padding placeholder).
    item_text : list of V+1 str or None -- item descriptions ("" for padding).
    content : ndarray (V+1, D) float32 or None -- item content vectors, row 0 zeros.
    name : str -- dataset name used in printouts.
    timestamps : list of U float64 arrays or None -- aligned with ``sequences``.
    item_meta : dict of name -> ndarray (V+1,) -- extra per-item columns (e.g. planted
        ``"cluster"`` of the synthetic data, -1 for padding).
    """

    sequences: list
    num_items: int
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_text: list = None
    content: np.ndarray = None
    name: str = "data"
    timestamps: list = None
    item_meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sequences = [np.asarray(s, dtype=np.int64) for s in self.sequences]
        self.num_items = int(self.num_items)
        self.user_ids = np.asarray(self.user_ids)
        self.item_ids = np.asarray(self.item_ids)
        U, V = len(self.sequences), self.num_items
        if len(self.user_ids) != U:
            raise ValueError(f"user_ids has {len(self.user_ids)} entries for {U} sequences")
        if len(self.item_ids) != V + 1:
            raise ValueError(f"item_ids has {len(self.item_ids)} entries, expected V+1 = {V + 1}")
        if U and self.num_interactions:
            flat = np.concatenate(self.sequences)
            if flat.min() < 1 or flat.max() > V:
                bad = flat[(flat < 1) | (flat > V)][0]
                raise ValueError(f"item id {bad} in sequences is outside 1..{V}")
        if self.item_text is not None and len(self.item_text) != V + 1:
            raise ValueError(f"item_text has {len(self.item_text)} entries, expected {V + 1}")
        if self.content is not None:
            self.content = np.asarray(self.content, dtype=np.float32)
            if self.content.ndim != 2 or self.content.shape[0] != V + 1:
                raise ValueError(f"content has shape {self.content.shape}, expected ({V + 1}, D)")
            bad = np.flatnonzero(~np.isfinite(self.content).all(axis=1))
            if bad.size:                          # a NaN here would only surface deep in PCA / k-means
                raise ValueError(f"content row {bad[0]} (item id {bad[0]}) of {self.name} has a NaN or "
                                 f"inf entry ({bad.size} such rows)")
        if self.timestamps is not None:
            self.timestamps = [np.asarray(t, dtype=np.float64) for t in self.timestamps]
            if [len(t) for t in self.timestamps] != [len(s) for s in self.sequences]:
                raise ValueError("timestamps are not aligned with sequences")
        for key, col in self.item_meta.items():
            if len(col) != V + 1:
                raise ValueError(f"item_meta[{key!r}] has {len(col)} entries, expected {V + 1}")

    @property
    def num_users(self):
        """U, the number of users."""
        return len(self.sequences)

    @property
    def num_interactions(self):
        """Total number of (user, item) events."""
        return int(sum(len(s) for s in self.sequences))

    def lengths(self):
        """(U,) int64 sequence lengths."""
        return np.array([len(s) for s in self.sequences], dtype=np.int64)

    def item_popularity(self):
        """(V+1,) int64 interaction count per item (index 0, padding, is 0)."""
        if not self.num_interactions:
            return np.zeros(self.num_items + 1, dtype=np.int64)
        return np.bincount(np.concatenate(self.sequences), minlength=self.num_items + 1)

    def describe(self):
        """One-line summary, e.g. ``ml-100k: 943 users, 1,682 items, 100,000 interactions, ...``."""
        n, U, V = self.num_interactions, self.num_users, self.num_items
        lens = self.lengths()
        text = f"{self.name}: {U:,} users, {V:,} items, {n:,} interactions"
        if U:
            text += (f", length min/median/max {lens.min()}/{int(np.median(lens))}/{lens.max()}"
                     f", density {n / max(U * V, 1):.2%}")
        extras = [w for w, have in (("text", self.item_text is not None),
                                    ("content", self.content is not None)) if have]
        return text + (f", item {' + '.join(extras)}" if extras else "")

    def __repr__(self):
        return f"Interactions({self.describe()})"

    @classmethod
    def from_triples(cls, users, items, timestamps=None, **kwargs):
        """Alias of :func:`build_interactions`."""
        return build_interactions(users, items, timestamps, **kwargs)


def build_interactions(users, items, timestamps=None, *, item_text=None, content=None,
                       dedup=True, k_core=0, name="data", source=None):
    """Turn raw (user, item, timestamp) triples into an :class:`Interactions`.

    Parameters
    ----------
    users, items : sequences of raw ids (int or str tokens), length n.
    timestamps : sequence of n finite numbers, or None (input order is time order).
    item_text : dict raw item id -> str, or None.
    content : dict raw item id -> 1-d vector (all of one length D), or None.
    dedup : bool -- keep only the earliest interaction of each (user, item) pair.
    k_core : int >= 0 -- iterative k-core filter (0 or 1: no filter).
    name : str -- dataset name.
    source : str or None -- file(s) the triples came from, quoted in error messages.

    Returns
    -------
    Interactions

    Raises
    ------
    ValueError naming ``source`` when lengths differ, a timestamp is not finite, the input
    is empty, or nothing is left after the k-core filter.
    """
    where = f" in {source}" if source else ""
    if isinstance(k_core, bool) or not isinstance(k_core, (int, np.integer)) or k_core < 0:
        raise ValueError(f"k_core={k_core!r} must be an integer >= 0 (0 or 1: no filter)")
    n = len(users)
    if len(items) != n or (timestamps is not None and len(timestamps) != n):
        raise ValueError(f"users, items and timestamps have different lengths{where}")
    if n == 0:
        raise ValueError(f"no interactions{where}")
    user_raw, u = _encode_ids(users)            # u (n,) codes into user_raw (sorted raw ids)
    item_raw, i = _encode_ids(items)
    ts = np.zeros(n) if timestamps is None else np.asarray(timestamps, dtype=np.float64)
    if not np.isfinite(ts).all():
        raise ValueError(f"timestamp {ts[~np.isfinite(ts)][0]} is not finite{where}")

    order = np.lexsort((np.arange(n), ts, u))   # by user, then time, then input order
    u, i, ts = u[order], i[order], ts[order]
    if dedup:
        _, first = np.unique(u * len(item_raw) + i, return_index=True)
        keep = np.sort(first)                    # earliest row of each pair, order kept
        u, i, ts = u[keep], i[keep], ts[keep]
    if k_core > 1:
        keep = kcore_mask(u, i, k_core)
        if not keep.any():
            raise ValueError(f"no interactions left after {k_core}-core filtering{where} "
                             f"(before: {len(u):,} interactions, {len(np.unique(u)):,} users, "
                             f"{len(np.unique(i)):,} items)")
        u, i, ts = u[keep], i[keep], ts[keep]

    users_kept, u = np.unique(u, return_inverse=True)   # contiguous 0..U-1, raw order kept
    items_kept, i = np.unique(i, return_inverse=True)
    i = i + 1                                            # items 1..V, 0 = padding
    V = len(items_kept)
    cuts = np.flatnonzero(np.diff(u)) + 1                # rows are grouped by user
    item_ids = _with_pad(item_raw[items_kept])
    return Interactions(
        sequences=np.split(i.astype(np.int64), cuts), num_items=V,
        user_ids=user_raw[users_kept], item_ids=item_ids,
        item_text=_align(item_text, item_ids, item_raw, "", "text", where),
        content=_align_content(content, item_ids, item_raw, where),
        name=name, timestamps=None if timestamps is None else np.split(ts, cuts))


def kcore_mask(u, i, k):
    """Boolean mask of the iterative k-core: every kept user and item has >= k kept rows.

    ``u`` and ``i`` are (n,) non-negative int codes. The loop removes all rows of users or
    items under k and repeats until stable; the result is the largest such subset.
    """
    keep = np.ones(len(u), dtype=bool)
    while True:
        cu = np.bincount(u[keep], minlength=int(u.max()) + 1 if len(u) else 0)
        ci = np.bincount(i[keep], minlength=int(i.max()) + 1 if len(i) else 0)
        new = keep & (cu[u] >= k) & (ci[i] >= k)
        if new.sum() == keep.sum():
            return new
        keep = new


def _encode_ids(values):
    """Raw ids -> (sorted unique raw ids, (n,) int64 codes); all-canonical tokens become int64."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype.kind == "O" and all(type(v) is int and -2**63 <= v < 2**63 for v in arr):
        arr = arr.astype(np.int64)                      # a list of Python ints
    if arr.dtype.kind in "iu":
        uniq, codes = np.unique(arr.astype(np.int64), return_inverse=True)
        return uniq, codes.astype(np.int64)
    index = {}                                          # token -> first-appearance code
    tokens = [v if type(v) is str else str(v) for v in values]
    codes = np.array([index.setdefault(t, len(index)) for t in tokens], dtype=np.int64)
    tokens = list(index)
    if all(_CANONICAL_INT.fullmatch(t) for t in tokens):
        raw = np.array([int(t) for t in tokens], dtype=np.int64)
        order = np.argsort(raw, kind="stable")
    else:
        raw = np.empty(len(tokens), dtype=object)
        raw[:] = tokens
        order = np.array(sorted(range(len(tokens)), key=tokens.__getitem__), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return raw[order], rank[codes]


def _with_pad(raw):
    """Prepend a padding placeholder (0 for ints, "" for strings) to raw item ids."""
    pad = np.zeros(1, dtype=raw.dtype) if raw.dtype.kind in "iu" else np.array([""], dtype=object)
    return np.concatenate([pad, raw])


def _key(k, numeric):
    """Normalise a mapping key to the raw-id type (canonical int strings -> int)."""
    if numeric:
        if isinstance(k, (int, np.integer)):
            return int(k)
        k = str(k)
        return int(k) if _CANONICAL_INT.fullmatch(k) else None
    return k if isinstance(k, str) else str(k)


def _normalise(mapping, item_raw, what, where):
    """Re-key ``mapping`` to raw-id type; warn once about keys that are not known items."""
    numeric = item_raw.dtype.kind in "iu"
    known = set(item_raw.tolist())
    out, unknown = {}, []
    for k, v in mapping.items():
        kk = _key(k, numeric)
        if kk in known:
            out[kk] = v
        else:
            unknown.append(k)
    if unknown:
        log.warning("%d item %s entries%s name items that have no interactions; skipped "
                    "(first: %s)", len(unknown), what, where, ", ".join(map(repr, unknown[:5])))
    return out


def _align(mapping, item_ids, item_raw, default, what, where):
    """List of V+1 values for the new item ids from a raw-id mapping (None stays None)."""
    if mapping is None:
        return None
    m = _normalise(mapping, item_raw, what, where)
    raws = item_ids[1:].tolist()
    missing = sum(1 for r in raws if r not in m)
    if missing:
        log.warning("%d of %d items%s have no %s; using %r", missing, len(raws), where, what,
                    default)
    return [default] + [m.get(r, default) for r in raws]


def _align_content(content, item_ids, item_raw, where):
    """(V+1, D) float32 content rows for the new item ids (row 0 and missing items: zeros)."""
    if content is None:
        return None
    rows = _align(content, item_ids, item_raw, None, "content vector", where)
    dims = {np.shape(r) for r in rows[1:] if r is not None}
    if len(dims) > 1 or any(len(d) != 1 for d in dims):
        raise ValueError(f"content vectors{where} must all be 1-d of one length, got {dims}")
    D = dims.pop()[0] if dims else 0
    out = np.zeros((len(rows), D), dtype=np.float64)
    for r, vec in enumerate(rows):
        if vec is not None:
            out[r] = vec
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:                                  # checked in float64: 1e39 is finite here, inf in float32
        raise ValueError(f"content vector of item {item_ids[bad[0]]!r}{where} has a NaN or inf entry "
                         f"({bad.size} such items)")
    return out.astype(np.float32)
