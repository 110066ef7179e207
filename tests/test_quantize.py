"""k-means, RQ-KMeans and the quantization report."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minih2rec.quantize import (RQKMeans, collision_rate, dedup_level, kmeans, kmeans_plus_plus, plot_report,
                                quantization_report)
from minih2rec.quantize.report import perplexity

pytestmark = pytest.mark.numpy_backend      # fast, and meaningful on the NumPy kernels too


def _blobs(rng, centers, per, noise):
    x = np.repeat(centers, per, axis=0) + noise * rng.standard_normal((len(centers) * per, centers.shape[1]))
    return x.astype(np.float32), np.repeat(np.arange(len(centers)), per)


# ---------------------------------------------------------------- k-means
def test_kmeans_recovers_planted_clusters():
    rng = np.random.default_rng(0)
    centers = 10.0 * rng.standard_normal((5, 8))
    x, truth = _blobs(rng, centers, 100, 0.1)
    res = kmeans(x, 5, np.random.default_rng(1))
    assert res.converged
    # every true cluster maps to one code and different clusters to different codes
    mapping = {t: set(res.codes[truth == t]) for t in range(5)}
    assert all(len(m) == 1 for m in mapping.values()), mapping
    assert len({m.pop() for m in mapping.values()}) == 5
    for t in range(5):
        k = res.codes[truth == t][0]
        np.testing.assert_allclose(res.centroids[k], x[truth == t].mean(0), atol=1e-4)
    np.testing.assert_allclose(res.inertia, res.sqdist.sum(), rtol=1e-6)


def test_kmeans_reseeds_empty_clusters_from_farthest_points():
    rng = np.random.default_rng(0)
    x, _ = _blobs(rng, np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]), 50, 0.2)
    init = np.array([[0.0, 0.0], [5.0, 5.0], [1000.0, 1000.0]], dtype=np.float32)   # 3rd starts empty
    res = kmeans(x, 3, rng, init=init)
    assert (np.bincount(res.codes, minlength=3) > 0).all()
    assert res.inertia < 3 * 150 * 0.2 ** 2 * 2             # about the noise variance: all 3 blobs found


def test_kmeans_with_fewer_distinct_points_than_k():
    x = np.repeat(np.eye(3, dtype=np.float32), 5, axis=0)   # 15 points, 3 distinct
    res = kmeans(x, 5, np.random.default_rng(0))
    assert res.inertia == 0.0
    assert res.codes.min() >= 0 and res.codes.max() < 5


def test_kmeans_plus_plus_is_seeded_and_picks_data_points():
    x = np.random.default_rng(0).standard_normal((200, 3))
    a = kmeans_plus_plus(x, 10, np.random.default_rng(7))
    b = kmeans_plus_plus(x, 10, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert len({tuple(r) for r in a}) == 10
    assert all((x == r).all(1).any() for r in a)


def test_kmeans_rejects_bad_k():
    with pytest.raises(ValueError, match="k=11"):
        kmeans(np.zeros((10, 2)), 11, np.random.default_rng(0))


# ---------------------------------------------------------------- RQ-KMeans
@given(n=st.integers(8, 40), D=st.integers(1, 5), K=st.integers(2, 8), L=st.integers(1, 4), seed=st.integers(0, 99))
def test_rq_error_never_grows_and_codes_in_range(n, D, K, L, seed):
    x = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    q = RQKMeans(levels=L, codebook_size=min(K, n), max_iter=20, seed=seed).fit(x)
    codes = q.encode(x)
    assert codes.shape == (n, L) and codes.dtype == np.int64
    assert codes.min() >= 0 and codes.max() < q.codebook_size
    assert q.codebooks.shape == (L, q.codebook_size, D)
    rep = quantization_report(x, codes, q.codebooks)
    errs = np.r_[rep.baseline_error, rep.recon_error]
    assert (np.diff(errs) <= 1e-5 * (1 + rep.baseline_error)).all(), errs
    np.testing.assert_allclose(((q.decode(codes) - x) ** 2).sum(1).mean(), rep.recon_error[-1], rtol=1e-4, atol=1e-6)


def test_rq_is_deterministic_for_a_seed_and_refines_with_levels():
    x = np.random.default_rng(3).standard_normal((500, 16)).astype(np.float32)
    a = RQKMeans(levels=3, codebook_size=16, seed=5).fit(x)
    b = RQKMeans(levels=3, codebook_size=16, seed=5).fit(x)
    np.testing.assert_array_equal(a.codebooks, b.codebooks)
    rep = quantization_report(x, a.encode(x), a.codebooks)
    assert rep.recon_error[0] < rep.baseline_error and rep.recon_error[2] < rep.recon_error[0]


def test_rq_codebook_larger_than_items_names_the_field():
    with pytest.raises(ValueError, match="codebook_size=64"):
        RQKMeans(codebook_size=64).fit(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="levels"):
        RQKMeans(levels=0)
    with pytest.raises(ValueError, match="fit"):
        RQKMeans().encode(np.zeros((3, 2)))


def test_rq_dedup_level_makes_tuples_unique():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((30, 4)).astype(np.float32)
    x = np.vstack([base, base[:10], base[:5]])              # exact duplicates must collide
    plain = RQKMeans(levels=2, codebook_size=8, seed=0).fit(x)
    assert collision_rate(plain.encode(x)) > 0
    q = RQKMeans(levels=2, codebook_size=8, seed=0, dedup=True).fit(x)
    codes = q.encode(x)
    assert codes.shape == (45, 3)
    assert collision_rate(codes) == 0.0
    np.testing.assert_array_equal(q.decode(codes), plain.decode(plain.encode(x)))


def test_dedup_level_hand_example():
    codes = np.array([[1, 2], [1, 2], [0, 0], [1, 2], [0, 0], [3, 3]])
    assert dedup_level(codes, 8).tolist() == [0, 1, 0, 2, 1, 0]
    with pytest.raises(ValueError, match="3 items share"):
        dedup_level(codes, 2)


# ---------------------------------------------------------------- report
def test_collision_rate_hand_examples():
    assert collision_rate(np.array([[0, 1], [0, 1], [2, 3], [4, 5]])) == 0.5
    assert collision_rate(np.array([[0, 1], [0, 1], [0, 1], [2, 2], [3, 3], [3, 3]])) == pytest.approx(5 / 6)
    assert collision_rate(np.array([[0], [1], [2]])) == 0.0


def test_report_hand_example():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    books = np.array([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]],      # level 1: K = 3 codes
                      [[0.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])     # level 2
    codes = np.array([[0, 0], [1, 0], [0, 0], [1, 1]])
    rep = quantization_report(x, codes, books)
    assert rep.baseline_error == pytest.approx((1 + 1 + 1 + 9) / 4)
    np.testing.assert_allclose(rep.recon_error, [4 / 4, 0.0])     # level 1 leaves (0, 2) on item 4
    np.testing.assert_allclose(rep.utilisation, [2 / 3, 2 / 3])
    np.testing.assert_allclose(rep.perplexity, [2.0, perplexity([3, 1])])
    assert rep.collision_rate == 0.5 and rep.unique_tuples == 3
    table = rep.format_table()
    assert "collision rate: 50.00%" in table and "2 levels x 3 codes" in table


def test_perplexity_values():
    assert perplexity([5, 5, 5, 5, 0]) == pytest.approx(4.0)
    assert perplexity([7]) == pytest.approx(1.0)
    assert perplexity([0, 0]) == 0.0


def test_plot_report_writes_an_image(tmp_path):
    x = np.random.default_rng(0).standard_normal((120, 6)).astype(np.float32)
    q = RQKMeans(levels=2, codebook_size=8).fit(x)
    codes = q.encode(x)
    out = plot_report(quantization_report(x, codes, q.codebooks), codes, tmp_path / "report.png")
    data = open(out, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
