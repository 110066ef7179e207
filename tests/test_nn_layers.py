"""Basic layers: values against NumPy, gradients against finite differences, padding row."""
import numpy as np
import pytest

from minih2rec.autograd import Tensor
from minih2rec.autograd.gradcheck import gradcheck
from minih2rec.nn import Dropout, Embedding, FeedForward, LayerNorm, Linear, init
from minih2rec.optim import SGD, Adam, AdamW

pytestmark = pytest.mark.numpy_backend


def _x(shape, seed=0, dtype=np.float64):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True, dtype=dtype)


def test_init_seeded_and_bounded():
    a = init.xavier_uniform((30, 20), np.random.default_rng(1))
    b = init.xavier_uniform((30, 20), np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and np.abs(a).max() <= np.sqrt(6 / 50)
    n = init.normal((2000,), np.random.default_rng(0), std=0.5)
    assert abs(n.std() - 0.5) < 0.05
    with pytest.raises(ValueError):
        init.xavier_uniform((3,), np.random.default_rng(0))


def test_linear_matches_numpy_on_3d_input():
    lin = Linear(4, 3, np.random.default_rng(0))
    x = _x((2, 5, 4), dtype=np.float32)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data + lin.bias.data, rtol=1e-6)
    assert lin(x).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="last dim 4"):
        lin(_x((2, 3)))


def test_linear_gradcheck():
    lin = Linear(3, 2, np.random.default_rng(0)).to_dtype(np.float64)
    x = _x((2, 4, 3))
    assert gradcheck(lambda x, w, b: lin(x), x, lin.weight, lin.bias)


def test_layer_norm_matches_numpy_and_gradcheck():
    ln = LayerNorm(5).to_dtype(np.float64)
    ln.weight.data[:] = np.linspace(0.5, 1.5, 5)
    x = _x((3, 5))
    ref = (x.data - x.data.mean(-1, keepdims=True)) / np.sqrt(x.data.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(x).data, ref * ln.weight.data, rtol=1e-10)
    assert gradcheck(lambda x, w, b: ln(x), x, ln.weight, ln.bias)


def test_embedding_lookup_and_padding_row():
    emb = Embedding(6, 4, np.random.default_rng(0))
    assert np.all(emb.weight.data[0] == 0)
    idx = np.array([[0, 0, 3, 5], [1, 2, 3, 0]])
    out = emb(idx)
    assert out.shape == (2, 4, 4)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    (out * Tensor(np.random.default_rng(1).standard_normal(out.shape))).sum().backward()
    assert np.all(emb.weight.grad[0] == 0)
    assert np.all(emb.weight.grad[3] != 0)


def test_embedding_index_errors():
    emb = Embedding(6, 4, np.random.default_rng(0))
    with pytest.raises(IndexError, match="6"):
        emb(np.array([1, 6]))
    with pytest.raises(ValueError):
        emb(np.array([1.0, 2.0]))


@pytest.mark.parametrize("make_opt", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.1),
    lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1),
])
def test_embedding_padding_row_stays_zero_after_optimizer_steps(make_opt):
    emb = Embedding(5, 3, np.random.default_rng(0))
    opt = make_opt(emb.parameters())
    idx = np.array([[0, 0, 1, 2], [0, 3, 4, 4]])
    for _ in range(3):
        opt.zero_grad()
        (emb(idx) ** 2).sum().backward()
        opt.step()
    assert np.all(emb.weight.data[0] == 0)
    assert not np.allclose(emb.weight.data[1:], Embedding(5, 3, np.random.default_rng(0)).weight.data[1:])


def test_embedding_without_padding_idx_gets_all_grads():
    emb = Embedding(4, 2, np.random.default_rng(0), padding_idx=None)
    assert np.any(emb.weight.data[0] != 0)
    emb(np.array([0, 0, 1])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [2, 1, 0, 0])


def test_dropout_train_and_eval():
    drop = Dropout(0.5, np.random.default_rng(0))
    x = Tensor(np.ones((100, 100)))
    y = drop(x).data
    assert 0.45 < (y == 0).mean() < 0.55 and np.allclose(y[y != 0], 2.0)
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).data, x.data)
    with pytest.raises(ValueError, match="p must be"):
        Dropout(1.0, np.random.default_rng(0))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feedforward_gradcheck(activation):
    ffn = FeedForward(3, 5, 0.0, np.random.default_rng(0), activation).to_dtype(np.float64)
    x = _x((2, 2, 3), seed=3)
    params = ffn.parameters()
    assert gradcheck(lambda x, *ps: ffn(x), x, *params)


def test_feedforward_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        FeedForward(3, 5, 0.0, np.random.default_rng(0), "tanh")
