"""H2Rec: config and input validation, shapes, causality, padding, gate, ablations, gradients, training."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.autograd import Tensor, gradcheck
from minih2rec.losses import alignment
from minih2rec.losses.alignment import code_alignment_loss, code_positive_weights
from minih2rec.losses.cooccurrence import CoOccurrence
from minih2rec.models import h2rec as h2rec_module
from minih2rec.models.h2rec import H2Rec, H2RecConfig
from minih2rec.optim import Adam

from _batches import make_batch as _make_batch

pytestmark = pytest.mark.numpy_backend

V, L, K = 12, 3, 4
CODES = np.random.default_rng(7).integers(0, K, size=(V + 1, L))


def config(**overrides):
    return H2RecConfig(**{"num_items": V, "num_levels": L, "codebook_size": K, "max_len": 8, "d": 8,
                          "blocks": 1, "dropout": 0.0, "code_init": "random", **overrides})


def model(codes=CODES, **overrides):
    return H2Rec(config(**overrides), codes)


def make_batch(rows, T, seed=0):
    return _make_batch(rows, T, V, seed)


BATCH = make_batch([[1, 2, 3, 4], [5, 6, 7, 8, 9, 10], [11, 12, 1]], T=6)


# ---------------------------------------------------------------- construction
@pytest.mark.parametrize("field, value", [("lambda_code", -0.1), ("tau_msg", 0.0), ("tau_code", -1.0),
                                          ("code_items_cap", 0), ("cooc_window", 0), ("mask_levels", 4),
                                          ("gate", 1), ("num_levels", 0), ("heads", 3), ("code_init", "pca"),
                                          ("loss", "hinge"), ("dropout", 1.0), ("gate_hidden", 0),
                                          ("hid_dropout", 1.0), ("hid_dropout", -0.1)])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"H2RecConfig.{field}="):
        config(**{field: value})


def test_codes_and_required_inputs_are_validated():
    with pytest.raises(ValueError, match=r"shape \(V\+1, L\) = \(13, 3\)"):
        model(codes=CODES[:, :2])
    bad = CODES.copy()
    bad[5, 1] = K
    with pytest.raises(ValueError, match=r"codes\[5, 1\] = 4 is outside"):
        model(codes=bad)
    with pytest.raises(ValueError, match="code_init='rq' needs codebooks"):
        model(code_init="rq")
    with pytest.raises(ValueError, match="hot_start=True needs content"):
        model(hot_start=True)
    with pytest.raises(ValueError, match="behaviour_positives=True needs cooc"):
        model(behaviour_positives=True)
    with pytest.raises(IndexError, match="item id 13"):
        model()(np.array([[1, 13]]), np.arange(2))


def test_rq_init_and_hot_start_build():
    rng = np.random.default_rng(0)
    m = H2Rec(config(code_init="rq", hot_start=True), CODES, codebooks=rng.standard_normal((L, K, 5)),
              content=rng.standard_normal((V + 1, 5)))
    assert np.all(m.item_emb.weight.data[0] == 0)
    assert np.isfinite(m.loss(BATCH).item())


# ---------------------------------------------------------------- the model contract
def test_shapes_table_and_score_users():
    m = model(dropout=0.3)
    H = m(BATCH.seq, BATCH.positions)
    table = m.item_table()
    assert H.shape == (3, 6, 16) and table.shape == (V + 1, 16)
    assert np.all(table.data[0] == 0)
    np.testing.assert_allclose(table.data[:, :8], m.item_emb.weight.data)
    e_s = m.code_emb.weight.data[np.arange(L), CODES[1:]].mean(1)       # mean_l C^l[c^l] (V, d)
    np.testing.assert_allclose(table.data[1:, 8:], e_s, rtol=1e-6)
    scores = m.score_users(BATCH.seq, BATCH.positions)
    assert scores.shape == (3, V + 1) and m.training
    m.eval()
    expected = m(BATCH.seq, BATCH.positions).data[:, -1] @ m.item_table().data.T
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert m.needs_negatives is False and model(loss="bce").needs_negatives is True
    assert m.extra_arrays()["semantic/codes"].shape == (V + 1, L)


EVAL_MODEL = model(d=8, heads=2, blocks=2).eval()


SIX_ITEMS = st.lists(st.integers(1, V), min_size=6, max_size=6)


@given(SIX_ITEMS, SIX_ITEMS, st.integers(0, 5))
def test_causal_states_at_t_ignore_items_after_t(items, other, t):
    a = np.array([items])
    b = a.copy()
    b[0, t + 1:] = other[t + 1:]
    Ha = EVAL_MODEL(a, np.arange(6)).data
    Hb = EVAL_MODEL(b, np.arange(6)).data
    np.testing.assert_allclose(Ha[:, :t + 1], Hb[:, :t + 1], rtol=1e-5, atol=1e-6)


@given(st.lists(st.integers(1, V), min_size=1, max_size=5), st.integers(1, 3))
def test_left_padding_and_dynamic_cut_do_not_change_outputs(items, extra):
    n = len(items)
    short = EVAL_MODEL(np.array([items]), np.arange(8 - n, 8)).data                  # dynamic cut
    T = n + extra
    padded = EVAL_MODEL(np.array([[0] * extra + items]), np.arange(8 - T, 8)).data  # more padding
    np.testing.assert_allclose(padded[:, extra:], short, rtol=1e-4, atol=1e-5)
    assert np.all(padded[:, :extra] == 0)


def test_rows_do_not_interact_and_full_padding_matches_cut():
    seq = np.array([[0, 0, 0, 3, 7, 9], [1, 2, 3, 4, 5, 6]])
    both = EVAL_MODEL.score_users(seq, np.arange(2, 8))
    alone = EVAL_MODEL.score_users(seq[:1, 3:], np.arange(5, 8))
    np.testing.assert_allclose(both[:1], alone, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- gate
def test_gate_starts_at_the_prior_sums_to_one_and_can_be_switched_off():
    prior = np.exp(np.linspace(1.0, 0.2, L))
    m = model()
    alpha = m.gate_weights(BATCH.seq, BATCH.positions)
    np.testing.assert_allclose(alpha, np.tile(prior / prior.sum(), (3, 1)), rtol=1e-6)
    m.gate.fc2.weight.data[...] = np.random.default_rng(0).standard_normal(m.gate.fc2.weight.shape)
    alpha = m.gate_weights(BATCH.seq, BATCH.positions)
    np.testing.assert_allclose(alpha.sum(1), 1.0, rtol=1e-6)
    assert np.ptp(alpha[:, 0]) > 1e-3                                   # now per user
    np.testing.assert_allclose(model(gate=False).gate_weights(BATCH.seq, BATCH.positions), 1.0 / L)
    assert model(gate=False).gate is None


# ---------------------------------------------------------------- ablations
def test_ablation_flags_change_the_computation():
    base = model().eval()
    H = base(BATCH.seq, BATCH.positions).data
    for flag in ({"residual": False}, {"gate": False}, {"cross_attention": False},
                 {"shared_backbone": False}):
        other = model(**flag).eval()
        assert not np.allclose(other(BATCH.seq, BATCH.positions).data, H, atol=1e-4), flag
    assert model(cross_attention=False).num_parameters() < base.num_parameters()
    assert model(shared_backbone=False).num_parameters() > base.num_parameters()


def test_hid_dropout_drops_whole_hash_id_rows_in_training_only():
    m = model(hid_dropout=0.5)
    full = np.concatenate([m.item_emb.weight.data, m.code_emb.table().data], axis=1)   # (V+1, 2d)
    m.eval()
    np.testing.assert_array_equal(m.score_table(m.code_emb.table()).data, full)       # eval: all rows
    m.train()
    dropped = []
    for _ in range(20):
        t = m.score_table(m.code_emb.table()).data
        np.testing.assert_array_equal(t[:, 8:], full[:, 8:])                        # e_s never dropped
        gone = (t[:, :8] == 0).all(axis=1)
        np.testing.assert_array_equal(t[~gone, :8], full[~gone, :8])                 # kept rows unscaled
        dropped.append(gone[1:].mean())
    assert 0.35 < np.mean(dropped) < 0.65                                            # ~p of the rows


def test_without_cross_attention_the_hid_branch_ignores_codes():
    codes2 = (CODES + 1) % K
    for cross, same in ((False, True), (True, False)):
        a = model(cross_attention=cross).eval()(BATCH.seq, BATCH.positions).data[..., :8]
        b = model(codes=codes2, cross_attention=cross).eval()(BATCH.seq, BATCH.positions).data[..., :8]
        assert np.allclose(a, b, atol=1e-6) == same


def test_zero_lambdas_skip_the_alignment_terms():
    m = model(lambda_code=0.0, lambda_msg=0.0)
    m.loss(BATCH)
    assert set(m.last_losses) == {"rec"} and m.mask_emb is None
    m = model()
    total = m.loss(BATCH).item()
    parts = m.last_losses
    assert set(parts) == {"rec", "code", "msg"}
    np.testing.assert_allclose(total, parts["rec"] + 0.1 * parts["code"] + 0.1 * parts["msg"], rtol=1e-5)


# ---------------------------------------------------------------- the alignment terms, wired in
def test_code_loss_aligns_sid_and_hid_rows_of_the_distinct_targets():
    m = model()
    items = np.unique(BATCH.target[BATCH.target > 0])
    W = code_positive_weights(items, CODES)
    sid = m.code_emb.weight.data[np.arange(L), CODES[items]].mean(1)       # e_s(items)
    expected = code_alignment_loss(Tensor(sid), Tensor(m.item_emb.weight.data[items]), W, tau=0.5).item()
    np.testing.assert_allclose(m.code_loss(BATCH.target).item(), expected, rtol=1e-5)


def test_behaviour_positives_use_the_cooccurrence():
    cooc = CoOccurrence.from_sequences([np.array([1, 2, 3, 4, 5, 6, 7, 8])], V, window=3)
    plain = model().code_loss(BATCH.target).item()
    with_cooc = H2Rec(config(behaviour_positives=True), CODES, cooc=cooc).code_loss(BATCH.target).item()
    assert with_cooc < plain                                            # more positives, easier task


def test_msg_masks_the_lowest_gate_levels_with_learned_vectors():
    m = model(lambda_code=0.0)
    m.loss(BATCH).backward()
    g = np.abs(m.mask_emb.grad).sum(1)                                  # fresh gate: alpha decreasing
    assert g[-1] > 0 and np.all(g[:-1] == 0)                            # -> level L-1 masked for all


def test_loss_gradients_match_finite_differences(monkeypatch):
    """Whole loss in float64 w.r.t. a few parameters; L_msg's soft targets held fixed (stop-gradient)."""
    m = model(d=4, lambda_code=0.5, lambda_msg=0.5).to_dtype(np.float64)
    m.gate.fc2.weight.data[...] = np.random.default_rng(1).standard_normal(m.gate.fc2.weight.shape) * 0.3
    batch = make_batch([[1, 2, 3, 4], [5, 6, 7], [8, 9, 1, 2, 10]], T=4)
    captured = {}

    def fixed_targets(um, uf, tau=1.0):
        captured.setdefault("T", alignment.granularity_targets(um, uf))
        return alignment.masked_granularity_loss(um, uf, tau, targets=captured["T"])
    monkeypatch.setattr(h2rec_module, "masked_granularity_loss", fixed_targets)
    m.loss(batch)
    params = [m.mask_emb, m.code_emb.weight, m.gate.fc2.weight, m.level_attn.bq, m.item_emb.weight]
    assert all(p.dtype == np.float64 for p in params)
    assert gradcheck(lambda *_: m.loss(batch), *params, atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------- training and checkpoints
@pytest.mark.parametrize("loss", ["full_softmax", "bce"])
def test_overfits_a_handful_of_sequences(loss):
    T = 8
    rng = np.random.default_rng(0)
    rows = [rng.permutation(np.arange(1, V + 1))[:int(rng.integers(4, T + 2))] for _ in range(6)]
    batch = make_batch(rows, T)
    m = model(max_len=T, d=16, loss=loss)
    opt = Adam(m.parameters(), lr=0.01)
    first = None
    for _ in range(60):
        opt.zero_grad()
        value = m.loss(batch)
        value.backward()
        opt.step()
        first = first or dict(m.last_losses)
    factor = 0.1 if loss == "full_softmax" else 0.25
    assert m.last_losses["rec"] < factor * first["rec"], (first, m.last_losses)
    assert m.last_losses["code"] < first["code"]
    assert np.all(m.item_emb.weight.data[0] == 0)
    if loss == "full_softmax":
        scores = m.score_users(batch.seq, batch.positions)
        assert np.mean(scores[:, 1:].argmax(1) + 1 == np.array([r[-1] for r in rows])) >= 5 / 6


def test_state_dict_round_trip_gives_identical_scores():
    a, b = model(seed=1, dropout=0.2), model(seed=2, dropout=0.2)
    args = (BATCH.seq, BATCH.positions)
    assert not np.allclose(a.score_users(*args), b.score_users(*args))
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.score_users(*args), b.score_users(*args))
    np.testing.assert_array_equal(a.gate_weights(*args), b.gate_weights(*args))


