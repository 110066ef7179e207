"""TransformerBlock and SASRecBackbone: causality, padding, pre/post-LN, gradients."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.autograd import Tensor
from minih2rec.autograd.gradcheck import gradcheck
from minih2rec.nn import SASRecBackbone, TransformerBlock

pytestmark = pytest.mark.numpy_backend


def _backbone(d, heads, blocks, seed, pre_ln=True, dropout=0.0):
    bb = SASRecBackbone(d, heads, blocks, dropout, np.random.default_rng(seed), pre_ln=pre_ln)
    return bb.to_dtype(np.float64)


def _left_pad(rng, B, T):
    lengths = rng.integers(0, T + 1, size=B)
    return np.arange(T)[None, :] < (T - lengths)[:, None]


cases = st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([(4, 1), (4, 2)]),
                  st.booleans(), st.integers(0, 2**16))


@given(cases)
def test_backbone_causal(args):
    B, T, (d, H), pre_ln, seed = args
    rng = np.random.default_rng(seed)
    bb, t = _backbone(d, H, 2, seed, pre_ln), int(rng.integers(0, T))
    pad = _left_pad(rng, B, T)
    x = rng.standard_normal((B, T, d)) * ~pad[..., None]
    x2 = x.copy()
    x2[:, t + 1:] += rng.standard_normal(x2[:, t + 1:].shape)
    y1 = bb(Tensor(x, dtype=np.float64), pad).data
    y2 = bb(Tensor(x2, dtype=np.float64), pad).data
    np.testing.assert_allclose(y1[:, :t + 1], y2[:, :t + 1], atol=1e-10)


@given(cases)
def test_backbone_padding_invariant_zero_and_finite(args):
    B, T, (d, H), pre_ln, seed = args
    rng = np.random.default_rng(seed)
    bb = _backbone(d, H, 2, seed, pre_ln)
    pad = _left_pad(rng, B, T)
    pad[0] = True                                     # an all-padding row
    x = rng.standard_normal((B, T, d))
    x2 = np.where(pad[..., None], rng.standard_normal((B, T, d)) * 10, x)
    y1 = bb(Tensor(x, dtype=np.float64), pad).data
    y2 = bb(Tensor(x2, dtype=np.float64), pad).data
    assert np.all(np.isfinite(y1))
    np.testing.assert_allclose(y1[~pad], y2[~pad], atol=1e-10)
    assert np.all(y1[pad] == 0)


def test_pre_and_post_ln_differ_and_block_gradcheck():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True, dtype=np.float64)
    pad = np.array([[True, False, False], [False, False, False]])
    outs = []
    for pre_ln in (True, False):
        blk = TransformerBlock(4, 2, 0.0, np.random.default_rng(1), pre_ln=pre_ln).to_dtype(np.float64)
        outs.append(blk(x, pad).data)
        params = blk.parameters()
        assert gradcheck(lambda x, *ps: blk(x, pad), x, *params)
    assert not np.allclose(outs[0], outs[1])


def test_backbone_gradcheck_through_two_blocks():
    rng = np.random.default_rng(2)
    bb = _backbone(4, 1, 2, seed=3)
    pad = np.array([[True, True, False, False], [False, False, False, False]])
    x = Tensor(rng.standard_normal((2, 4, 4)), requires_grad=True, dtype=np.float64)
    assert gradcheck(lambda x: bb(x, pad), x)


def test_backbone_dropout_depends_on_mode():
    bb = SASRecBackbone(8, 2, 1, 0.5, np.random.default_rng(0))
    x = Tensor(np.random.default_rng(1).standard_normal((2, 5, 8)).astype(np.float32))
    pad = np.zeros((2, 5), bool)
    assert not np.allclose(bb(x, pad).data, bb(x, pad).data)
    bb.eval()
    np.testing.assert_array_equal(bb(x, pad).data, bb(x, pad).data)


def test_backbone_shape_errors():
    bb = SASRecBackbone(4, 1, 1, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="pad"):
        bb(Tensor(np.zeros((2, 3, 4))), np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="blocks"):
        SASRecBackbone(4, 1, 0, 0.0, np.random.default_rng(0))
