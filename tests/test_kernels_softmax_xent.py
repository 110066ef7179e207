"""softmax_xent: every available backend equals the NumPy reference and the textbook formula.

float64 to round-off (libm exp in every version); float32 within a few ulp (the Numba
version's polynomial exp is within ~1e-7 relative of exp). Huge logits stay finite,
grad=False leaves only the losses, bad inputs raise.
"""
import numpy as np
import pytest

from _compare import assert_close
from minih2rec import _backend
from minih2rec.kernels.softmax_xent import softmax_xent, softmax_xent_ref

IMPLS = _backend.implementations("softmax_xent")
TOL = {np.float32: dict(rtol=2e-6, atol=1e-9), np.float64: dict(rtol=1e-12, atol=1e-15)}


def _problem(rng, m, C, dtype, spread=4.0):
    return (rng.standard_normal((m, C)) * spread).astype(dtype), rng.integers(0, C, m)


def _textbook(z, t, scale):
    """Loss rows and gradient from the definitions, in float64."""
    z = z.astype(np.float64)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    p = np.exp(z - lse[:, None])
    p[np.arange(len(t)), t] -= 1
    return lse - z[np.arange(len(t)), t], scale * p


@pytest.mark.parametrize("backend", list(IMPLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (37, 1349), (5, 3417)])
def test_matches_reference_and_definition(backend, dtype, shape):
    rng = np.random.default_rng(shape[1])
    z, t = _problem(rng, *shape, dtype)
    want_loss, want_grad = _textbook(z, t, 1 / 64)
    ref = z.copy()
    ref_loss = softmax_xent_ref(ref, t, 1 / 64, True)
    got = z.copy()
    got_loss = IMPLS[backend](got, t, 1 / 64, True)
    assert got.dtype == dtype and got_loss.dtype == np.float64
    what = f"{backend} {np.dtype(dtype).name} {shape}"
    assert_close(got_loss, ref_loss, **TOL[dtype], what=what + " loss vs ref")
    assert_close(got, ref, **TOL[dtype], what=what + " grad vs ref")
    assert_close(got_loss, want_loss, rtol=TOL[dtype]["rtol"], atol=1e-6 if dtype == np.float32 else 1e-12,
                 what=what + " loss vs definition")
    assert_close(got, want_grad.astype(dtype), **TOL[dtype], what=what + " grad vs definition")


@pytest.mark.parametrize("backend", list(IMPLS))
def test_huge_and_very_negative_logits_stay_finite(backend):
    z = np.array([[1e4, 0.0, -1e4], [-200.0, -100.0, -300.0], [88.0, 88.0, 88.0]], dtype=np.float32)
    t = np.array([1, 0, 2])
    loss = IMPLS[backend](z, t, 1.0, True)
    assert np.isfinite(loss).all() and np.isfinite(z).all()
    assert_close(loss, [1e4, 100.0, np.log(3.0)], rtol=1e-6, atol=1e-6, what=backend)
    assert_close(z.sum(axis=1), np.zeros(3), atol=1e-6, what=f"{backend}: gradient rows sum to 0")


@pytest.mark.parametrize("backend", list(IMPLS))
def test_grad_false_gives_the_same_losses(backend):
    z, t = _problem(np.random.default_rng(3), 9, 50, np.float32)
    with_grad = IMPLS[backend](z.copy(), t, 0.1, True)
    assert_close(IMPLS[backend](z.copy(), t, 0.1, False), with_grad, rtol=0, atol=0, what=backend)


def test_public_function_checks_inputs():
    z = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(IndexError, match="out of range"):
        softmax_xent(z.copy(), np.array([0, 3]), 1.0)
    with pytest.raises(ValueError, match="targets"):
        softmax_xent(z.copy(), np.array([0]), 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        softmax_xent(np.zeros((3, 2), dtype=np.float32).T, np.array([0, 1]), 1.0)
    with pytest.raises(ValueError, match="float32/float64"):
        softmax_xent(np.zeros((2, 3), dtype=np.int64), np.array([0, 1]), 1.0)
    assert softmax_xent(np.zeros((0, 3), dtype=np.float32), np.zeros(0, dtype=np.int64), 1.0).shape == (0,)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_nan_logit_gives_nan_loss_not_an_error(backend):
    """A NaN weight must surface as a NaN loss (the trainer stops on it), not as a finite value or a crash."""
    z, t = _problem(np.random.default_rng(4), 3, 40, np.float32)
    z[1, 5] = np.nan
    loss = IMPLS[backend](z, t, 1 / 3, True)
    assert np.isnan(loss[1]) and np.isfinite(loss[[0, 2]]).all()