def test_level_cross_attention_matches_a_per_level_loop():
    m = model(d=8, heads=2)
    att = m.level_attn.eval()
    rng = np.random.default_rng(0)
    q, kv = Tensor(rng.standard_normal((L, 2, 5, 8))), Tensor(rng.standard_normal((2, 5, 8)))
    pad = np.array([[True, True, False, False, False], [False] * 5])
    out = att(q, kv, pad).data
    for lev in range(L):                                                # one level through plain MHA math
        def proj(x, w, b):
            return x @ w.data[lev] + b.data[lev]
        Q = proj(q.data[lev], att.wq, att.bq)
        Kx, Vx = proj(kv.data, att.wk, att.bk), proj(kv.data, att.wv, att.bv)
        heads = []
        for h in range(2):
            s = Q[..., 4 * h:4 * h + 4] @ np.swapaxes(Kx[..., 4 * h:4 * h + 4], 1, 2) / 2.0
            allowed = np.tril(np.ones((5, 5), bool))[None] & ~pad[:, None, :]
            s = np.where(allowed, s, -1e30)                             # padding query rows: unused
            p = np.exp(s - s.max(-1, keepdims=True))
            p = p / p.sum(-1, keepdims=True)
            heads.append(p @ Vx[..., 4 * h:4 * h + 4])
        expected = np.concatenate(heads, -1) @ att.wo.data[lev] + att.bo.data[lev]
        real = ~pad
        np.testing.assert_allclose(out[lev][real], expected[real], rtol=1e-4, atol=1e-5)
