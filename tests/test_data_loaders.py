"""Loaders on hand-built files of every format, their error messages, and real ML-100K."""
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest

from minih2rec.data import DataFormatError, detect_format, load
from minih2rec.data.loaders_movielens import ML100K_GENRES, movie_text


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def flags(*genres):
    return "|".join("1" if g in genres else "0" for g in ML100K_GENRES)


def raw(x):
    return x.item() if isinstance(x, np.generic) else x


def seqs(inter):
    """Sequences as lists of raw item ids, keyed by raw user id."""
    return {raw(inter.user_ids[u]): [raw(inter.item_ids[i]) for i in s]
            for u, s in enumerate(inter.sequences)}


# ------------------------------------------------------------------ formats


def test_ml100k_native(tmp_path, caplog):
    write(tmp_path / "u.data", "1\t10\t5\t300\n1\t20\t3\t100\n2\t10\t4\t200\n")
    write(tmp_path / "u.item",
          f"10|Toy Story (1995)|01-Jan-1995||http://x|{flags('Animation', 'Comedy')}\n"
          f"20|Heat|15-Dec-1995||http://y|{flags('Action')}\n"
          f"30|Nobody Rated This (1990)|01-Jan-1990||http://z|{flags('Drama')}\n", "latin-1")
    with caplog.at_level(logging.WARNING, logger="minih2rec.data"):
        inter = load(tmp_path)
    assert inter.name == "ml-100k"
    assert seqs(inter) == {1: [20, 10], 2: [10]}
    assert inter.item_text[1:] == ["Toy Story (1995). Genres: Animation, Comedy",
                                   "Heat (1995). Genres: Action"]
    assert "'30'" in caplog.text                      # unknown item in u.item: warned, skipped


def test_ml1m_native_latin1(tmp_path):
    write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::2::3::978300000\n2::2::4::1\n")
    write(tmp_path / "movies.dat", "1193::Misérables, Les (1995)::Drama|Musical\n"
                                   "2::Jumanji (1995)::Adventure|Children's|Fantasy\n", "latin-1")
    inter = load(tmp_path / "ratings.dat")
    assert seqs(inter) == {1: [2, 1193], 2: [2]}
    assert inter.item_text[2] == "Misérables, Les (1995). Genres: Drama, Musical"
    assert inter.item_text[1] == "Jumanji (1995). Genres: Adventure, Children's, Fantasy"


def test_recbole_atomic(tmp_path):
    write(tmp_path / "toy.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                  "u1\ti1\t3\t20\nu1\ti2\t4\t10\nu2\ti1\t5\t5\n")
    write(tmp_path / "toy.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
                                 "class:token_seq\ni1\tToy Story\t1995\tAnimation Comedy\n"
                                 "i2\tHeat\t\tAction\n")
    inter = load(tmp_path)
    assert inter.name == "toy"
    assert seqs(inter) == {"u1": ["i2", "i1"], "u2": ["i1"]}
    assert inter.item_text == ["", "Toy Story (1995). Genres: Animation, Comedy",
                               "Heat. Genres: Action"]


def test_recbole_item_without_title_fields(tmp_path):
    write(tmp_path / "a.inter", "user_id:token\titem_id:token\ttimestamp:float\nu\tp\t1\n")
    write(tmp_path / "a.item", "item_id:token\tbrand:token\tprice:float\np\tAcme\t9.5\n")
    assert load(tmp_path / "a.inter").item_text[1] == "brand: Acme; price: 9.5"


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_csv_delimiters_and_optional_header(tmp_path, sep):
    rows = ["7", "a", "2"], ["7", "b", "1"], ["8", "a", "3"]
    body = "\n".join(sep.join(r) for r in rows) + "\n"
    no_header = load(write(tmp_path / "x.csv", body), header=False)
    with_header = load(write(tmp_path / "y.csv", sep.join(["user", "item", "timestamp"]) + "\n"
                             + body))
    assert seqs(no_header) == seqs(with_header) == {7: ["b", "a"], 8: ["a"]}


def test_csv_header_reorders_columns_and_item_text_file(tmp_path):
    write(tmp_path / "x.csv", "timestamp,rating,item_id,user_id\n5,1,a,u\n4,1,b,u\n")
    write(tmp_path / "text.tsv", "item\ttext\na\tapple pie\tcrust\nb\tbanana\n")
    inter = load(tmp_path / "x.csv", item_text=tmp_path / "text.tsv")
    assert seqs(inter) == {"u": ["b", "a"]}
    assert inter.item_text == ["", "apple pie\tcrust", "banana"]


def test_csv_bom_crlf_and_huge_ids(tmp_path):
    huge = "9" * 40
    path = write(tmp_path / "x.csv", b"\xef\xbb\xbfuser,item,timestamp\r\n" +
                 f"{huge},a,2\r\n{huge},b,1\r\n7,a,1\r\n".encode())
    inter = load(path)
    assert inter.user_ids.tolist() == ["7", huge]       # not all canonical ints: string order
    assert seqs(inter)[huge] == ["b", "a"]


def test_headerless_csv_is_an_error_not_ratings_as_timestamps(tmp_path):
    # "7,a,5" once loaded with the rating 5 used as the time of the interaction
    path = write(tmp_path / "r.csv", "7,a,5\n7,b,3\n8,a,4\n")
    with pytest.raises(DataFormatError, match=rf"{path}:1: no header line: '7,a,5' names no known "
                                               r"column; add a first line naming the columns, "
                                               r"e.g. user,item,timestamp"):
        load(path)
    path = write(tmp_path / "r.tsv", "user\titem\trating\n7\ta\t5\n")
    with pytest.raises(DataFormatError, match=r"missing column 'timestamp' in header "
                                              r"\(found: user, item, rating\)"):
        load(path)


def test_movielens_latest_header_is_accepted(tmp_path):
    path = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n"
                                           "1,31,2.5,1260759144\n1,1029,3.0,1260759179\n"
                                           "2,31,4.0,1260759100\n")
    inter = load(path)
    assert seqs(inter) == {1: [31, 1029], 2: [31]}
    assert inter.timestamps[0].tolist() == [1260759144, 1260759179]


