"""Evaluation protocols: full ranking (default) and the paper's 100 sampled negatives.

Leave-one-out: each user's input is its history (``split.history(stage)``:
training items for ``"valid"``, training items + the validation item for
``"test"``) and the target is the held-out next item. Users whose target is 0
(too short to hold one out) are skipped.

**Full ranking** (``protocol="full"``). Score all V items, exclude item 0 and
every item of the user's history -- *except the target itself*: with repeat
consumption the target can be in the history, and excluding it would make a
hit impossible. Take the top ``K = max(ks)`` with
:func:`minih2rec.kernels.topk.topk_exclude`; the target's rank is its position
there, or "K or worse". Ties between the target and another item follow the
kernel's rule: lower item id first.

**Sampled ranking** (``protocol="sampled"``). For each user draw
``num_negatives`` items *without replacement*, uniformly from the items the
user never interacted with (not in its full sequence: training, validation and
test items), with ``np.random.default_rng(seed)``, user by user in user order
(so the draw does not depend on ``batch_size``). Rank the target among itself
and its negatives; **a negative that ties with the target counts as above it**
(pessimistic), so constant scores give the worst rank, not the best.

Both protocols report the number of users whose target tied another candidate
(``settings["tied_users"]``), since ties are resolved differently.

**Batches by length.** Users are scored in batches of similar history length (sorted by
``min(len(history), max_len)``, ties by user id), each batch cut to its longest row, and
the ranks are put back in user order: on long-tailed data (median 7 items, a few of 200)
id-order batches would be padded to ~200 columns while most rows hold a handful of items.
A sorted batch also holds at most ``batch_tokens`` row-tokens (B x T), so the long tail
runs in smaller batches (attention costs B T^2 per layer; 8,192 tokens = 40 users of 200).
Padded columns never change a real output, so the ranks are those of id-order batches
(``by_length=False``; tests/test_eval_batches.py checks both agree exactly). The
user-independent part of scoring (item tables, ``model.score_tables()`` when the model
has it) is computed once per pass, not once per batch.

Shapes: B users in a batch, T input length, V items (V+1 score columns,
column 0 = padding), U evaluated users, N negatives per user.
"""
import numpy as np
from tqdm.auto import tqdm

from .. import validate
from ..data.batching import left_pad
from ..kernels.topk import topk_exclude
from .groups import group_means, user_group_masks
from .metrics import metrics_from_ranks, rank_among_candidates, rank_in_topk
from .result import EvalResult

PROTOCOLS = ("full", "sampled")
STAGES = ("valid", "test")


