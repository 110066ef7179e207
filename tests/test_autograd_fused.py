"""Fused ops: gradcheck, fused == composed-from-primitives (value AND gradient), stability.

The ``*_composed`` helpers below build each fused op from primitive Tensor ops
only; a fused op must agree with its composition to float64 round-off.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minih2rec.autograd import Tensor, fused, gradcheck, ops

pytestmark = pytest.mark.numpy_backend


def t64(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


def rand(shape, seed=0, lo=-3.0, hi=3.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


seeds = st.integers(0, 2**16)
logit_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                          elements=st.floats(-5, 5))


# ---------------------------------------------------------------- composed references
def softmax_composed(x, axis=-1):
    e = (x - x.max(axis=axis, keepdims=True)).exp()
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_composed(x, axis=-1):
    return x - x.exp().sum(axis=axis, keepdims=True).log()


def layer_norm_composed(x, w, b, eps=1e-5):
    xc = x - x.mean(axis=-1, keepdims=True)
    return xc / ((xc * xc).mean(axis=-1, keepdims=True) + eps).sqrt() * w + b


def cross_entropy_composed(logits, targets, mask):
    picked = log_softmax_composed(logits)[np.arange(len(targets)), targets]
    return -(picked * (mask / mask.sum())).sum()


def bce_composed(x, t):
    absx = ops.where(x.data > 0, x, -x)
    return (x.relu() - x * t + ((-absx).exp() + 1.0).log()).mean()


def attention_composed(q, k, v, mask):
    s = q @ k.transpose(0, 2, 1) * (1.0 / np.sqrt(q.shape[-1]))
    return softmax_composed(ops.masked_fill(s, ~mask, -1e9)) @ v


def assert_same_value_and_grad(fused_fn, composed_fn, *arrays):
    """Run both on fresh float64 leaves; compare outputs and every input gradient."""
    results = []
    for fn in (fused_fn, composed_fn):
        xs = [t64(a) for a in arrays]
        out = fn(*xs)
        out.backward(np.random.default_rng(3).standard_normal(out.shape))
        results.append((out.data, [x.grad for x in xs]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-9, atol=1e-12)
    for ga, gb in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- softmax family
@given(x=logit_arrays, axis=st.sampled_from([0, -1]))
def test_softmax_log_softmax_gradcheck_and_composed(x, axis):
    assert gradcheck(lambda x: fused.softmax(x, axis), t64(x))
    assert gradcheck(lambda x: fused.log_softmax(x, axis), t64(x))
    assert_same_value_and_grad(lambda x: fused.softmax(x, axis), lambda x: softmax_composed(x, axis), x)
    assert_same_value_and_grad(lambda x: fused.log_softmax(x, axis), lambda x: log_softmax_composed(x, axis), x)


@given(x=logit_arrays, c=st.floats(-100, 100))
def test_softmax_invariant_to_shift(x, c):
    np.testing.assert_allclose(fused.softmax(t64(x + c)).data, fused.softmax(t64(x)).data, atol=1e-12)
    np.testing.assert_allclose(fused.log_softmax(t64(x + c)).data, fused.log_softmax(t64(x)).data, atol=1e-10)


def test_softmax_finite_for_huge_logits_float32():
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]), requires_grad=True)
    for fn in (fused.softmax, fused.log_softmax):
        out = fn(x)
        out.backward(np.ones(out.shape))
        assert out.dtype == np.float32 and np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(fused.softmax(x).data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(fused.log_softmax(x).data[0], [0, -2e4, -1e4], rtol=1e-6)


# ---------------------------------------------------------------- layer norm, l2 normalize
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), seed=seeds)
def test_layer_norm_gradcheck_and_composed(shape, seed):
    x, w, b = rand(shape, seed), rand(shape[-1:], seed + 1), rand(shape[-1:], seed + 2)
    assert gradcheck(lambda x, w, b: fused.layer_norm(x, w, b), t64(x), t64(w), t64(b))
    assert_same_value_and_grad(fused.layer_norm, layer_norm_composed, x, w, b)


def test_layer_norm_without_affine_and_dtype():
    x = rand((3, 5))
    assert gradcheck(lambda x: fused.layer_norm(x, None, None), t64(x))
    y = fused.layer_norm(Tensor(x), Tensor(np.ones(5)), Tensor(np.zeros(5))).data
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-3)


def test_l2_normalize():
    x = rand((3, 4))
    assert gradcheck(lambda x: fused.l2_normalize(x), t64(x))
    assert gradcheck(lambda x: fused.l2_normalize(x, axis=0), t64(x))
    assert_same_value_and_grad(fused.l2_normalize, lambda x: x / (x * x).sum(axis=-1, keepdims=True).sqrt(), x)
    small = t64(rand((2, 3)) * 0.1)                       # norms < eps: y = x / eps, a linear map
    assert gradcheck(lambda x: fused.l2_normalize(x, eps=1.0), small)
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    out = fused.l2_normalize(z)
    out.backward(np.ones((2, 3)))
    assert np.all(out.data == 0) and np.all(np.isfinite(z.grad))


# ---------------------------------------------------------------- losses
@given(m=st.integers(1, 5), c=st.integers(2, 5), seed=seeds)
def test_cross_entropy_gradcheck_and_composed(m, c, seed):
    r = np.random.default_rng(seed)
    logits, targets = rand((m, c), seed), r.integers(0, c, size=m)
    mask = r.random(m) < 0.7
    mask[0] = True
    assert gradcheck(lambda x: fused.cross_entropy(x, targets, mask), t64(logits))
    assert gradcheck(lambda x: fused.cross_entropy(x, targets), t64(logits))
    assert_same_value_and_grad(lambda x: fused.cross_entropy(x, targets, mask),
                               lambda x: cross_entropy_composed(x, targets, mask), logits)


def test_cross_entropy_masking_and_errors():
    logits = t64(rand((3, 4)))
    targets = np.array([1, -1, 3])                 # masked row may hold any target
    mask = np.array([True, False, True])
    loss = fused.cross_entropy(logits, targets, mask)
    loss.backward()
    assert np.all(logits.grad[1] == 0)
    moved = logits.data.copy()
    moved[1] += 100
    assert fused.cross_entropy(Tensor(moved, dtype=np.float64), targets, mask).item() == pytest.approx(loss.item())
    empty = t64(rand((2, 4)))
    out = fused.cross_entropy(empty, np.array([0, 1]), np.zeros(2, bool))
    out.backward()
    assert out.item() == 0.0 and np.all(empty.grad == 0)
    with pytest.raises(IndexError, match="target 4"):
        fused.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="targets"):
        fused.cross_entropy(logits, np.array([0, 1]))


def test_cross_entropy_3d_logits_and_huge_logits():
    logits, targets = rand((2, 3, 4)), np.array([[0, 1, 2], [3, 3, 0]])
    assert gradcheck(lambda x: fused.cross_entropy(x, targets), t64(logits))
    big = Tensor(np.array([[1e4, -1e4], [-1e4, 1e4]]), requires_grad=True)
    loss = fused.cross_entropy(big, np.array([1, 1]))
    loss.backward()
    assert loss.item() == pytest.approx(1e4) and np.all(np.isfinite(big.grad))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), seed=seeds)
def test_bce_gradcheck_and_composed(shape, seed):
    r = np.random.default_rng(seed)
    x, t = rand(shape, seed), r.random(shape)
    mask = r.random(shape) < 0.6
    assert gradcheck(lambda x: fused.bce_with_logits(x, t), t64(x))
    assert gradcheck(lambda x: fused.bce_with_logits(x, t, mask), t64(x))
    assert_same_value_and_grad(lambda x: fused.bce_with_logits(x, t), lambda x: bce_composed(x, t), x)


def test_bce_extreme_logits_and_mask_mean():
    x = Tensor(np.array([1e4, -1e4, 1e4, -1e4]), requires_grad=True)
    loss = fused.bce_with_logits(x, np.array([1.0, 0.0, 0.0, 1.0]))
    loss.backward()
    assert loss.item() == pytest.approx(1e4 / 2) and np.all(np.isfinite(x.grad))
    y = Tensor(np.zeros(4))
    assert fused.bce_with_logits(y, np.ones(4), np.array([1, 1, 0, 0], bool)).item() == pytest.approx(np.log(2))


# ---------------------------------------------------------------- dropout
def test_dropout_behaviour():
    x = Tensor(np.ones((200, 500)), requires_grad=True)
    a = fused.dropout(x, 0.3, np.random.default_rng(5))
    b = fused.dropout(x, 0.3, np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)                  # seeded rng reproducible
    assert abs(a.data.mean() - 1.0) < 0.02                         # mean preserved
    assert abs((a.data == 0).mean() - 0.3) < 0.01
    assert fused.dropout(x, 0.3, np.random.default_rng(5), training=False) is x
    assert fused.dropout(x, 0.0, np.random.default_rng(5)) is x
    a.backward(np.full(x.shape, 2.0))
    np.testing.assert_allclose(x.grad, 2.0 * (a.data != 0) / 0.7, rtol=1e-6)   # grad = g * mask * scale
    with pytest.raises(ValueError, match="p must be"):
        fused.dropout(x, 1.0, np.random.default_rng(0))
    assert gradcheck(lambda x: fused.dropout(x, 0.5, np.random.default_rng(1)), t64(rand((3, 4))))


# ---------------------------------------------------------------- attention
def causal(t):
    return np.tril(np.ones((t, t), dtype=bool))


@given(b=st.integers(1, 2), t=st.integers(1, 4), h=st.integers(1, 3), seed=seeds)
def test_attention_gradcheck_and_composed(b, t, h, seed):
    q, k, v = rand((b, t, h), seed), rand((b, t, h), seed + 1), rand((b, t, h), seed + 2)
    mask = causal(t)
    assert gradcheck(lambda q, k, v: fused.scaled_dot_product_attention(q, k, v, mask)[0],
                     t64(q), t64(k), t64(v))
    assert_same_value_and_grad(lambda q, k, v: fused.scaled_dot_product_attention(q, k, v, mask)[0],
                               lambda q, k, v: attention_composed(q, k, v, mask), q, k, v)


def test_attention_broadcast_heads_and_dropout():
    q, k, v = rand((2, 2, 3, 2)), rand((1, 2, 4, 2), 1), rand((2, 1, 4, 2), 2)   # (B, H, T, h), broadcast
    pad = np.array([[True, True, True, False], [True, True, False, False]])[:, None, None, :]  # (B,1,1,Tk)
    assert gradcheck(lambda q, k, v: fused.scaled_dot_product_attention(q, k, v, pad)[0],
                     t64(q), t64(k), t64(v))
    assert gradcheck(lambda q, k, v: fused.scaled_dot_product_attention(
        q, k, v, pad, dropout_p=0.4, rng=np.random.default_rng(2))[0], t64(q), t64(k), t64(v))
    _, probs = fused.scaled_dot_product_attention(t64(q), t64(k), t64(v), pad)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    assert np.all(probs[..., 3] == 0)
    with pytest.raises(ValueError, match="rng"):
        fused.scaled_dot_product_attention(t64(q), t64(k), t64(v), dropout_p=0.1)


def test_attention_fully_masked_row_gives_zeros_not_nan():
    q, k, v = (Tensor(rand((1, 3, 2), s), requires_grad=True) for s in range(3))
    mask = causal(3)
    mask[1] = False                                              # query 1 may attend to nothing
    out, probs = fused.scaled_dot_product_attention(q, k, v, mask)
    out.backward(np.ones(out.shape))
    assert np.all(probs[0, 1] == 0) and np.all(out.data[0, 1] == 0)
    for g in (q.grad, k.grad, v.grad):
        assert np.all(np.isfinite(g))
    assert np.all(q.grad[0, 1] == 0)


@given(t=st.integers(2, 5), seed=seeds)
def test_causal_attention_ignores_the_future(t, seed):
    q, k, v = rand((1, t, 3), seed), rand((1, t, 3), seed + 1), rand((1, t, 3), seed + 2)
    cut = t // 2
    k2, v2 = k.copy(), v.copy()
    k2[:, cut + 1:] += 10
    v2[:, cut + 1:] -= 10
    out1, _ = fused.scaled_dot_product_attention(t64(q), t64(k), t64(v), causal(t))
    out2, _ = fused.scaled_dot_product_attention(t64(q), t64(k2), t64(v2), causal(t))
    np.testing.assert_allclose(out1.data[:, :cut + 1], out2.data[:, :cut + 1], rtol=1e-12)


def test_fused_inputs_not_mutated():
    r = np.random.default_rng(0)
    arrays = [r.standard_normal((2, 3, 4)) for _ in range(3)]
    w, b, targets, tgt01 = r.standard_normal(4), r.standard_normal(4), r.integers(0, 4, 6), r.random((2, 3, 4))
    mask = causal(3)
    copies = [a.copy() for a in arrays + [w, b, targets, tgt01, mask]]
    q, k, v, tw, tb = (Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays + [w, b])  # share memory
    loss = (fused.softmax(q).sum() + fused.log_softmax(k, axis=0).sum()
            + fused.layer_norm(v, tw, tb).sum() + fused.l2_normalize(q).sum()
            + fused.cross_entropy(k.reshape(6, 4), targets) + fused.bce_with_logits(v, tgt01)
            + fused.scaled_dot_product_attention(q, k, v, mask)[0].sum()
            + fused.dropout(q, 0.5, np.random.default_rng(0)).sum())
    loss.backward()
    assert q.data is arrays[0] and tw.data is w
    for now, before in zip(arrays + [w, b, targets, tgt01, mask], copies):
        np.testing.assert_array_equal(now, before)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_linear_cross_entropy_equals_composed_and_gradchecks(chunk):
    rng = np.random.default_rng(7)
    h0, w0 = rng.normal(size=(7, 4)), rng.normal(size=(5, 4))
    t = rng.integers(0, 5, size=7)
    h1, w1 = Tensor(h0, requires_grad=True, dtype=np.float64), Tensor(w0, requires_grad=True, dtype=np.float64)
    fused.linear_cross_entropy(h1, w1, t, chunk=chunk).backward()
    h2, w2 = Tensor(h0, requires_grad=True, dtype=np.float64), Tensor(w0, requires_grad=True, dtype=np.float64)
    ref = fused.cross_entropy(h2 @ w2.transpose(1, 0), t)
    ref.backward()
    np.testing.assert_allclose(fused.linear_cross_entropy(h1, w1, t, chunk=chunk).item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(h1.grad, h2.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w1.grad, w2.grad, rtol=1e-10, atol=1e-12)
    gradcheck(lambda a, b: fused.linear_cross_entropy(a, b, t, chunk=chunk),
              Tensor(h0, requires_grad=True, dtype=np.float64), Tensor(w0, requires_grad=True, dtype=np.float64))


def test_linear_cross_entropy_partial_grads_no_grad_and_float32():
    """Gradients only where asked (they are computed in forward), none under no_grad, float32 stays float32."""
    from minih2rec.autograd import no_grad
    rng = np.random.default_rng(8)
    h0, w0, t = rng.normal(size=(9, 3)), rng.normal(size=(6, 3)), rng.integers(0, 6, size=9)
    ref_h, ref_w = t64(h0), t64(w0)
    (fused.cross_entropy(ref_h @ ref_w.transpose(1, 0), t) * 2.5).backward()
    h1, w1 = t64(h0), Tensor(w0, dtype=np.float64)                      # the table is a constant
    (fused.linear_cross_entropy(h1, w1, t, chunk=4) * 2.5).backward()
    np.testing.assert_allclose(h1.grad, ref_h.grad, rtol=1e-10, atol=1e-12)
    assert w1.grad is None
    h2, w2 = Tensor(h0, dtype=np.float64), t64(w0)                      # the states are constants
    (fused.linear_cross_entropy(h2, w2, t, chunk=4) * 2.5).backward()
    np.testing.assert_allclose(w2.grad, ref_w.grad, rtol=1e-10, atol=1e-12)
    with no_grad():
        out = fused.linear_cross_entropy(t64(h0), t64(w0), t)
    assert not out.requires_grad and out.op == "linear_cross_entropy"
    h3, w3 = Tensor(h0, requires_grad=True), Tensor(w0, requires_grad=True)   # float32
    out = fused.linear_cross_entropy(h3, w3, t, chunk=4)
    out.backward()
    assert out.dtype == h3.grad.dtype == w3.grad.dtype == np.float32
    np.testing.assert_allclose(out.item(), fused.cross_entropy(Tensor(h0 @ w0.T), t).item(), rtol=1e-5)


def test_linear_cross_entropy_rejects_bad_targets():
    h, w = Tensor(np.zeros((2, 3))), Tensor(np.zeros((4, 3)))
    with pytest.raises(IndexError, match="out of range"):
        fused.linear_cross_entropy(h, w, np.array([0, 4]))
    with pytest.raises(ValueError, match="linear_cross_entropy"):
        fused.linear_cross_entropy(h, w, np.array([0]))
