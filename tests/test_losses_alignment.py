"""Alignment losses: L_code (code-guided multi-positive InfoNCE) and L_msg (masked granularity).

Every loss is gradient-checked in float64 w.r.t. every Tensor input and compared with a
plain NumPy transcription of its formula; positives and gate masks are checked by hand.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.autograd import Tensor, fused, gradcheck
from minih2rec.losses.alignment import (code_alignment_loss, code_positive_weights, granularity_targets,
                                        lowest_gate_levels, masked_granularity_loss, select_code_items)
from minih2rec.losses.cooccurrence import CoOccurrence

pytestmark = pytest.mark.numpy_backend


def t64(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


def randn(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def code_loss_numpy(sid, hid, W, tau):
    """The formula of DESIGN.md §4, transcribed literally (fine for small, moderate values)."""
    a = sid / np.linalg.norm(sid, axis=1, keepdims=True)
    p = hid / np.linalg.norm(hid, axis=1, keepdims=True)
    S = a @ p.T / tau
    l_sh = -np.mean(np.log((W * np.exp(S)).sum(1) / np.exp(S).sum(1)))
    l_hs = -np.mean(np.log((W.T * np.exp(S.T)).sum(1) / np.exp(S.T).sum(1)))
    return 0.5 * (l_sh + l_hs)


def granularity_loss_numpy(um, uf, tau):
    sim = (um @ um.T + uf @ uf.T) / 2
    T = np.exp(sim) / np.exp(sim).sum(1, keepdims=True)
    X = um @ uf.T / tau

    def ce(X):
        return -np.mean((T * (X - np.log(np.exp(X).sum(1, keepdims=True)))).sum(1))
    return 0.5 * (ce(X) + ce(X.T))


# a W with the diagonal, a same-tuple pair, and fractional behaviour weights (asymmetric on purpose)
W_MIXED = np.array([[1.0, 1.0, 0.0, 0.3, 0.0],
                    [1.0, 1.0, 0.0, 0.0, 0.0],
                    [0.0, 0.0, 1.0, 0.7, 0.0],
                    [0.0, 0.0, 0.7, 1.0, 1.0],
                    [0.5, 0.0, 0.0, 0.0, 1.0]])


# ---------------------------------------------------------------- L_code
@pytest.mark.parametrize("W", [np.eye(5), W_MIXED], ids=["diagonal", "mixed"])
@pytest.mark.parametrize("tau", [0.5, 0.1])
def test_code_alignment_gradcheck(W, tau):
    sid, hid = t64(randn((5, 3), 0)), t64(randn((5, 3), 1))
    assert gradcheck(lambda s, h: code_alignment_loss(s, h, W, tau=tau), sid, hid)


@given(st.integers(0, 2**16), st.sampled_from([0.2, 0.5, 1.0]))
def test_code_alignment_matches_formula(seed, tau):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    sid, hid = randn((n, 4), seed), randn((n, 4), seed + 1)
    W = np.where(rng.random((n, n)) < 0.3, rng.uniform(0.3, 1.0, (n, n)), 0.0)
    np.fill_diagonal(W, 1.0)
    got = code_alignment_loss(t64(sid), t64(hid), W, tau=tau).item()
    assert got == pytest.approx(code_loss_numpy(sid, hid, W, tau), rel=1e-10, abs=1e-12)


def test_code_alignment_with_identity_is_symmetric_infonce():
    sid, hid = t64(randn((6, 4), 2)), t64(randn((6, 4), 3))
    S = fused.l2_normalize(sid) @ fused.l2_normalize(hid).transpose(1, 0) * 2.0
    target = np.arange(6)
    expected = 0.5 * (fused.cross_entropy(S, target) + fused.cross_entropy(S.transpose(1, 0), target))
    assert code_alignment_loss(sid, hid, np.eye(6)).item() == pytest.approx(expected.item(), rel=1e-12)


def test_code_alignment_stable_for_tiny_tau_and_float32():
    sid = Tensor(randn((8, 4), 4) * 1e3, requires_grad=True)          # float32
    hid = Tensor(randn((8, 4), 5) * 1e3, requires_grad=True)
    loss = code_alignment_loss(sid, hid, np.eye(8), tau=1e-3)
    loss.backward()
    assert loss.dtype == np.float32 and np.isfinite(loss.item())
    assert np.all(np.isfinite(sid.grad)) and np.all(np.isfinite(hid.grad))


def test_more_positives_lower_the_loss_when_they_are_close():
    # items 0 and 1 have the same SID and HID embeddings: calling them positives removes a
    # strong negative, so the loss must drop.
    base = randn((4, 3), 6)
    base[1] = base[0]
    sid, hid = Tensor(base, dtype=np.float64), Tensor(base + 0.01, dtype=np.float64)
    W = np.eye(4)
    W2 = W.copy()
    W2[0, 1] = W2[1, 0] = 1.0
    assert code_alignment_loss(sid, hid, W2).item() < code_alignment_loss(sid, hid, W).item()


def test_code_alignment_rejects_bad_weights():
    sid, hid = t64(randn((3, 2), 0)), t64(randn((3, 2), 1))
    with pytest.raises(ValueError, match="row and column"):
        code_alignment_loss(sid, hid, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        code_alignment_loss(sid, hid, np.eye(4))
    with pytest.raises(ValueError, match=">= 0"):
        code_alignment_loss(sid, hid, -np.eye(3))
    with pytest.raises(ValueError, match="tau"):
        code_alignment_loss(sid, hid, np.eye(3), tau=0.0)


# ---------------------------------------------------------------- positives W
CODES = np.array([[0, 0, 0],     # 0 padding
                  [1, 2, 3],     # 1
                  [1, 2, 3],     # 2  same full tuple as 1
                  [1, 2, 4],     # 3  shares only a prefix with 1 -> not a positive
                  [5, 6, 7],     # 4
                  [1, 2, 3]])    # 5  same as 1 and 2


def test_identical_full_tuple_is_positive_prefix_is_not():
    W = code_positive_weights(np.array([1, 2, 3, 4, 5]), CODES)
    expected = np.array([[1, 1, 0, 0, 1],
                         [1, 1, 0, 0, 1],
                         [0, 0, 1, 0, 0],
                         [0, 0, 0, 1, 0],
                         [1, 1, 0, 0, 1]], dtype=np.float64)
    np.testing.assert_array_equal(W, expected)


def test_cap_keeps_first_in_batch_order_without_rng():
    codes = np.zeros((8, 2), dtype=np.int64)             # items 1..7 share one tuple
    W = code_positive_weights(np.arange(1, 8), codes, cap=2)
    assert np.all(np.diag(W) == 1)
    np.testing.assert_array_equal((W - np.eye(7)).sum(axis=1), 2)   # exactly cap others per row
    np.testing.assert_array_equal(W[0], [1, 1, 1, 0, 0, 0, 0])       # row 0 keeps batch positions 1, 2
    np.testing.assert_array_equal(W[1], [1, 1, 1, 0, 0, 0, 0])       # row 1 keeps positions 0, 2
    np.testing.assert_array_equal(W[6], [1, 1, 0, 0, 0, 0, 1])       # row 6 keeps positions 0, 1


def test_cap_with_rng_is_reproducible_and_within_group():
    codes = np.zeros((61, 1), dtype=np.int64)
    codes[41:] = 1                                       # items 1..40 one tuple, 41..60 another
    items = np.arange(1, 61)
    W1 = code_positive_weights(items, codes, cap=5, rng=np.random.default_rng(3))
    W2 = code_positive_weights(items, codes, cap=5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(W1, W2)
    off = W1 - np.eye(60)
    np.testing.assert_array_equal(off.sum(axis=1), 5)
    assert off[:40, 40:].sum() == 0 and off[40:, :40].sum() == 0    # never across tuples
    assert not np.array_equal(W1, code_positive_weights(items, codes, cap=5))   # differs from batch order


def test_default_cap_is_50():
    W = code_positive_weights(np.arange(1, 71), np.zeros((71, 2), dtype=np.int64))
    np.testing.assert_array_equal(W.sum(axis=1), 51)


def test_repeated_item_is_a_positive_not_a_negative():
    codes = np.array([[0], [1], [2], [3], [4]])          # every item has its own tuple
    W = code_positive_weights(np.array([3, 1, 3]), codes, cap=0)
    np.testing.assert_array_equal(W, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    # and the loss then treats the two copies as each other's positive
    sid, hid = randn((3, 4), 7), randn((3, 4), 8)
    got = code_alignment_loss(t64(sid), t64(hid), W).item()
    assert got == pytest.approx(code_loss_numpy(sid, hid, W, 0.5), rel=1e-10)
    # the normal path never has repeats: select_code_items dedups the batch's targets
    np.testing.assert_array_equal(select_code_items(np.array([[0, 3, 1], [3, 3, 0]])), [1, 3])


def test_behaviour_positives_take_the_max_not_the_sum():
    cooc = CoOccurrence.from_sequences([np.array([1, 2]), np.array([3, 4]), np.array([4, 1, 4, 1])],
                                       5, window=1)
    codes = np.array([[0], [7], [7], [8], [9], [9]])     # 1 and 2 share a tuple; 4 and 5 too
    items = np.array([1, 2, 3, 4])
    Wb = cooc.weights_between(items)
    W = code_positive_weights(items, codes, cooc=cooc)
    assert Wb[0, 1] > 0                                  # 1-2: both a code and a behaviour positive
    assert W[0, 1] == 1.0 and W[1, 0] == 1.0             # max(1, w) == 1, not 1 + w
    assert 0.3 <= Wb[2, 3] <= 1.0 and W[2, 3] == Wb[2, 3]   # behaviour-only positive keeps its PPMI weight
    assert W.max() == 1.0 and np.all(np.diag(W) == 1.0)
    np.testing.assert_array_equal(W, np.maximum(code_positive_weights(items, codes), Wb))


def test_positive_weights_rejects_bad_input():
    with pytest.raises(IndexError, match="9"):
        code_positive_weights(np.array([1, 9]), CODES)
    with pytest.raises(ValueError, match="cap"):
        code_positive_weights(np.array([1]), CODES, cap=-1)


# ---------------------------------------------------------------- select_code_items
def test_select_code_items():
    targets = np.array([[0, 5, 2, 5], [0, 0, 9, 2]])
    np.testing.assert_array_equal(select_code_items(targets), [2, 5, 9])
    many = np.arange(0, 101).reshape(1, -1)
    got = select_code_items(many, cap=10, rng=np.random.default_rng(0))
    assert got.size == 10 and np.unique(got).size == 10 and got.min() >= 1
    assert np.all(np.diff(got) > 0)
    np.testing.assert_array_equal(got, select_code_items(many, cap=10, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="rng"):
        select_code_items(many, cap=10)


# ---------------------------------------------------------------- L_msg
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_masked_granularity_gradcheck(tau):
    um, uf = t64(randn((5, 3), 10)), t64(randn((5, 3), 11))
    targets = granularity_targets(um, uf)                # held fixed: they are stop-gradient constants
    assert gradcheck(lambda a, b: masked_granularity_loss(a, b, tau=tau, targets=targets), um, uf)


def test_masked_granularity_default_targets_are_detached():
    um, uf = t64(randn((4, 3), 12)), t64(randn((4, 3), 13))
    masked_granularity_loss(um, uf).backward()
    g_default = um.grad.copy(), uf.grad.copy()
    um.zero_grad(), uf.zero_grad()
    masked_granularity_loss(um, uf, targets=granularity_targets(um.data, uf.data)).backward()
    np.testing.assert_allclose(g_default[0], um.grad, rtol=1e-12)
    np.testing.assert_allclose(g_default[1], uf.grad, rtol=1e-12)


@given(st.integers(0, 2**16), st.sampled_from([1.0, 0.7]))
def test_masked_granularity_matches_formula(seed, tau):
    rng = np.random.default_rng(seed)
    B = int(rng.integers(1, 6))
    um, uf = randn((B, 3), seed), randn((B, 3), seed + 1)
    got = masked_granularity_loss(t64(um), t64(uf), tau=tau).item()
    assert got == pytest.approx(granularity_loss_numpy(um, uf, tau), rel=1e-10, abs=1e-12)


def mean_entropy(T):
    return -np.mean((T * np.log(T)).sum(axis=1))


@given(st.integers(0, 2**16))
def test_masked_granularity_minimal_when_views_agree(seed):
    """tau = 1: loss >= mean entropy of the targets (cross-entropy >= entropy), = when U_m == U_f."""
    u = randn((5, 3), seed)
    other = u + 0.5 * randn((5, 3), seed + 1)
    um = t64(u)
    same = masked_granularity_loss(um, t64(u.copy()))
    assert same.item() == pytest.approx(mean_entropy(granularity_targets(u, u)), rel=1e-10)
    differ = masked_granularity_loss(t64(u), t64(other)).item()
    assert differ >= mean_entropy(granularity_targets(u, other)) - 1e-12
    same.backward()                                      # a stationary point in U_m
    np.testing.assert_allclose(um.grad, 0, atol=1e-12)


def test_masked_granularity_float32_and_bad_shapes():
    loss = masked_granularity_loss(Tensor(randn((4, 3), 0) * 30), Tensor(randn((4, 3), 1) * 30))
    assert loss.dtype == np.float32 and np.isfinite(loss.item())
    with pytest.raises(ValueError, match="U_m and U_f"):
        masked_granularity_loss(t64(randn((4, 3), 0)), t64(randn((3, 3), 0)))
    with pytest.raises(ValueError, match="targets"):
        masked_granularity_loss(t64(randn((4, 3), 0)), t64(randn((4, 3), 0)), targets=np.eye(3))


# ---------------------------------------------------------------- lowest_gate_levels
def test_lowest_gate_levels_hand_example():
    alpha = np.array([[0.4, 0.3, 0.2, 0.1],        # two lowest: levels 3, 2
                      [0.1, 0.4, 0.3, 0.2],        # levels 0, 3
                      [0.25, 0.25, 0.25, 0.25],    # all tied: highest indices 3, 2
                      [0.4, 0.2, 0.2, 0.2]])       # tie among 1, 2, 3 for the lowest: 3, 2
    expected = np.array([[0, 0, 1, 1], [1, 0, 0, 1], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(lowest_gate_levels(alpha), expected)
    np.testing.assert_array_equal(lowest_gate_levels(alpha, n_mask=1),
                                  [[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]])


def test_lowest_gate_levels_default_count():
    assert lowest_gate_levels(np.array([[0.5, 0.3, 0.2]])).sum() == 1      # max(1, 3 // 2)
    assert lowest_gate_levels(np.array([[1.0]])).sum() == 1                # L = 1: still one
    assert lowest_gate_levels(np.full((2, 5), 0.2)).sum(axis=1).tolist() == [2, 2]
    assert lowest_gate_levels(Tensor(np.array([[0.1, 0.9]]))).tolist() == [[True, False]]


@given(st.integers(0, 2**16), st.integers(1, 6))
def test_lowest_gate_levels_properties(seed, L):
    rng = np.random.default_rng(seed)
    alpha = np.round(rng.random((4, L)), 1)              # rounding makes ties common
    n_mask = int(rng.integers(1, L + 1))
    mask = lowest_gate_levels(alpha, n_mask)
    assert np.all(mask.sum(axis=1) == n_mask)
    for a, m in zip(alpha, mask):
        if n_mask < L:
            assert a[m].max() <= a[~m].min()
            tied = a == a[m].max()                       # among ties, the masked are the higher levels
            assert np.all(np.flatnonzero(tied & m)[:, None] > np.flatnonzero(tied & ~m)[None, :])


def test_lowest_gate_levels_bad_input():
    with pytest.raises(ValueError, match="n_mask"):
        lowest_gate_levels(np.ones((2, 3)), n_mask=4)
    with pytest.raises(ValueError, match="NaN"):
        lowest_gate_levels(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        lowest_gate_levels(np.ones(3))
