"""Chunked recomputation (the trainer's --max-batch-tokens) gives H2Rec's one-shot loss and gradients."""
import numpy as np
import pytest

from minih2rec.autograd import Tensor, no_grad, ops
from minih2rec.config import TrainConfig
from minih2rec.models import SASRec, SASRecConfig
from minih2rec.models.h2rec import Encoded
from minih2rec.recompute import chunked_loss, plan_chunks
from minih2rec.train import Trainer
from test_h2rec import make_batch, model

pytestmark = pytest.mark.numpy_backend

ROWS = [[1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11], [11, 12, 1], [2, 3], [4, 5, 6, 7, 8], [9, 10, 11, 12, 1, 2]]
BATCH = make_batch(ROWS, T=7)
LOSSES = ["full_softmax", "sampled_softmax", "bce"]


def float64_model(loss, **kw):
    m = model(loss=loss, num_negatives=5, d=8, heads=2, blocks=2, lambda_code=0.5, lambda_msg=0.5,
              **kw).to_dtype(np.float64)
    m.train()
    return m


def run(m, compute):
    """``compute(m)`` -> (loss, term values, every parameter gradient)."""
    for p in m.parameters():
        p.grad = None
    loss = compute(m)
    loss.backward()
    assert loss.dtype == np.float64
    return loss.item(), dict(m.last_losses), {n: p.grad for n, p in m.named_parameters()}


def with_states(m, states, compute):
    m.rng.bit_generator.state, m.sampling_rng.bit_generator.state = states
    return run(m, compute)


def assert_same(a, b, rtol=1e-12):
    (v1, t1, g1), (v2, t2, g2) = a, b
    np.testing.assert_allclose(v2, v1, rtol=rtol)
    assert t1.keys() == t2.keys()
    for k in t1:
        np.testing.assert_allclose(t2[k], t1[k], rtol=rtol, err_msg=k)
    assert g1.keys() == g2.keys()
    for name, g in g1.items():
        assert (g is None) == (g2[name] is None), name
        if g is not None:
            np.testing.assert_allclose(g2[name], g, rtol=rtol, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("loss", LOSSES)
def test_recomputed_equals_one_shot_without_dropout(loss):
    m = float64_model(loss, dropout=0.0)
    states = (m.rng.bit_generator.state, m.sampling_rng.bit_generator.state)
    assert len(plan_chunks(BATCH.seq, 12)) >= 3
    one_shot = with_states(m, states, lambda m: m.loss(BATCH))
    chunked = with_states(m, states, lambda m: chunked_loss(m, BATCH, max_tokens=12))
    assert_same(one_shot, chunked)
    assert set(one_shot[1]) == {"rec", "msg", "code"}


def taped_chunks(m, batch, max_tokens):
    """The loss ``chunked_loss`` computes, with every chunk's graph kept (no recomputation).

    Same chunks in the same order, so the same dropout masks; the chunks' outputs are put back
    in row order and left-padded with zeros (what the encoder gives at padding).
    """
    es = m.code_emb.table()
    T = batch.seq.shape[1]
    parts, order = [], []
    for rows, T_c in plan_chunks(batch.seq, max_tokens):
        out = m.encode(batch.seq[rows, T - T_c:], batch.positions[T - T_c:], es, with_msg=True)
        pad = Tensor(np.zeros((len(rows), T - T_c, out.states.shape[2])), dtype=out.states.dtype)
        parts.append((ops.concatenate([pad, out.states], axis=1), out.masked, out.full))   # (b, T, 2d)
        order.append(rows)
    inverse = np.argsort(np.concatenate(order))                # chunk order -> batch order
    states, masked, full = (ops.concatenate([p[i] for p in parts], axis=0)[inverse] for i in range(3))
    return m.loss_from(Encoded(states, masked, full), batch, es)


@pytest.mark.parametrize("loss", LOSSES)
def test_recomputed_gradient_is_the_gradient_of_the_reported_loss_with_dropout(loss):
    # dropout masks (inputs, attention, FFN) and hash-ID row dropout: the recomputation in
    # backward must replay exactly the draws of the forward, and the rec loss its negatives
    m = float64_model(loss, dropout=0.3, hid_dropout=0.2)
    states = (m.rng.bit_generator.state, m.sampling_rng.bit_generator.state)
    taped = with_states(m, states, lambda m: taped_chunks(m, BATCH, 12))
    chunked = with_states(m, states, lambda m: chunked_loss(m, BATCH, max_tokens=12))
    assert_same(taped, chunked)
    # and the generators end where the forward left them: backward's replays leave no trace
    m.rng.bit_generator.state, m.sampling_rng.bit_generator.state = states
    loss_value = chunked_loss(m, BATCH, max_tokens=12)
    after = (m.rng.bit_generator.state, m.sampling_rng.bit_generator.state)
    loss_value.backward()
    assert (m.rng.bit_generator.state, m.sampling_rng.bit_generator.state) == after


def test_chunked_forward_under_no_grad_gives_the_value():
    m = float64_model("full_softmax", dropout=0.0)
    states = (m.rng.bit_generator.state, m.sampling_rng.bit_generator.state)
    expected = m.loss(BATCH).item()
    m.rng.bit_generator.state, m.sampling_rng.bit_generator.state = states
    with no_grad():
        np.testing.assert_allclose(chunked_loss(m, BATCH, max_tokens=12).item(), expected, rtol=1e-12)


def test_the_trainer_chunks_only_batches_above_max_batch_tokens(monkeypatch):
    calls = []
    monkeypatch.setattr("minih2rec.train.chunked_loss", lambda *a: calls.append(a[2]) or chunked_loss(*a))
    m = model(dropout=0.0)
    for budget, chunked in ((0, False), (BATCH.seq.size, False), (BATCH.seq.size - 1, True)):
        calls.clear()
        Trainer(m, None, TrainConfig(max_batch_tokens=budget), progress=False)._step(BATCH, 0)
        assert calls == ([budget] if chunked else []), budget


def test_other_models_are_refused_by_name():
    with pytest.raises(ValueError, match="implemented for H2Rec, not SASRec"):
        chunked_loss(SASRec(SASRecConfig.tiny(12)), BATCH, max_tokens=12)


def test_plan_chunks_covers_every_row_once_within_budget():
    seq = BATCH.seq
    for budget in (1, 7, 12, 30, 1000):
        chunks = plan_chunks(seq, budget)
        rows = np.sort(np.concatenate([r for r, _ in chunks]))
        np.testing.assert_array_equal(rows, np.arange(seq.shape[0]))
        lengths = (seq != 0).sum(axis=1)
        for r, T_c in chunks:
            assert T_c == lengths[r].max()
            assert len(r) == 1 or len(r) * T_c <= budget