def test_cr_only_line_endings_name_the_real_cause(tmp_path):
    path = write(tmp_path / "mac.csv", "user,item,timestamp\r7,a,1\r7,b,2\r")
    with pytest.raises(DataFormatError, match=rf"{path}: lines end with a bare carriage return"):
        load(path)


def test_folder_with_format_csv_is_one_clear_error(tmp_path):
    write(tmp_path / "x.csv", "user,item,timestamp\n7,a,1\n")
    with pytest.raises(ValueError, match=rf"format 'csv' reads one file, but {tmp_path} is a folder"):
        load(tmp_path, format="csv")
    with pytest.raises(DataFormatError, match=rf"{tmp_path}: is a folder, not a file"):
        from minih2rec.data.reading import read_lines
        read_lines(tmp_path)


@pytest.mark.parametrize("k", [-1, 2.5, True])
def test_negative_or_non_integer_k_core_is_rejected(tmp_path, k):
    path = write(tmp_path / "x.csv", "user,item,timestamp\nu,a,1\n")
    with pytest.raises(ValueError, match=rf"k_core={k!r} must be an integer >= 0"):
        load(path, k_core=k)


def test_movie_text():
    assert movie_text("Heat", "1995", ["Action"]) == "Heat (1995). Genres: Action"
    assert movie_text("Heat (1995) ", "1995") == "Heat (1995)"


def test_detect_format(tmp_path):
    write(tmp_path / "u.data", "1\t1\t1\t1\n")
    assert detect_format(tmp_path) == "ml-100k"
    assert detect_format(tmp_path / "x.tsv") == "csv"
    assert detect_format(tmp_path / "x.inter") == "atomic"
    write(tmp_path / "x.json", "{}")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load(tmp_path / "x.json")
    with pytest.raises(ValueError, match="unknown format"):
        load(tmp_path, format="parquet")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.json")


# ------------------------------------------------------------------ bad input

HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"

BAD = [  # (file name, content, expected "file:line: message" tail)
    ("u.data", "1\t1\t1\t5\n1\t2\t3\n", ":2: expected 4 fields separated by tab, got 3"),
    ("u.data", "1\t1\t1\tabc\n", ":1: timestamp 'abc' is not a number"),
    ("u.data", "1\t1\t1\t5\n\n1\t1\t1\t-5\n", ":3: timestamp '-5' is negative"),
    ("u.data", "1\t1\t1\tnan\n", ":1: timestamp 'nan' is not finite"),
    ("u.data", "1\t\t1\t5\n", ":1: empty item id"),
    ("u.data", "\n \n", ": file is empty"),
    ("u.data", b"1\t1\t1\t5\n\xff\t1\t1\t5\n", ":2: byte 0xff at byte offset 8 is not valid utf-8"),
    ("ratings.dat", "1::1::5\n", ":1: expected 4 fields separated by '::', got 3"),
    ("x.inter", "user_id:token\titem_id:token\n1\t1\n", ":1: missing column 'timestamp'"),
    ("x.inter", "user_id\titem_id\ttimestamp\n", ":1: header field 1 'user_id' is not name:type"),
    ("x.inter", HEADER, ": no data rows"),
    ("x.inter", HEADER + "1\t2\tinf\n", ":2: timestamp 'inf' is not finite"),
    ("x.csv", "1 2 3\n", ":1: cannot find a delimiter"),
    ("x.csv", "user,item,time\n1,2,3\n1,2\n", ":3: expected 3 fields separated by ',', got 2"),
]


