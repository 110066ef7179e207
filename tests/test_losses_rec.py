"""Next-item losses: values against NumPy, gradients against finite differences, padding."""
import numpy as np
import pytest

from minih2rec.autograd import Tensor
from minih2rec.autograd.gradcheck import gradcheck
from minih2rec.losses import bce_loss, full_softmax_loss

pytestmark = pytest.mark.numpy_backend

B, T, D, V = 2, 4, 3, 5


def _inputs(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    H = Tensor(rng.standard_normal((B, T, D)), requires_grad=True, dtype=dtype)
    E = Tensor(rng.standard_normal((V + 1, D)), requires_grad=True, dtype=dtype)
    target = np.array([[0, 0, 3, 1], [2, 5, 5, 4]])               # 6 real positions
    neg = np.array([[0, 0, 2, 4], [1, 1, 3, 5]])
    return H, E, target, neg


def _softplus(x):
    return np.logaddexp(0, x)


def test_full_softmax_matches_numpy_and_ignores_column_zero():
    H, E, target, _ = _inputs()
    real = target > 0
    logits = H.data[real] @ E.data[1:].T                             # (M, V)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ref = -logp[np.arange(real.sum()), target[real] - 1].mean()
    assert full_softmax_loss(H, E, target).item() == pytest.approx(ref, rel=1e-12)
    E.data[0] = 100.0                                                # padding row: irrelevant
    assert full_softmax_loss(H, E, target).item() == pytest.approx(ref, rel=1e-12)


def test_bce_matches_numpy():
    H, E, target, neg = _inputs()
    real = target > 0
    h = H.data[real]
    pos = (h * E.data[target[real]]).sum(1)
    ng = (h * E.data[neg[real]]).sum(1)
    ref = _softplus(-pos).mean() + _softplus(ng).mean()
    assert bce_loss(H, E, target, neg).item() == pytest.approx(ref, rel=1e-12)


def test_full_softmax_gradcheck():
    H, E, target, _ = _inputs(1)
    assert gradcheck(lambda H, E: full_softmax_loss(H, E, target), H, E)


def test_bce_gradcheck():
    H, E, target, neg = _inputs(2)
    assert gradcheck(lambda H, E: bce_loss(H, E, target, neg), H, E)


@pytest.mark.parametrize("which", ["full", "bce"])
def test_padding_gets_no_gradient_and_does_not_matter(which):
    H, E, target, neg = _inputs(3)
    loss = (lambda: full_softmax_loss(H, E, target)) if which == "full" else \
        (lambda: bce_loss(H, E, target, neg))
    value = loss()
    value.backward()
    assert np.all(H.grad[target == 0] == 0)
    assert np.all(E.grad[0] == 0)
    H.data[target == 0] = 55.0                                        # padding content changes
    assert loss().item() == pytest.approx(value.item(), rel=1e-12)


def test_float32_path():
    H, E, target, neg = _inputs(4, dtype=np.float32)
    for loss in (full_softmax_loss(H, E, target), bce_loss(H, E, target, neg)):
        assert loss.dtype == np.float32 and np.isfinite(loss.item())


def test_errors():
    H, E, target, neg = _inputs()
    with pytest.raises(ValueError, match="no real position"):
        full_softmax_loss(H, E, np.zeros_like(target))
    with pytest.raises(IndexError, match="target id 6"):
        full_softmax_loss(H, E, np.where(target == 5, 6, target))
    with pytest.raises(IndexError, match="negative id 0"):
        bce_loss(H, E, target, np.zeros_like(neg))
    with pytest.raises(ValueError, match="target"):
        full_softmax_loss(H, E, target[:, :2])
    with pytest.raises(ValueError, match="neg shape"):
        bce_loss(H, E, target, neg[:, :2])
