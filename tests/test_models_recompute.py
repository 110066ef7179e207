"""Row-chunked H2Rec loss with recomputation equals the one-shot loss (value and every gradient)."""
import numpy as np
import pytest

from minih2rec.models.recompute import plan_chunks
from test_h2rec import make_batch, model

pytestmark = pytest.mark.numpy_backend

ROWS = [[1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11], [11, 12, 1], [2, 3], [4, 5, 6, 7, 8], [9, 10, 11, 12, 1, 2]]
BATCH = make_batch(ROWS, T=7)


def loss_and_grads(m, batch, chunk_tokens):
    m.chunk_tokens = chunk_tokens
    for p in m.parameters():
        p.grad = None
    loss = m.loss(batch)
    loss.backward()
    return loss.item(), dict(m.last_losses), {n: p.grad for n, p in m.named_parameters()}


@pytest.mark.parametrize("loss", ["bce", "full_softmax"])
@pytest.mark.parametrize("lambda_msg", [0.1, 0.0])
def test_chunked_loss_matches_one_shot(loss, lambda_msg):
    m = model(loss=loss, lambda_msg=lambda_msg, d=8, heads=2, blocks=2)    # dropout 0: deterministic
    v1, t1, g1 = loss_and_grads(m, BATCH, chunk_tokens=10 ** 9)              # one shot
    v2, t2, g2 = loss_and_grads(m, BATCH, chunk_tokens=24)                   # several chunks
    np.testing.assert_allclose(v2, v1, rtol=1e-5)
    assert t1.keys() == t2.keys()
    for k in t1:
        np.testing.assert_allclose(t2[k], t1[k], rtol=1e-5, err_msg=k)
    for name, g in g1.items():
        if g is None:
            assert g2[name] is None, name
            continue
        np.testing.assert_allclose(g2[name], g, rtol=1e-4, atol=1e-6, err_msg=name)


def test_chunked_backward_replays_dropout_and_restores_the_rng():
    m = model(dropout=0.3)
    m.train()
    m.chunk_tokens = 24
    before = m.rng.bit_generator.state
    loss = m.loss(BATCH)
    after_forward = m.rng.bit_generator.state
    loss.backward()
    assert m.rng.bit_generator.state == after_forward       # recomputation draws leave no trace
    grads = {n: p.grad.copy() for n, p in m.named_parameters() if p.grad is not None}
    for p in m.parameters():
        p.grad = None
    m.rng.bit_generator.state = before                      # same masks again -> same bits
    loss2 = m.loss(BATCH)
    loss2.backward()
    assert loss2.item() == loss.item()
    for name, p in m.named_parameters():
        if name in grads:
            np.testing.assert_array_equal(p.grad, grads[name], err_msg=name)


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