def evaluate(model, split, stage="test", protocol="full", ks=(5, 10, 20), num_negatives=100,
             seed=0, batch_size=256, max_len=None, head_share=0.2, progress=False, by_length=True,
             batch_tokens=8192):
    """Evaluate ``model`` on the leave-one-out ``split``; metrics overall and per group.

    Parameters
    ----------
    model : object with ``score_users(seq (B,T) int64, positions (T,) int64) -> (B, V+1)``
        (scores at the last position, no gradient; column 0 is padding). If it has
        ``eval()``/``train()`` and a ``training`` flag, it is put in eval mode for the
        call and restored afterwards. If it has ``score_tables()``, that is called once
        and passed on as ``score_users(seq, positions, tables=...)``.
    split : object with ``history(stage)`` (list of int arrays per user), ``valid_target``
        and ``test_target`` ((U,) int64, 0 = none), ``num_items`` V and ``train_popularity()``
        ((V+1,) int64) -- e.g. :class:`minih2rec.data.Split`.
    stage : "valid" or "test".
    protocol : "full" (rank all items) or "sampled" (target vs ``num_negatives`` negatives).
    ks : sequence of int -- cutoffs for HR@K and NDCG@K.
    num_negatives : int -- negatives per user (sampled protocol only).
    seed : int -- seed of the negative sampler (sampled protocol only).
    batch_size : int -- users scored per call of ``score_users``.
    max_len : int or None -- None: ``model.config.max_len`` (else 50). The input is the last
        ``max_len`` history items, left-padded;
        positions are ``arange(max_len - T, max_len)`` so the last column is ``max_len - 1``.
    head_share : float -- share of items (by training popularity) in the head group.
    progress : bool -- show a tqdm progress bar (users/s).
    by_length : bool -- score users in batches sorted by history length (default, fast);
        False: in user-id order. Same ranks either way.
    batch_tokens : int or None -- with ``by_length``, at most this many row-tokens (users x
        columns) per batch (a batch has at least one user); None: ``batch_size`` users only.

    Returns
    -------
    EvalResult -- ``.overall``, ``.groups`` (head, tail, buckets, length groups), ``.counts``,
    ``.description`` naming the protocol, per-user ``.ranks``.

    Raises
    ------
    ValueError on an unknown stage/protocol, bad ``ks``, a score matrix of the wrong shape
    or with NaN, no user to evaluate, or (sampled) a user with fewer never-seen items
    than ``num_negatives``.
    """
    validate.choice(stage, STAGES, "stage", "evaluate")
    validate.choice(protocol, PROTOCOLS, "protocol", "evaluate")
    ks = _check_ks(ks)
    if batch_tokens is not None and (int(batch_tokens) != batch_tokens or batch_tokens < 1):
        raise ValueError(f"evaluate: batch_tokens must be a positive integer or None, got {batch_tokens!r}")
    if max_len is None:
        max_len = getattr(getattr(model, "config", None), "max_len", None) or 50
    for name, v in (("batch_size", batch_size), ("max_len", max_len), ("num_negatives", num_negatives)):
        validate.whole(v, name, "evaluate")
    V = int(split.num_items)
    history, targets, users = _stage_targets(split, stage)

    negatives = None
    if protocol == "sampled":
        full = split.history("test") if stage == "valid" else history   # train + [valid]
        seen = [_full_sequence(full[u], split.valid_target[u], split.test_target[u]) for u in users]
        negatives = sample_negatives(seen, V, num_negatives, np.random.default_rng(seed), users)

    ranks = np.empty(users.size, dtype=np.int64)              # (U,) in user order
    lengths = np.array([min(len(history[u]), max_len) for u in users], dtype=np.int64)   # (U,)
    order = np.argsort(lengths, kind="stable") if by_length else np.arange(users.size)   # (U,)
    if protocol == "full":   # one CSR for the pass, rows in scoring order; a batch is a slice of it
        excl_indptr, excl_indices = exclusion_csr([history[u] for u in users[order]], targets[users[order]])
    tied = 0
    was_training = getattr(model, "training", None)
    if was_training and hasattr(model, "eval"):
        model.eval()
    bar = _progress(users.size, progress, f"eval {protocol}/{stage}")
    try:
        tables = model.score_tables() if hasattr(model, "score_tables") else None
        for start, stop in _batch_bounds(lengths[order], batch_size, batch_tokens if by_length else None):
            idx = order[start:stop]                           # (B,) positions in `users`
            bu = users[idx]                                   # (B,) user ids
            t = targets[bu]                                   # (B,)
            seq, positions = left_pad([history[u] for u in bu], max_len)   # cut to the longest row
            scores = _score(model, seq, positions, V, bu, tables)          # (B, V+1)
            if protocol == "full":
                lo, hi = excl_indptr[start], excl_indptr[stop]
                indptr, indices = excl_indptr[start:stop + 1] - lo, excl_indices[lo:hi]
                ids = topk_exclude(scores, ks[-1], indptr, indices)   # (B, K)
                ranks[idx] = rank_in_topk(ids, t)
                tied += _count_full_ties(scores, t, indptr, indices)
            else:
                rows = np.arange(bu.size)[:, None]
                neg_scores = scores[rows, negatives[idx]]     # (B, N)
                t_scores = scores[np.arange(bu.size), t]      # (B,)
                ranks[idx] = rank_among_candidates(t_scores, neg_scores)
                tied += int((neg_scores == t_scores[:, None]).any(axis=1).sum())
            bar.update(bu.size)
    finally:
        bar.close()
        if was_training and hasattr(model, "train"):
            model.train()

    per_user = metrics_from_ranks(ranks, ks)
    overall = {m: float(v.mean()) for m, v in per_user.items()}
    train_hist = history if stage == "valid" else split.history("valid")   # training items only
    train_len = np.array([len(train_hist[u]) for u in users], dtype=np.int64)
    masks, item_counts = user_group_masks(targets[users], train_len, split.train_popularity(), head_share)
    groups, counts = group_means(per_user, masks)
    counts = {"overall": int(users.size), **counts}
    settings = {"num_items": V, "max_len": int(max_len), "head_share": float(head_share),
                "tied_users": int(tied), "skipped_users": int(targets.size - users.size)}
    if protocol == "sampled":
        settings.update(num_negatives=int(num_negatives), seed=int(seed))
    return EvalResult(protocol=protocol, stage=stage,
                      description=describe(protocol, stage, V, users.size, num_negatives, seed),
                      ks=ks, overall=overall, groups=groups, counts=counts,
                      item_counts=item_counts, model=str(getattr(model, "name", type(model).__name__)),
                      settings=settings, ranks=ranks, users=users)


