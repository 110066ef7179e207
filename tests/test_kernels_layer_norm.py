"""layer_norm kernels: every available backend equals the NumPy reference (forward and backward).

float64 to round-off, float32 within a few ulp (the compiled loops sum in float64).
"""
import numpy as np
import pytest

from _compare import assert_close
from minih2rec import _backend
from minih2rec.kernels.layer_norm import (layer_norm_backward, layer_norm_backward_ref, layer_norm_forward,
                                          layer_norm_forward_ref)

FWD = _backend.implementations("layer_norm_forward")
BWD = _backend.implementations("layer_norm_backward")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-12)}


@pytest.mark.parametrize("backend", list(FWD))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (300, 64)])
def test_forward_and_backward_match_reference(backend, dtype, shape):
    rng = np.random.default_rng(shape[0])
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w, b = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    what = f"{backend} {np.dtype(dtype).name} {shape}"
    got, want = FWD[backend](x, w, b, 1e-8), layer_norm_forward_ref(x, w, b, 1e-8)
    for name, a, e in zip(("y", "xhat", "rstd"), got, want):
        assert a.dtype == dtype and a.shape == e.shape
        assert_close(a, e, **TOL[dtype], what=f"{what} {name}")
    got_b, want_b = BWD[backend](g, want[1], want[2], w), layer_norm_backward_ref(g, want[1], want[2], w)
    for name, a, e in zip(("dx", "dw", "db"), got_b, want_b):
        assert a.dtype == dtype and a.shape == e.shape
        assert_close(a, e, **TOL[dtype], what=f"{what} {name}")


@pytest.mark.parametrize("backend", list(FWD))
def test_constant_rows_normalise_to_zero(backend):
    x = np.full((3, 8), 7.5, dtype=np.float32)
    y, xhat, rstd = FWD[backend](x, np.ones(8, np.float32), np.zeros(8, np.float32), 1e-5)
    assert_close(y, np.zeros_like(x), atol=1e-6, what=backend)
    assert_close(rstd, np.full(3, 1e-5 ** -0.5, np.float32), rtol=1e-5, what=backend)


def test_public_functions_check_shapes():
    x = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="weight"):
        layer_norm_forward(x, np.ones(2), np.zeros(3), 1e-5)
    with pytest.raises(ValueError, match="float32/float64"):
        layer_norm_forward(np.zeros((4, 3), dtype=np.int64), np.ones(3), np.zeros(3), 1e-5)
    with pytest.raises(ValueError, match="do not match"):
        layer_norm_backward(np.zeros((4, 3)), np.zeros((4, 3)), np.ones(3), np.ones(3))


@pytest.mark.parametrize("backend", list(FWD))
def test_nan_input_stays_in_its_row(backend):
    x = np.random.default_rng(5).standard_normal((3, 8)).astype(np.float32)
    x[0, 2] = np.nan
    y, _, _ = FWD[backend](x, np.ones(8, np.float32), np.zeros(8, np.float32), 1e-5)
    assert np.isnan(y[0]).all() and np.isfinite(y[1:]).all()
