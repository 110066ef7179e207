"""Multi-head attention: NumPy reference, gradients, and hypothesis properties.

Properties (the failure modes that matter for a recommender):
* causality -- output at t does not change when anything after t changes (self and cross);
* padding   -- outputs at real positions do not change when padding content changes;
* probabilities sum to 1 over the allowed keys and are 0 elsewhere;
* a query with no allowed key (left padding + causal) gives zeros, never NaN.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.autograd import Tensor
from minih2rec.autograd.gradcheck import gradcheck
from minih2rec.nn import MultiHeadAttention, attention_mask

pytestmark = pytest.mark.numpy_backend


def _mha(d, heads, seed=0, dtype=np.float64):
    return MultiHeadAttention(d, heads, 0.0, np.random.default_rng(seed)).to_dtype(dtype)


def _left_pad(rng, B, T):
    """(B, T) bool, True = padding, left-padded with random real lengths 0..T."""
    lengths = rng.integers(0, T + 1, size=B)
    return np.arange(T)[None, :] < (T - lengths)[:, None]


def _reference(mha, q_in, kv_in, allowed):
    """Plain NumPy multi-head attention with explicit loops over heads."""
    B, Tq, d = q_in.shape
    H, hs = mha.heads, mha.head_size
    proj = lambda lin, x: x @ lin.weight.data + lin.bias.data
    q, k, v = proj(mha.q, q_in), proj(mha.k, kv_in), proj(mha.v, kv_in)
    out = np.zeros((B, Tq, d))
    for h in range(H):
        sl = slice(h * hs, (h + 1) * hs)
        s = q[..., sl] @ np.swapaxes(k[..., sl], 1, 2) / np.sqrt(hs)       # (B, Tq, Tk)
        s = np.where(allowed, s, -np.inf)
        with np.errstate(invalid="ignore"):
            p = np.exp(s - s.max(-1, keepdims=True))
            p = p / p.sum(-1, keepdims=True)
        out[..., sl] = np.nan_to_num(p) @ v[..., sl]
    return proj(mha.o, out)


dims = st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([(4, 1), (4, 2), (6, 3)]),
                 st.integers(0, 2**16))


def test_attention_mask_causal_and_aligned_at_the_end():
    np.testing.assert_array_equal(attention_mask(3, 3)[0, 0], np.tril(np.ones((3, 3), bool)))
    m = attention_mask(2, 4)[0, 0]                      # query t sees keys j <= t + 2
    np.testing.assert_array_equal(m, [[1, 1, 1, 0], [1, 1, 1, 1]])
    pad = np.array([[True, False, False]])
    np.testing.assert_array_equal(attention_mask(3, 3, causal=False, key_padding=pad)[0, 0],
                                  [[0, 1, 1]])          # (B, 1, 1, Tk): broadcasts over queries
    assert attention_mask(3, 3, causal=False) is None


@pytest.mark.parametrize("heads", [1, 2])
def test_matches_numpy_reference_self_and_cross(heads):
    rng = np.random.default_rng(0)
    mha = _mha(4, heads)
    x, y = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 4))
    pad = _left_pad(rng, 2, 5)
    allowed = attention_mask(5, 5, True, pad)[:, 0]
    np.testing.assert_allclose(mha(Tensor(x, dtype=np.float64), key_padding=pad).data,
                               _reference(mha, x, x, allowed), atol=1e-12)
    np.testing.assert_allclose(mha(Tensor(y, dtype=np.float64), Tensor(x, dtype=np.float64),
                                   key_padding=pad).data,
                               _reference(mha, y, x, allowed), atol=1e-12)


def test_gradcheck_cross_attention_with_padding():
    rng = np.random.default_rng(1)
    mha = _mha(4, 2)
    q = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True, dtype=np.float64)
    kv = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True, dtype=np.float64)
    pad = np.array([[True, False, False], [False, False, False]])
    assert gradcheck(lambda q, kv, *ps: mha(q, kv, key_padding=pad), q, kv, *mha.parameters()[:4])


def test_shape_errors():
    mha = _mha(4, 2)
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(6, 4, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="key_padding"):
        mha(Tensor(np.zeros((2, 3, 4))), key_padding=np.zeros((2, 4), bool))


@given(dims)
def test_causality_self_attention(args):
    B, T, (d, H), seed = args
    rng = np.random.default_rng(seed)
    mha, t = _mha(d, H, seed), int(rng.integers(0, T))
    x = rng.standard_normal((B, T, d))
    x2 = x.copy()
    x2[:, t + 1:] = rng.standard_normal(x2[:, t + 1:].shape) * 10
    y1 = mha(Tensor(x, dtype=np.float64)).data
    y2 = mha(Tensor(x2, dtype=np.float64)).data
    np.testing.assert_allclose(y1[:, :t + 1], y2[:, :t + 1], atol=1e-12)


@given(dims)
def test_causality_cross_attention(args):
    B, T, (d, H), seed = args
    rng = np.random.default_rng(seed)
    mha, t = _mha(d, H, seed), int(rng.integers(0, T))
    q, kv = rng.standard_normal((B, T, d)), rng.standard_normal((B, T, d))
    q2, kv2 = q.copy(), kv.copy()
    q2[:, t + 1:] += 5.0
    kv2[:, t + 1:] = rng.standard_normal(kv2[:, t + 1:].shape)
    f = lambda a, b: mha(Tensor(a, dtype=np.float64), Tensor(b, dtype=np.float64)).data
    np.testing.assert_allclose(f(q, kv)[:, :t + 1], f(q2, kv2)[:, :t + 1], atol=1e-12)


@given(dims, st.booleans())
def test_padding_content_does_not_change_real_outputs(args, causal):
    B, T, (d, H), seed = args
    rng = np.random.default_rng(seed)
    mha = _mha(d, H, seed)
    pad = _left_pad(rng, B, T)
    x = rng.standard_normal((B, T, d))
    x2 = np.where(pad[..., None], rng.standard_normal((B, T, d)) * 10, x)
    y1 = mha(Tensor(x, dtype=np.float64), causal=causal, key_padding=pad).data
    y2 = mha(Tensor(x2, dtype=np.float64), causal=causal, key_padding=pad).data
    np.testing.assert_allclose(y1[~pad], y2[~pad], atol=1e-12)


@given(dims)
def test_probs_sum_to_one_over_allowed_keys_and_no_nan(args):
    B, T, (d, H), seed = args
    rng = np.random.default_rng(seed)
    mha = _mha(d, H, seed, dtype=np.float32)
    pad = _left_pad(rng, B, T)
    pad[0] = True                                           # one row that is all padding
    x = Tensor(rng.standard_normal((B, T, d)).astype(np.float32))
    y, probs = mha(x, key_padding=pad, return_probs=True)
    assert probs.shape == (B, H, T, T) and np.all(np.isfinite(probs)) and np.all(np.isfinite(y.data))
    allowed = np.broadcast_to(attention_mask(T, T, True, pad), probs.shape)
    assert np.all(probs[~allowed] == 0)
    sums = probs.sum(-1)                                    # (B, H, T)
    has_key = allowed.any(-1)
    np.testing.assert_allclose(sums[has_key], 1.0, rtol=1e-5)
    assert np.all(sums[~has_key] == 0)
    # a query with no allowed key: zero attention output, so only the output bias remains
    rows = ~has_key[:, 0]                                   # (B, T)
    np.testing.assert_allclose(y.data[rows], np.broadcast_to(mha.o.bias.data, y.data[rows].shape))


def test_attention_dropout_only_in_training():
    rng = np.random.default_rng(0)
    mha = MultiHeadAttention(4, 1, 0.5, rng)
    x = Tensor(rng.standard_normal((2, 6, 4)).astype(np.float32))
    a, b = mha(x).data, mha(x).data
    assert not np.allclose(a, b)
    mha.eval()
    np.testing.assert_array_equal(mha(x).data, mha(x).data)