def describe(protocol, stage, num_items, num_users, num_negatives=100, seed=0):
    """The protocol in words, e.g. ``"full ranking over 1,682 items, 943 users (...)"``."""
    if protocol == "full":
        seen = "training items" if stage == "valid" else "training + validation items"
        return (f"full ranking over {num_items:,} items, {num_users:,} users "
                f"({seen} excluded except the target; ties: lower item id first)")
    return (f"sampled: {num_negatives:,} negatives/user, without replacement, never-seen items "
            f"(seed {seed}); {num_users:,} users, {num_items:,} items (ties count against the target)")


def exclusion_csr(histories, targets):
    """Per user: item 0 and every history item, minus the target. CSR for ``topk_exclude``.

    Parameters
    ----------
    histories : list of B int arrays -- the user's full input history (not truncated).
    targets : array-like int (B,) -- never excluded, even when it occurs in the history.

    Returns
    -------
    (indptr (B+1,) int64, indices (nnz,) int64) -- each row sorted and unique.
    """
    B = len(histories)
    if B == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)                         # (B,)
    sizes = np.array([len(h) for h in histories], dtype=np.int64)         # (B,)
    flat = np.concatenate([np.asarray(h, dtype=np.int64).ravel() for h in histories])
    items = np.concatenate([flat, np.zeros(B, dtype=np.int64)])           # (nnz + B,) + item 0 per row
    rows = np.concatenate([np.repeat(np.arange(B), sizes), np.arange(B)])
    keep = items != targets[rows]                                         # the target stays rankable
    width = int(items.max()) + 1
    key = np.unique(rows[keep] * width + items[keep])                     # sorted by row, then item
    indptr = np.zeros(B + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(key // width, minlength=B))
    return indptr, key % width


def sample_negatives(seen, num_items, num_negatives, rng, users=None):
    """Draw negatives without replacement from the items each user never interacted with.

    Parameters
    ----------
    seen : list of U int arrays -- every item of the user's full sequence (0 ignored).
    num_items : int -- V; candidates are ``1..V`` minus ``seen[u]``.
    num_negatives : int -- N, distinct per user.
    rng : np.random.Generator -- consumed user by user in list order.
    users : array-like (U,) or None -- user ids, only used in the error message.

    Returns
    -------
    ndarray int64 (U, N).

    Raises
    ------
    ValueError if a user has fewer than N never-seen items.
    """
    out = np.empty((len(seen), num_negatives), dtype=np.int64)   # (U, N)
    mask = np.zeros(num_items + 1, dtype=bool)                     # scratch: True = seen
    for i, s in enumerate(seen):
        s = np.asarray(s, dtype=np.int64)
        mask[s] = True
        candidates = np.flatnonzero(~mask[1:]) + 1                 # never-seen items 1..V
        mask[s] = False
        if candidates.size < num_negatives:
            who = users[i] if users is not None else i
            raise ValueError(f"sample_negatives: user {who} has only {candidates.size} never-seen "
                             f"items, cannot draw {num_negatives} negatives without replacement; "
                             f"lower num_negatives")
        out[i] = rng.choice(candidates, size=num_negatives, replace=False)
    return out


def _full_sequence(history_test, valid_target, test_target):
    """Every item a user interacted with: training + validation history and both targets (0s dropped)."""
    extra = np.array([valid_target, test_target], dtype=np.int64)
    items = np.concatenate([np.asarray(history_test, dtype=np.int64), extra])
    return items[items > 0]


def _score(model, seq, positions, V, users, tables=None):
    """Call ``model.score_users`` and check the result is a finite-or-inf (B, V+1) float matrix."""
    scores = np.asarray(model.score_users(seq, positions) if tables is None
                        else model.score_users(seq, positions, tables=tables))
    if scores.shape != (seq.shape[0], V + 1):
        raise ValueError(f"evaluate: score_users returned shape {scores.shape}, expected "
                         f"{(seq.shape[0], V + 1)} (batch, num_items + 1)")
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    if np.isnan(scores.min()):                # one pass, no (B, V+1) temporary: NaN propagates
        nan_rows = np.flatnonzero(np.isnan(scores).any(axis=1))
        raise ValueError(f"evaluate: score_users returned NaN for user {int(users[nan_rows[0]])} "
                         f"({nan_rows.size} user(s) in this batch)")
    return np.ascontiguousarray(scores)


def _count_full_ties(scores, targets, indptr, indices):
    """Users whose target score equals the score of another allowed (non-excluded) item."""
    B = scores.shape[0]
    t_scores = scores[np.arange(B), targets]                       # (B,)
    eq = scores == t_scores[:, None]                               # (B, V+1)
    eq[np.repeat(np.arange(B), np.diff(indptr)), indices] = False  # excluded items never compete
    eq[np.arange(B), targets] = False                              # the target itself
    return int(eq.any(axis=1).sum())


def _stage_targets(split, stage):
    """``(history, targets (U_all,), users (U,))`` of ``stage``: the users that have a target, checked."""
    history = split.history(stage)
    targets = np.asarray(split.valid_target if stage == "valid" else split.test_target, dtype=np.int64)
    if len(history) != targets.shape[0]:
        raise ValueError(f"evaluate: history({stage!r}) has {len(history)} users but the "
                         f"{stage} targets have {targets.shape[0]}")
    users = np.flatnonzero(targets > 0)                       # (U,)
    if users.size == 0:
        raise ValueError(f"evaluate: no user has a {stage} target (all targets are 0)")
    if targets.max() > split.num_items:
        raise ValueError(f"evaluate: {stage} target {int(targets.max())} > num_items {split.num_items}")
    return history, targets, users


def _batch_bounds(lengths, batch_size, batch_tokens=None):
    """``(start, stop)`` of consecutive batches: <= ``batch_size`` users, <= ``batch_tokens`` B x T.

    ``lengths`` (U,) are the input lengths in scoring order; a batch is cut to its longest row,
    so with ascending lengths the row-tokens of a batch are its size times its last length.
    """
    bounds, start, n = [], 0, len(lengths)
    while start < n:
        stop = min(start + batch_size, n)
        if batch_tokens is not None:
            cols = np.maximum.accumulate(np.maximum(lengths[start:stop], 1))   # T if cut after row i
            fits = np.arange(1, stop - start + 1) * cols <= batch_tokens     # True..True False..
            stop = start + max(1, int(np.argmin(fits)) if not fits.all() else stop - start)
        bounds.append((start, stop))
        start = stop
    return bounds


def _check_ks(ks):
    """Cutoffs as a sorted tuple of distinct positive ints."""
    if any(isinstance(k, bool) or int(k) != k for k in ks):
        raise ValueError(f"evaluate: ks must be integers, got {tuple(ks)!r}")
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise ValueError(f"evaluate: ks must be positive integers, got {ks!r}")
    return ks


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, enabled, desc):
    """A tqdm bar counting users (with users/s) or a silent stand-in."""
    if not enabled:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="user")
