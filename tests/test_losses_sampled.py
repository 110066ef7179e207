"""Sampled softmax: the proposal (sampling, logQ) and the autograd node over the compiled kernel.

The node is gradient-checked in float64 and compared, in value and gradient, with the same
loss composed from autograd primitives (gather + matmul + masked_fill + log_softmax), on
every backend of the kernel available here.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec import _backend
from minih2rec.autograd import Tensor, fused, gradcheck, ops
from minih2rec.losses.rec import full_softmax_loss, gather_real
from minih2rec.losses.sampled import Proposal, sampled_softmax_loss, sampled_softmax_next_item

pytestmark = pytest.mark.numpy_backend

BACKENDS = [b for b in _backend.BACKENDS if b in _backend.implementations("sampled_softmax")]


def t64(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


def composed_loss(states, table, pos_ids, neg_ids, log_q_pos, log_q_neg):
    """The same loss from primitives: [pos | negs] logits, accidental hits masked, log_softmax."""
    pos = (states * ops.embedding(table, pos_ids)).sum(axis=1, keepdims=True) - log_q_pos[:, None]  # (M, 1)
    neg = states @ ops.embedding(table, neg_ids).transpose(1, 0) - log_q_neg[None, :]            # (M, N)
    neg = ops.masked_fill(neg, pos_ids[:, None] == neg_ids[None, :], -1e30)
    logits = ops.concatenate([pos, neg], axis=1)                                                  # (M, 1+N)
    return -fused.log_softmax(logits, axis=1)[:, 0].mean()


def problem(seed, M=6, N=5, d=4, V=9, dtype=np.float64):
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((M, d))
    table = rng.standard_normal((V + 1, d))
    pos = rng.integers(1, V + 1, M)
    neg = rng.integers(1, V + 1, N)
    neg[0] = pos[0]                                      # an accidental hit
    neg[1] = neg[2]                                      # a repeated negative
    prop = Proposal.popularity(rng.integers(0, 20, V + 1), beta=0.75)
    return states, table, pos, neg, prop.log_q(pos, N), prop.log_q(neg, N)


# ---------------------------------------------------------------- Proposal
def test_uniform_proposal_log_q():
    prop = Proposal.uniform(8)
    assert prop.probs[0] == 0 and np.allclose(prop.probs[1:], 1 / 8)
    np.testing.assert_allclose(prop.log_q(np.array([1, 5, 8]), 4), np.log(4 / 8))


def test_popularity_proposal_log_q():
    counts = np.array([7, 4, 0, 1, 9])                   # counts[0] (padding) is ignored
    prop = Proposal.popularity(counts, beta=0.5)
    q = np.array([0, 2.0, 1.0, 1.0, 3.0]) / 7.0          # max(c, 1) ** 0.5 = 2, 1, 1, 3
    np.testing.assert_allclose(prop.probs, q)
    np.testing.assert_allclose(prop.log_q(np.array([4, 2, 4]), 10), np.log(10 * q[[4, 2, 4]]))
    np.testing.assert_allclose(Proposal.popularity(counts, beta=0.0).probs, Proposal.uniform(4).probs)


def test_sample_never_padding_and_log_q_is_expected_count():
    prop = Proposal.popularity(np.array([0, 50, 1, 10, 0, 200]), beta=1.0)
    rng = np.random.default_rng(0)
    n, rounds = 20, 5000
    draws = np.stack([prop.sample(n, rng) for _ in range(rounds)])     # (rounds, n)
    assert draws.dtype == np.int64 and draws.min() >= 1 and draws.max() <= 5
    mean_count = np.array([(draws == i).sum(axis=1).mean() for i in range(1, 6)])
    expected = np.exp(prop.log_q(np.arange(1, 6), n))                   # n * q_i
    np.testing.assert_allclose(mean_count, expected, rtol=0.05, atol=0.02)
    assert len(np.unique(prop.sample(200, rng))) < 200   # with replacement: repeats happen


def test_sample_is_reproducible_and_sized():
    prop = Proposal.uniform(1000)
    a = prop.sample(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, prop.sample(50, np.random.default_rng(7)))
    assert a.shape == (50,) and prop.sample(0, np.random.default_rng(0)).shape == (0,)


def test_proposal_rejects_bad_input():
    with pytest.raises(ValueError, match="padding"):
        Proposal(np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="beta"):
        Proposal.popularity(np.ones(4), beta=-1)
    with pytest.raises(IndexError, match="0"):
        Proposal.uniform(3).log_q(np.array([0, 1]), 5)
    with pytest.raises(IndexError, match="4"):
        Proposal.uniform(3).log_q(np.array([4]), 5)
    with pytest.raises(ValueError, match="item 2 has probability 0"):
        Proposal(np.array([0.0, 1.0, 0.0])).log_q(np.array([1, 2]), 5)
    assert np.all(Proposal(np.array([0.0, 1.0, 0.0])).sample(50, np.random.default_rng(0)) == 1)


# ---------------------------------------------------------------- the loss node
@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_loss_gradcheck(backend, monkeypatch):
    monkeypatch.setenv("MINIH2REC_BACKEND", backend)
    states, table, pos, neg, lqp, lqn = problem(0, M=3, N=4, d=2, V=5)   # small: 2 calls per entry
    assert gradcheck(lambda s, w: sampled_softmax_loss(s, w, pos, neg, lqp, lqn), t64(states), t64(table))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(6))
def test_sampled_loss_equals_composed(backend, seed, monkeypatch):
    monkeypatch.setenv("MINIH2REC_BACKEND", backend)
    states, table, pos, neg, lqp, lqn = problem(seed, M=int(seed % 5) + 1, N=int(seed % 7) + 3)
    s1, w1, s2, w2 = t64(states), t64(table), t64(states), t64(table)
    fast = sampled_softmax_loss(s1, w1, pos, neg, lqp, lqn)
    slow = composed_loss(s2, w2, pos, neg, lqp, lqn)
    assert fast.item() == pytest.approx(slow.item(), rel=1e-10, abs=1e-12)
    fast.backward()
    slow.backward()
    np.testing.assert_allclose(s1.grad, s2.grad, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(w1.grad, w2.grad, rtol=1e-9, atol=1e-12)
    untouched = np.setdiff1d(np.arange(table.shape[0]), np.concatenate([pos, neg]))
    assert np.all(w1.grad[untouched] == 0)


@given(st.integers(0, 2**16), st.floats(-20, 20))
def test_loss_invariant_to_log_q_shift_and_negative_order(seed, shift):
    """Only relative logQ matters (softmax shift invariance); negatives form a set (order-free).

    A property of the formula, so it runs on the NumPy oracle (the backends are compared above).
    """
    states, table, pos, neg, lqp, lqn = problem(seed)
    perm = np.random.default_rng(seed).permutation(neg.size)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINIH2REC_BACKEND", "numpy")
        _backend.reset()
        base = sampled_softmax_loss(t64(states), t64(table), pos, neg, lqp, lqn).item()
        shifted = sampled_softmax_loss(t64(states), t64(table), pos, neg, lqp + shift, lqn + shift).item()
        permuted = sampled_softmax_loss(t64(states), t64(table), pos, neg[perm], lqp, lqn[perm]).item()
    _backend.reset()
    assert shifted == pytest.approx(base, rel=1e-9) and permuted == pytest.approx(base, rel=1e-12)


def test_upstream_gradient_scales_and_accumulates():
    states, table, pos, neg, lqp, lqn = problem(1)
    s, w = t64(states), t64(table)
    sampled_softmax_loss(s, w, pos, neg, lqp, lqn).backward()
    g_s, g_w = s.grad.copy(), w.grad.copy()
    s.zero_grad(), w.zero_grad()
    loss = sampled_softmax_loss(s, w, pos, neg, lqp, lqn)
    (loss * 3.0 + loss).backward()                       # upstream 3 + 1
    np.testing.assert_allclose(s.grad, 4 * g_s, rtol=1e-12)
    np.testing.assert_allclose(w.grad, 4 * g_w, rtol=1e-12)


def test_all_items_as_negatives_equals_full_softmax():
    """N = V negatives covering every item once, uniform logQ: the sampled loss IS the full softmax."""
    rng = np.random.default_rng(2)
    B, T, d, V = 2, 4, 3, 7
    H, table = t64(rng.standard_normal((B, T, d))), t64(rng.standard_normal((V + 1, d)))
    target = np.array([[0, 3, 1, 7], [0, 0, 2, 2]])
    h, flat = gather_real(H, target)
    y = target.reshape(-1)[flat]
    neg = np.arange(1, V + 1)
    lq = Proposal.uniform(V).log_q
    sampled = sampled_softmax_loss(h, table, y, neg, lq(y, V), lq(neg, V))
    full = full_softmax_loss(H, table, target)
    assert sampled.item() == pytest.approx(full.item(), rel=1e-12)
    sampled.backward()
    g_h, g_w = H.grad.copy(), table.grad.copy()
    H.zero_grad(), table.zero_grad()
    full.backward()
    np.testing.assert_allclose(g_h, H.grad, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g_w, table.grad, rtol=1e-10, atol=1e-14)


def test_next_item_helper_draws_shared_negatives_with_the_rng():
    rng = np.random.default_rng(3)
    B, T, d, V = 3, 5, 4, 30
    H, table = t64(rng.standard_normal((B, T, d))), t64(rng.standard_normal((V + 1, d)))
    target = rng.integers(0, V + 1, (B, T))
    prop = Proposal.popularity(rng.integers(0, 9, V + 1), beta=0.75)
    loss = sampled_softmax_next_item(H, table, target, prop, 8, np.random.default_rng(5))
    neg = prop.sample(8, np.random.default_rng(5))
    h, flat = gather_real(H, target)
    y = target.reshape(-1)[flat]
    expected = composed_loss(h, table, y, neg, prop.log_q(y, 8), prop.log_q(neg, 8))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    loss.backward()
    assert np.all(H.grad[target == 0] == 0) and np.abs(H.grad[target > 0]).sum() > 0


def test_float32_and_no_grad_inputs():
    states, table, pos, neg, lqp, lqn = problem(4)
    s = Tensor(states, requires_grad=True)               # float32
    loss = sampled_softmax_loss(s, Tensor(table), pos, neg, lqp, lqn)
    assert loss.dtype == np.float32
    loss.backward()
    assert s.grad.dtype == np.float32
    ref = composed_loss(t64(states), t64(table), pos, neg, lqp, lqn).item()
    assert loss.item() == pytest.approx(ref, rel=1e-5)


def test_bad_input_raises():
    states, table, pos, neg, lqp, lqn = problem(5)
    with pytest.raises(ValueError, match="dtype"):
        sampled_softmax_loss(Tensor(states), t64(table), pos, neg, lqp, lqn)
    with pytest.raises(IndexError):
        sampled_softmax_loss(t64(states), t64(table), pos + 100, neg, lqp, lqn)
    with pytest.raises(ValueError, match="proposal"):
        sampled_softmax_next_item(t64(states[None]), t64(table), np.ones((1, 6), dtype=np.int64),
                                  Proposal.uniform(3), 4, np.random.default_rng(0))
