"""``python -m minih2rec data``: MovieLens zips -> the folder layout the loaders read.

Every archive here is a small zip built by the test; nothing is downloaded (the one
download test replaces ``urlopen``), and nothing is written outside tmp folders.
"""
import hashlib
import io
import urllib.error
import zipfile
from dataclasses import replace

import pytest

from minih2rec.__main__ import main
from minih2rec.data import detect_format, load
from minih2rec.data import download
from minih2rec.data.loaders_movielens import ML100K_GENRES

pytestmark = pytest.mark.numpy_backend

U_DATA = "".join(f"{u}\t{i}\t{(u + i) % 5 + 1}\t{880000000 + 10 * u + i}\n"
                 for u in (1, 2, 3) for i in (10, 20, 30))
U_ITEM = "".join(f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|" + "|".join(
    "1" if g == "Drama" else "0" for g in ML100K_GENRES) + "\n" for i in (10, 20, 30))
RATINGS = "".join(f"{u}::{i}::4::{970000000 + u + i}\n" for u in (1, 2) for i in (5, 6))
MOVIES = "5::Heat (1995)::Action|Crime\n6::Up (2009)::Animation\n"


def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text.encode("latin-1"))
    return path


@pytest.fixture
def ml100k_zip(tmp_path):
    return make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM,
                                               "ml-100k/u1.base": "not read\n", "ml-100k/README": "x"})


@pytest.fixture
def official(monkeypatch):
    """Make the test's own zip the 'official' archive of ``name``."""
    def pin(name, zip_path):
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
        monkeypatch.setitem(download.ARCHIVES, name, replace(download.ARCHIVES[name], sha256=digest))
    return pin


def test_from_zip_verified_converts_to_the_native_layout(tmp_path, ml100k_zip, official, capsys):
    official("ml-100k", ml100k_zip)
    dest = tmp_path / "out" / "ml-100k"
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "verified ml-100k.zip: SHA-256 of the official GroupLens archive" in out
    assert f"next: python -m minih2rec train --model h2rec --data {dest}" in out
    assert sorted(p.name for p in dest.iterdir()) == ["u.data", "u.item"]   # only what the loader reads
    assert (dest / "u.data").read_text() == U_DATA
    assert detect_format(dest) == "ml-100k"
    inter = load(dest)
    assert (inter.num_users, inter.num_items, inter.num_interactions) == (3, 3, 9)
    assert inter.item_text[1] == "Movie 10 (1995). Genres: Drama"


def test_unofficial_zip_is_refused_unless_no_verify(tmp_path, ml100k_zip, capsys):
    dest = tmp_path / "d"
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert f"error: {ml100k_zip} is not the official GroupLens ml-100k.zip (SHA-256" in err
    assert "--no-verify" in err and len(err.strip().splitlines()) == 1
    assert not (dest / "u.data").exists()
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(dest), "--no-verify"]) == 0
    assert "was not verified (--no-verify" in capsys.readouterr().out
    assert load(dest).num_interactions == 9


def test_repacked_zip_with_the_official_u_data_is_accepted(tmp_path, ml100k_zip, monkeypatch, capsys):
    u_data = hashlib.sha256(U_DATA.encode()).hexdigest()
    arc = download.ARCHIVES["ml-100k"]
    monkeypatch.setitem(download.ARCHIVES, "ml-100k", replace(arc, member_sha256={"u.data": u_data}))
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(tmp_path / "d")]) == 0
    assert "not byte-identical to the official zip, but its u.data is" in capsys.readouterr().out


def test_published_checksums_are_well_formed():
    for name, arc in download.ARCHIVES.items():
        assert arc.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert len(arc.sha256) == 64 and int(arc.sha256, 16) >= 0 and arc.size > 4_000_000
    assert download.ARCHIVES["ml-100k"].member_sha256["u.data"].startswith("06416e59")


def test_ml1m_zip(tmp_path, official, capsys):
    zp = make_zip(tmp_path / "ml-1m.zip", {"ml-1m/ratings.dat": RATINGS, "ml-1m/movies.dat": MOVIES})
    official("ml-1m", zp)
    dest = tmp_path / "m"
    assert main(["data", "ml-1m", "--from", str(zp), "--dest", str(dest)]) == 0
    inter = load(dest)
    assert detect_format(dest) == "ml-1m" and inter.num_interactions == 4
    assert inter.item_text[1] == "Heat (1995). Genres: Action, Crime"


