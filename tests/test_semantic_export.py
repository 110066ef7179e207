"""``sids --export recbole DIR``: the exported atomic files, read back by minih2rec's own atomic
loader, hold every interaction and every code of the dataset as loaded (after k-core)."""
import numpy as np
import pytest

from minih2rec.__main__ import main
from minih2rec.data import DataFormatError, load_atomic, make_synthetic
from minih2rec.semantic import SemanticIDs
from minih2rec.semantic.build import fit_semantic_ids
from minih2rec.semantic.export import export_recbole, read_item_codes

pytestmark = pytest.mark.numpy_backend


def _same_interactions(a, b):
    """Assert two Interactions hold the same users, items, order and timestamps (raw ids compared)."""
    assert a.num_items == b.num_items and a.num_users == b.num_users
    np.testing.assert_array_equal(a.item_ids.astype(str), b.item_ids.astype(str))
    np.testing.assert_array_equal(a.user_ids.astype(str), b.user_ids.astype(str))
    for u, (s, t) in enumerate(zip(a.sequences, b.sequences)):
        assert s.tolist() == t.tolist(), f"user {u}: {s[:8]} vs {t[:8]}"
    if a.timestamps is not None and b.timestamps is not None:
        for s, t in zip(a.timestamps, b.timestamps):
            np.testing.assert_array_equal(s, t)


def test_synthetic_round_trip(tmp_path):
    inter = make_synthetic("tiny", seed=0)                          # no timestamps: positions are written
    sids, _, content = fit_semantic_ids(inter, levels=3, codebook_size=16)
    paths = export_recbole(inter, sids, tmp_path / "rb", content=content)
    back = load_atomic(paths["inter"])
    _same_interactions(inter, back)
    np.testing.assert_array_equal(read_item_codes(paths["item"], back), sids.codes)
    assert back.item_text == inter.item_text                         # the title column survives too
    np.testing.assert_array_equal(np.load(paths["content"]), content[1:])   # .item row order
    header = open(paths["item"], encoding="utf-8").readline().rstrip("\n").split("\t")
    assert header == ["item_id:token", "title:token_seq", "sid:token_seq", "sid_l1:token", "sid_l2:token",
                      "sid_l3:token"]


def _write_atomic(folder):
    """A small RecBole dataset with string item ids, timestamps, a duplicate and users k-core removes."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    rows = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(40):
        items = rng.choice(30, size=rng.integers(3, 12), replace=False)
        for k, i in enumerate(items):
            rows.append(f"u{u}\tm{i}\t4\t{1000 + 7 * u + k * 3.5}")
    rows.append("u0\tm99\t5\t1")                                      # an item seen once: k-core drops it
    rows.append(rows[1].replace("\t4\t", "\t5\t"))                     # a duplicate (user, item)
    (folder / "tiny.inter").write_text("\n".join(rows) + "\n", encoding="utf-8")
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    items += [f"m{i}\tFilm number {i}\t{1990 + i % 9}\tDrama {'Comedy' if i % 2 else 'War'}" for i in range(30)]
    (folder / "tiny.item").write_text("\n".join(items) + "\n", encoding="utf-8")


def test_cli_export_after_k_core_round_trips(tmp_path, capsys):
    _write_atomic(tmp_path / "data")
    out = tmp_path / "codes.npz"
    assert main(["sids", "--data", str(tmp_path / "data"), "--format", "atomic", "--k-core", "3",
                 "--levels", "2", "--codebook-size", "4", "--dim", "16", "--out", str(out),
                 "--export", "recbole", str(tmp_path / "rb")]) == 0
    assert "exported recbole files" in capsys.readouterr().out
    loaded = load_atomic(tmp_path / "data" / "tiny.inter", k_core=3)   # the data as the command saw it
    back = load_atomic(tmp_path / "rb" / "tiny.inter")                # no k-core: the export is already filtered
    _same_interactions(loaded, back)
    assert "m99" not in back.item_ids.astype(str).tolist()
    codes = SemanticIDs.load(out, num_items=loaded.num_items).codes
    np.testing.assert_array_equal(read_item_codes(tmp_path / "rb" / "tiny.item", back), codes)
    levels = read_item_codes(tmp_path / "rb" / "tiny.item", back, field="sid_l2")   # one level per field
    np.testing.assert_array_equal(levels[:, 0], codes[:, 1])
    assert back.item_text == loaded.item_text
    assert np.load(tmp_path / "rb" / "tiny.content.npy").shape == (loaded.num_items, 16)


def test_unknown_export_format_fails_before_work(tmp_path, capsys):
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--out", str(tmp_path / "c.npz"),
                 "--export", "parquet", str(tmp_path / "x")]) == 2
    assert "--export parquet: unknown format; choose one of recbole" in capsys.readouterr().err
    assert not (tmp_path / "c.npz").exists()


def test_read_item_codes_errors_name_file_and_line(tmp_path):
    inter = make_synthetic("tiny", seed=0)
    path = tmp_path / "x.item"
    path.write_text("item_id:token\tsid:token_seq\n1\t3 x\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"x\.item:2: sid '3 x' is not a list of non-negative integer"):
        read_item_codes(path, inter)
    path.write_text("item_id:token\tsid:token_seq\n1\t3 4\n2\t5\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"x\.item:3: sid has 1 codes; earlier rows have 2"):
        read_item_codes(path, inter)
    path.write_text("item_id:token\tsid:token_seq\n1\t3 4\n2\t5 6\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"no sid for item 3 \(item id 3\)"):
        read_item_codes(path, inter)
    path.write_text("item_id:token\tcodes:token_seq\n1\t3 4\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"x\.item:1: missing column 'sid'"):
        read_item_codes(path, inter)
