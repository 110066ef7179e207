"""TF-IDF, randomized SVD, content loading and SemanticIDs files."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from minih2rec.semantic import (CSR, SemanticIDs, content_for, content_vectors_from_text, load_content_vectors,
                                randomized_svd, tfidf, tokenize)

pytestmark = pytest.mark.numpy_backend


# ---------------------------------------------------------------- text
def test_tokenize_rules():
    assert tokenize("Toy Story (1995): Animation|Children's") == ["toy", "story", "1995", "animation", "children"]
    assert tokenize("a b_c  Éclair-x2") == ["éclair", "x2"]      # '_' splits, 1-char tokens dropped
    assert tokenize("") == []


def test_tfidf_hand_example():
    X, vocab = tfidf(["Apple banana", "apple, APPLE cherry!", "banana x"])
    assert vocab == ["apple", "banana", "cherry"]
    # n = 3 docs; df = (2, 2, 1); smooth idf = ln((1+3)/(1+df)) + 1
    idf_a, idf_c = 1.2876820724517808, 1.6931471805599454        # ln(4/3)+1, ln(2)+1
    assert idf_a == pytest.approx(np.log(4 / 3) + 1) and idf_c == pytest.approx(np.log(2) + 1)
    want = np.array([[0.7071067811865475, 0.7071067811865475, 0.0],          # (1, 1, 0) * idf_a, unit norm
                     [0.8355915419449176, 0.0, 0.5493512310263033],          # (2 idf_a, 0, idf_c) / norm
                     [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(X.toarray(), want, rtol=1e-12)


def test_tfidf_min_df_and_empty_documents():
    X, vocab = tfidf(["red car", "red bike", "", None, "blue car"], min_df=2)
    assert vocab == ["car", "red"]
    dense = X.toarray()
    assert dense.shape == (5, 2)
    assert (dense[2] == 0).all() and (dense[3] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(dense[[0, 1, 4]], axis=1), 1.0)


def test_csr_products_match_dense():
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((30, 20)) * (rng.random((30, 20)) < 0.2)
    dense[[3, 4, 17]] = 0                                          # empty rows
    rows, cols = np.nonzero(dense)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=30))]
    A = CSR(indptr, cols.astype(np.int64), dense[rows, cols], (30, 20))
    np.testing.assert_array_equal(A.toarray(), dense)
    B = rng.standard_normal((20, 7))
    np.testing.assert_allclose(A @ B, dense @ B, atol=1e-12)
    np.testing.assert_allclose(A.T.toarray(), dense.T)
    C = rng.standard_normal((30, 3))
    np.testing.assert_allclose(A.T @ C, dense.T @ C, atol=1e-12)
    with pytest.raises(ValueError, match="expected"):
        A @ np.zeros((19, 2))


def test_randomized_svd_matches_full_svd_on_small_matrix():
    rng = np.random.default_rng(1)
    U0, _ = np.linalg.qr(rng.standard_normal((80, 40)))
    V0, _ = np.linalg.qr(rng.standard_normal((50, 40)))
    A = (U0 * 0.7 ** np.arange(40)) @ V0.T                          # decaying spectrum
    U, s, Vt = randomized_svd(A, 6, np.random.default_rng(0))
    s_full = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(s, s_full[:6], rtol=1e-6)
    np.testing.assert_allclose(U.T @ U, np.eye(6), atol=1e-10)
    low_rank = (U * s) @ Vt
    assert np.linalg.norm(A - low_rank, 2) <= s_full[6] * (1 + 1e-6)


def test_randomized_svd_on_csr_equals_dense():
    X, _ = tfidf([f"w{i % 7} w{i % 5} w{i % 3} common" for i in range(60)])
    _, s_sparse, _ = randomized_svd(X, 4, np.random.default_rng(0))
    np.testing.assert_allclose(s_sparse, np.linalg.svd(X.toarray(), compute_uv=False)[:4], rtol=1e-6)
    with pytest.raises(ValueError, match="k=99"):
        randomized_svd(X, 99, np.random.default_rng(0))


def test_content_vectors_from_text():
    texts = ["space opera with robots", "robots in space", "romantic comedy in paris",
             "comedy about love in paris", "", "war drama", "drama of war and love"]
    with pytest.warns(RuntimeWarning, match="1 of 7 items have no usable text"):
        Z = content_vectors_from_text(texts, dim=4, seed=0)
    assert Z.shape == (7, 4) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z[[0, 1, 2, 3, 5, 6]], axis=1), 1.0, rtol=1e-5)
    assert (Z[4] == 0).all()
    assert Z[0] @ Z[1] > Z[0] @ Z[2]                               # similar texts, closer vectors
    with pytest.warns(RuntimeWarning):
        np.testing.assert_array_equal(Z, content_vectors_from_text(texts, dim=4, seed=0))   # seeded


def test_content_vectors_pad_when_dim_exceeds_rank():
    with pytest.warns(RuntimeWarning, match="only 2 SVD components"):
        Z = content_vectors_from_text(["alpha beta", "gamma delta"], dim=8)
    assert Z.shape == (2, 8) and (Z[:, 2:] == 0).all()


# ---------------------------------------------------------------- content files
def test_load_content_vectors_npy_and_npz(tmp_path):
    M = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "c.npy", M)                                 # (V, D): row r = item r+1
    out = load_content_vectors(tmp_path / "c.npy", num_items=4)
    assert out.shape == (5, 3) and out.dtype == np.float32
    assert (out[0] == 0).all() and (out[1:] == M).all()
    with_pad = np.vstack([np.full((1, 3), 7.0), M])                # (V+1, D): row 0 ignored
    np.savez(tmp_path / "c.npz", embeddings=with_pad, other=np.zeros(2))
    out2 = load_content_vectors(tmp_path / "c.npz", num_items=4)
    np.testing.assert_array_equal(out, out2)


def test_load_content_vectors_errors(tmp_path):
    M = np.ones((4, 3), dtype=np.float32)
    M[2, 1] = np.nan                                               # item id 3
    np.save(tmp_path / "bad.npy", M)
    with pytest.raises(ValueError, match=r"bad\.npy.*row 2 \(item id 3\)"):
        load_content_vectors(tmp_path / "bad.npy", num_items=4)
    np.save(tmp_path / "shape.npy", np.ones((6, 3)))
    with pytest.raises(ValueError, match=r"shape\.npy.*\(6, 3\).*\(4, D\) or \(5, D\)"):
        load_content_vectors(tmp_path / "shape.npy", num_items=4)
    np.savez(tmp_path / "keys.npz", a=np.ones((4, 3)), b=np.ones((4, 3)))
    with pytest.raises(ValueError, match="holds arrays"):
        load_content_vectors(tmp_path / "keys.npz", num_items=4)
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file at all")
    with pytest.raises(ValueError, match=r"junk\.npy.*could not be read"):
        load_content_vectors(tmp_path / "junk.npy", num_items=4)


def test_content_for_prefers_planted_content_then_text():
    planted = np.vstack([np.zeros((1, 2)), np.arange(6).reshape(3, 2)]).astype(np.float32)
    inter = SimpleNamespace(num_items=3, content=planted, item_text=["", "a b", "c d", "e f"], name="toy")
    np.testing.assert_array_equal(content_for(inter), planted)
    inter.content = None
    inter.item_text = ["", "space robots", "robots space", "paris love"]
    out = content_for(inter, dim=2)
    assert out.shape == (4, 2) and (out[0] == 0).all()
    inter.item_text = None
    with pytest.raises(ValueError, match="neither content vectors nor item text"):
        content_for(inter)


# ---------------------------------------------------------------- SemanticIDs
def _ids():
    rng = np.random.default_rng(0)
    content = np.vstack([np.zeros((1, 5)), rng.standard_normal((40, 5))]).astype(np.float32)
    return SemanticIDs.from_quantizer(content, levels=2, codebook_size=4, seed=0)


def test_from_quantizer_layout():
    ids = _ids()
    assert ids.codes.shape == (41, 2) and ids.codes.dtype == np.int64
    assert (ids.codes[0] == 0).all() and ids.num_items == 40
    assert ids.codebooks.shape == (2, 4, 5) and ids.method == "rq-kmeans"
    assert ids.codes.max() < 4


def test_save_load_round_trip(tmp_path):
    ids = _ids()
    path = ids.save(tmp_path / "sid")
    assert path.endswith("sid.npz")
    back = SemanticIDs.load(path, num_items=40)
    np.testing.assert_array_equal(back.codes, ids.codes)
    np.testing.assert_array_equal(back.codebooks, ids.codebooks)
    assert (back.codebook_size, back.levels, back.method, back.dedup) == (4, 2, "rq-kmeans", False)
    summary = json.loads((tmp_path / "sid.json").read_text())
    assert summary["num_items"] == 40 and summary["levels"] == 2 and 0 <= summary["collision_rate"] <= 1


def test_load_rejects_bad_files(tmp_path):
    ids = _ids()
    path = ids.save(tmp_path / "sid.npz")
    with pytest.raises(ValueError, match="IDs for 40 items but the dataset has 39"):
        SemanticIDs.load(path, num_items=39)
    bad = ids.codes.copy()
    bad[7, 1] = 4
    np.savez(tmp_path / "range.npz", codes=bad, codebook_size=4, levels=2, method="rq-kmeans")
    with pytest.raises(ValueError, match=r"range\.npz.*code 4 at item 7, level 1 is outside \[0, 4\)"):
        SemanticIDs.load(tmp_path / "range.npz")
    pad = ids.codes.copy()
    pad[0, 0] = 1
    np.savez(tmp_path / "pad.npz", codes=pad, codebook_size=4, levels=2, method="rq-kmeans")
    with pytest.raises(ValueError, match="padding item"):
        SemanticIDs.load(tmp_path / "pad.npz")
    np.savez(tmp_path / "missing.npz", codes=ids.codes)
    with pytest.raises(ValueError, match=r"missing\.npz.*lacks arrays"):
        SemanticIDs.load(tmp_path / "missing.npz")
    raw = open(path, "rb").read()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"trunc\.npz.*could not be read"):
        SemanticIDs.load(tmp_path / "trunc.npz")
    with pytest.raises(ValueError, match="could not be read"):
        SemanticIDs.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "shape.npz", codes=ids.codes, codebook_size=4, levels=3, method="x")
    with pytest.raises(ValueError, match=r"expected \(V\+1, 3\)"):
        SemanticIDs.load(tmp_path / "shape.npz")