@pytest.mark.parametrize("name,content,expected", BAD, ids=[f"{b[0]}{b[2].split(':')[1]}"
                                                           for b in BAD])
def test_bad_input_names_file_and_line(tmp_path, name, content, expected):
    path = write(tmp_path / name, content)
    with pytest.raises(DataFormatError) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    assert f"{path}{expected}" in str(info.value), str(info.value)


def test_all_problems_of_a_file_are_reported_at_once(tmp_path):
    path = write(tmp_path / "u.data", "1\t1\t1\tx\n1\t1\t1\t1\n2\t2\n3\t3\t3\t-1\n")
    with pytest.raises(DataFormatError) as info:
        load(path)
    err = info.value
    assert err.line == 1 and err.total == 3
    assert [ln for ln, _ in err.problems] == [1, 3, 4]
    assert "(and 2 more problems: line 3: expected 4 fields" in str(err)


@pytest.mark.parametrize("name,content,expected", [
    ("u.item", "5|T|x||u|" + "|".join(["2"] * 19) + "\n", "u.item:1: genre flag '2' is not 0 or 1"),
    ("u.item", "5|T\n", "u.item:1: expected 24 fields separated by '|', got 2"),
    ("movies.dat", "5::T\n", "movies.dat:1: expected 3 fields separated by '::', got 2"),
])
def test_bad_item_files(tmp_path, name, content, expected):
    data = "u.data" if name == "u.item" else "ratings.dat"
    sep = "\t" if name == "u.item" else "::"
    write(tmp_path / data, sep.join(["1", "5", "3", "9"]) + "\n")
    write(tmp_path / name, content, "latin-1")
    with pytest.raises(DataFormatError, match=expected):
        load(tmp_path)


def test_repeated_item_in_item_file_keeps_first(tmp_path, caplog):
    write(tmp_path / "x.csv", "user,item,timestamp\nu,a,1\n")
    write(tmp_path / "t.txt", "a\tfirst\na\tsecond\n")
    with caplog.at_level(logging.WARNING, logger="minih2rec.data"):
        inter = load(tmp_path / "x.csv", item_text=tmp_path / "t.txt")
    assert inter.item_text[1] == "first"
    assert "line 2 repeats 'a' from line 1" in caplog.text


def test_kcore_error_names_file(tmp_path):
    path = write(tmp_path / "x.csv", "user,item,timestamp\nu,a,1\nv,b,2\n")
    with pytest.raises(ValueError, match=f"after 2-core filtering in {path}"):
        load(path, k_core=2)


# ------------------------------------------------------------------ real data

def ml100k_dir():
    return Path(os.environ.get("MINIH2REC_ML100K", Path.home() / ".cache/minih2rec/ml-100k"))


def ml100k_path():
    """The GroupLens folder (u.data, from `python -m minih2rec data`) or RecBole's ml-100k.inter."""
    native = ml100k_dir() / "u.data"
    return ml100k_dir() if native.is_file() else ml100k_dir() / "ml-100k.inter"


@pytest.mark.skipif(not (ml100k_dir() / "u.data").is_file() and not ml100k_path().is_file(),
                    reason="ML-100K not found in $MINIH2REC_ML100K or ~/.cache/minih2rec/ml-100k: "
                           "get it with `python -m minih2rec data ml-100k` (README, Real data)")
def test_real_ml100k():
    start = time.perf_counter()
    inter = load(ml100k_path(), dedup=False)
    seconds = time.perf_counter() - start
    print(f"ML-100K loaded in {seconds:.2f} s: {inter.describe()}")
    assert (inter.num_users, inter.num_items, inter.num_interactions) == (943, 1682, 100_000)
    assert inter.item_ids[1] == 1 and inter.user_ids[0] == 1          # ascending raw ids
    assert inter.item_text[1] == "Toy Story (1995). Genres: Animation, Children's, Comedy"
    assert all((t[1:] >= t[:-1]).all() for t in inter.timestamps)   # time-sorted
    core = load(ml100k_dir(), k_core=5)
    assert core.lengths().min() >= 5 and core.item_popularity()[1:].min() >= 5
