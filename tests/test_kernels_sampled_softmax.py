"""sampled_softmax: backends equal the reference; the reference's gradients equal finite differences.

Tolerances: float32 rtol 1e-4, float64 rtol 1e-10 (tests/_compare.py). Also
pinned: accidental hits are masked, large logits stay finite (max shift),
``touched`` is the sorted union of positive and negative ids.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from _compare import assert_close, assert_same
from minih2rec import _backend
from minih2rec.kernels.sampled_softmax import log_q, sampled_softmax, sampled_softmax_ref

IMPLS = _backend.implementations("sampled_softmax")
DTYPES = [np.float32, np.float64]


def _problem(rng, M=40, d=8, N=12, R=25, dtype=np.float64, scale=1.0):
    states = (scale * rng.standard_normal((M, d))).astype(dtype)
    table = rng.standard_normal((R, d)).astype(dtype)
    pos = rng.integers(0, R, M).astype(np.int64)
    neg = rng.integers(0, R, N).astype(np.int64)           # repeats and accidental hits likely
    lq_pos = (0.3 * rng.standard_normal(M)).astype(dtype)
    lq_neg = (0.3 * rng.standard_normal(N)).astype(dtype)
    return states, pos, neg, table, lq_pos, lq_neg


def _loss_atol(states, pos, neg, table, lq_pos, lq_neg):
    """Absolute rounding error the loss may carry: logsumexp - logit cancels, so its
    error scales with the largest logit, not with the (possibly tiny) loss."""
    big = np.abs(states.astype(np.float64) @ table.T.astype(np.float64)).max(initial=0)
    big += max(np.abs(lq_pos).max(initial=0), np.abs(lq_neg).max(initial=0))
    return 16 * np.finfo(states.dtype).eps * (1 + big)


def _compare(got, ref, what, args):
    loss, gs, touched, gr = got
    assert isinstance(loss, float), f"{what}: loss is {type(loss).__name__}, not float"
    assert_close(np.float64(loss), np.float64(ref[0]), what=f"{what} loss",
                 rtol=1e-4 if ref[1].dtype == np.float32 else 1e-10, atol=_loss_atol(*args))
    assert gs.dtype == ref[1].dtype and gr.dtype == ref[3].dtype, f"{what}: dtype changed"
    assert_close(gs, ref[1], what=f"{what} grad_states")
    assert_same(touched, ref[2], what=f"{what} touched")
    assert_close(gr, ref[3], what=f"{what} grad_rows")


def _dense_loss(states, pos, neg, table, lq_pos, lq_neg):
    """The loss written as plainly as possible, one row at a time (float64)."""
    total = 0.0
    for m in range(states.shape[0]):
        logits = [states[m] @ table[pos[m]] - lq_pos[m]]
        logits += [states[m] @ table[n] - lq_neg[j] for j, n in enumerate(neg) if n != pos[m]]
        total += np.logaddexp.reduce(logits) - logits[0]
    return total / states.shape[0]


@pytest.mark.parametrize("backend", list(IMPLS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_backend_matches_reference(backend, dtype):
    args = _problem(np.random.default_rng(0), M=64, d=16, N=20, R=30, dtype=dtype)
    _compare(IMPLS[backend](*args), sampled_softmax_ref(*args), f"{backend} {np.dtype(dtype).name}", args)


@given(M=st.integers(1, 10), d=st.integers(1, 6), N=st.integers(0, 8), R=st.integers(1, 9),
       seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES))
def test_every_backend_matches_reference_on_random_shapes(M, d, N, R, seed, dtype):
    args = _problem(np.random.default_rng(seed), M, d, N, R, dtype)
    ref = sampled_softmax_ref(*args)
    for name, fn in IMPLS.items():
        _compare(fn(*args), ref, f"{name} M={M} d={d} N={N} R={R}", args)


def test_reference_loss_equals_plain_row_by_row_loss():
    args = _problem(np.random.default_rng(1), M=7, d=3, N=6, R=5)
    assert_close(sampled_softmax_ref(*args)[0], _dense_loss(*args), rtol=1e-12)


def test_reference_gradients_match_central_differences():
    rng = np.random.default_rng(2)
    states, pos, neg, table, lq_pos, lq_neg = _problem(rng, M=6, d=4, N=7, R=6)
    neg[:2] = pos[:2]                                         # force accidental hits
    neg[3] = neg[4]                                           # and a repeated negative
    _, g_states, touched, g_rows = sampled_softmax_ref(states, pos, neg, table, lq_pos, lq_neg)
    g_table = np.zeros_like(table)
    g_table[touched] = g_rows

    def loss(s, t):
        return sampled_softmax_ref(s, pos, neg, t, lq_pos, lq_neg)[0]

    eps = 1e-6
    for x, g, name in ((states, g_states, "states"), (table, g_table, "table")):
        num = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + eps
            up = loss(states, table)
            x[i] = old - eps
            down = loss(states, table)
            x[i] = old
            num[i] = (up - down) / (2 * eps)
        assert_close(g, num, rtol=1e-5, atol=1e-8, what=f"d loss / d {name}")


@pytest.mark.parametrize("backend", list(IMPLS))
def test_large_logits_are_stable(backend):
    """Shifting every logit by 1e4 (through logQ) changes nothing: the max shift at work."""
    args = _problem(np.random.default_rng(3), M=20, d=6, N=10, R=15)
    states, pos, neg, table, lq_pos, lq_neg = args
    base = IMPLS[backend](*args)
    shifted = IMPLS[backend](states, pos, neg, table, lq_pos - 1e4, lq_neg - 1e4)
    _compare(shifted, base, f"{backend} logits + 1e4", args)
    # float32 with raw logits ~ +-1e4: finite, and close to the float64 answer
    big = _problem(np.random.default_rng(4), M=20, d=6, N=10, R=15, scale=2e3)
    ref64 = sampled_softmax_ref(*big)
    got32 = IMPLS[backend](*(a.astype(np.float32) if a.dtype == np.float64 else a for a in big))
    assert np.isfinite(got32[0]) and np.isfinite(got32[1]).all() and np.isfinite(got32[3]).all()
    assert abs(got32[0] - ref64[0]) <= 1e-3 * abs(ref64[0]) + 1e-2, (got32[0], ref64[0])


@pytest.mark.parametrize("backend", list(IMPLS))
def test_accidental_hits_are_masked(backend):
    rng = np.random.default_rng(6)
    states, _, _, table, _, _ = _problem(rng, M=1, d=5, N=3, R=8)
    pos, lq_pos = np.array([4]), np.array([0.1])
    with_hit = IMPLS[backend](states, pos, np.array([1, 4, 6]), table, lq_pos, np.array([0.2, -9.0, 0.3]))
    without = IMPLS[backend](states, pos, np.array([1, 6]), table, lq_pos, np.array([0.2, 0.3]))
    _compare(with_hit, without, f"{backend} masked hit vs removed negative",
             (states, pos, np.array([1, 6]), table, lq_pos, np.array([0.2, 0.3])))
    # every negative equal to the positive: nothing to contrast with, loss and grads are 0
    only_hits = IMPLS[backend](states, pos, np.array([4, 4]), table, lq_pos, np.zeros(2))
    assert only_hits[0] == 0.0
    assert_same(only_hits[1], np.zeros_like(states), what=f"{backend} grad_states")
    assert_same(only_hits[3], np.zeros((1, 5)), what=f"{backend} grad_rows")


@pytest.mark.parametrize("backend", list(IMPLS))
def test_touched_is_sorted_union_and_inputs_are_not_mutated(backend):
    args = _problem(np.random.default_rng(7), M=12, d=4, N=9, R=40)
    copies = [a.copy() for a in args]
    _, _, touched, grad_rows = IMPLS[backend](*args)
    assert_same(touched, np.unique(np.concatenate([args[1], args[2]])), what="touched")
    assert touched.dtype == np.int64 and grad_rows.shape == (touched.size, 4)
    for a, c, name in zip(args, copies, ("states", "pos", "neg", "table", "lq_pos", "lq_neg")):
        assert_same(a, c, what=f"{backend} mutated {name}")


def test_log_q_uniform_and_popularity():
    V, N = 50, 10
    assert_close(log_q(np.full(V, 1 / V), [3, 7], N), np.full(2, np.log(N / V)), rtol=1e-12)
    p = np.array([0.5, 0.25, 0.25])
    assert_close(log_q(p, np.array([0, 2]), 4), np.log([2.0, 1.0]), rtol=1e-12)
    with pytest.raises(ValueError, match="id 1"):
        log_q(np.array([0.5, 0.0, 0.5]), [0, 1], 4)


@pytest.mark.numpy_backend
def test_public_wrapper_casts_log_q_and_ids():
    states, pos, neg, table, lq_pos, lq_neg = _problem(np.random.default_rng(8), dtype=np.float32)
    got = sampled_softmax(states, pos.astype(np.int32), list(neg), table,
                          lq_pos.astype(np.float64), float(lq_neg[0]) + np.zeros(len(neg)))
    ref = sampled_softmax_ref(states, pos, neg, table, lq_pos, np.full(len(neg), lq_neg[0]))
    _compare(got, ref, "public wrapper", (states, pos, neg, table, lq_pos, lq_neg))


@pytest.mark.numpy_backend
@pytest.mark.parametrize("change, error, match", [
    (dict(table=np.zeros((25, 8), np.float32)), ValueError, "dtype"),
    (dict(table=np.zeros((25, 5))), ValueError, "width"),
    (dict(states=np.zeros((0, 8))), ValueError, "M == 0"),
    (dict(pos=np.zeros(3, np.int64)), ValueError, "pos_ids"),
    (dict(neg=np.array([1, 25])), IndexError, "25"),
    (dict(pos=np.full(40, -1)), IndexError, "-1"),
    (dict(lq_neg=np.zeros(3)), ValueError, "log_q_neg"),
    (dict(lq_pos=np.full(40, np.nan)), ValueError, "not finite"),
])
def test_bad_inputs_raise(change, error, match):
    names = ("states", "pos", "neg", "table", "lq_pos", "lq_neg")
    args = dict(zip(names, _problem(np.random.default_rng(9))))
    args.update(change)
    with pytest.raises(error, match=match):
        sampled_softmax(*(args[n] for n in names))
