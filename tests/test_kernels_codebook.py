"""nearest_codeword: every available backend against the NumPy reference (llm.c style).

Codes must match exactly (away from near-ties); distances to stated tolerances per
dtype. Exact ties (duplicated codewords, integer-valued data where all
arithmetic is exact) must go to the lowest index in every backend.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec import _backend
from minih2rec.kernels.codebook import nearest_codeword, nearest_codeword_ref

IMPLS = _backend.implementations("nearest_codeword")
DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-4, np.float64: 1e-10}


def _exact(x, C):
    """float64 brute force: (n, K) squared distances."""
    x, C = np.asarray(x, np.float64), np.asarray(C, np.float64)
    return ((x[:, None, :] - C[None, :, :]) ** 2).sum(-1)


def _assert_codes(got, want, name):
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"NOT OK {name}: {bad.size} codes differ; first at row {bad[0]}: "
                           f"got {got[bad[0]]}, want {want[bad[0]]}")


def _assert_dist(got, want, scale, dtype, name):
    err = np.abs(got.astype(np.float64) - want) / scale
    assert err.max() <= RTOL[dtype], (f"NOT OK {name}: worst distance error {err.max():.3g} at row "
                                      f"{err.argmax()}: got {got[err.argmax()]}, want {want[err.argmax()]}")


@pytest.mark.parametrize("backend", list(IMPLS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,K,D", [(1, 1, 1), (7, 3, 5), (1000, 64, 32), (3001, 300, 17), (257, 1030, 8)])
def test_backend_matches_reference_on_clear_winners(backend, dtype, n, K, D):
    rng = np.random.default_rng(n + K + D)
    C = rng.standard_normal((K, D)).astype(dtype)                       # (K, D)
    truth = rng.integers(K, size=n)
    x = (C[truth] + 0.01 * rng.standard_normal((n, D))).astype(dtype)   # each row near one codeword
    d = _exact(x, C)
    part = np.sort(d, axis=1)
    clear = part[:, 1] - part[:, 0] > 1e-3 if K > 1 else np.ones(n, bool)   # rows without a near-tie
    want_codes = d.argmin(axis=1)
    codes, sqdist = IMPLS[backend](x, C)
    assert codes.dtype == np.int64 and codes.shape == (n,)
    assert sqdist.dtype == dtype and sqdist.shape == (n,)
    _assert_codes(codes[clear], want_codes[clear], backend)
    ref_codes, ref_dist = nearest_codeword_ref(x, C)
    _assert_codes(codes[clear], ref_codes[clear], backend + " vs ref")
    scale = 1.0 + (x.astype(np.float64) ** 2).sum(1) + (C[codes].astype(np.float64) ** 2).sum(1)
    _assert_dist(sqdist, d[np.arange(n), codes], scale, dtype, backend)
    assert (sqdist >= 0).all()


@pytest.mark.parametrize("backend", list(IMPLS))
def test_random_data_agrees_with_reference(backend):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2000, 24)).astype(np.float32)
    C = rng.standard_normal((200, 24)).astype(np.float32)
    part = np.sort(_exact(x, C), axis=1)
    clear = part[:, 1] - part[:, 0] > 1e-3
    codes, _ = IMPLS[backend](x, C)
    _assert_codes(codes[clear], nearest_codeword_ref(x, C)[0][clear], backend)


@st.composite
def _integer_problem(draw):
    """Integer-valued x and C (all arithmetic exact in float32) with duplicated codewords."""
    D = draw(st.integers(1, 6))
    n = draw(st.integers(1, 12))
    uniq = draw(st.integers(1, 5))
    K = draw(st.integers(1, 9))
    vals = st.integers(-4, 4)
    U = np.array(draw(st.lists(st.lists(vals, min_size=D, max_size=D), min_size=uniq, max_size=uniq)))
    pick = np.array(draw(st.lists(st.integers(0, uniq - 1), min_size=K, max_size=K)))
    X = np.array(draw(st.lists(st.lists(vals, min_size=D, max_size=D), min_size=n, max_size=n)))
    return X, U[pick]                                        # C (K, D) repeats rows of U


@pytest.mark.parametrize("dtype", DTYPES)
@given(problem=_integer_problem())
def test_exact_ties_go_to_lowest_index_in_every_backend(dtype, problem):
    X, C = problem
    x, C = X.astype(dtype), C.astype(dtype)
    d = _exact(x, C)
    want = d.argmin(axis=1)                                  # np.argmin: first minimum = lowest index
    for backend, fn in IMPLS.items():
        codes, sqdist = fn(np.ascontiguousarray(x), np.ascontiguousarray(C))
        _assert_codes(codes, want, backend)
        np.testing.assert_array_equal(sqdist, d[np.arange(len(x)), want].astype(dtype), err_msg=backend)


@pytest.mark.parametrize("backend", list(IMPLS))
def test_duplicated_codewords_on_real_valued_data(backend):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((40, 16)).astype(np.float32)
    C = base[rng.integers(40, size=130)]                     # (130, 16), many exact duplicates
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    codes, _ = IMPLS[backend](x, C)
    first = {}
    for k, row in enumerate(map(bytes, C)):
        first.setdefault(row, k)
    lowest = np.array([first[bytes(C[k])] for k in range(len(C))])
    _assert_codes(codes, lowest[codes], backend + " (lowest duplicate)")


@pytest.mark.numpy_backend
def test_public_wrapper_casts_and_validates_shapes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    C = rng.standard_normal((6, 4))                          # float64
    x_before = x.copy()
    codes, sqdist = nearest_codeword(x, C)
    assert sqdist.dtype == np.float64                        # float32 + float64 -> float64
    np.testing.assert_array_equal(x, x_before)               # inputs are not mutated
    codes_t, _ = nearest_codeword(np.asfortranarray(x), C)   # non-contiguous input is fine
    np.testing.assert_array_equal(codes, codes_t)
    c0, d0 = nearest_codeword(np.zeros((0, 4)), C)
    assert c0.shape == (0,) and d0.shape == (0,)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("x,C,match", [
    (np.zeros(4), np.zeros((2, 4)), "x must be 2-D"),
    (np.zeros((3, 4)), np.zeros((2, 5)), "D=4"),
    (np.zeros((3, 4), dtype=np.int64), np.zeros((2, 4)), "float dtype"),
    (np.zeros((3, 4)), np.zeros((0, 4)), "K=0"),
    (np.zeros((3, 0)), np.zeros((2, 0)), "D=0"),
])
def test_bad_input_raises(x, C, match):
    with pytest.raises(ValueError, match=match):
        nearest_codeword(x, C)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_the_row(bad):
    x = np.zeros((6, 3), dtype=np.float32)
    x[4, 1] = bad
    with pytest.raises(ValueError, match="x row 4"):
        nearest_codeword(x, np.ones((2, 3), dtype=np.float32))
    C = np.ones((5, 3))
    C[2, 0] = bad
    with pytest.raises(ValueError, match="C row 2"):
        nearest_codeword(np.zeros((2, 3)), C)


@pytest.mark.numpy_backend
def test_huge_finite_values_are_not_mistaken_for_inf():
    x = np.full((4, 2), 3e38, dtype=np.float32)              # the sum overflows, the values are finite
    with np.errstate(over="ignore"):                         # ||x||^2 itself overflows to inf
        codes, _ = nearest_codeword(x, np.zeros((1, 2), dtype=np.float32))
    assert codes.tolist() == [0, 0, 0, 0]


def test_forced_backend_is_used(monkeypatch):
    for backend in IMPLS:
        monkeypatch.setenv("MINIH2REC_BACKEND", backend)
        _backend.reset()
        assert _backend.resolve("nearest_codeword")[0] == backend
    rng = np.random.default_rng(1)
    x, C = rng.standard_normal((30, 3)), rng.standard_normal((4, 3))
    assert nearest_codeword(x, C)[0].shape == (30,)
