"""Semantic-ID numerics (issue 15, item 6): content and codebooks must be finite and of a
sane scale, or the error names the file and the first bad row."""
import numpy as np
import pytest

from minih2rec.__main__ import main
from minih2rec.config import preset
from minih2rec.data import build_interactions, make_synthetic
from minih2rec.experiment import DataSpec, run
from minih2rec.semantic import SemanticIDs, load_content_vectors

pytestmark = pytest.mark.numpy_backend


@pytest.fixture(scope="module")
def tiny():
    return make_synthetic("tiny", seed=0)           # 150 items with planted (V+1, 64) content


def _codes(path, tmp_path, tiny, name):
    out = tmp_path / f"{name}.npz"
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--content", str(path),
                 "--codebook-size", "16", "--out", str(out)]) == 0
    return SemanticIDs.load(out, num_items=tiny.num_items).codes


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_sids_codes_do_not_depend_on_the_content_scale(tmp_path, tiny, capsys, scale):
    # 1e30 overflowed float32 squared distances: every item got the same code
    np.save(tmp_path / "plain.npy", tiny.content[1:])
    np.save(tmp_path / "scaled.npy", tiny.content[1:].astype(np.float64) * scale)
    plain = _codes(tmp_path / "plain.npy", tmp_path, tiny, "plain")
    scaled = _codes(tmp_path / "scaled.npy", tmp_path, tiny, "scaled")
    assert len({tuple(c) for c in scaled[1:]}) > 100          # 150 items, distinct codes
    assert (plain[1:, 0] != plain[1, 0]).any()
    np.testing.assert_array_equal(scaled, plain)


def test_content_beyond_float32_range_is_rescaled_not_inf(tmp_path):
    M = np.random.default_rng(0).standard_normal((6, 3)) * 1e300   # finite in float64 only
    np.save(tmp_path / "big.npy", M)
    out = load_content_vectors(tmp_path / "big.npy", num_items=6)
    assert np.isfinite(out).all() and np.abs(out).max() == pytest.approx(1.0)
    np.testing.assert_allclose(out[1:], M / np.abs(M).max(), rtol=1e-6)


def test_content_in_the_usual_range_is_left_alone(tmp_path):
    M = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.save(tmp_path / "c.npy", M)
    np.testing.assert_array_equal(load_content_vectors(tmp_path / "c.npy", 5)[1:], M)


def test_identical_content_rows_are_an_error_naming_the_file(tmp_path, capsys):
    np.save(tmp_path / "same.npy", np.full((150, 8), 3.0))
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--content",
                 str(tmp_path / "same.npy"), "--codebook-size", "16",
                 "--out", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert "same.npy" in err and "all 150 content rows are identical" in err
    assert len(err.strip().splitlines()) == 1


def test_outlier_row_is_an_error_naming_the_row(tmp_path):
    M = np.random.default_rng(2).standard_normal((8, 4))
    M[5] *= 1e9                                                      # item id 6
    np.save(tmp_path / "out.npy", M)
    with pytest.raises(ValueError, match=r"out\.npy.*row 5 \(item id 6\).*times the median"):
        load_content_vectors(tmp_path / "out.npy", num_items=8)


def test_nan_content_row_in_the_sids_command_names_file_and_row(tmp_path, tiny, capsys):
    M = tiny.content[1:].copy()
    M[7, 2] = np.nan                                                 # item id 8
    np.save(tmp_path / "nan.npy", M)
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--content", str(tmp_path / "nan.npy"),
                 "--codebook-size", "16", "--out", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert "nan.npy" in err and "row 7 (item id 8)" in err


def test_load_rejects_nan_codebooks_naming_file_and_codeword(tmp_path, tiny):
    sids = SemanticIDs.from_quantizer(tiny.content, levels=2, codebook_size=8, seed=0)
    books = np.array(sids.codebooks, dtype=np.float32)
    books[1, 3, 0] = np.nan
    np.savez(tmp_path / "nan.npz", codes=sids.codes, codebook_size=np.int64(8), levels=np.int64(2),
             method=np.str_("rq-kmeans"), codebooks=books)
    with pytest.raises(ValueError, match=r"nan\.npz.*codebook level 1, code 3 has a NaN or inf"):
        SemanticIDs.load(tmp_path / "nan.npz")
    books[1, 3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        SemanticIDs(sids.codes, 8, 2, "rq-kmeans", books)


def test_load_of_a_plain_npy_is_a_clear_error(tmp_path):
    np.save(tmp_path / "codes.npy", np.zeros((4, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"codes\.npy.*plain \.npy array, not the \.npz"):
        SemanticIDs.load(tmp_path / "codes.npy")


def test_nan_content_given_to_build_interactions_names_the_item():
    content = {"a": [1.0, 2.0], "b": [np.nan, 0.0], "c": [0.5, 0.5]}
    with pytest.raises(ValueError, match=r"content vector of item 'b' in x\.csv has a NaN"):
        build_interactions(["u", "u", "u"], ["a", "b", "c"], [1, 2, 3], content=content, source="x.csv")


def test_nan_content_with_hot_start_is_a_clear_error(tiny):
    # once "Eigenvalues did not converge" from deep inside the PCA
    inter = make_synthetic("tiny", seed=0)
    inter.content[9, 4] = np.nan                                     # changed after the checks ran
    with pytest.raises(ValueError, match=r"synthetic-tiny\.content: row 9 \(item id 9\) has a NaN"):
        run("h2rec", DataSpec(preset="tiny"), preset("tiny"), {"hot_start": True}, inter=inter,
            progress=False, protocols=("full",), log=lambda *a, **k: None)
    with pytest.raises(ValueError, match=r"content row 9 \(item id 9\) of synthetic-tiny has a NaN"):
        type(inter)(**{**inter.__dict__})                            # a new Interactions checks at once