@pytest.mark.parametrize("files,expected", [
    ({"ml-100k/u.item": U_ITEM}, "holds no file named u.data"),
    ({"a/u.data": U_DATA, "b/u.data": U_DATA, "u.item": U_ITEM}, "holds 2 file named u.data"),
])
def test_zip_without_the_expected_files_is_named(tmp_path, files, expected, capsys):
    zp = make_zip(tmp_path / "x.zip", files)
    assert main(["data", "ml-100k", "--from", str(zp), "--dest", str(tmp_path / "d"), "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert str(zp) in err and expected in err


def test_not_a_zip_missing_zip_and_file_as_destination(tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK but not really")
    assert main(["data", "ml-100k", "--from", str(junk), "--dest", str(tmp_path / "d")]) == 2
    assert "junk.zip is not a readable zip archive" in capsys.readouterr().err
    assert main(["data", "ml-100k", "--from", str(tmp_path / "nope.zip"), "--dest", str(tmp_path / "d")]) == 2
    assert "--from " in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["data", "ml-100k", "--from", str(junk), "--dest", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_existing_folder_is_kept_unless_force(tmp_path, ml100k_zip, official, capsys):
    official("ml-100k", ml100k_zip)
    dest = tmp_path / "d"
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(dest)]) == 0
    (dest / "u.data").write_text(U_DATA + "4\t10\t1\t880000099\n")     # a local edit
    capsys.readouterr()
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(dest)]) == 0
    assert "already in" in capsys.readouterr().out
    assert (dest / "u.data").read_text() != U_DATA
    assert main(["data", "ml-100k", "--from", str(ml100k_zip), "--dest", str(dest), "--force"]) == 0
    assert (dest / "u.data").read_text() == U_DATA


def test_default_destination_is_the_cache_folder(tmp_path, ml100k_zip, official, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))           # never the real ~/.cache
    official("ml-100k", ml100k_zip)
    assert main(["data", "ml-100k", "--from", str(ml100k_zip)]) == 0
    assert (tmp_path / "home" / ".cache" / "minih2rec" / "ml-100k" / "u.data").is_file()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_verified_then_converted(tmp_path, ml100k_zip, official, monkeypatch, capsys):
    official("ml-100k", ml100k_zip)
    asked = []

    def fake_urlopen(url, timeout):
        asked.append((url, timeout))
        return _Response(ml100k_zip.read_bytes())
    monkeypatch.setattr(download.urllib.request, "urlopen", fake_urlopen)
    dest = tmp_path / "d"
    assert main(["data", "ml-100k", "--dest", str(dest), "--timeout", "7"]) == 0
    assert asked == [("https://files.grouplens.org/datasets/movielens/ml-100k.zip", 7.0)]
    assert "verified ml-100k.zip" in capsys.readouterr().out
    assert sorted(p.name for p in dest.iterdir()) == ["u.data", "u.item"]   # the zip is not left behind


def test_corrupted_download_is_rejected(tmp_path, ml100k_zip, monkeypatch, capsys):
    monkeypatch.setattr(download.urllib.request, "urlopen",
                        lambda url, timeout: _Response(ml100k_zip.read_bytes()))
    assert main(["data", "ml-100k", "--dest", str(tmp_path / "d")]) == 2    # the real hash: no match
    assert "is not the official GroupLens ml-100k.zip" in capsys.readouterr().err
    assert not (tmp_path / "d" / "u.data").exists()


def test_offline_is_one_line_that_says_what_to_do(tmp_path, monkeypatch, capsys):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    assert main(["data", "ml-1m", "--dest", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "could not download https://files.grouplens.org/datasets/movielens/ml-1m.zip" in err
    assert "Temporary failure in name resolution" in err
    assert "python -m minih2rec data ml-1m --from PATH/ml-1m.zip" in err
    assert not (tmp_path / "d").exists()                       # no empty folder left behind
