"""Length-sorted evaluation batches give exactly the ranks of user-id-order batches.

``evaluate`` scores users in batches sorted by history length (each cut to its longest
row) and reuses the model's ``score_tables()`` across batches; ``by_length=False`` is the
plain id-order evaluation. On a long-tailed split (most users short, a few longer than
``max_len``) both must give the same ranks, ties and metrics for every model type and
both protocols, while the sorted pass runs far fewer padded row-tokens.
"""
import numpy as np
import pytest

from minih2rec.data import split_leave_one_out
from minih2rec.data.shaped import lognormal_lengths, make_shaped
from minih2rec.eval import evaluate
from minih2rec.eval.protocols import _batch_bounds, exclusion_csr
from minih2rec.models import SASRecConfig
from minih2rec.models.fusion import FusionConfig, FusionRec
from minih2rec.models.h2rec import H2Rec, H2RecConfig
from minih2rec.models.sasrec import SASRec
from minih2rec.models.sid import SIDConfig, SIDRec

V, L, K, MAX_LEN = 300, 3, 8, 20
# distinct code tuples: two items with one tuple have equal SID rows, and whether their scores
# tie exactly is then up to BLAS rounding (it can differ between columns) in either batch order
_tuples = np.random.default_rng(1).choice(K ** L, size=V + 1, replace=False)     # (V+1,)
CODES = np.stack([_tuples // K ** l % K for l in range(L)], axis=1)               # (V+1, L)


@pytest.fixture(scope="module")
def split():
    # median length ~7, a tail past max_len: id-order batches are padded to their longest member
    inter = make_shaped(num_users=150, num_items=V, length_sampler=lognormal_lengths(3, 1.5, 1.0, 60),
                        seed=0)
    return split_leave_one_out(inter)


def make_model(name):
    if name == "sasrec":
        return SASRec(SASRecConfig.tiny(V, max_len=MAX_LEN))
    cls, config = {"sid": (SIDRec, SIDConfig), "fusion": (FusionRec, FusionConfig),
                   "h2rec": (H2Rec, H2RecConfig)}[name]
    return cls(config.tiny(V, L, K, max_len=MAX_LEN), CODES)


class Spy:
    """Wraps a model: records the shape of every ``score_users`` input and counts ``score_tables``."""

    def __init__(self, model):
        self.model, self.shapes, self.table_calls = model, [], 0
        self.config, self.name = model.config, model.name

    def score_tables(self):
        self.table_calls += 1
        return self.model.score_tables()

    def score_users(self, seq, positions, tables=None):
        self.shapes.append(seq.shape)
        return self.model.score_users(seq, positions, tables=tables)


@pytest.mark.parametrize("protocol", ["full", "sampled"])
@pytest.mark.parametrize("name", ["sasrec", "sid", "fusion", "h2rec"])
def test_sorted_batches_give_id_order_ranks(split, name, protocol):
    model = make_model(name)
    fast, slow = Spy(model), Spy(model)
    kw = dict(stage="valid", protocol=protocol, num_negatives=100, ks=(1, 5, 10, 20), batch_size=16)
    a = evaluate(fast, split, by_length=True, batch_tokens=128, **kw)
    b = evaluate(slow, split, by_length=False, **kw)
    np.testing.assert_array_equal(a.users, b.users)
    mismatch = np.flatnonzero(a.ranks != b.ranks)
    assert mismatch.size == 0, (f"{name}/{protocol}: user {a.users[mismatch[0]]} rank "
                                f"{a.ranks[mismatch[0]]} (sorted) vs {b.ranks[mismatch[0]]} (id order)")
    assert a.to_dict() == b.to_dict()                  # metrics, groups, tied users: bit for bit
    assert a.ranks.min() < a.ranks.max()               # an informative ranking, not all misses
    # the sorted pass really regrouped users, cut padding and capped the tokens of a batch;
    # tables were built once per pass
    assert all(B * T <= 128 for B, T in fast.shapes) and max(T for _, T in fast.shapes) == MAX_LEN
    assert all(B == 16 for B, _ in slow.shapes[:-1])
    tokens = [sum(B * T for B, T in s.shapes) for s in (fast, slow)]
    assert tokens[0] < 0.6 * tokens[1], tokens
    assert fast.table_calls == 1 and slow.table_calls == 1


def test_shared_tables_score_like_fresh_ones(split):
    model = make_model("h2rec")
    model.train()
    seq = np.array([[0, 0, 3, 9, 4], [7, 1, 2, 5, 8]])
    positions = np.arange(MAX_LEN - 5, MAX_LEN)
    fresh = model.score_users(seq, positions)
    shared = model.score_users(seq, positions, tables=model.score_tables())
    np.testing.assert_array_equal(fresh, shared)
    assert fresh.shape == (2, V + 1) and model.training   # the train/eval mode is restored


def test_h2rec_builds_its_semantic_table_once_per_pass(split, monkeypatch):
    model = make_model("h2rec")
    calls = []
    table = model.code_emb.table
    monkeypatch.setattr(model.code_emb, "table", lambda: calls.append(1) or table())
    r = evaluate(model, split, stage="valid", batch_size=16)
    assert len(calls) == 1 and r.counts["overall"] > 16 * 3   # many batches, one e_s


def exclusion_ref(histories, targets):
    rows = [sorted(({0} | set(int(i) for i in h)) - {int(t)}) for h, t in zip(histories, targets)]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    return indptr, np.array([i for r in rows for i in r], dtype=np.int64)


def test_exclusion_csr_matches_per_user_sets():
    rng = np.random.default_rng(2)
    histories = [rng.integers(1, 30, size=rng.integers(0, 12)) for _ in range(60)]
    targets = rng.integers(1, 30, size=60)
    targets[::5] = [h[0] if len(h) else 1 for h in histories[::5]]     # targets inside the history
    got, want = exclusion_csr(histories, targets), exclusion_ref(histories, targets)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0].dtype == got[1].dtype == np.int64
    empty = exclusion_csr([], [])
    assert empty[0].tolist() == [0] and empty[1].size == 0


def test_batch_bounds_cap_users_and_tokens():
    lengths = np.array([1, 1, 2, 3, 3, 5, 8, 8, 9, 20, 20, 50])
    bounds = _batch_bounds(lengths, batch_size=4, batch_tokens=16)
    assert bounds == [(0, 4), (4, 6), (6, 8), (8, 9), (9, 10), (10, 11), (11, 12)]
    # contiguous, every user once; each batch within both caps unless it is a single user
    assert bounds[0][0] == 0 and bounds[-1][1] == lengths.size
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    for start, stop in bounds:
        assert stop - start <= 4
        assert (stop - start) * lengths[start:stop].max() <= 16 or stop - start == 1
    assert _batch_bounds(lengths, 5) == [(0, 5), (5, 10), (10, 12)]   # no token cap
    assert _batch_bounds(np.array([0, 0, 0]), 8, 2) == [(0, 2), (2, 3)]   # empty rows take a column


def test_batch_tokens_must_be_positive(split):
    with pytest.raises(ValueError, match="batch_tokens"):
        evaluate(make_model("sasrec"), split, batch_tokens=0)
