"""TransformerBlock and SASRecBackbone: causality, padding, the three block layouts, gradients."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.autograd import Tensor
from minih2rec.autograd.gradcheck import gradcheck
from minih2rec.nn import BLOCKS, SASRecBackbone, TransformerBlock

pytestmark = pytest.mark.numpy_backend


def _backbone(d, heads, blocks, seed, block="sasrec", dropout=0.0):
    bb = SASRecBackbone(d, heads, blocks, dropout, np.random.default_rng(seed), block=block)
    return bb.to_dtype(np.float64)


def _left_pad(rng, B, T):
    lengths = rng.integers(0, T + 1, size=B)
    return np.arange(T)[None, :] < (T - lengths)[:, None]


cases = st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([(4, 1), (4, 2)]),
                  st.sampled_from(BLOCKS), st.integers(0, 2**16))


@given(cases)
def test_backbone_causal(args):
    B, T, (d, H), block, seed = args
    rng = np.random.default_rng(seed)
    bb, t = _backbone(d, H, 2, seed, block), int(rng.integers(0, T))
    pad = _left_pad(rng, B, T)
    x = rng.standard_normal((B, T, d)) * ~pad[..., None]
    x2 = x.copy()
    x2[:, t + 1:] += rng.standard_normal(x2[:, t + 1:].shape)
    y1 = bb(Tensor(x, dtype=np.float64), pad).data
    y2 = bb(Tensor(x2, dtype=np.float64), pad).data
    np.testing.assert_allclose(y1[:, :t + 1], y2[:, :t + 1], atol=1e-10)


@given(cases)
def test_backbone_padding_invariant_zero_and_finite(args):
    B, T, (d, H), block, seed = args
    rng = np.random.default_rng(seed)
    bb = _backbone(d, H, 2, seed, block)
    pad = _left_pad(rng, B, T)
    pad[0] = True                                     # an all-padding row
    x = rng.standard_normal((B, T, d))
    x2 = np.where(pad[..., None], rng.standard_normal((B, T, d)) * 10, x)
    y1 = bb(Tensor(x, dtype=np.float64), pad).data
    y2 = bb(Tensor(x2, dtype=np.float64), pad).data
    assert np.all(np.isfinite(y1))
    np.testing.assert_allclose(y1[~pad], y2[~pad], atol=1e-10)
    assert np.all(y1[pad] == 0)


def test_block_layouts_differ_and_gradcheck():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True, dtype=np.float64)
    pad = np.array([[True, False, False], [False, False, False]])
    outs = []
    for block in BLOCKS:
        blk = TransformerBlock(4, 2, 0.0, np.random.default_rng(1), block=block).to_dtype(np.float64)
        outs.append(blk(x, pad).data)
        params = blk.parameters()
        assert gradcheck(lambda x, *ps: blk(x, pad), x, *params)
    for i in range(len(outs)):
        for j in range(i):
            assert not np.allclose(outs[i], outs[j])


def test_sasrec_block_normalises_only_the_query():
    """q = LN1(x); x = LN2(q + Attn(q, x, x)); out = x + FFN(x) -- keys/values read the raw x."""
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 5, 8)) * 3 + 1, dtype=np.float64)
    blk = TransformerBlock(8, 2, 0.0, np.random.default_rng(5), block="sasrec").to_dtype(np.float64)
    q = blk.ln1(x)
    h = blk.ln2(q + blk.attn(q, x, x, causal=True))
    np.testing.assert_allclose(blk(x).data, (h + blk.ffn(h)).data, atol=1e-12)
    wrong = blk.ln2(q + blk.attn(q, causal=True))             # keys from LN(x) instead
    assert not np.allclose(blk(x).data, (wrong + blk.ffn(wrong)).data)
    assert blk.ln1.eps == 1e-8                                # SASRec's code uses eps 1e-8


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
